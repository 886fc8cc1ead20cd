"""the scheduler's lease: exactly one process of a deployment runs the sweep

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-06 23:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    # The row exists from the start, so taking the lease is one conditional UPDATE.
    op.bulk_insert(leases, [{"name": "sweep", "holder": "", "expires_at": 0.0}])


def downgrade() -> None:
    op.drop_table("leases")
