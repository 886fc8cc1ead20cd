"""ids that reach phones are never reused (SQLite AUTOINCREMENT); a contested opt-in e-mail

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Their ids reach phones and links: a reused id would hand one shopper's updates to another's
# page. PostgreSQL sequences never reuse a value, so only SQLite's tables are rebuilt.
NEVER_REUSED = (
    "shoppers",
    "devices",
    "customer_tags",
    "pickup_orders",
    "visits",
    "pickup_alerts",
    "coupons",
    "surveys",
)


def _rebuild_on_sqlite(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Rebuilding drops the old table; with foreign keys on, that DROP would cascade-delete
    # every child row. store_server.db.migrate turns them off around the migration.
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("run this migration with PRAGMA foreign_keys=OFF (store-server migrate)")
    for table in NEVER_REUSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unconfirmed_email", sa.String(length=254), nullable=True))
    _rebuild_on_sqlite(autoincrement=True)


def downgrade() -> None:
    _rebuild_on_sqlite(autoincrement=False)
    with op.batch_alter_table("shoppers", schema=None) as batch_op:
        batch_op.drop_column("unconfirmed_email")
