"""One reader of the change feed for every IDLE session of a node.

The change feed wakes whoever waits on it at every commit, of any account.
If each idling session woke and asked the store what changed, ten thousand
idle clients would mean ten thousand queries for every message delivered.
Instead one `ChangeWatcher` per IMAP service waits on the feed, reads the new
changes once (`ChangeFeedRole.since`: each carries its account and mailbox),
and wakes only the sessions watching that account, and of those only the
ones whose selected mailbox changed (or that have none selected).

A session watches before it reads the store (`watch`, then refresh, then
`Watch.wait`), so a change committed between the read and the wait still
wakes it. Wake-ups stay prompt: the watcher reads as soon as the feed says
a change committed, here or, through PostgreSQL's NOTIFY, on another node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from roost.core.errors import RoostError
from roost.store.store import Store
from roost.store.types import Change

log = logging.getLogger(__name__)

FEED_WAIT_S = 60.0
"""How long one wait on the feed lasts before the watcher waits again."""
RETRY_S = 1.0
"""Pause after the store failed to give the changes, before asking again."""
CHANGES_PER_READ = 1000
"""Changes read in one query; a longer backlog is read in several."""


class Watch:
    """One session's interest: an account, and maybe its selected mailbox."""

    __slots__ = ("_event", "account_id", "mailbox_id")

    def __init__(self, account_id: int, mailbox_id: int | None) -> None:
        self.account_id = account_id
        self.mailbox_id = mailbox_id
        self._event = asyncio.Event()

    def concerns(self, change: Change) -> bool:
        return (
            self.mailbox_id is None
            or change.mailbox_id is None
            or change.mailbox_id == self.mailbox_id
        )

    def wake(self) -> None:
        self._event.set()

    @property
    def woken(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        """Until a change of this account (and mailbox) commits."""
        await self._event.wait()


class ChangeWatcher:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._watches: dict[int, set[Watch]] = {}
        self._seen = 0
        self._task: asyncio.Task[None] | None = None
        self.reads = 0
        """Queries of the feed so far (for tests and the status page)."""

    @property
    def watching(self) -> int:
        return sum(len(watches) for watches in self._watches.values())

    def start(self) -> None:
        if self._task is None:
            self._seen = self._store.changes.latest_seen
            self._task = asyncio.create_task(self._run(), name="imap-change-watcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.contextmanager
    def watch(self, account_id: int, mailbox_id: int | None) -> Iterator[Watch]:
        """Be woken by the account's changes while inside the block."""
        watch = Watch(account_id, mailbox_id)
        self._watches.setdefault(account_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches.get(account_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[account_id]

    async def _run(self) -> None:
        feed = self._store.changes
        while True:
            await feed.wait(self._seen, FEED_WAIT_S)
            if feed.latest_seen <= self._seen:
                continue
            if not self._watches:
                # Nobody idles: nothing to read. A session reads the store
                # itself before it starts to wait.
                self._seen = feed.latest_seen
                continue
            # Every change up to `known` committed before the feed heard of it,
            # so a read that is not cut by the limit sees them all.
            known = feed.latest_seen
            try:
                changes = await self._store.read(feed.since, self._seen, None, CHANGES_PER_READ)
            except (RoostError, OSError) as exc:
                log.warning("reading the change feed failed: %s", exc)
                await asyncio.sleep(RETRY_S)
                continue
            self.reads += 1
            self._dispatch(changes)
            if len(changes) == CHANGES_PER_READ:
                self._seen = changes[-1].id
            else:
                self._seen = max(known, changes[-1].id if changes else 0)

    def _dispatch(self, changes: list[Change]) -> None:
        for change in changes:
            for watch in self._watches.get(change.account_id, ()):
                if watch.concerns(change):
                    watch.wake()
