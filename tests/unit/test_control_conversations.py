"""The conversation rules of `roost.control.mail_list`: the IDs read from a header
(the one rule of the read pane's tree and of the list's conversation key), their
cap against a hostile References, and `MailList` threading real messages over the
embedded store: a reply before its parent, unrelated mails of one subject, a read
pane tree, and a blob that cannot be read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control import mail_list
from roost.control.mail_list import MAX_THREAD_REFS, MailList, key_ids, thread_ids
from roost.store.store import Store
from roost.store.types import NewMessage
from tests.contract.test_store_conversations import make_account, role


def test_ids_come_from_references_else_the_first_in_reply_to() -> None:
    header = (
        b"Subject: Re: x\r\nMessage-ID: <own@x>\r\n"
        b"References: <a@x>\r\n <b@x> junk <c@x>\r\nIn-Reply-To: <q@x> <r@x>\r\n"
    )
    assert thread_ids(header) == ("own@x", ("a@x", "b@x", "c@x"))
    only_parent = b"Message-ID: <own@x>\r\nIn-Reply-To: <q@x> <r@x>\r\n"
    assert thread_ids(only_parent) == ("own@x", ("q@x",))
    assert thread_ids(b"Subject: nothing\r\n") == (None, ())
    # The first Message-ID field counts; an ID without "@" is no ID.
    assert thread_ids(b"Message-ID: <one@x>\r\nMessage-ID: <two@x>\r\n")[0] == "one@x"
    assert thread_ids(b"Message-ID: <nothing>\r\n") == (None, ())


def test_a_hostile_references_is_capped_to_the_root_and_the_last_ones() -> None:
    refs = tuple(f"r{n}@x" for n in range(500))
    ids = key_ids("own@x", refs)
    assert len(ids) == MAX_THREAD_REFS + 1
    assert ids[:2] == ("own@x", "r0@x") and ids[-1] == "r499@x"
    assert key_ids(None, ("a@x",)) == ("a@x",)


@given(st.binary(max_size=400))
def test_any_header_gives_ids_or_none_without_crashing(data: bytes) -> None:
    own, refs = thread_ids(data)
    assert own is None or "@" in own
    assert all("@" in r for r in refs)


def message(subject: str, own: str, refs: str = "") -> bytes:
    head = f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{own}>\r\n"
    if refs:
        head += f"References: {refs}\r\n"
    # A body line that looks like a field is not read as one.
    return (head + "\r\nReferences: <unrelated@x>\r\n").encode()


async def test_mail_list_threads_a_folder_and_shows_a_tree(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    datas = [
        message("Re: Hello", "c@x", "<a@x> <b@x>"),  # the deepest reply first
        message("Hello", "a@x"),
        message("Hello", "other@x"),  # same subject, unrelated
        message("Re: Hello", "b@x", "<a@x>"),
        message("Hello", "third@x", "<unknown-parent@x>"),
    ]
    blobs = await store.blobs.stage_many(datas)
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs])
    lister = MailList(store, page_size=10, summary_batch=10)
    page = await lister.conversations(account.id, "INBOX", cursor=None)
    assert page.waiting == 0 and not lister.summarising(account.id)
    counts = sorted((c.stats.count, c.subject) for c in page.conversations)
    assert counts == [(1, "Hello"), (1, "Hello"), (3, "Hello")]
    three = next(c for c in page.conversations if c.stats.count == 3)
    assert three.head.uid == 4 and three.stats.participants == ("a@example.org",)
    key = three.head.thread_key
    assert key is not None
    assert await lister.conversation_uids(account.id, "INBOX", [key]) == [1, 2, 4]
    tree = await lister.conversation(account.id, "INBOX", 1)
    assert [(e.message.uid, e.depth) for e in tree.entries] == [(2, 0), (4, 1), (1, 2)]
    assert tree.complete and not tree.capped
    alone = await lister.conversation(account.id, "INBOX", 3)
    assert [e.message.uid for e in alone.entries] == [3]


async def test_a_blob_that_cannot_be_read_leaves_its_message_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blobs = await store.blobs.stage_many([message("x", "x@x"), message("y", "y@x", "<x@x>")])
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs])
    lister = MailList(store, page_size=10, summary_batch=10)
    missing = await store.read(role(store).unthreaded, box.id, 10)
    broken = [m for m in missing if m.blob_hash == blobs[1].hash]
    original = store.blobs.chunks

    def failing(blob_hash: str):  # type: ignore[no-untyped-def]
        if blob_hash == blobs[1].hash:
            raise OSError("unreadable")
        return original(blob_hash)

    monkeypatch.setattr(store.blobs, "chunks", failing)
    await lister.thread_folder(account.id, box.id)
    monkeypatch.undo()
    assert broken and await store.read(role(store).unthreaded, box.id, 10) == []
    page = await lister.conversations(account.id, "INBOX", cursor=None)
    assert [c.stats.count for c in page.conversations] == [1, 1]


async def test_a_page_walks_a_bounded_stretch_and_its_link_goes_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight old replies of the newest conversation lie between it and an old
    message: with walks of two and at most four messages a page, the pages stop
    early and their links go on until the old message shows."""
    monkeypatch.setattr(mail_list, "CONVERSATION_WALK_STEP", 2)
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    datas = [message("old", "old@x")] + [
        message("Re: long", f"l{n}@x", "<l0@x>" if n else "") for n in range(10)
    ]
    blobs = await store.blobs.stage_many(datas)
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in blobs])
    lister = MailList(store, page_size=10, summary_batch=20, max_walk=4)
    pages: list[list[tuple[str, int]]] = []
    cursor = None
    for _ in range(5):
        page = await lister.conversations(account.id, "INBOX", cursor=cursor)
        pages.append([(c.subject, c.stats.count) for c in page.conversations])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[("long", 10)], [], [("old", 1)]]
