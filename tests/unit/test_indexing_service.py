"""The Indexing service on the embedded store: follows the change feed, keeps
its cursor across restarts, records a message it cannot index and goes on,
drops documents with their messages, and reports lag and health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from roost.core.clock import ManualClock
from roost.core.config import IndexingSettings
from roost.proto.mime import parse_bytes
from roost.services.indexing.document import header_fields
from roost.services.indexing.service import IndexingService
from roost.store.db import Tx
from roost.store.search import SearchField
from roost.store.store import Store
from roost.store.types import NewMessage
from roost.supervisor.service import ServiceContext
from tests.contract.test_store_mail import make_account

BOUNDED_WAIT_S = 20.0


def mail(subject: str, body: str) -> bytes:
    return f"From: a@example.net\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


async def deliver(store: Store, mailbox_id: int, *bodies: bytes, structure: bool = True) -> None:
    staged = [await store.blobs.stage(b) for b in bodies]

    async def work(tx: Tx) -> None:
        await store.mail.append(tx, mailbox_id, [NewMessage(s) for s in staged])
        for blob, body in zip(staged, bodies, strict=True):
            if structure:
                await store.blobs.set_structure(tx, blob.hash, parse_bytes(body).to_json())

    await store.write(work)


@asynccontextmanager
async def running(store: Store, clock: ManualClock) -> AsyncIterator[IndexingService]:
    crashes: list[str] = []
    service = IndexingService(store, IndexingSettings(batch_messages=2), clock)
    context = ServiceContext(crashes.append)
    await service.start(context)
    try:
        yield service
    finally:
        await service.stop(5.0)
        await context.cancel_workers()
        assert crashes == []


async def settled(store: Store, service: IndexingService) -> None:
    """Bounded wait until every message has a document and the feed is handled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUNDED_WAIT_S
    while True:
        status = await store.read(store.search.status)
        if status.pending == 0 and service.lag_changes == 0:
            return
        assert loop.time() < deadline, status
        await asyncio.sleep(0.02)


async def test_follows_the_feed_and_survives_a_bad_message(
    sqlite_store: Store, clock: ManualClock
) -> None:
    store = sqlite_store
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    async with running(store, clock) as service:
        await deliver(store, box.id, mail("one", "alpha JDG2-04711"), mail("two", "beta"))
        # A structure that does not parse: recorded, skipped, the rest go on.
        bad = await store.blobs.stage(mail("bad", "gamma"))

        async def broken(tx: Tx) -> None:
            await store.mail.append(tx, box.id, [NewMessage(bad)])
            await store.blobs.set_structure(tx, bad.hash, "{not json")

        await store.write(broken)
        await deliver(store, box.id, mail("three", "delta"), mail("four", "epsilon"))
        await settled(store, service)
        status = await store.read(store.search.status)
        assert (status.indexed, status.failed) == (4, 1)
        failures = await store.read(store.search.failures)
        assert len(failures) == 1 and failures[0].error
        hits = await store.read(store.search.matching, box.id, SearchField.BODY, "2-047")
        assert len(hits) == 1
        assert service.counters["indexed"] == 4 and service.counters["failed"] == 1
        assert (await service.probe()).ok
        # Expunge takes documents away.
        await store.write(store.mail.expunge, box.id, None, deleted_only=False)
        await settled(store, service)
        assert await store.read(store.search.indexed_in, box.id) == set()


async def test_catches_up_after_downtime_from_its_cursor(
    sqlite_store: Store, clock: ManualClock
) -> None:
    store = sqlite_store
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    async with running(store, clock) as service:
        await deliver(store, box.id, mail("one", "first"))
        await settled(store, service)
    cursor = await store.read(store.search.cursor)
    assert cursor == store.changes.latest_seen
    # Mail arrives while the service is stopped, some without a kept structure.
    await deliver(store, box.id, mail("two", "second"), mail("three", "third"), structure=False)
    async with running(store, clock) as service:
        assert service.lag_changes > 0
        await settled(store, service)
        assert len(await store.read(store.search.indexed_in, box.id)) == 3
        assert await store.read(store.search.cursor) > cursor


async def test_rebuild_of_an_account(sqlite_store: Store, clock: ManualClock) -> None:
    store = sqlite_store
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    async with running(store, clock) as service:
        await deliver(store, box.id, mail("one", "first"), mail("two", "second"))
        await settled(store, service)
        before = service.counters["indexed"]
        await store.write(store.search.forget, account.id)
        await store.write(store.search.request_rescan)
        store.changes.notify(store.changes.latest_seen)  # a wake-up, as a commit gives
        # The forgotten documents may not show as pending before the service has
        # taken the rescan request: wait (bounded) for its work, then for the rest.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BOUNDED_WAIT_S
        while service.counters["indexed"] < before + 2 and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await settled(store, service)
        assert service.counters["indexed"] == before + 2


async def test_probe_fails_when_lag_exceeds_the_setting(
    sqlite_store: Store, clock: ManualClock
) -> None:
    store = sqlite_store
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    service = IndexingService(store, IndexingSettings(max_lag_s=60), clock)
    # Never started: changes wait, and the clock moves past the limit.
    await deliver(store, box.id, mail("one", "first"))
    service._oldest_unindexed = clock.now()  # what the loop records on reading them
    service._last_tick = clock.monotonic()
    clock.advance(61)
    service._last_tick = clock.monotonic()
    result = await service.probe()
    assert not result.ok and "behind" in result.detail


def test_header_fields_decode_like_the_scan() -> None:
    header = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\tmenu\r\nTo: a@x\r\nTo: b@y\r\nX-Other: z\r\n\r\n"
    fields = header_fields(header)
    assert fields["to"] == ["a@x", "b@y"]
    assert fields["subject"][0].startswith("café")
    assert "x-other" not in fields


async def test_attachment_text_is_indexed_for_web_search_only(
    sqlite_store: Store, clock: ManualClock
) -> None:
    """A PDF, a document and a PDF that is not one: the index holds what
    could be read, in its own column; the indexer goes on."""
    from tests.unit.test_indexing_attachments import docx, message, minimal_pdf

    store = sqlite_store
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    async with running(store, clock) as service:
        await deliver(
            store,
            box.id,
            message(
                ("a.pdf", "application/pdf", minimal_pdf("Zephyrine report")),
                ("b.docx", "application/octet-stream", docx("Offsite agenda")),
                ("c.pdf", "application/pdf", b"not a PDF"),
            ),
            mail("plain", "no attachment here, agenda in the body"),
        )
        await settled(store, service)
        status = await store.read(store.search.status)
        assert (status.indexed, status.failed) == (2, 0)
        find = store.search.matching
        assert await store.read(find, box.id, SearchField.ATTACHMENTS, "zephyrine") == {1}
        assert await store.read(find, box.id, SearchField.ATTACHMENTS, "c.pdf") == {1}
        assert await store.read(find, box.id, SearchField.ATTACHMENTS, "agenda") == {1}
        assert await store.read(find, box.id, SearchField.BODY, "agenda") == {2}
        assert await store.read(find, box.id, SearchField.TEXT, "zephyrine") == set()
