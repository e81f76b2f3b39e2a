"""XMPP: personal eventing (XEP-0163 PEP) nodes and their items.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmpp_pep_nodes",
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("node", sa.String(length=1024), nullable=False),
        sa.Column("access_model", sa.String(length=32), nullable=False),
        sa.Column("max_items", sa.Integer(), nullable=False),
        sa.Column("send_last", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.PrimaryKeyConstraint("owner", "node"),
    )
    op.create_table(
        "xmpp_pep_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("node", sa.String(length=1024), nullable=False),
        sa.Column("item_id", sa.String(length=1024), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner", "node", "item_id", name="uq_xmpp_pep_item"),
    )
    op.create_index("ix_xmpp_pep_items_node", "xmpp_pep_items", ["owner", "node", "id"])


def downgrade() -> None:
    op.drop_index("ix_xmpp_pep_items_node", table_name="xmpp_pep_items")
    op.drop_table("xmpp_pep_items")
    op.drop_table("xmpp_pep_nodes")
