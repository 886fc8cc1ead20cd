"""staff log-in e-mails unique per chain, not across the deployment

The same address may be a staffer at two chains (two unrelated accounts, two passwords): a
log-in that matches both asks which chain (docs/architecture.md).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:15:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_constraint(op.f("uq_staff_users_email"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_staff_users_chain_id"), ["chain_id", "email"])


def downgrade() -> None:
    # Going back makes log-in e-mails global again: of the accounts sharing an address, the
    # oldest keeps it and the others are deactivated under a placeholder (they cannot log in;
    # their history stays).
    op.execute(
        "UPDATE staff_users SET active = false, email = 'staff-' || id || '@invalid' "
        "WHERE id <> (SELECT MIN(u.id) FROM staff_users u WHERE u.email = staff_users.email)"
    )
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_constraint(op.f("uq_staff_users_chain_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_staff_users_email"), ["email"])
