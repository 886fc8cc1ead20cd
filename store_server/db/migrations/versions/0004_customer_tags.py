"""customer tags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 07:44:22.868611
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("identifier", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shopper_id"],
            ["shoppers.id"],
            name=op.f("fk_customer_tags_shopper_id_shoppers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tags")),
        sa.UniqueConstraint("identifier", name=op.f("uq_customer_tags_identifier")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag_id", sa.Integer(), nullable=True))
        batch_op.alter_column("device_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_observations_tag_id_customer_tags"),
            "customer_tags",
            ["tag_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_observations_tag_id_customer_tags"), type_="foreignkey"
        )
        batch_op.alter_column("device_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("tag_id")

    op.drop_table("customer_tags")
