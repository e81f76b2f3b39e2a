"""Search, groupware items: contacts, events, tasks and notes beside the messages.

`search_item_docs` says which groupware items have a current document: a row
per item, removed with the item by the foreign key, carrying the item's
account, component, and the item's `modseq` when it was indexed (an edit
raises the item's modseq, so a document whose modseq differs is stale).
The engine table `search_text_items` is engine-specific and outside the
shared metadata, as `search_text` is: an FTS5 virtual table with the trigram
tokenizer on SQLite, a table with pg_trgm GIN indexes on PostgreSQL (see
`roost.store.search`).

The counter `groupware` in `counters` is raised by every groupware write
(`roost.store.groupware`), so the Indexing service sees with one lookup
whether any item changed since it last looked.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_COLUMNS = ("title", "body")


def upgrade() -> None:
    op.create_table(
        "search_item_docs",
        sa.Column(
            "item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["gw_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index("ix_search_item_docs_account", "search_item_docs", ["account_id", "version"])
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "groupware", "value": 0}])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE search_text_items USING fts5({', '.join(_COLUMNS)}, "
            "tokenize='trigram case_sensitive 1', detail=column)"
        )
        return
    op.create_table(
        "search_text_items",
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _COLUMNS),
        sa.ForeignKeyConstraint(["item_id"], ["gw_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    # pg_trgm was created by migration 0006; its schema may not be ours.
    where = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    for name in _COLUMNS:
        op.execute(
            f"CREATE INDEX ix_search_text_items_{name} ON search_text_items "
            f'USING gin ({name} "{where}".gin_trgm_ops)'
        )


def downgrade() -> None:
    op.drop_table("search_text_items")
    op.execute("DELETE FROM counters WHERE name = 'groupware'")
    op.drop_index("ix_search_item_docs_account", table_name="search_item_docs")
    op.drop_table("search_item_docs")
