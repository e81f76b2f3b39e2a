"""Contract of what the Mail role adds for IMAP's QRESYNC, SORT, THREAD and
OBJECTID, on SQLite and PostgreSQL."""

from __future__ import annotations

from roost.store.mail import MAX_SQL_RANGES, Found
from roost.store.store import Store
from roost.store.types import Flag, FlagMode, NewMessage
from tests.contract.test_store_mail import make_account, message


async def test_vanished_keeps_the_uids_asked_for(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blobs = [await store.blobs.stage(message(i)) for i in range(8)]
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs])
    before = (await store.read(store.mail.mailbox_by_id, box.id)).highest_modseq
    await store.write(store.mail.store_flags, box.id, [(2, 7)], FlagMode.ADD, Flag.DELETED)
    await store.write(store.mail.expunge, box.id, [(2, 3)])
    middle = (await store.read(store.mail.mailbox_by_id, box.id)).highest_modseq
    await store.write(store.mail.expunge, box.id, [(4, 7)])
    vanished = store.mail.vanished
    assert await store.read(vanished, box.id, before) == [2, 3, 4, 5, 6, 7]
    assert await store.read(vanished, box.id, middle) == [4, 5, 6, 7]
    assert await store.read(vanished, box.id, before, [(1, 2), (6, 9)]) == [2, 6, 7]
    assert await store.read(vanished, box.id, before, []) == []
    # Past the number of ranges SQL is given, the filter runs after the query.
    many = [(uid, uid) for uid in range(1, 2 * MAX_SQL_RANGES, 2)]
    assert await store.read(vanished, box.id, before, many) == [3, 5, 7]
    assert await store.read(vanished, box.id, before, [(1, 5), (3, 4)]) == [2, 3, 4, 5]


async def test_structures_are_read_for_a_set_in_one_call(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blobs = [await store.blobs.stage(message(i)) for i in range(6)]
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs])
    for blob in blobs[:4]:
        await store.write(store.blobs.set_structure, blob.hash, f'{{"h":"{blob.hash}"}}')
    structures = store.mail.structures
    everything = await store.read(structures, box.id)
    assert list(everything) == [1, 2, 3, 4, 5, 6]
    assert everything[1] == f'{{"h":"{blobs[0].hash}"}}'
    assert everything[5] is None and everything[6] is None
    assert list(await store.read(structures, box.id, [(2, 3), (6, 9)])) == [2, 3, 6]
    assert await store.read(structures, box.id, []) == {}
    many = [(uid, uid) for uid in range(1, 2 * MAX_SQL_RANGES, 2)]
    assert list(await store.read(structures, box.id, many)) == [1, 3, 5]
    # A copy shares the blob, and so the structure.
    other = await store.write(store.mail.create_mailbox, account.id, "Other")
    await store.write(store.mail.copy, box.id, [(2, 2)], other.id)
    assert await store.read(structures, other.id) == {1: everything[2]}


async def test_many_ranges_name_exactly_their_messages(store: Store) -> None:
    """Past `MAX_SQL_RANGES`, SQL gets one range around them all and the rows
    are narrowed after: every reader and writer sees only the UIDs named."""
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    count = 3 * MAX_SQL_RANGES
    blob = await store.blobs.stage(message(1))
    await store.write(store.mail.append, box.id, [NewMessage(blob) for _ in range(count)])
    odd = [(uid, uid) for uid in range(1, count, 2)]
    assert len(odd) > MAX_SQL_RANGES
    assert [m.uid for m in await store.read(store.mail.messages, box.id, odd)] == list(
        range(1, count, 2)
    )
    changed = await store.write(
        store.mail.store_flags, box.id, odd, FlagMode.ADD, Flag.DELETED, ["$odd"]
    )
    assert [m.uid for m in changed.changed] == list(range(1, count, 2))
    flagged = await store.read(store.mail.flags, box.id, odd)
    assert all(m.keywords == {"$odd"} for m in flagged) and len(flagged) == len(odd)
    every = odd + [(uid, uid) for uid in range(2, count, 2)]
    assert await store.write(store.mail.expunge, box.id, every) == list(range(1, count, 2))
    assert len(await store.read(store.mail.messages, box.id)) == count // 2


async def test_uid_runs_keywords_in_use_and_find(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    assert await store.read(store.mail.uid_runs, box.id) == []
    blob = await store.blobs.stage(message(1))
    await store.write(
        store.mail.append,
        box.id,
        [
            NewMessage(blob, flags=Flag.SEEN, keywords=frozenset({"$Work"})),
            NewMessage(blob),
            NewMessage(blob, flags=Flag.FLAGGED | Flag.SEEN),
            NewMessage(blob, keywords=frozenset({"$Junk", "$work"})),
            NewMessage(blob, flags=Flag.DELETED),
            NewMessage(blob),
            NewMessage(blob),
        ],
    )
    await store.write(store.mail.store_flags, box.id, [(2, 2)], FlagMode.ADD, Flag.DELETED)
    await store.write(store.mail.expunge, box.id, [(2, 2), (5, 5)])
    assert await store.read(store.mail.uid_runs, box.id) == [(1, 1), (3, 4), (6, 7)]
    assert await store.read(store.mail.keywords_in_use, box.id) == ["$Junk", "$Work", "$work"]

    async def uids(**tests: object) -> list[int]:
        found = await store.read(store.mail.find, box.id, **tests)  # type: ignore[arg-type]
        assert found.highest_modseq == 0  # not asked for
        return found.uids

    assert await uids() == [1, 3, 4, 6, 7]
    assert await uids(without_flags=Flag.SEEN) == [4, 6, 7]
    assert await uids(without_flags=Flag.SEEN, first_only=True) == [4]
    assert await uids(with_flags=Flag.SEEN | Flag.FLAGGED) == [3]
    # Keywords match without regard to case (RFC 9051 §2.3.2 atoms).
    assert await uids(with_keywords=["$WORK"]) == [1, 4]
    assert await uids(without_keywords=["$junk"], without_flags=Flag.SEEN) == [6, 7]
    last = (await store.read(store.mail.mailbox_by_id, box.id)).highest_modseq
    await store.write(store.mail.store_flags, box.id, [(7, 7)], FlagMode.ADD, Flag.ANSWERED)
    found = await store.read(store.mail.find, box.id, min_modseq=last + 1, highest_modseq=True)
    assert found == Found([7], last + 1)
    assert await store.read(store.mail.find, box.id, min_modseq=last + 5, highest_modseq=True) == (
        Found([], 0)
    )
