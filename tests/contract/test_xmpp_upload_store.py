"""The XMPP upload role on both backends: slots within a quota, one PUT per
slot, stored usage, and what the pruner finds due."""

from __future__ import annotations

from datetime import timedelta

from roost.core.clock import ManualClock
from roost.store.store import Store
from roost.store.xmpp_upload import UploadSlot, UploadState, UploadUsage

ALICE = "alice@example.org"
BOB = "bob@example.org"
TTL = timedelta(minutes=5)


def new_slot(clock: ManualClock, slot: str, owner: str = ALICE, size: int = 100) -> UploadSlot:
    now = clock.now()
    return UploadSlot(
        slot=slot,
        owner=owner,
        filename=f"{slot}.bin",
        size=size,
        content_type="application/octet-stream",
        secret_hash="0" * 64,
        state=UploadState.OPEN,
        created_at=now,
        slot_expires_at=now + TTL,
    )


async def test_slots_within_the_quota(store: Store, clock: ManualClock) -> None:
    role = store.uploads
    assert await store.write(role.add_slot, new_slot(clock, "a1", size=600), quota=1000)
    # The open slot is reserved: another that would pass the quota is refused.
    assert not await store.write(role.add_slot, new_slot(clock, "a2", size=401), quota=1000)
    assert await store.write(role.add_slot, new_slot(clock, "a3", size=400), quota=1000)
    # Another owner's quota is its own.
    assert await store.write(role.add_slot, new_slot(clock, "b1", BOB, 1000), quota=1000)
    found = await store.read(role.upload_slot, "a1")
    assert found is not None and found.size == 600 and found.state is UploadState.OPEN
    assert await store.read(role.upload_slot, "nope") is None
    # An open slot past its time no longer counts.
    clock.advance(TTL.total_seconds() + 1)
    assert await store.write(role.add_slot, new_slot(clock, "a4", size=1000), quota=1000)


async def test_one_put_per_slot(store: Store, clock: ManualClock) -> None:
    role = store.uploads
    assert await store.write(role.add_slot, new_slot(clock, "s1"), quota=10_000)
    assert await store.write(role.claim_slot, "s1")
    assert not await store.write(role.claim_slot, "s1"), "a second PUT while the first runs"
    await store.write(role.release_slot, "s1")  # the first failed: a retry may come
    assert await store.write(role.claim_slot, "s1")
    expires = clock.now() + timedelta(days=1)
    assert await store.write(role.mark_stored, "s1", expires)
    assert not await store.write(role.claim_slot, "s1"), "a stored slot takes no PUT"
    await store.write(role.release_slot, "s1")  # no effect on a stored slot
    stored = await store.read(role.upload_slot, "s1")
    assert stored is not None and stored.state is UploadState.STORED
    assert stored.expires_at == expires
    assert await store.read(role.upload_usage) == UploadUsage(1, 100)
    assert await store.read(role.upload_usage, BOB) == UploadUsage(0, 0)
    # A slot past its time takes no PUT either.
    assert await store.write(role.add_slot, new_slot(clock, "s2"), quota=10_000)
    clock.advance(TTL.total_seconds() + 1)
    assert not await store.write(role.claim_slot, "s2")


async def test_expired_uploads_and_unused_slots_are_due(store: Store, clock: ManualClock) -> None:
    role = store.uploads
    for name in ("kept", "expiring", "unused", "forever"):
        assert await store.write(role.add_slot, new_slot(clock, name), quota=10_000)
    for name, days in (("kept", 30), ("expiring", 1), ("forever", None)):
        assert await store.write(role.claim_slot, name)
        until = None if days is None else clock.now() + timedelta(days=days)
        assert await store.write(role.mark_stored, name, until)
    assert await store.read(role.expired_uploads, 10) == []
    clock.advance(TTL.total_seconds() + 1)
    assert [s.slot for s in await store.read(role.expired_uploads, 10)] == ["unused"]
    clock.advance(timedelta(days=2).total_seconds())
    due = [s.slot for s in await store.read(role.expired_uploads, 10)]
    assert due == ["expiring", "unused"]
    assert [s.slot for s in await store.read(role.expired_uploads, 1)] == ["expiring"]
    assert await store.write(role.delete_uploads, due) == 2
    assert await store.write(role.delete_uploads, []) == 0
    assert await store.read(role.expired_uploads, 10) == []
    assert await store.read(role.upload_usage) == UploadUsage(2, 200)
