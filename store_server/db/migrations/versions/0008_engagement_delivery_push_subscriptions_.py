"""engagement delivery, push subscriptions, audiences and schedules

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:27:17.838624
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_push_subscriptions_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.Column("seen_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_deliveries_decision_id_decisions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_deliveries_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_deliveries_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_deliveries_message_id")),
    )
    with op.batch_alter_table("campaign_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("amount_off_cents", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("product_scope", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("days", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("daily_start", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("daily_end", sa.String(length=5), nullable=True))

    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount_off_cents", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("product_scope", sa.String(length=200), nullable=True))

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_at", sa.Double(), nullable=True))

    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("unsubscribe_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sms_stopped", sa.JSON(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_shoppers_unsubscribe_token"), ["unsubscribe_token"]
        )

    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("currency")

    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_shoppers_unsubscribe_token"), type_="unique")
        batch_op.drop_column("sms_stopped")
        batch_op.drop_column("unsubscribe_token")
        batch_op.drop_column("attributes")

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("released_at")

    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_column("product_scope")
        batch_op.drop_column("amount_off_cents")

    with op.batch_alter_table("campaign_versions", schema=None) as batch_op:
        batch_op.drop_column("daily_end")
        batch_op.drop_column("daily_start")
        batch_op.drop_column("days")
        batch_op.drop_column("product_scope")
        batch_op.drop_column("amount_off_cents")
        batch_op.drop_column("audience")

    op.drop_table("deliveries")
    op.drop_table("push_subscriptions")
