"""Contract of the Queue, Settings and Events roles, and of blob collection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roost.core.clock import ManualClock
from roost.core.errors import NotFound
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewEvent, NewRecipient, QueueState, RecipientState


async def test_enqueue_claim_record_and_remove(store: Store, clock: ManualClock) -> None:
    blob = await store.blobs.stage(b"Subject: hi\r\n\r\nhello\r\n")
    entry_id = await store.write(
        store.queue.enqueue,
        blob,
        "sender@example.net",
        [NewRecipient("a@example.org", notify="FAILURE"), NewRecipient("b@example.org")],
        source="smtp",
        envid="ENV1",
        ret="HDRS",
    )
    entry = await store.read(store.queue.entry, entry_id)
    assert entry.state is QueueState.QUEUED and entry.envid == "ENV1"
    assert [r.address for r in entry.recipients] == ["a@example.org", "b@example.org"]
    claimed = await store.write(store.queue.claim_due, "worker-1", 60, 10)
    assert [e.id for e in claimed] == [entry_id]
    # A live lease keeps others off.
    assert await store.write(store.queue.claim_due, "worker-2", 60, 10) == []
    first, second = entry.recipients
    await store.write(
        store.queue.record_attempt,
        entry_id,
        {
            first.id: (RecipientState.DELIVERED, "250 2.0.0 ok"),
            second.id: (RecipientState.PENDING, "451 4.3.0 later"),
        },
        clock.now() + timedelta(minutes=5),
    )
    entry = await store.read(store.queue.entry, entry_id)
    assert entry.state is QueueState.DEFERRED and entry.attempts == 1
    assert entry.recipients[0].state is RecipientState.DELIVERED
    assert entry.recipients[1].last_reply == "451 4.3.0 later"
    assert await store.write(store.queue.claim_due, "worker-2", 60, 10) == []
    clock.advance(301)
    assert [e.id for e in await store.write(store.queue.claim_due, "worker-2", 60, 10)] == [
        entry_id
    ]
    counts = await store.read(store.queue.count)
    assert counts[QueueState.DEFERRED] == 1
    await store.write(store.queue.remove, entry_id)
    with pytest.raises(NotFound):
        await store.read(store.queue.entry, entry_id)


async def test_held_entries_are_not_claimed(store: Store) -> None:
    blob = await store.blobs.stage(b"x")
    entry_id = await store.write(
        store.queue.enqueue, blob, "", [NewRecipient("a@b.org")], source="smtp"
    )
    await store.write(store.queue.set_state, entry_id, QueueState.HELD)
    assert await store.write(store.queue.claim_due, "w", 60, 10) == []
    held = await store.read(store.queue.entries, states=[QueueState.HELD])
    assert [e.id for e in held] == [entry_id]


async def test_settings_and_events(store: Store) -> None:
    assert await store.read(store.settings.get, "service.smtp.desired") is None
    await store.write(store.settings.set, "service.smtp.desired", "stopped")
    await store.write(store.settings.set, "service.smtp.desired", "running")
    await store.write(store.settings.set, "spool.retry", {"max_days": 5})
    assert await store.read(store.settings.get_prefix, "service.") == {
        "service.smtp.desired": "running"
    }
    for i in range(3):
        await store.write(
            store.events.add, NewEvent(f"service:s{i}", "state", "supervisor", "stopped", "running")
        )
    events = await store.read(store.events.list, limit=2)
    assert [e.object for e in events] == ["service:s2", "service:s1"]
    older = await store.read(store.events.list, before_id=events[-1].id)
    assert [e.object for e in older] == ["service:s0"]


async def test_unreferenced_blobs_are_collected_after_the_grace_time(
    store: Store, clock: ManualClock
) -> None:
    blob = await store.blobs.stage(b"Subject: gc\r\n\r\nbody\r\n")
    entry_id = await store.write(
        store.queue.enqueue, blob, "", [NewRecipient("a@b.org")], source="smtp"
    )
    await store.write(store.queue.remove, entry_id)
    assert await store.blobs.collect() == 0  # within the grace time
    clock.advance(7200)
    with store.blobs.pin(blob.hash):
        assert await store.blobs.collect() == 0  # a session holds it
    assert await store.blobs.collect() == 1
    with pytest.raises(NotFound):
        await store.blobs.read(blob.hash)


async def test_a_referenced_blob_survives_collection(store: Store, clock: ManualClock) -> None:
    blob = await store.blobs.stage(b"keep me")

    async def enqueue(tx: Tx) -> int:
        return await store.queue.enqueue(tx, blob, "", [NewRecipient("a@b.org")], source="smtp")

    await store.write(enqueue)
    clock.advance(7200)
    assert await store.blobs.collect() == 0
    assert await store.blobs.read(blob.hash) == b"keep me"


async def test_search_filters_and_admin_actions(store: Store, clock: ManualClock) -> None:
    blob = await store.blobs.stage(b"Subject: q\r\n\r\nq\r\n")

    async def fill(tx: Tx) -> list[int]:
        ids = []
        for i in range(30):
            sender = f"User{i % 3}@Sender.example"
            rcpt = [NewRecipient(f"r{i}@dest{i % 2}.example"), NewRecipient("x@Other.example")]
            ids.append(await store.queue.enqueue(tx, blob, sender, rcpt, source="smtp"))
        return ids

    ids = await store.write(fill)
    total, page = await store.read(store.queue.search, sender="user1@", limit=4, offset=0)
    assert total == 10 and [e.id for e in page] == ids[1:13:3]
    total, _ = await store.read(store.queue.search, domain="DEST1.example")
    assert total == 15
    total, page = await store.read(
        store.queue.search, domain="other.example", sender="user0", limit=100
    )
    assert total == 10 and all(e.sender == "User0@Sender.example" for e in page)
    await store.write(store.queue.hold, ids[0])
    total, page = await store.read(store.queue.search, states=[QueueState.HELD])
    assert total == 1 and page[0].id == ids[0]
    assert ids[0] not in [e.id for e in await store.write(store.queue.claim_due, "w", 60, 100)]
    clock.advance(1)
    await store.write(store.queue.release_hold, ids[0])
    await store.write(store.queue.retry_now, ids[1], reset=True)
    assert (await store.read(store.queue.entry, ids[0])).state is QueueState.QUEUED
    with pytest.raises(NotFound):
        await store.write(store.queue.hold, 999_999)
