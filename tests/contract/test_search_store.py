"""The Search role on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): exact
substring answers equal to a scan's, documents that follow their messages,
the cursor, rebuilds and status."""

from __future__ import annotations

import random

import pytest

from roost.store.search import IndexedMessage, SearchDocument, SearchField, fold, indexable
from roost.store.store import Store
from roost.store.types import Account, NewMessage
from tests.contract.test_store_mail import make_account

TEXTS = [
    "Invoice JDG2-04711 attached",
    "Straße und STRASSE",
    "per cent 100% and under_score \\ back",
    'quotes "NEAR" AND OR NOT * ^ ( ) { } : -',
    "ǅemal Σίσυφος ΣΊΣΥΦΟΣ",
    "nul\x00byte and \ufffd replacement",
    "",
]


def doc(text: str, subject: str = "", sender: str = "") -> SearchDocument:
    return SearchDocument(
        header=f"subject: {subject}\nfrom: {sender}",
        body=text,
        subject=subject,
        from_field=sender,
        to_field="",
        cc_field="",
        bcc_field="",
    )


async def inbox_with(store: Store, account: Account, count: int) -> tuple[int, list[int]]:
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    staged = [
        await store.blobs.stage(f"Subject: {i}\r\n\r\n{i}\r\n".encode()) for i in range(count)
    ]
    await store.write(store.mail.append, box.id, [NewMessage(b) for b in staged])
    infos = await store.read(store.mail.messages, box.id)
    return box.id, [m.id for m in infos]


async def as_uids(store: Store, box: int, ids: set[int]) -> set[int]:
    """The Search role answers with UIDs: the same messages by UID."""
    return {m.uid for m in await store.read(store.mail.messages, box) if m.id in ids}


def scan(texts: dict[int, str], needle: str) -> set[int]:
    return {mid for mid, text in texts.items() if needle.casefold() in text.casefold()}


async def test_answers_equal_a_scan_for_tokens_parts_and_operators(store: Store) -> None:
    account = await make_account(store)
    box, ids = await inbox_with(store, account, len(TEXTS))
    texts = dict(zip(ids, TEXTS, strict=True))
    for mid, text in texts.items():
        await store.write(store.search.put, mid, doc(text))
    needles = [
        "jdg2-04711",
        "G2-047",
        "strasse",
        "ß",
        "STRASSE und",
        "100%",
        "r_s",
        "\\ b",
        '"NEAR"',
        "AND OR",
        "* ^ (",
        "σίσυφος",
        "ǆem",
        "byte",
        "nowhere",
    ]
    for needle in needles:
        if not indexable(needle):
            continue
        got = await store.read(store.search.matching, box, SearchField.BODY, needle)
        assert got == await as_uids(store, box, scan(texts, needle)), needle


async def test_fields_and_text_match_as_the_scan_does(store: Store) -> None:
    account = await make_account(store)
    box, ids = await inbox_with(store, account, 2)
    await store.write(
        store.search.put, ids[0], doc("body words", "Quarterly report", "Ann <ann@example.org>")
    )
    await store.write(
        store.search.put, ids[1], doc("report in the body", "Lunch", "bob@example.net")
    )
    read = store.read
    first, second = await as_uids(store, box, {ids[0]}), await as_uids(store, box, {ids[1]})
    assert await read(store.search.matching, box, SearchField.SUBJECT, "REPORT") == first
    assert await read(store.search.matching, box, SearchField.FROM, "example.net") == second
    assert await read(store.search.matching, box, SearchField.BODY, "report") == second
    assert await read(store.search.matching, box, SearchField.TEXT, "report") == first | second
    assert await read(store.search.matching, box, SearchField.TO, "example") == set()
    with pytest.raises(ValueError, match="cannot answer"):
        await read(store.search.matching, box, SearchField.BODY, "re")


async def test_documents_follow_their_messages(store: Store) -> None:
    account = await make_account(store)
    box, ids = await inbox_with(store, account, 3)
    assert [p.id for p in await store.read(store.search.pending)] == ids
    await store.write(store.search.put, ids[0], doc("alpha beta"))
    await store.write(store.search.put_failed, ids[1], "broken MIME")
    assert await store.read(store.search.indexed_in, box) == await as_uids(store, box, {ids[0]})
    assert [p.id for p in await store.read(store.search.pending, mailbox_id=box)] == [ids[2]]
    status = await store.read(store.search.status, account.id)
    assert (status.messages, status.indexed, status.failed, status.pending) == (3, 1, 1, 1)
    failures = await store.read(store.search.failures)
    assert [(f.message_id, f.error) for f in failures] == [(ids[1], "broken MIME")]
    # Replacing a document keeps one answer.
    await store.write(store.search.put, ids[0], doc("gamma"))
    assert await store.read(store.search.matching, box, SearchField.BODY, "alpha") == set()
    gamma = await store.read(store.search.matching, box, SearchField.BODY, "gamma")
    assert gamma == await as_uids(store, box, {ids[0]})
    # Expunged messages take their documents with them.
    await store.write(store.mail.expunge, box, None, deleted_only=False)
    await store.write(store.search.collect_orphans)
    assert await store.read(store.search.indexed_in, box) == set()
    assert (await store.read(store.search.status)).messages == 0
    _, again = await inbox_with(store, account, 1)
    # A new message (on SQLite perhaps with a reused id) is pending, never stale.
    assert [p.id for p in await store.read(store.search.pending)] == again
    assert await store.read(store.search.matching, box, SearchField.BODY, "gamma") == set()


async def test_forget_an_account_and_rescan(store: Store) -> None:
    alice = await make_account(store)
    bob = await make_account(store, "bob@example.org")
    _, alice_ids = await inbox_with(store, alice, 2)
    _, bob_ids = await inbox_with(store, bob, 1)
    for mid in alice_ids + bob_ids:
        await store.write(store.search.put, mid, doc(f"text {mid}"))
    assert await store.write(store.search.forget, alice.id) == 2
    assert [p.id for p in await store.read(store.search.pending)] == alice_ids
    assert not await store.write(store.search.take_rescan)
    await store.write(store.search.request_rescan)
    assert await store.write(store.search.take_rescan)
    assert not await store.write(store.search.take_rescan)


async def test_cursor_round_trip(store: Store) -> None:
    assert await store.read(store.search.cursor) == 0
    await store.write(store.search.set_cursor, 41)
    await store.write(store.search.set_cursor, 42)
    assert await store.read(store.search.cursor) == 42


def test_fold_is_per_character() -> None:
    rnd = random.Random(7)
    alphabet = "aAßẞΣσςİıKk\x00\ufffd-_ "
    for _ in range(500):
        a = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
        b = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
        assert fold(a + b) == fold(a) + fold(b)


async def test_random_texts_and_needles_equal_a_scan(store: Store) -> None:
    """Random texts over an alphabet of the hard cases (folding that changes
    length, LIKE and FTS5 metacharacters, LF): every indexable needle gets
    the scan's answer."""
    rnd = random.Random(12)
    alphabet = list("abAB -_%\\\"'*ßẞσΣİ0\n")
    account = await make_account(store)
    box, ids = await inbox_with(store, account, 40)
    texts = {mid: "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30))) for mid in ids}
    for mid, text in texts.items():
        await store.write(store.search.put, mid, doc(text))
    asked = 0
    for _ in range(300):
        needle = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 5)))
        if indexable(needle):
            asked += 1
            got = await store.read(store.search.matching, box, SearchField.BODY, needle)
            assert got == await as_uids(store, box, scan(texts, needle)), repr(needle)
    assert asked > 100


async def test_long_needles_equal_a_scan(store: Store) -> None:
    """Needles longer than `MAX_QUERY_TRIGRAMS` trigrams: the query takes a
    spread of them, the exact test decides; substrings of the texts and
    near misses (one character changed) get the scan's answer."""
    rnd = random.Random(5)
    alphabet = list("abcAB -_%\\\"'*ßΣ0")
    account = await make_account(store)
    box, ids = await inbox_with(store, account, 30)
    texts = {mid: "".join(rnd.choice(alphabet) for _ in range(rnd.randint(40, 120))) for mid in ids}
    for mid, text in texts.items():
        await store.write(store.search.put, mid, doc(text))
    for _ in range(60):
        source = texts[rnd.choice(ids)]
        start = rnd.randint(0, len(source) - 30)
        needle = source[start : start + rnd.randint(15, 30)]
        if rnd.random() < 0.5:
            at = rnd.randrange(len(needle))
            needle = needle[:at] + rnd.choice(alphabet) + needle[at + 1 :]
        got = await store.read(store.search.matching, box, SearchField.BODY, needle)
        assert got == await as_uids(store, box, scan(texts, needle)), repr(needle)


async def test_unindexed_and_mailboxes_apart(store: Store) -> None:
    """`unindexed_in` lists what a search must scan (missing, failed, an
    older version); a shared index answers each mailbox with its own."""
    account = await make_account(store)
    box, ids = await inbox_with(store, account, 3)
    other = await store.write(store.mail.create_mailbox, account.id, "Other")
    staged = await store.blobs.stage(b"Subject: x\r\n\r\nx\r\n")
    await store.write(store.mail.append, other.id, [NewMessage(staged)])
    (other_message,) = await store.read(store.mail.messages, other.id)
    uids = await as_uids(store, box, set(ids))
    assert await store.read(store.search.unindexed_in, box) == uids
    pending = {p.id: p for p in await store.read(store.search.pending)}
    await store.write(
        store.search.put_many,
        [
            IndexedMessage(ids[0], box, pending[ids[0]].uid, doc("shared word")),
            IndexedMessage(ids[1], box, pending[ids[1]].uid, "bad MIME"),
            IndexedMessage(
                other_message.id, other.id, other_message.uid, doc("the shared word too")
            ),
        ],
    )
    assert await store.read(store.search.unindexed_in, box) == await as_uids(
        store, box, {ids[1], ids[2]}
    )
    assert await store.read(store.search.unindexed_in, other.id) == set()
    assert await store.read(store.search.matching, box, SearchField.BODY, "shared") == (
        await as_uids(store, box, {ids[0]})
    )
    assert await store.read(store.search.matching, other.id, SearchField.BODY, "shared") == {
        other_message.uid
    }
    await store.write(store.search.put, ids[2], doc("x"))
    await store.write(store.search.put, ids[1], doc("y"))
    assert await store.read(store.search.unindexed_in, box) == set()


async def test_counts_follow_documents_through_replace_expunge_and_forget(store: Store) -> None:
    """`search_counts` (kept by triggers) equals the documents it counts
    after every kind of change, so `unindexed_in` never misses a message."""
    import sqlalchemy as sa

    from roost.store.db import Tx
    from roost.store.schema import search_counts, search_docs

    async def counts(tx: Tx) -> tuple[dict[int, int], dict[int, int]]:
        kept = {
            int(r.mailbox_id): int(r.current)
            for r in await tx.execute(sa.select(search_counts))
            if r.current
        }
        real = {
            int(r.mailbox_id): int(r.n)
            for r in await tx.execute(
                sa.select(search_docs.c.mailbox_id, sa.func.count().label("n"))
                .where(search_docs.c.error.is_(None))
                .group_by(search_docs.c.mailbox_id)
            )
        }
        return kept, real

    async def check() -> None:
        kept, real = await store.read(counts)
        assert kept == real

    account = await make_account(store)
    box, ids = await inbox_with(store, account, 4)
    for mid in ids:
        await store.write(store.search.put, mid, doc("text"))
    await check()
    await store.write(store.search.put, ids[0], doc("replaced"))
    await store.write(store.search.put_failed, ids[1], "broken")
    await check()
    await store.write(store.search.put, ids[1], doc("fixed"))
    await check()
    # One expunged and one new: the message count is the same, the new one is missing.
    await store.write(store.mail.expunge, box, [(1, 1)], deleted_only=False)
    _, again = await inbox_with(store, account, 1)
    await check()
    assert await store.read(store.search.unindexed_in, box) == await as_uids(
        store, box, {again[-1]}
    )
    await store.write(store.search.forget, account.id)
    await check()
