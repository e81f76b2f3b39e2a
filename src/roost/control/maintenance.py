"""Housekeeping that runs beside the services: collecting unreferenced blobs,
removing events past their retention, ending timed-out admin and webmail sessions, and
noting certificates that near their expiry."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from roost.control.admin_access import AdminAccess
from roost.control.certificates import CertificateAdmin
from roost.control.webmail_access import WebmailAccess
from roost.store.store import Store

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(
        self,
        store: Store,
        interval_s: float,
        *,
        events_retention_days: int = 0,
        admin_access: AdminAccess | None = None,
        certificates: CertificateAdmin | None = None,
        webmail_access: WebmailAccess | None = None,
    ) -> None:
        self._store = store
        self._interval_s = interval_s
        self._retention = timedelta(days=events_retention_days) if events_retention_days else None
        self._admin_access = admin_access
        self._certificates = certificates
        self._webmail_access = webmail_access
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
        if self._retention is not None:
            before = self._store.clock.now() - self._retention
            pruned = await self._store.write(self._store.events.prune, before)
            if pruned:
                log.info("removed %d events older than %s", pruned, before.date().isoformat())
        if self._admin_access is not None:
            await self._admin_access.remove_expired()
        if self._certificates is not None:
            await self._certificates.check_expiry()
        if self._webmail_access is not None:
            await self._webmail_access.remove_expired()
        return removed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed; trying again in %g s", self._interval_s)
