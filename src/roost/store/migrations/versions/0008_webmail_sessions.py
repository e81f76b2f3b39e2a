"""Webmail: server-side sessions of mail users, message summaries for the list, and
the indexes that keep its date and size order fast.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
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
        "webmail_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("password_stamp", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index(
        "ix_webmail_sessions_account_id", "webmail_sessions", ["account_id"], unique=False
    )
    op.create_table(
        "message_summaries",
        sa.Column("blob_hash", sa.String(length=64), nullable=False),
        sa.Column("from_text", sa.String(length=500), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("from_sort", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("subject_sort", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("has_attachments", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["blob_hash"], ["blobs.hash"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("blob_hash"),
    )
    op.create_index("ix_messages_mailbox_date", "messages", ["mailbox_id", "internal_date", "uid"])
    op.create_index("ix_messages_mailbox_size", "messages", ["mailbox_id", "size", "uid"])


def downgrade() -> None:
    op.drop_index("ix_messages_mailbox_size", table_name="messages")
    op.drop_index("ix_messages_mailbox_date", table_name="messages")
    op.drop_table("message_summaries")
    op.drop_index("ix_webmail_sessions_account_id", table_name="webmail_sessions")
    op.drop_table("webmail_sessions")
