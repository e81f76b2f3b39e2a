"""IMAP IDLE (RFC 2177) for IMAP Retrieval: new mail within seconds.

Theory of operation. For each enabled IMAP account, up to `[retrieval]
idle_max_connections`, the service holds one more connection to the
remote server, logged in, with its first remote folder EXAMINEd and in
IDLE. When the server says anything about that folder (EXISTS, RECENT), the
watcher tells the scheduler, which fetches the account at once over its
usual connection; the watcher itself never fetches, so "never twice" rests
on the fetched keys alone. A server without IDLE is noted and the account
is polled as before. IDLE is renewed every `idle_renew_s` (a server may drop
it after 30 minutes); a watcher whose connection fails waits the account's
interval and tries again, and its errors stay in the log: the account's
status is the scheduled fetch's to tell.

imapclient blocks, so each watcher is one thread of a pool sized to the
cap (not the event loop's shared pool, which the fetches need); it checks
for news every `CHECK_S` and for a stop request between checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from roost.core.config import RetrievalSettings
from roost.services.retrieval.common import Job, TlsTrust, in_words
from roost.services.retrieval.imap import ALL_FOLDERS, INBOX, connect
from roost.store.retrieval import NewRetrieval, Retrieval

log = logging.getLogger(__name__)

CHECK_S = 1.0
"""How long one wait for news lasts before the watcher looks for a stop."""
NEWS = (b"EXISTS", b"RECENT")


@dataclass(slots=True)
class _Watcher:
    spec: NewRetrieval
    stop: threading.Event
    """Seen by the watcher's thread."""
    woken: asyncio.Event
    """Seen by the watcher's task, while it waits to try again."""
    task: asyncio.Task[None] | None = None

    def end(self) -> None:
        self.stop.set()
        self.woken.set()


class IdleWatchers:
    """The held IDLE connections of one IMAP Retrieval service."""

    def __init__(
        self, settings: RetrievalSettings, trust: TlsTrust, on_news: Callable[[int], None]
    ) -> None:
        self._settings = settings
        self._trust = trust
        self._on_news = on_news
        self._watchers: dict[int, _Watcher] = {}
        self._without_idle: set[int] = set()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def held(self) -> int:
        return len(self._watchers)

    async def sync(
        self, accounts: list[Retrieval], job_of: Callable[[Retrieval], Awaitable[Job]]
    ) -> None:
        """Watch these accounts (the first ones up to the cap); stop the others."""
        cap = self._settings.idle_max_connections
        wanted = {a.id: a for a in accounts if a.id not in self._without_idle}
        for rid in list(self._watchers):
            account = wanted.get(rid)
            if account is None or account.spec != self._watchers[rid].spec:
                self._watchers.pop(rid).end()
        for rid, account in wanted.items():
            if rid in self._watchers:
                continue
            if len(self._watchers) >= cap:
                break
            try:
                job = await job_of(account)
            except Exception as exc:
                log.info("imap-retrieval: account %d: no IDLE: %s", rid, in_words(exc))
                continue
            self._start(job)

    def _start(self, job: Job) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=max(1, self._settings.idle_max_connections),
                thread_name_prefix="imap-idle",
            )
        rid = job.account.id
        watcher = _Watcher(job.account.spec, threading.Event(), asyncio.Event())
        watcher.task = asyncio.create_task(self._watch(job, watcher), name=f"imap-idle-{rid}")
        self._watchers[rid] = watcher

    async def _watch(self, job: Job, watcher: _Watcher) -> None:
        loop = asyncio.get_running_loop()
        rid = job.account.id

        def news() -> None:
            loop.call_soon_threadsafe(self._on_news, rid)

        interval = job.account.spec.interval_s or self._settings.interval_s
        stop = watcher.stop
        while not stop.is_set():
            try:
                offered = await loop.run_in_executor(self._pool, self._session, job, stop, news)
            except Exception as exc:
                log.info("imap-retrieval: account %d: IDLE ended: %s", rid, in_words(exc))
                offered = True
            if not offered:
                log.info("imap-retrieval: account %d: the server offers no IDLE", rid)
                self._without_idle.add(rid)
                if self._watchers.get(rid) is watcher:
                    del self._watchers[rid]
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watcher.woken.wait(), interval)

    def _session(self, job: Job, stop: threading.Event, news: Callable[[], None]) -> bool:
        """One IDLE connection until stopped or broken; False if IDLE is not offered."""
        client = connect(job, self._settings, self._trust.context())
        try:
            if not client.has_capability("IDLE"):
                return False
            folder = next((f for f in job.account.spec.remote_folders if f != ALL_FOLDERS), INBOX)
            client.select_folder(folder, readonly=True)
            while not stop.is_set():
                client.idle()
                renew_at = time.monotonic() + self._settings.idle_renew_s
                heard = False
                while not stop.is_set() and not heard and time.monotonic() < renew_at:
                    for response in client.idle_check(timeout=CHECK_S):
                        if len(response) > 1 and response[1] in NEWS:
                            heard = True
                client.idle_done()
                if heard:
                    news()
            return True
        finally:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    async def stop(self) -> None:
        watchers = list(self._watchers.values())
        self._watchers.clear()
        self._without_idle.clear()
        for watcher in watchers:
            watcher.end()
        tasks = [w.task for w in watchers if w.task is not None]
        if tasks:
            # Each thread looks for the stop every CHECK_S; the logout is bounded
            # by the socket timeout.
            _, pending = await asyncio.wait(tasks, timeout=CHECK_S + self._settings.timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
