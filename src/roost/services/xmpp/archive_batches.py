"""Archive rows on their way to the store, many messages a transaction.

Routing a chat message does not wait for a commit (a disk flush): the
router hands the message's archive rows here and delivers at once, and one
task writes whatever has gathered meanwhile in one transaction, as Prosody
and ejabberd buffer theirs. What waits is bounded by ``[xmpp]
archive_batch_max``: with that many waiting, the router waits for them to
be written (backpressure). A query of the archive first waits for every
row handed over before it (`flush`), so a client finds what it just sent
or received. The price: a crash loses the rows still waiting, which are
written within milliseconds; messages themselves are never lost by it
(they were delivered, or kept offline in a transaction of their own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import ArchiveEntry

log = logging.getLogger(__name__)


class ArchiveBatches:
    def __init__(self, store: Store, batch_max: int, counters: dict[str, int]) -> None:
        self._store = store
        self._batch_max = batch_max
        self._counters = counters
        self._waiting: list[ArchiveEntry] = []
        self._added = 0
        """Rows handed over since the start."""
        self._done = 0
        """Rows written (or given up on) since the start, in order."""
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def add(self, entries: Sequence[ArchiveEntry]) -> None:
        """Hand rows over; returns at once unless too many are waiting."""
        self._waiting.extend(entries)
        self._added += len(entries)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="xmpp-archive")
        if len(self._waiting) >= self._batch_max:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every row handed over so far is written."""
        if self._done >= self._added:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.append((self._added, done))
        await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._batch_max]
            del self._waiting[: len(batch)]

            async def write(tx: Tx, batch: list[ArchiveEntry] = batch) -> None:
                await self._store.xmpp.archive_many(tx, batch)

            try:
                await self._store.write(write)
            except Exception as exc:  # whatever failed, the flushes waiting must wake
                log.error("cannot archive %d XMPP messages: %s", len(batch), exc)
                self._counters["archive_failed"] = self._counters.get("archive_failed", 0) + len(
                    batch
                )
            self._done += len(batch)
            self._wake_flushes()

    def _wake_flushes(self) -> None:
        waiting = []
        for target, done in self._flushes:
            if target <= self._done:
                if not done.done():
                    done.set_result(None)
            else:
                waiting.append((target, done))
        self._flushes = waiting
