"""order matching by pickup e-mail or phone, and order-claim links

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pickup_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("pickup_phone", sa.String(length=20), nullable=True))
    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_email_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("customer_phone_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claim_expires_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("customer_phone_sha256")
        batch_op.drop_column("customer_email_sha256")
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.drop_column("pickup_phone")
        batch_op.drop_column("pickup_email")
