"""shopper phone for sms

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 08:34:50.683493
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.drop_column("phone")
