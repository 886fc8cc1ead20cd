"""observations lose their four foreign keys: the code that deletes a parent deletes its readings

Each key made PostgreSQL look up and lock the parent row for every stored reading: over a
quarter of its CPU per batch (docs/decisions.md, "Raw readings without foreign keys"). Who deletes a
store's, gateway's, device's or tag's readings instead, and how ingest never writes one whose
parent is gone: store_server/presence/readings.py. The indexes stay.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# (column, parent table): every key of the table before this revision, all ON DELETE CASCADE.
PARENTS = (
    ("store_id", "stores"),
    ("gateway_id", "gateways"),
    ("device_id", "devices"),
    ("tag_id", "customer_tags"),
)


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        for column, parent in PARENTS:
            batch_op.drop_constraint(
                batch_op.f(f"fk_observations_{column}_{parent}"), type_="foreignkey"
            )


def downgrade() -> None:
    # A key cannot be added over rows naming a missing parent: were there any (a bug, or a
    # parent deleted by hand), they are what the cascade would have deleted.
    for column, parent in PARENTS:
        op.execute(
            f"DELETE FROM observations WHERE {column} IS NOT NULL "  # noqa: S608 - constants
            f"AND NOT EXISTS (SELECT 1 FROM {parent} WHERE {parent}.id = observations.{column})"
        )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        for column, parent in PARENTS:
            batch_op.create_foreign_key(
                batch_op.f(f"fk_observations_{column}_{parent}"),
                parent,
                [column],
                ["id"],
                ondelete="CASCADE",
            )
