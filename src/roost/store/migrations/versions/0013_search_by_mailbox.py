"""Search, step 2: documents carry their message's mailbox and UID, the
SQLite engine keeps no token positions, and attachment text has a column.

`search_docs` gains `mailbox_id` and `uid` (a message never changes either)
and an index on `(mailbox_id, version, error)`, so that a search tells from
two counts whether a mailbox is wholly indexed and answers from this table
without reading the mailbox's rows. On SQLite, `search_text` becomes an FTS5
table with `detail=column`: no token positions, less than half the size, and
the trigrams of a needle are looked up as an AND rather than as a phrase (see
`roost.store.search`). `search_counts` holds, per mailbox, the documents
without an error, kept by triggers. `search_text` gains `attachments` (names and text of
attachments, for web search only) on both engines.

The index is derived data: both tables are emptied here, and the Indexing
service indexes every message again at its next start (the document version
changes with this revision too).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ("header", "body", "subject", "from_field", "to_field", "cc_field", "bcc_field")


def _fts(detail: str, columns: tuple[str, ...]) -> str:
    options = "tokenize='trigram case_sensitive 1'"
    if detail != "full":
        options += f", detail={detail}"
    return f"CREATE VIRTUAL TABLE search_text USING fts5({', '.join(columns)}, {options})"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE search_text")
        op.execute(_fts("column", (*_COLUMNS, "attachments")))
    else:
        op.execute("DELETE FROM search_text")
        op.add_column(
            "search_text",
            sa.Column("attachments", sa.Text(), nullable=False, server_default=""),
        )
        where = bind.execute(
            sa.text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        ).scalar_one()
        op.execute(
            "CREATE INDEX ix_search_text_attachments ON search_text "
            f'USING gin (attachments "{where}".gin_trgm_ops)'
        )
    op.execute("DELETE FROM search_docs")
    with op.batch_alter_table("search_docs") as batch:
        batch.add_column(sa.Column("mailbox_id", sa.Integer(), nullable=False))
        batch.add_column(sa.Column("uid", sa.BigInteger(), nullable=False))
    op.create_index("ix_search_docs_mailbox", "search_docs", ["mailbox_id", "version", "error"])
    op.create_table(
        "search_counts",
        sa.Column("mailbox_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("current", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", "version"),
    )
    # The documents' rows are only ever inserted and deleted (a document is
    # replaced by delete and insert), and a cascade from messages fires the
    # delete trigger too: the count follows every change.
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER search_docs_counted AFTER INSERT ON search_docs "
            "WHEN NEW.error IS NULL BEGIN "
            "INSERT INTO search_counts (mailbox_id, version, current) "
            "VALUES (NEW.mailbox_id, NEW.version, 1) "
            "ON CONFLICT (mailbox_id, version) DO UPDATE SET current = current + 1; END"
        )
        op.execute(
            "CREATE TRIGGER search_docs_uncounted AFTER DELETE ON search_docs "
            "WHEN OLD.error IS NULL BEGIN "
            "UPDATE search_counts SET current = current - 1 "
            "WHERE mailbox_id = OLD.mailbox_id AND version = OLD.version; END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION search_docs_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            IF NEW.error IS NULL THEN
              INSERT INTO search_counts (mailbox_id, version, current)
              VALUES (NEW.mailbox_id, NEW.version, 1)
              ON CONFLICT (mailbox_id, version)
              DO UPDATE SET current = search_counts.current + 1;
            END IF;
            RETURN NEW;
          END IF;
          IF OLD.error IS NULL THEN
            UPDATE search_counts SET current = current - 1
            WHERE mailbox_id = OLD.mailbox_id AND version = OLD.version;
          END IF;
          RETURN OLD;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER search_docs_count AFTER INSERT OR DELETE ON search_docs "
        "FOR EACH ROW EXECUTE FUNCTION search_docs_count()"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER search_docs_counted")
        op.execute("DROP TRIGGER search_docs_uncounted")
    else:
        op.execute("DROP TRIGGER search_docs_count ON search_docs")
        op.execute("DROP FUNCTION search_docs_count()")
    op.drop_table("search_counts")
    op.drop_index("ix_search_docs_mailbox", table_name="search_docs")
    op.execute("DELETE FROM search_docs")
    with op.batch_alter_table("search_docs") as batch:
        batch.drop_column("uid")
        batch.drop_column("mailbox_id")
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE search_text")
        op.execute(_fts("full", _COLUMNS))
    else:
        op.execute("DELETE FROM search_text")
        op.drop_index("ix_search_text_attachments", table_name="search_text")
        op.drop_column("search_text", "attachments")
