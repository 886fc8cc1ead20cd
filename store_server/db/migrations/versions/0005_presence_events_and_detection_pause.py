"""presence events and detection pause

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 07:58:15.175721
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presence_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("zone", sa.String(length=100), nullable=True),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("dwell_s", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_presence_events_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_presence_events_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_presence_events_visit_id_visits"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_events")),
    )
    with op.batch_alter_table("presence_events", schema=None) as batch_op:
        batch_op.create_index("ix_presence_events_store_at", ["store_id", "at"], unique=False)

    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detection_paused_until", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.drop_column("detection_paused_until")

    with op.batch_alter_table("presence_events", schema=None) as batch_op:
        batch_op.drop_index("ix_presence_events_store_at")

    op.drop_table("presence_events")
