"""The database under the roles: migrations, grouped commits, durability of blobs."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from roost.core.clock import ManualClock
from roost.core.errors import StoreError
from roost.store.blobs import FileBlobs
from roost.store.db import Tx
from roost.store.schema import metadata
from roost.store.search import ENGINE_TABLE
from roost.store.store import Store


async def test_migrations_build_exactly_the_schema(store: Store) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(conn)
        # The Search role's engine table is outside the shared metadata
        # (an FTS5 virtual table on SQLite): roost.store.search.
        return [
            d
            for d in compare_metadata(context, metadata)
            if not (
                d[0] in ("remove_table", "remove_index")
                and getattr(d[1], "table", d[1]).name.startswith(ENGINE_TABLE)
            )
        ]

    assert await store.db.run_sync(diff) == []


async def test_a_failing_unit_rolls_back_alone(store: Store) -> None:
    async def good(tx: Tx, name: str) -> str:
        await store.settings.set(tx, name, 1)
        return name

    async def bad(tx: Tx) -> None:
        await store.settings.set(tx, "bad", 1)
        raise ValueError("this unit fails")

    results = await asyncio.gather(
        store.write(good, "a"), store.write(bad), store.write(good, "b"), return_exceptions=True
    )
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], ValueError)
    stored = await store.read(store.settings.get_prefix, "")
    assert set(stored) == {"a", "b"}


async def test_closed_store_refuses_work(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.write(store.settings.set, "x", 1)


async def test_file_blobs_are_durable_files_and_orphans_are_collected(
    sqlite_store: Store, clock: ManualClock
) -> None:
    store = sqlite_store
    assert isinstance(store.blobs, FileBlobs)
    blob = await store.blobs.stage(b"orphan after a crash")
    path = store.blobs.path(blob.hash)
    assert path.read_bytes() == b"orphan after a crash"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # Nothing referenced it (a crash between staging and the commit): once
    # older than the grace time, it goes.
    clock.advance(7200)
    old = time.time() - 7200
    os.utime(path, (old, old))
    assert await store.blobs.collect() == 1
    assert not path.exists()


async def test_postgres_wakes_followers_on_another_node(tmp_path, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    """Two nodes on one PostgreSQL: a commit on one wakes a waiter on the other."""
    from roost.store.store import open_store
    from tests.conftest import PG_URL, fresh_pg_schema, make_config

    async with fresh_pg_schema() as schema:
        config = make_config(tmp_path, store={"url": PG_URL, "schema": schema})
        first = await open_store(config, clock)
        second = await open_store(config, clock)
        try:
            after = second.changes.latest_seen
            waiter = asyncio.create_task(second.changes.wait(after, timeout_s=30))
            await asyncio.sleep(0)

            async def work(tx: Tx) -> None:
                domain = await first.directory.add_domain(tx, "example.org")
                account = await first.directory.add_account(
                    tx, "a@example.org", display_name="", password_hash="h", scram="{}"
                )
                assert domain.name == "example.org"
                await first.mail.create_mailbox(tx, account.id, "INBOX")

            await first.write(work)
            assert await asyncio.wait_for(waiter, 30) is True
            assert second.changes.latest_seen > after
        finally:
            await first.close()
            await second.close()
