"""gateway heartbeats and beacon health

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:24:41.906853
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("beacons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("last_rssi", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_seen_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("battery_mv", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("temperature_c", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("adv_count", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("uptime_s", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("telemetry_at", sa.Double(), nullable=True))

    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_heartbeat_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("last_heartbeat", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.drop_column("last_heartbeat")
        batch_op.drop_column("last_heartbeat_at")

    with op.batch_alter_table("beacons", schema=None) as batch_op:
        batch_op.drop_column("telemetry_at")
        batch_op.drop_column("uptime_s")
        batch_op.drop_column("adv_count")
        batch_op.drop_column("temperature_c")
        batch_op.drop_column("battery_mv")
        batch_op.drop_column("last_seen_by")
        batch_op.drop_column("last_rssi")
        batch_op.drop_column("last_seen_at")
