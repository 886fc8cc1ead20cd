"""store policy columns, deliveries as a durable queue, retention indexes

A store's offer policy (caps, minimum gap, quiet hours) and its "reach a person" phone and web
page become columns a manager edits; each delivery keeps what it says and its channel order, so
the sweep can send it after a crash, with the tries and the time of the next one; observations
and batch ids get an index on their time, which the retention purge deletes by.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06 23:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_offers_per_day", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(
            sa.Column("max_offers_per_visit", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("min_gap_s", sa.Integer(), server_default="1800", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quiet_start", sa.String(length=5), server_default="21:00", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quiet_end", sa.String(length=5), server_default="09:00", nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notification", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("channels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tries", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_try_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.Double(), nullable=True))
        batch_op.create_index("ix_deliveries_status_next_try_at", ["status", "next_try_at"])
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index("ix_observations_seen_at", ["seen_at"])
    with op.batch_alter_table("gateway_batches", schema=None) as batch_op:
        batch_op.create_index("ix_gateway_batches_received_at", ["received_at"])


def downgrade() -> None:
    with op.batch_alter_table("gateway_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_batches_received_at")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_seen_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_next_try_at")
        for column in ("claimed_at", "next_try_at", "tries", "channels", "notification"):
            batch_op.drop_column(column)
    with op.batch_alter_table("stores", schema=None) as batch_op:
        for column in (
            "quiet_end",
            "quiet_start",
            "min_gap_s",
            "max_offers_per_visit",
            "max_offers_per_day",
        ):
            batch_op.drop_column(column)
