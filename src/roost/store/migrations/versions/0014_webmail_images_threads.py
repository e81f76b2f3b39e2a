"""Webmail step 2: the senders whose remote images a user always loads, and the
indexes of a large folder's sender and subject order, of the conversation view and
of the folders' unread counts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webmail_image_senders",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "sender"),
    )
    op.create_index(
        "ix_message_summaries_subject_sort", "message_summaries", ["subject_sort", "blob_hash"]
    )
    op.create_index(
        "ix_message_summaries_from_sort", "message_summaries", ["from_sort", "blob_hash"]
    )
    op.create_index("ix_messages_blob_mailbox", "messages", ["blob_hash", "mailbox_id"])
    op.create_index("ix_messages_mailbox_flags", "messages", ["mailbox_id", "flags"])


def downgrade() -> None:
    op.drop_index("ix_messages_mailbox_flags", table_name="messages")
    op.drop_index("ix_messages_blob_mailbox", table_name="messages")
    op.drop_index("ix_message_summaries_from_sort", table_name="message_summaries")
    op.drop_index("ix_message_summaries_subject_sort", table_name="message_summaries")
    op.drop_table("webmail_image_senders")
