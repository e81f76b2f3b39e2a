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
from roost.store.store import Store


async def test_migrations_build_exactly_the_schema(store: Store) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(conn)
        return list(compare_metadata(context, metadata))

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
