"""XMPP: multi-user chat (XEP-0045) rooms and their affiliations.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmpp_muc_rooms",
        sa.Column("jid", sa.String(length=320), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("subject_by", sa.String(length=1024), nullable=False),
        sa.Column("creator", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jid"),
    )
    op.create_table(
        "xmpp_muc_affiliations",
        sa.Column("room", sa.String(length=320), nullable=False),
        sa.Column("jid", sa.String(length=1024), nullable=False),
        sa.Column("affiliation", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("room", "jid"),
    )


def downgrade() -> None:
    op.drop_table("xmpp_muc_affiliations")
    op.drop_table("xmpp_muc_rooms")
