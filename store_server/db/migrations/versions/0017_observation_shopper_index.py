"""observations name their shopper, indexed with the store and the time

A shopper's first batch at a process restores her fusion state from her readings of the last
minutes: the index (store_id, shopper_id, seen_at) finds them without reading anyone else's.
Existing rows take the shopper of their device or tag.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shopper_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE observations SET shopper_id = COALESCE("
        "(SELECT devices.shopper_id FROM devices WHERE devices.id = observations.device_id), "
        "(SELECT customer_tags.shopper_id FROM customer_tags "
        "WHERE customer_tags.id = observations.tag_id))"
    )
    op.execute("DELETE FROM observations WHERE shopper_id IS NULL")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.alter_column("shopper_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_observations_store_shopper_seen", ["store_id", "shopper_id", "seen_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_store_shopper_seen")
        batch_op.drop_column("shopper_id")
