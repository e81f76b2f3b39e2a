"""Contract of the Mail role, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from roost.core.errors import AlreadyExists, InvalidName, NotFound, QuotaExceeded
from roost.store.store import Store
from roost.store.types import Account, Flag, FlagMode, NewMessage, SpecialUse


async def make_account(store: Store, address: str = "alice@example.org", **quota: int) -> Account:
    async def work(tx):  # type: ignore[no-untyped-def]
        domain = address.rpartition("@")[2]
        if await store.directory.local_domain(tx, domain) is None:
            await store.directory.add_domain(tx, domain)
        account = await store.directory.add_account(
            tx, address, display_name="Alice", password_hash="x", scram="{}", **quota
        )
        await store.mail.create_mailbox(tx, account.id, "INBOX")
        return account

    return await store.write(work)


def message(i: int) -> bytes:
    return f"Subject: {i}\r\n\r\nbody {i}\r\n".encode()


async def test_append_allocates_increasing_uids_and_modseqs(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "inbox")
    assert box.name == "INBOX" and box.uidnext == 1
    blobs = [await store.blobs.stage(message(i)) for i in range(3)]
    first = await store.write(store.mail.append, box.id, [NewMessage(blobs[0])])
    rest = await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs[1:]])
    uids = [a.uid for a in first + rest]
    assert uids == [1, 2, 3]
    assert first[0].modseq < rest[0].modseq
    box = await store.read(store.mail.mailbox_by_id, box.id)
    assert box.uidnext == 4 and box.message_count == 3
    assert box.highest_modseq == rest[0].modseq


async def test_trace_headers_are_per_message_and_counted_in_size(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(message(1))
    trace = b"Return-Path: <a@b.c>\r\nDelivered-To: alice@example.org\r\n"
    await store.write(store.mail.append, box.id, [NewMessage(blob, trace=trace), NewMessage(blob)])
    infos = await store.read(store.mail.messages, box.id)
    assert infos[0].size == blob.size + len(trace) and infos[1].size == blob.size
    assert await store.message_bytes(infos[0]) == trace + message(1)
    assert await store.message_bytes(infos[1]) == message(1)
    account = await store.read(store.directory.account, "alice@example.org")
    assert account.used_bytes == 2 * blob.size + len(trace) and account.used_messages == 2


async def test_the_listing_agrees_with_the_messages(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blobs = [await store.blobs.stage(message(i)) for i in range(4)]
    await store.write(
        store.mail.append,
        box.id,
        [NewMessage(b, trace=b"X-T: %d\r\n" % i) for i, b in enumerate(blobs)],
    )
    await store.write(store.mail.expunge, box.id, [(2, 2)], deleted_only=False)
    listed = await store.read(store.mail.listing, box.id)
    infos = await store.read(store.mail.messages, box.id)
    assert [(m.uid, m.size, m.blob_hash, m.trace) for m in listed] == [
        (m.uid, m.size, m.blob_hash, m.trace) for m in infos
    ]
    assert [m.uid for m in listed] == [1, 3, 4]


async def test_flags_keywords_and_condstore(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(message(1))
    appended = await store.write(
        store.mail.append,
        box.id,
        [NewMessage(blob, flags=Flag.SEEN, keywords=frozenset({"$Label1"})), NewMessage(blob)],
    )
    flags = await store.read(store.mail.flags, box.id)
    assert [(f.uid, f.flags, f.keywords) for f in flags] == [
        (1, Flag.SEEN, frozenset({"$Label1"})),
        (2, Flag(0), frozenset()),
    ]
    result = await store.write(
        store.mail.store_flags, box.id, [(1, 2)], FlagMode.ADD, Flag.FLAGGED, ["$Work"]
    )
    assert {c.uid for c in result.changed} == {1, 2}
    modseq = result.changed[0].modseq
    assert modseq > appended[0].modseq
    # UNCHANGEDSINCE below the current MODSEQ refuses the change (RFC 7162 §3.1.3).
    refused = await store.write(
        store.mail.store_flags,
        box.id,
        [(1, 1)],
        FlagMode.REMOVE,
        Flag.FLAGGED,
        unchanged_since=modseq - 1,
    )
    assert refused.changed == () and refused.modified == (1,)
    # A no-op store changes nothing and allocates no MODSEQ.
    noop = await store.write(store.mail.store_flags, box.id, [(1, 1)], FlagMode.ADD, Flag.FLAGGED)
    assert noop.changed == ()
    replaced = await store.write(
        store.mail.store_flags, box.id, [(2, 2)], FlagMode.REPLACE, Flag.DELETED, ["$Junk"]
    )
    assert replaced.changed[0].flags == Flag.DELETED
    assert replaced.changed[0].keywords == frozenset({"$Junk"})
    since = await store.read(store.mail.flags, box.id, None, modseq)
    assert [f.uid for f in since] == [2]


async def test_expunge_logs_vanished_and_releases_quota(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(message(1))
    await store.write(store.mail.append, box.id, [NewMessage(blob) for _ in range(3)])
    before = (await store.read(store.mail.mailbox_by_id, box.id)).highest_modseq
    await store.write(store.mail.store_flags, box.id, [(2, 3)], FlagMode.ADD, Flag.DELETED)
    gone = await store.write(store.mail.expunge, box.id)
    assert gone == [2, 3]
    assert await store.read(store.mail.vanished, box.id, before) == [2, 3]
    assert [m.uid for m in await store.read(store.mail.messages, box.id)] == [1]
    account = await store.read(store.directory.account, "alice@example.org")
    assert account.used_messages == 1 and account.used_bytes == blob.size
    # UIDs are never reused.
    again = await store.write(store.mail.append, box.id, [NewMessage(blob)])
    assert again[0].uid == 4


async def test_quota_refuses_the_whole_unit(store: Store) -> None:
    account = await make_account(store, quota_bytes=100)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    small = await store.blobs.stage(b"x" * 60)
    await store.write(store.mail.append, box.id, [NewMessage(small)])
    with pytest.raises(QuotaExceeded):
        await store.write(store.mail.append, box.id, [NewMessage(small)])
    box = await store.read(store.mail.mailbox_by_id, box.id)
    assert box.message_count == 1 and box.uidnext == 2
    account = await store.read(store.directory.account, account.address)
    assert account.used_bytes == 60


async def test_mailboxes_create_rename_delete(store: Store) -> None:
    account = await make_account(store)
    await store.write(store.mail.create_mailbox, account.id, "Work", SpecialUse.ARCHIVE)
    await store.write(store.mail.create_mailbox, account.id, "Work/2026")
    with pytest.raises(AlreadyExists):
        await store.write(store.mail.create_mailbox, account.id, "Work")
    with pytest.raises(InvalidName):
        await store.write(store.mail.create_mailbox, account.id, "a//b")
    old = await store.read(store.mail.mailbox, account.id, "Work/2026")
    await store.write(store.mail.rename_mailbox, account.id, "Work", "Jobs")
    names = [m.name for m in await store.read(store.mail.mailboxes, account.id)]
    assert names == ["INBOX", "Jobs", "Jobs/2026"]
    moved = await store.read(store.mail.mailbox, account.id, "Jobs/2026")
    assert moved.id == old.id and moved.uidvalidity == old.uidvalidity
    with pytest.raises(InvalidName):
        await store.write(store.mail.rename_mailbox, account.id, "INBOX", "Old")
    await store.write(store.mail.delete_mailbox, account.id, "Jobs/2026")
    with pytest.raises(NotFound):
        await store.read(store.mail.mailbox, account.id, "Jobs/2026")
    again = await store.write(store.mail.create_mailbox, account.id, "Jobs/2026")
    assert again.uidvalidity != old.uidvalidity


async def test_copy_keeps_flags_and_reports_uids(store: Store) -> None:
    account = await make_account(store)
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    archive = await store.write(store.mail.create_mailbox, account.id, "Archive")
    blob = await store.blobs.stage(message(1))
    await store.write(store.mail.append, inbox.id, [NewMessage(blob, flags=Flag.SEEN)] * 2)
    copied = await store.write(store.mail.copy, inbox.id, [(1, 2)], archive.id)
    assert copied.source_uids == (1, 2) and copied.target_uids == (1, 2)
    assert copied.uidvalidity == archive.uidvalidity
    flags = await store.read(store.mail.flags, archive.id)
    assert all(f.flags == Flag.SEEN for f in flags)


async def test_concurrent_appends_get_distinct_uids_and_a_change_each(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    start = await store.read(store.changes.latest)
    blobs = [await store.blobs.stage(message(i)) for i in range(20)]
    results = await asyncio.gather(
        *(store.write(store.mail.append, box.id, [NewMessage(b)]) for b in blobs)
    )
    uids = sorted(r[0].uid for r in results)
    assert uids == list(range(1, 21))
    changes = await store.read(store.changes.since, start)
    assert len(changes) == 20
    assert [c.id for c in changes] == sorted(c.id for c in changes)
    assert store.changes.latest_seen == changes[-1].id


async def test_change_feed_wakes_a_waiter(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    after = await store.read(store.changes.latest)
    waiter = asyncio.create_task(store.changes.wait(after, timeout_s=10))
    await asyncio.sleep(0)
    assert not waiter.done()
    blob = await store.blobs.stage(message(1))
    await store.write(store.mail.append, box.id, [NewMessage(blob)])
    assert await asyncio.wait_for(waiter, 10) is True
    assert await store.changes.wait(store.changes.latest_seen, timeout_s=0.01) is False


async def test_parsed_structure_is_kept_with_the_blob(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(message(7))

    async def deliver(tx):  # type: ignore[no-untyped-def]
        appended = await store.mail.append(tx, box.id, [NewMessage(blob)])
        await store.blobs.set_structure(tx, blob.hash, '{"type": "text/plain"}')
        return appended

    await store.write(deliver)
    assert await store.read(store.blobs.structure, blob.hash) == '{"type": "text/plain"}'
