"""offers that wait in an inbox, help requests on the floor, the store's phone and web page

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OPEN = "status IN ('raised', 'acknowledged')"


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("help_phone", sa.String(length=40), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("help_url", sa.String(length=300), server_default="", nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("inbox", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("raised_at", sa.Double(), nullable=False),
        sa.Column("acknowledged_at", sa.Double(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_help_requests_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_help_requests_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_help_requests_zone_id_zones"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["staff_users.id"],
            name=op.f("fk_help_requests_acknowledged_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["staff_users.id"],
            name=op.f("fk_help_requests_closed_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_help_requests_store_id_status", "help_requests", ["store_id", "status"], unique=False
    )
    # At most one open request per shopper and store: a second tap returns the first.
    op.create_index(
        "uq_help_requests_open_per_shopper",
        "help_requests",
        ["store_id", "shopper_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_surveys_help_request_id_help_requests"),
            "help_requests",
            ["help_request_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_surveys_help_request_id_help_requests"), type_="foreignkey"
        )
        batch_op.drop_column("help_request_id")
    op.drop_index("uq_help_requests_open_per_shopper", table_name="help_requests")
    op.drop_index("ix_help_requests_store_id_status", table_name="help_requests")
    op.drop_table("help_requests")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("inbox")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("help_url")
        batch_op.drop_column("help_phone")
