"""Groupware: collections (address books, calendars, notes folders), their items
and change log.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gw_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("components", sa.String(length=64), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "kind", "name", name="uq_gw_collections_name"),
    )
    op.create_table(
        "gw_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["gw_collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection_id", "name", name="uq_gw_items_name"),
    )
    op.create_index("ix_gw_items_uid", "gw_items", ["collection_id", "uid"], unique=False)
    op.create_index("ix_gw_items_range", "gw_items", ["collection_id", "starts_at"], unique=False)
    op.create_table(
        "gw_changes",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["gw_collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("collection_id", "name"),
    )
    op.create_index("ix_gw_changes_modseq", "gw_changes", ["collection_id", "modseq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_gw_changes_modseq", table_name="gw_changes")
    op.drop_table("gw_changes")
    op.drop_index("ix_gw_items_range", table_name="gw_items")
    op.drop_index("ix_gw_items_uid", table_name="gw_items")
    op.drop_table("gw_items")
    op.drop_table("gw_collections")
