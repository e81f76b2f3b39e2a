"""XMPP: HTTP file upload (XEP-0363) slots and the files they hold.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmpp_uploads",
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("slot"),
    )
    op.create_index("ix_xmpp_uploads_owner", "xmpp_uploads", ["owner"])
    op.create_index("ix_xmpp_uploads_expires", "xmpp_uploads", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_xmpp_uploads_expires", table_name="xmpp_uploads")
    op.drop_index("ix_xmpp_uploads_owner", table_name="xmpp_uploads")
    op.drop_table("xmpp_uploads")
