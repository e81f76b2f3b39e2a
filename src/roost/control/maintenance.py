"""Housekeeping that runs beside the services: collecting unreferenced blobs."""

from __future__ import annotations

import asyncio
import logging

from roost.store.store import Store

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, store: Store, interval_s: float) -> None:
        self._store = store
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.collected = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self) -> int:
        removed = await self._store.blobs.collect()
        if removed:
            log.info("removed %d unreferenced message blobs", removed)
        self.collected += removed
        return removed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("blob collection failed; trying again in %g s", self._interval_s)
