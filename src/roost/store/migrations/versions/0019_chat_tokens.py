"""Web chat: single-use chat tokens that a webmail session gets for XMPP over WebSocket.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_hash"], ["webmail_sessions.id_hash"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_chat_tokens_session_hash", "chat_tokens", ["session_hash"], unique=False)
    op.create_index("ix_chat_tokens_expires_at", "chat_tokens", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_chat_tokens_expires_at", table_name="chat_tokens")
    op.drop_index("ix_chat_tokens_session_hash", table_name="chat_tokens")
    op.drop_table("chat_tokens")
