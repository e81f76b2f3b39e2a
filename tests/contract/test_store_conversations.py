"""Contract of the message list's conversations, on SQLite and PostgreSQL: the
conversation key kept with each message, how IDs join conversations (a reply
before its parent, a message that links two), the list of a folder by
conversation in keyset pages, what its rows show, and a copy keeping its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roost.store.mail_list import ConversationStats, MailListStore, SortKey, ThreadIds
from roost.store.store import Store
from roost.store.types import Account, Flag, NewMessage, StagedBlob
from roost.store.user_settings import StoredSettings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NO_FLAGS = Flag(0)


def role(store: Store) -> MailListStore:
    """The list's role with its conversation queries (the Protocol lacks them)."""
    listing = store.mail_list
    assert isinstance(listing, MailListStore)
    return listing


async def make_account(store: Store, address: str = "alice@example.org") -> Account:
    async def work(tx):  # type: ignore[no-untyped-def]
        domain = address.rpartition("@")[2]
        if await store.directory.local_domain(tx, domain) is None:
            await store.directory.add_domain(tx, domain)
        account = await store.directory.add_account(
            tx, address, display_name="Alice", password_hash="x", scram="{}"
        )
        await store.mail.create_mailbox(tx, account.id, "INBOX")
        await store.mail.create_mailbox(tx, account.id, "Archive")
        return account

    return await store.write(work)


async def add(
    store: Store, box_id: int, n: int, *, minutes: int, flags: Flag = NO_FLAGS
) -> tuple[int, int]:
    """A message `n` at T0 + minutes; its (row id, uid)."""
    blob: StagedBlob = await store.blobs.stage(f"Subject: m{n}\r\n\r\nbody {n}\r\n".encode())
    (done,) = await store.write(
        store.mail.append,
        box_id,
        [NewMessage(blob, flags=flags, internal_date=T0 + timedelta(minutes=minutes))],
    )
    return done.message_id, done.uid


async def keys_of(store: Store, box_id: int) -> dict[int, int | None]:
    """uid -> conversation key of every message of the folder."""
    heads = await store.read(
        store.mail_list.page, box_id, SortKey.DATE, descending=False, after=None, limit=1000
    )
    return {m.uid: m.thread_key for m in heads}


async def thread(store: Store, account: Account, *items: tuple[int, tuple[str, ...]]) -> None:
    await store.write(
        role(store).assign_threads, account.id, [ThreadIds(row, ids) for row, ids in items]
    )


async def test_a_reply_before_its_parent_and_a_message_linking_two_join(store: Store) -> None:
    account = await make_account(store)
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    archive = await store.read(store.mail.mailbox, account.id, "Archive")
    # c replies to b naming only b (In-Reply-To), and arrives first.
    c_row, c_uid = await add(store, inbox.id, 3, minutes=3)
    await thread(store, account, (c_row, ("c@x", "b@x")))
    # a, the root, arrives next: nothing links it to c yet.
    a_row, a_uid = await add(store, archive.id, 1, minutes=1)
    await thread(store, account, (a_row, ("a@x",)))
    keys = await keys_of(store, inbox.id)
    archived = await keys_of(store, archive.id)
    assert keys[c_uid] is not None and archived[a_uid] is not None
    assert keys[c_uid] != archived[a_uid]
    # b names a: the two conversations become one, in every folder of the account.
    b_row, b_uid = await add(store, inbox.id, 2, minutes=2)
    await thread(store, account, (b_row, ("b@x", "a@x")))
    keys = await keys_of(store, inbox.id)
    archived = await keys_of(store, archive.id)
    assert keys[b_uid] == keys[c_uid] == archived[a_uid]
    # A later reply naming only the root joins as well.
    d_row, d_uid = await add(store, inbox.id, 4, minutes=4)
    await thread(store, account, (d_row, ("d@x", "a@x")))
    assert (await keys_of(store, inbox.id))[d_uid] == keys[c_uid]
    # A message that names no ID, or only IDs nobody else named, is alone: two
    # unrelated messages never join (whatever their subjects).
    e_row, e_uid = await add(store, inbox.id, 5, minutes=5)
    f_row, f_uid = await add(store, inbox.id, 6, minutes=6)
    g_row, g_uid = await add(store, inbox.id, 7, minutes=7)
    await thread(store, account, (e_row, ()), (f_row, ("hello1@x",)), (g_row, ("hello2@x",)))
    keys = await keys_of(store, inbox.id)
    assert len({keys[e_uid], keys[f_uid], keys[g_uid], keys[c_uid]}) == 4


async def test_messages_of_one_batch_link_each_other_and_accounts_stay_apart(
    store: Store,
) -> None:
    alice = await make_account(store)
    bob = await make_account(store, "bob@example.org")
    a_box = await store.read(store.mail.mailbox, alice.id, "INBOX")
    b_box = await store.read(store.mail.mailbox, bob.id, "INBOX")
    r1, u1 = await add(store, a_box.id, 1, minutes=1)
    r2, u2 = await add(store, a_box.id, 2, minutes=2)
    r3, u3 = await add(store, a_box.id, 3, minutes=3)
    # 3 names 2 which names 1, in one unit of work, in any order.
    await thread(store, alice, (r3, ("3@x", "2@x")), (r1, ("1@x",)), (r2, ("2@x", "1@x")))
    keys = await keys_of(store, a_box.id)
    assert keys[u1] == keys[u2] == keys[u3] is not None
    # Bob's copy of message 1 is his own conversation: IDs are per account.
    rb, ub = await add(store, b_box.id, 1, minutes=1)
    await thread(store, bob, (rb, ("1@x",)))
    assert (await keys_of(store, b_box.id))[ub] != keys[u1]


async def test_the_folder_by_conversation_newest_first_in_keyset_pages(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    listing = role(store)
    # Three conversations: x (3 messages, one unread, one flagged), y (1), z (2); and
    # one message not threaded yet.
    x1, _ = await add(store, box.id, 1, minutes=1, flags=Flag.SEEN)
    y1, y1_uid = await add(store, box.id, 2, minutes=2, flags=Flag.SEEN)
    x2, _ = await add(store, box.id, 3, minutes=3, flags=Flag.SEEN | Flag.FLAGGED)
    z1, _ = await add(store, box.id, 4, minutes=4, flags=Flag.SEEN)
    x3, x3_uid = await add(store, box.id, 5, minutes=5)
    z2, z2_uid = await add(store, box.id, 6, minutes=6, flags=Flag.SEEN)
    _, loose_uid = await add(store, box.id, 7, minutes=0)
    missing = await store.read(listing.unthreaded, box.id, 100)
    assert len(missing) == 7
    await thread(
        store,
        account,
        (x1, ("x1@x",)),
        (y1, ("y1@x",)),
        (x2, ("x2@x", "x1@x")),
        (z1, ("z1@x",)),
        (x3, ("x3@x", "x1@x", "x2@x")),
        (z2, ("z2@x", "z1@x")),
    )
    assert [m.uid for m in await store.read(listing.unthreaded, box.id, 100)] == [loose_uid]
    assert await store.read(listing.unthreaded, box.id, 100, loose_uid + 1) == []
    heads, edge = await store.read(
        listing.conversation_heads, box.id, after=None, limit=10, scan=100
    )
    assert [h.uid for h in heads] == [z2_uid, x3_uid, y1_uid, loose_uid] and edge is None
    # Keyset pages of two: the second starts after the last head shown.
    first, _ = await store.read(listing.conversation_heads, box.id, after=None, limit=2, scan=100)
    last = first[-1]
    second, _ = await store.read(
        listing.conversation_heads, box.id, after=(last.internal_date, last.uid), limit=2, scan=100
    )
    assert [h.uid for h in first + second] == [z2_uid, x3_uid, y1_uid, loose_uid]
    # A walk of three messages at a time stops where it got to, and goes on from there.
    walks: list[list[int]] = []
    at = None
    for _ in range(4):
        found, at = await store.read(listing.conversation_heads, box.id, after=at, limit=10, scan=3)
        walks.append([h.uid for h in found])
        if at is None:
            break
    assert walks == [[z2_uid, x3_uid], [y1_uid], [loose_uid]]
    assert x3_uid == last.uid and last.thread_key is not None
    infos = await store.read(store.mail.messages, box.id)
    stats = await store.read(
        listing.conversation_stats, box.id, [h.thread_key for h in heads if h.thread_key]
    )
    assert stats[last.thread_key] == ConversationStats(
        count=3,
        unread=1,
        flagged=True,
        attachment=False,
        size=sum(m.size for m in infos if m.id in {x1, x2, x3}),
        participants=(),
        more_participants=0,
    )
    assert heads[0].thread_key is not None and stats[heads[0].thread_key].count == 2
    uids = await store.read(listing.thread_uids, box.id, [last.thread_key])
    assert len(uids) == 3 and x3_uid in uids
    oldest = await store.read(listing.thread_messages, box.id, last.thread_key, 2)
    assert [m.uid for m in oldest] == sorted(uids)[:2]


async def test_a_copy_keeps_its_conversation_and_the_view_setting_is_kept(store: Store) -> None:
    account = await make_account(store)
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    archive = await store.read(store.mail.mailbox, account.id, "Archive")
    r1, u1 = await add(store, inbox.id, 1, minutes=1)
    r2, u2 = await add(store, inbox.id, 2, minutes=2)
    await thread(store, account, (r1, ("p@x",)), (r2, ("q@x", "p@x")))
    key = (await keys_of(store, inbox.id))[u1]
    await store.write(store.mail.copy, inbox.id, [(u1, u2)], archive.id)
    copied = await keys_of(store, archive.id)
    assert list(copied.values()) == [key, key]
    assert await store.read(role(store).unthreaded, archive.id, 10) == []
    # The user's choice of the list by conversation.
    await store.write(store.user_settings.put, account.id, StoredSettings(conversation_view=True))
    stored = await store.read(store.user_settings.get, account.id)
    assert stored is not None and stored.conversation_view
