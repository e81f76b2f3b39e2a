"""How much room the database takes, for the admin dashboard."""

from __future__ import annotations

import sqlalchemy as sa

from roost.store.db import Tx


async def database_bytes(tx: Tx) -> int:
    """The database's size: SQLite's pages in use (the file, less its WAL), or
    PostgreSQL's `pg_database_size` of the current database."""
    if tx.dialect == "postgresql":
        value = await tx.scalar(sa.text("SELECT pg_database_size(current_database())"))
        return int(value or 0)
    pages = await tx.scalar(sa.text("PRAGMA page_count"))
    page_size = await tx.scalar(sa.text("PRAGMA page_size"))
    return int(pages or 0) * int(page_size or 0)
