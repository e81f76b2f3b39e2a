"""The XMPP archive's batches on both backends: rows handed over return at
once and are written together in order; a flush waits for everything
handed over before it; a full batch makes the caller wait; a failed write
is counted and logged, and later ones still go through."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from roost.core.clock import ManualClock
from roost.core.errors import RoostError
from roost.services.xmpp.archive_batches import ArchiveBatches
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import ArchiveEntry, ArchiveQuery

ALICE = "alice@example.org"
BOB = "bob@example.org"


def entry(clock: ManualClock, n: int, owner: str = ALICE) -> ArchiveEntry:
    return ArchiveEntry(owner, f"id{n}", BOB, clock.now(), f"<message>{n}</message>")


async def archived(store: Store, owner: str = ALICE) -> list[str]:
    page = await store.read(store.xmpp.archive_page, owner, ArchiveQuery(limit=1000))
    assert page is not None
    return [m.stanza_id for m in page.messages]


async def test_rows_are_written_together_in_order(store: Store, clock: ManualClock) -> None:
    batches = ArchiveBatches(store, 100, {})
    for n in range(10):
        await batches.add([entry(clock, n)])  # returns before any write
    assert batches.waiting > 0
    await batches.flush()
    assert batches.waiting == 0
    assert await archived(store) == [f"id{n}" for n in range(10)]
    await batches.flush()  # nothing waiting: returns at once


async def test_entries_keep_their_own_time(store: Store, clock: ManualClock) -> None:
    batches = ArchiveBatches(store, 100, {})
    first = entry(clock, 0)
    clock.advance(3600)
    await batches.add([first, entry(clock, 1)])
    await batches.flush()
    page = await store.read(store.xmpp.archive_page, ALICE, ArchiveQuery(limit=10))
    assert page is not None
    assert page.messages[1].at - page.messages[0].at == timedelta(seconds=3600)


async def test_a_full_batch_makes_the_caller_wait(store: Store, clock: ManualClock) -> None:
    batches = ArchiveBatches(store, 3, {})
    await batches.add([entry(clock, 0), entry(clock, 1)])
    assert batches.waiting == 2
    await batches.add([entry(clock, 2)])  # the third: waits until all three are written
    assert batches.waiting == 0
    assert await archived(store) == ["id0", "id1", "id2"]


async def test_flush_waits_only_for_rows_handed_over_before_it(
    store: Store, clock: ManualClock
) -> None:
    batches = ArchiveBatches(store, 1000, {})
    await batches.add([entry(clock, 0)])
    flushed = asyncio.create_task(batches.flush())
    for n in range(1, 50):  # a steady stream after the flush began
        await batches.add([entry(clock, n)])
        await asyncio.sleep(0)
    await asyncio.wait_for(flushed, 10)
    assert "id0" in await archived(store)
    await batches.flush()
    assert len(await archived(store)) == 50


class FailingOnce:
    """A store whose first write fails with *error*."""

    def __init__(self, store: Store, error: Exception) -> None:
        self._store = store
        self._error = error
        self.xmpp = store.xmpp
        self.failed = False

    async def write(self, work: object) -> None:
        if not self.failed:
            self.failed = True
            raise self._error
        await self._store.write(work)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [RoostError("disk full"), OperationalError("INSERT", None, Exception("disk full"))],
    ids=["store error", "driver error"],
)
async def test_a_failed_write_is_counted_and_the_next_goes_through(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    counters: dict[str, int] = {}
    batches = ArchiveBatches(FailingOnce(store, error), 100, counters)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        await batches.add([entry(clock, 0), entry(clock, 1)])
        await batches.flush()
    assert counters["archive_failed"] == 2
    assert "cannot archive 2 XMPP messages:" in caplog.text and "disk full" in caplog.text
    await batches.add([entry(clock, 2)])
    await batches.flush()
    assert await archived(store) == ["id2"]


async def test_archive_many_writes_several_owners_in_one_unit(
    store: Store, clock: ManualClock
) -> None:
    async def both(tx: Tx) -> None:
        await store.xmpp.archive_many(tx, [entry(clock, 0), entry(clock, 1, owner=BOB)])
        await store.xmpp.archive_many(tx, [])

    await store.write(both)
    assert await archived(store) == ["id0"]
    assert await archived(store, BOB) == ["id1"]
