"""The Indexing service: follows the change feed and keeps the index current.

Theory of operation. The indexer's place in the change feed (a change id)
is kept in the store, so after downtime it takes up the changes it missed.
One loop reads the changes after its cursor, a batch at a time:

- `append` (delivery, APPEND, COPY, MOVE): the mailbox's messages without a
  current document are indexed, `[indexing] batch_messages` per unit of work;
- `expunge`, `mailbox-delete`: documents go with their messages (a foreign
  key); on SQLite the FTS rows left behind are collected;
- `flags`, `mailbox-create`, `mailbox-rename`: nothing (documents belong to
  messages, which neither changes);

then moves the cursor past the batch. At start, and when a rebuild asks
(`SearchRole.request_rescan`), it also indexes every message that has no
current document, which covers a new document version and a store
indexed by an older Roost.

Groupware items (contacts, events, tasks, notes) do not pass through the
mail change feed. Every item write raises one counter in the store
(`GroupwareRole.change_mark`) and wakes the loop on this node (`listen`);
at each tick the loop compares that number with the one it saw last, and
when it moved (or at start, or after a rebuild) indexes every item without
a document for its current state (`SearchRole.pending_items`: a new item,
an edited one, a new document version) with
`roost.control.item_search.item_document`. A deleted item's document goes
with it (a foreign key); on SQLite its FTS row is collected. Another node's
item writes are seen at the next tick.

A message that cannot be indexed (no blob, a structure that will not
parse) is recorded with its error and skipped: IMAP SEARCH scans it. An
error in the loop itself is shown as the last error and retried at the next
tick; the loop never stops on one bad message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from roost.control.item_search import item_document
from roost.core.clock import Clock
from roost.core.config import IndexingSettings
from roost.services.indexing.attachments import AttachmentLimits
from roost.services.indexing.document import read_document
from roost.store.search import (
    IndexedItem,
    IndexedMessage,
    ItemDocument,
    PendingItem,
    PendingMessage,
    SearchDocument,
)
from roost.store.store import Store
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus, describe

log = logging.getLogger(__name__)

TICK_S = 1.0
"""Longest sleep between looks at the feed (a commit wakes the loop sooner)."""
CHANGES_PER_BATCH = 1000
READ_AHEAD = 4
"""Messages of a batch read and extracted at once."""
_GONE = frozenset({"expunge", "mailbox-delete"})


class IndexingService:
    def __init__(self, store: Store, settings: IndexingSettings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._limits = AttachmentLimits(
            max_octets=settings.attachment_max_bytes,
            max_chars=settings.attachment_max_chars,
            archive_max_octets=settings.archive_max_bytes,
            archive_max_ratio=settings.archive_max_ratio,
            pdf_max_pages=settings.pdf_max_pages,
        )
        self._cursor = 0
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._last_tick = 0.0
        self._oldest_unindexed: datetime | None = None
        self._documents = 0
        self._failed_total = 0
        self._last_error: str | None = None
        self._sweep = True
        self._dirty = False
        self._processing = 0
        """The mailbox whose messages are being indexed (0: none)."""
        self._processing_items = 0
        """The account whose groupware items are being indexed (0: none)."""
        self._items_mark: int | None = None
        """The groupware change mark when items were last indexed (None: never)."""
        self._item_wake = asyncio.Event()
        self._unlisten: Callable[[], None] | None = None
        self._item_documents = 0
        self._failed_items = 0
        self.counters: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return "indexing"

    @property
    def title(self) -> str:
        return "Indexing"

    async def start(self, context: ServiceContext) -> None:
        self._stopping = asyncio.Event()
        self._cursor = await self._store.read(self._store.search.cursor)
        self._sweep = True
        self._items_mark = None
        self._item_wake = asyncio.Event()
        self._unlisten = self._store.groupware.listen(self._item_wake.set)
        self._last_tick = self._clock.monotonic()
        await self._refresh_counts()
        self._loop_task = context.spawn(self._loop(), "indexing-loop")

    async def stop(self, grace_s: float) -> None:
        self._stopping.set()
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        task = self._loop_task
        if task is not None and not task.done():
            # The loop finishes its unit of work and sees the flag.
            await asyncio.wait({task}, timeout=grace_s)

    def status(self) -> ServiceStatus:
        lag = self.lag_changes
        detail = (
            f"{self._documents} documents, {self._failed_total} failed, {lag} changes behind; "
            f"{self._item_documents} groupware items, {self._failed_items} failed"
        )
        if self._last_error:
            detail += f"; last error: {self._last_error}"
        return ServiceStatus(
            counters=(
                *sorted(self.counters.items()),
                ("documents", self._documents),
                ("failed_documents", self._failed_total),
                ("lag_changes", lag),
                ("lag_s", int(self.lag_s)),
                ("processing_mailbox", self._processing),
                ("item_documents", self._item_documents),
                ("failed_items", self._failed_items),
                ("processing_item_account", self._processing_items),
            ),
            detail=detail,
        )

    @property
    def lag_changes(self) -> int:
        """Changes committed that the indexer has not handled yet."""
        return max(0, self._store.changes.latest_seen - self._cursor)

    @property
    def lag_s(self) -> float:
        """Age of the oldest change not yet handled (0 when current)."""
        if self._oldest_unindexed is None or not self.lag_changes:
            return 0.0
        return max(0.0, (self._clock.now() - self._oldest_unindexed).total_seconds())

    @property
    def last_error(self) -> str | None:
        return self._last_error

    async def probe(self) -> ProbeResult:
        idle_s = self._clock.monotonic() - self._last_tick
        if idle_s > 3 * TICK_S + 30:
            return ProbeResult(False, f"the indexer loop has not run for {idle_s:.0f} s")
        if self.lag_s > self._settings.max_lag_s:
            return ProbeResult(
                False,
                f"indexing is {self.lag_s:.0f} s behind "
                f"(more than {self._settings.max_lag_s:.0f} s)",
            )
        return ProbeResult(True, f"{self.lag_changes} changes behind")

    # --- the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._last_tick = self._clock.monotonic()
            try:
                busy = await self._step()
                self._last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._last_error = describe(exc)
                self.counters["loop_errors"] += 1
                log.exception("indexing: a step failed; retrying at the next tick")
                busy = False
            if busy:
                self._dirty = True
                continue
            if self._dirty:
                self._dirty = False
                await self._refresh_counts()
            waiter = asyncio.ensure_future(self._store.changes.wait(self._cursor, TICK_S))
            stopper = asyncio.ensure_future(self._stopping.wait())
            items = asyncio.ensure_future(self._item_wake.wait())
            try:
                await asyncio.wait({waiter, stopper, items}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for future in (waiter, stopper, items):
                    future.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await future

    async def _step(self) -> bool:
        """One batch of work; False when there was nothing to do."""
        store = self._store
        if self._sweep or await store.write(store.search.take_rescan):
            self._sweep = False
            self._items_mark = None
            await self.index_pending(None)
            return True
        if await self._items_step():
            return True
        changes = await store.read(store.changes.since, self._cursor, limit=CHANGES_PER_BATCH)
        if not changes:
            self._oldest_unindexed = None
            return False
        self._oldest_unindexed = changes[0].at
        boxes = dict.fromkeys(c.mailbox_id for c in changes if c.kind == "append")
        for mailbox_id in boxes:
            if mailbox_id is not None:
                await self.index_pending(mailbox_id)
        if any(c.kind in _GONE for c in changes):
            await store.write(store.search.collect_orphans)
        last = changes[-1].id
        await store.write(store.search.set_cursor, last)
        self._cursor = last
        return True

    async def index_pending(self, mailbox_id: int | None) -> int:
        """Index the messages (of one mailbox, or all) that have no current document."""
        store = self._store
        after = 0
        done = 0
        # The commit of one batch (its fsync in the writer's thread) runs
        # while the next batch is read and extracted.
        committing: asyncio.Future[None] | None = None
        try:
            while not self._stopping.is_set():
                batch = await store.read(
                    store.search.pending,
                    mailbox_id=mailbox_id,
                    after_id=after,
                    limit=self._settings.batch_messages,
                )
                if not batch:
                    break
                self._processing = batch[-1].mailbox_id
                results: list[IndexedMessage] = []
                for start in range(0, len(batch), READ_AHEAD):
                    # A few messages at once: one's file is read while
                    # another's text is extracted.
                    group = batch[start : start + READ_AHEAD]
                    results += await asyncio.gather(*(self._document(m) for m in group))
                if committing is not None:
                    await committing
                committing = asyncio.ensure_future(self._commit(results))
                after = batch[-1].id
                done += len(batch)
                self._last_tick = self._clock.monotonic()
            if committing is not None:
                await committing
                committing = None
        finally:
            self._processing = 0
            if committing is not None and not committing.done():
                committing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committing
        return done

    async def _items_step(self) -> bool:
        """Index the groupware items if any changed since the last look."""
        store = self._store
        self._item_wake.clear()
        mark = await store.read(store.groupware.change_mark)
        if mark == self._items_mark:
            return False
        await self.index_items(None)
        await store.write(store.search.collect_item_orphans)
        self._items_mark = mark
        return True

    async def index_items(self, account_id: int | None) -> int:
        """Index the groupware items (of one account, or all) that have no
        document for their current state."""
        store = self._store
        after = 0
        done = 0
        try:
            while not self._stopping.is_set():
                batch = await store.read(
                    store.search.pending_items,
                    account_id=account_id,
                    after_id=after,
                    limit=self._settings.batch_messages,
                )
                if not batch:
                    break
                self._processing_items = batch[-1].account_id
                # Parsing vCards and iCalendar is CPU work: off the event loop.
                results = await asyncio.to_thread(_item_results, batch)
                await self._commit_items(results)
                after = batch[-1].id
                done += len(batch)
                self._last_tick = self._clock.monotonic()
        finally:
            self._processing_items = 0
        return done

    async def _commit_items(self, results: list[IndexedItem]) -> None:
        try:
            await self._store.write(self._store.search.put_items, results)
            self._count_items(results)
        except asyncio.CancelledError:
            raise
        except Exception:
            for result in results:
                try:
                    await self._store.write(self._store.search.put_items, [result])
                    self._count_items([result])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("indexing: item %d skipped: %s", result.item_id, describe(exc))
                    self.counters["items_skipped"] += 1

    def _count_items(self, results: list[IndexedItem]) -> None:
        for item in results:
            self.counters["items_failed" if isinstance(item.result, str) else "items_indexed"] += 1

    async def _document(self, message: PendingMessage) -> IndexedMessage:
        try:
            doc: SearchDocument | str = await read_document(self._store, message, self._limits)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            doc = describe(exc)
            log.warning("indexing: message %d cannot be indexed: %s", message.id, doc)
        await asyncio.sleep(0)  # text extraction is CPU work: let sessions run
        return IndexedMessage(message.id, message.mailbox_id, message.uid, doc)

    async def _commit(self, results: list[IndexedMessage]) -> None:
        """One unit of work for the batch (a few statements: `put_many`)."""
        try:
            await self._store.write(self._store.search.put_many, results)
            self._count(results)
        except asyncio.CancelledError:
            raise
        except Exception:
            # One at a time, so that one message (say, expunged meanwhile)
            # cannot hold up the others.
            for result in results:
                try:
                    await self._store.write(self._store.search.put_many, [result])
                    self._count([result])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "indexing: message %d skipped: %s", result.message_id, describe(exc)
                    )
                    self.counters["skipped"] += 1
                    with contextlib.suppress(Exception):
                        await self._store.write(
                            self._store.search.put_failed, result.message_id, describe(exc)
                        )

    def _count(self, results: list[IndexedMessage]) -> None:
        for item in results:
            self.counters["failed" if isinstance(item.result, str) else "indexed"] += 1

    async def _refresh_counts(self) -> None:
        status = await self._store.read(self._store.search.status)
        self._documents = status.indexed
        self._failed_total = status.failed
        items = await self._store.read(self._store.search.item_status)
        self._item_documents = items.indexed
        self._failed_items = items.failed


def _item_results(batch: list[PendingItem]) -> list[IndexedItem]:
    """Each item's document, or the error that keeps it from having one."""
    out = []
    for item in batch:
        try:
            result: ItemDocument | str = item_document(item.component, item.title, item.data)
        except Exception as exc:
            result = describe(exc)
            log.warning("indexing: item %d cannot be indexed: %s", item.id, result)
        out.append(IndexedItem(item.id, item.account_id, item.component, item.modseq, result))
    return out
