"""XMPP: the message archive (XEP-0313) with its stanza ids (XEP-0359).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmpp_archive",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("stanza_id", sa.String(length=64), nullable=False),
        sa.Column("with_jid", sa.String(length=1024), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stanza", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner", "stanza_id", name="uq_xmpp_archive_stanza"),
    )
    op.create_index("ix_xmpp_archive_owner", "xmpp_archive", ["owner", "id"], unique=False)
    op.create_index("ix_xmpp_archive_at", "xmpp_archive", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_xmpp_archive_at", table_name="xmpp_archive")
    op.drop_index("ix_xmpp_archive_owner", table_name="xmpp_archive")
    op.drop_table("xmpp_archive")
