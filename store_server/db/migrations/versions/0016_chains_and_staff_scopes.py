"""chains owning stores; shoppers and staff of a chain; staff and managers scoped to stores

Every existing store gets a chain of its own, named after it. A shopper joins the chain of the
store of her earliest consent (of her earliest device without any): her consents at stores
of another chain go, since a shopper of one chain is unknown to every other (she joins there
again). Staff and managers keep their store, now as their one assigned store.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _chain_per_store(bind: sa.Connection) -> None:
    chains = sa.table("chains", sa.column("id", sa.Integer), sa.column("name", sa.String))
    taken: set[str] = set()
    for store_id, name in bind.execute(sa.text("SELECT id, name FROM stores ORDER BY id")):
        # Chain names are unique; two stores may share a name.
        chain_name = name if name not in taken else f"{name} ({store_id})"
        taken.add(chain_name)
        chain_id = bind.execute(
            sa.insert(chains).values(name=chain_name).returning(chains.c.id)
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE stores SET chain_id = :chain WHERE id = :store"),
            {"chain": chain_id, "store": store_id},
        )


def upgrade() -> None:
    op.create_table(
        "chains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chains")),
        sa.UniqueConstraint("name", name=op.f("uq_chains_name")),
    )
    with op.batch_alter_table("stores") as batch_op:
        batch_op.add_column(sa.Column("chain_id", sa.Integer(), nullable=True))
    bind = op.get_bind()
    _chain_per_store(bind)
    with op.batch_alter_table("stores") as batch_op:
        batch_op.alter_column("chain_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_stores_chain_id_chains"), "chains", ["chain_id"], ["id"], ondelete="RESTRICT"
        )
        batch_op.create_index(op.f("ix_stores_chain_id"), ["chain_id"])

    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.add_column(sa.Column("chain_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE staff_users SET chain_id = "
        "(SELECT stores.chain_id FROM stores WHERE stores.id = staff_users.store_id)"
    )
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.alter_column("chain_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_staff_users_chain_id_chains"),
            "chains",
            ["chain_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_table(
        "staff_stores",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_stores_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_staff_stores_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "store_id", name=op.f("pk_staff_stores")),
    )
    op.create_index(op.f("ix_staff_stores_store_id"), "staff_stores", ["store_id"])
    op.execute("INSERT INTO staff_stores (staff_id, store_id) SELECT id, store_id FROM staff_users")

    with op.batch_alter_table("shoppers") as batch_op:
        batch_op.add_column(sa.Column("chain_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE shoppers SET chain_id = (SELECT stores.chain_id FROM consents "
        "JOIN stores ON stores.id = consents.store_id WHERE consents.shopper_id = shoppers.id "
        "ORDER BY consents.granted_at, consents.id LIMIT 1)"
    )
    # Without any consent left, she is of the chain whose store saw her first (else the first).
    op.execute(
        "UPDATE shoppers SET chain_id = COALESCE((SELECT stores.chain_id FROM visits "
        "JOIN stores ON stores.id = visits.store_id WHERE visits.shopper_id = shoppers.id "
        "ORDER BY visits.id LIMIT 1), (SELECT MIN(id) FROM chains)) WHERE chain_id IS NULL"
    )
    if bind.execute(sa.text("SELECT 1 FROM shoppers WHERE chain_id IS NULL LIMIT 1")).first():
        # Shoppers but no store at all: they need a chain to belong to.
        chain_id = bind.execute(
            sa.text("INSERT INTO chains (name) VALUES ('default') RETURNING id")
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE shoppers SET chain_id = :chain WHERE chain_id IS NULL"),
            {"chain": chain_id},
        )
    op.execute(
        "DELETE FROM consents WHERE store_id NOT IN (SELECT stores.id FROM stores "
        "JOIN shoppers ON shoppers.chain_id = stores.chain_id "
        "WHERE shoppers.id = consents.shopper_id)"
    )
    with op.batch_alter_table(
        "shoppers", table_kwargs={"sqlite_autoincrement": True}, recreate="auto"
    ) as batch_op:
        batch_op.alter_column("chain_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_shoppers_chain_id_chains"), "chains", ["chain_id"], ["id"], ondelete="RESTRICT"
        )
        batch_op.drop_constraint(op.f("uq_shoppers_email"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_shoppers_chain_id"), ["chain_id", "email"])


def downgrade() -> None:
    # Going back makes e-mails global again: a second shopper with a taken address loses it
    # to unconfirmed, as an opt-in of a known address would have.
    op.execute(
        "UPDATE shoppers SET unconfirmed_email = email, email = NULL WHERE email IS NOT NULL "
        "AND id <> (SELECT MIN(s.id) FROM shoppers s WHERE s.email = shoppers.email)"
    )
    with op.batch_alter_table(
        "shoppers", table_kwargs={"sqlite_autoincrement": True}, recreate="auto"
    ) as batch_op:
        batch_op.drop_constraint(op.f("uq_shoppers_chain_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_shoppers_email"), ["email"])
        batch_op.drop_constraint(op.f("fk_shoppers_chain_id_chains"), type_="foreignkey")
        batch_op.drop_column("chain_id")
    op.drop_index(op.f("ix_staff_stores_store_id"), table_name="staff_stores")
    op.drop_table("staff_stores")
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_constraint(op.f("fk_staff_users_chain_id_chains"), type_="foreignkey")
        batch_op.drop_column("chain_id")
    with op.batch_alter_table("stores") as batch_op:
        batch_op.drop_index(op.f("ix_stores_chain_id"))
        batch_op.drop_constraint(op.f("fk_stores_chain_id_chains"), type_="foreignkey")
        batch_op.drop_column("chain_id")
    op.drop_table("chains")
