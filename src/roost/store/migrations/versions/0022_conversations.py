"""Webmail conversations: each message's conversation, the message IDs that link an
account's conversations, and the user's choice of a list by conversation.

`messages.thread_key` is NULL for every message the migration finds: the
webmail threads a folder's messages when it is first listed by conversation,
in bounded batches (`roost.control.mail_list`), rather than reading every
message's header here. The counter `thread` in `counters` allocates new
conversation keys (`roost.store.mail_list`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("thread_key", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_messages_mailbox_thread",
        "messages",
        ["mailbox_id", "thread_key", "internal_date", "uid"],
    )
    op.create_table(
        "conversation_refs",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("ref_hash", sa.String(length=32), nullable=False),
        sa.Column("thread_key", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "ref_hash"),
    )
    op.create_index(
        "ix_conversation_refs_thread", "conversation_refs", ["account_id", "thread_key"]
    )
    op.add_column(
        "user_settings",
        sa.Column("conversation_view", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "thread", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'thread'")
    with op.batch_alter_table("user_settings") as batch:
        batch.drop_column("conversation_view")
    op.drop_index("ix_conversation_refs_thread", table_name="conversation_refs")
    op.drop_table("conversation_refs")
    op.drop_index("ix_messages_mailbox_thread", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("thread_key")
