"""pickup alert lifecycle coupons surveys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:27:46.779198
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_integration_tokens_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_integration_tokens")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("offer", sa.String(length=200), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("redeemed_at", sa.Double(), nullable=True),
        sa.Column("redeemed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["redeemed_by"],
            ["staff_users.id"],
            name=op.f("fk_coupons_redeemed_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_coupons_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_coupons_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "order_exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["pickup_orders.id"],
            name=op.f("fk_order_exchanges_order_id_pickup_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["staff_users.id"],
            name=op.f("fk_order_exchanges_recorded_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_exchanges")),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.Double(), nullable=False),
        sa.Column("answered_at", sa.Double(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["pickup_orders.id"],
            name=op.f("fk_surveys_order_id_pickup_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_surveys_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_surveys_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sha256", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_devices_token_sha256"), ["token_sha256"])

    with op.batch_alter_table("pickup_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("escalated_at", sa.Double(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_pickup_alerts_handed_over_by_staff_users"),
            "staff_users",
            ["handed_over_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_pickup_alerts_acknowledged_by_staff_users"),
            "staff_users",
            ["acknowledged_by"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pickup_from", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("pickup_until", sa.Double(), nullable=True))
        batch_op.alter_column("shopper_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ack_limit_s", sa.Integer(), server_default="120", nullable=False)
        )
        batch_op.add_column(
            sa.Column("second_escalation_s", sa.Integer(), server_default="300", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("second_escalation_s")
        batch_op.drop_column("ack_limit_s")

    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.alter_column("shopper_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("pickup_until")
        batch_op.drop_column("pickup_from")

    with op.batch_alter_table("pickup_alerts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_pickup_alerts_acknowledged_by_staff_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_pickup_alerts_handed_over_by_staff_users"), type_="foreignkey"
        )
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("handed_over_by")
        batch_op.drop_column("handed_over_at")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_devices_token_sha256"), type_="unique")
        batch_op.drop_column("token_sha256")

    op.drop_table("surveys")
    op.drop_table("order_exchanges")
    op.drop_table("coupons")
    op.drop_table("integration_tokens")
