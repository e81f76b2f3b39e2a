"""XMPP: rosters and their versions, offline messages, per-user XML, block lists.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmpp_roster",
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("contact", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=True),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("subscription", sa.String(length=4), nullable=False),
        sa.Column("ask", sa.Boolean(), nullable=False),
        sa.Column("pending_in", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "contact"),
    )
    op.create_table(
        "xmpp_roster_versions",
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_table(
        "xmpp_offline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("stanza", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_xmpp_offline_owner", "xmpp_offline", ["owner", "id"], unique=False)
    op.create_table(
        "xmpp_user_xml",
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("key", sa.String(length=1100), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", "key"),
    )
    op.create_table(
        "xmpp_blocks",
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("jid", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("owner", "jid"),
    )


def downgrade() -> None:
    op.drop_table("xmpp_blocks")
    op.drop_table("xmpp_user_xml")
    op.drop_index("ix_xmpp_offline_owner", table_name="xmpp_offline")
    op.drop_table("xmpp_offline")
    op.drop_table("xmpp_roster_versions")
    op.drop_table("xmpp_roster")
