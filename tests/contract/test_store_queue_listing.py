"""Contract of the admin console's queue listing (filters, keyset paging) and the database size."""

from __future__ import annotations

from roost.store.queue import QueueFilter, list_page, matching_ids
from roost.store.store import Store
from roost.store.types import NewRecipient, QueueState
from roost.store.usage import database_bytes


async def fill(store: Store, count: int) -> list[int]:
    blob = await store.blobs.stage(b"Subject: hi\r\n\r\nhello\r\n")
    ids = []
    for n in range(count):
        entry_id = await store.write(
            store.queue.enqueue,
            blob,
            f"Sender{n % 2}@Example.net",
            [NewRecipient(f"a{n}@d{n % 3}.example"), NewRecipient("b@other.example")],
            source="smtp",
        )
        ids.append(entry_id)
    return ids


async def test_pages_by_id_with_filters(store: Store) -> None:
    ids = await fill(store, 12)
    await store.write(store.queue.hold, ids[3])
    first = await store.read(list_page, QueueFilter(), limit=5)
    assert [e.id for e in first.entries] == ids[:5]
    assert (first.total, first.last_id, first.has_before, first.has_after) == (
        12,
        ids[-1],
        False,
        True,
    )
    assert {len(e.recipients) for e in first.entries} == {2}
    middle = await store.read(list_page, QueueFilter(), limit=5, after_id=ids[4])
    assert [e.id for e in middle.entries] == ids[5:10] and middle.has_before and middle.has_after
    last = await store.read(list_page, QueueFilter(), limit=5, after_id=ids[9])
    assert [e.id for e in last.entries] == ids[10:] and not last.has_after
    back = await store.read(list_page, QueueFilter(), limit=5, before_id=ids[5])
    assert [e.id for e in back.entries] == ids[:5] and not back.has_before and back.has_after
    sender = await store.read(list_page, QueueFilter(sender="sender1@example"), limit=50)
    assert [e.id for e in sender.entries] == ids[1::2] and sender.total == 6
    domain = await store.read(list_page, QueueFilter(domain="D2.example"), limit=50)
    assert [e.id for e in domain.entries] == ids[2::3]
    held = await store.read(list_page, QueueFilter(states=(QueueState.HELD,)), limit=50)
    assert [e.id for e in held.entries] == [ids[3]]
    bounded = QueueFilter(sender="sender0", upto_id=ids[6])
    assert await store.read(matching_ids, bounded, after_id=None, limit=2) == [ids[0], ids[2]]
    assert await store.read(matching_ids, bounded, after_id=ids[2], limit=9) == [ids[4], ids[6]]
    # A LIKE wildcard in the filter is a plain character.
    assert (await store.read(list_page, QueueFilter(sender="%"), limit=5)).total == 0
    empty = await store.read(list_page, QueueFilter(domain="nowhere.example"), limit=5)
    assert (empty.total, empty.entries, empty.last_id, empty.has_after) == (0, [], None, False)


async def test_database_size(store: Store) -> None:
    assert await store.read(database_bytes) > 0
