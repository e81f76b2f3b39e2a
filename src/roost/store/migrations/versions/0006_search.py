"""Search: which messages are indexed, the indexer's cursor, and the engine table.

`search_text` is engine-specific and outside the shared metadata: an FTS5
virtual table with the trigram tokenizer on SQLite, a table with pg_trgm GIN
indexes on PostgreSQL (see `roost.store.search`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = ("header", "body", "subject", "from_field", "to_field", "cc_field", "bcc_field")


def upgrade() -> None:
    op.create_table(
        "search_docs",
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_table(
        "search_cursor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("rescan", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE search_text USING fts5({', '.join(_COLUMNS)}, "
            "tokenize='trigram case_sensitive 1')"
        )
        return
    op.create_table(
        "search_text",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _COLUMNS),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may
    # create it. Installations that share a database each have their own
    # schema, so the extension goes to `public` (or stays where it is).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    where = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    for name in _COLUMNS:
        op.execute(
            f"CREATE INDEX ix_search_text_{name} ON search_text "
            f'USING gin ({name} "{where}".gin_trgm_ops)'
        )


def downgrade() -> None:
    op.drop_table("search_text")
    op.drop_table("search_cursor")
    op.drop_table("search_docs")
