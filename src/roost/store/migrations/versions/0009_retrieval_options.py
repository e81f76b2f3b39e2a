"""Retrieval, step 2: how remote IMAP folders map to local ones, marking
fetched messages seen, and deleting POP3 mail left on the server after N days.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "retrieval_accounts",
        sa.Column("folder_layout", sa.String(length=8), nullable=False, server_default="merge"),
    )
    op.add_column(
        "retrieval_accounts",
        sa.Column("folder_map", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column(
        "retrieval_accounts",
        sa.Column("mark_seen", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "retrieval_accounts",
        sa.Column("delete_after_days", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("retrieval_accounts") as batch:
        for name in ("delete_after_days", "mark_seen", "folder_map", "folder_layout"):
            batch.drop_column(name)
