"""Retrieval, step 3: manual (unscheduled) external accounts, and APOP for
POP3 accounts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "retrieval_accounts",
        sa.Column("manual", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "retrieval_accounts",
        sa.Column("apop", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("retrieval_accounts") as batch:
        for name in ("apop", "manual"):
            batch.drop_column(name)
