"""The Search role's bounded answer for web search (`newest_matching`), on
SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): the newest hits exactly,
found a window of candidates at a time; every term must pass its exact test;
a candidate the trigrams let through but the exact test does not is skipped,
never counted; another account's mail and failed documents never show."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from roost.store import search as search_module
from roost.store.search import NewestMatch, SearchDocument, SearchField, SearchTerm, fold
from roost.store.store import Store
from roost.store.types import NewMessage
from tests.contract.test_store_mail import make_account

BODY = (SearchField.BODY,)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of a few ids, so that a few dozen messages take many of them."""
    monkeypatch.setattr(search_module, "MIN_WINDOW_IDS", 3)


@dataclass(frozen=True, slots=True)
class Stored:
    message_id: int
    mailbox_id: int
    uid: int
    doc: SearchDocument


def doc(body: str, subject: str = "", attachments: str = "") -> SearchDocument:
    return SearchDocument(
        header=f"subject: {subject}",
        body=body,
        subject=subject,
        from_field="",
        to_field="",
        cc_field="",
        bcc_field="",
        attachments=attachments,
    )


async def deliver(
    store: Store, box: int, document: SearchDocument, *, failed: bool = False
) -> Stored:
    """One message into `box` (so that messages of several mailboxes can
    arrive in turns), with its document."""
    staged = await store.blobs.stage(
        f"Subject: {document.subject}\r\n\r\n{document.body}\r\n".encode()
    )
    await store.write(store.mail.append, box, [NewMessage(staged)])
    info = (await store.read(store.mail.messages, box))[-1]
    if failed:
        await store.write(store.search.put_failed, info.id, "unreadable")
    else:
        await store.write(store.search.put, info.id, document)
    return Stored(info.id, box, info.uid, document)


def holds(stored: Stored, term: SearchTerm) -> int:
    """The term's mask in a document, as a scan tests it (0: no match)."""
    mask = 0
    for i, field in enumerate(term.fields):
        columns = (SearchField.HEADER, SearchField.BODY) if field is SearchField.TEXT else (field,)
        if any(fold(term.needle) in fold(stored.doc.column(c)) for c in columns):
            mask |= 1 << i
    return mask


def expected(stored: list[Stored], terms: list[SearchTerm], limit: int) -> list[NewestMatch]:
    out = []
    for s in sorted(stored, key=lambda s: s.message_id, reverse=True):
        masks = tuple(holds(s, t) for t in terms)
        if all(masks):
            out.append(NewestMatch(s.message_id, s.mailbox_id, s.uid, masks))
    return out[:limit]


async def test_the_newest_hits_of_several_folders_exactly(store: Store) -> None:
    account = await make_account(store)
    inbox = (await store.read(store.mail.mailbox, account.id, "INBOX")).id
    archive = (await store.write(store.mail.create_mailbox, account.id, "Archive")).id
    other = await make_account(store, "bob@example.org")
    elsewhere = (await store.read(store.mail.mailbox, other.id, "INBOX")).id
    rng = random.Random(7)
    stored = []
    for n in range(40):
        body = f"message {n} " + ("zephyrine " if rng.random() < 0.6 else "plain ")
        stored.append(await deliver(store, (inbox, archive)[n % 2], doc(body)))
        if n % 5 == 0:  # another account's mail, and a failed document: never shown
            await deliver(store, elsewhere, doc("zephyrine of bob"))
            await deliver(store, inbox, doc("zephyrine unread"), failed=True)
    terms = [SearchTerm("Zephyrine", BODY)]
    for limit in (1, 2, 5, 13, 24, 100):
        got = await store.read(store.search.newest_matching, [inbox, archive], terms, limit=limit)
        assert got == expected(stored, terms, limit), limit
    # In each folder, the highest UIDs; one folder alone, likewise.
    inbox_only = [s for s in stored if s.mailbox_id == inbox]
    got = await store.read(store.search.newest_matching, [inbox], terms, limit=4)
    assert got == expected(inbox_only, terms, 4)
    assert [m.uid for m in got] == sorted((m.uid for m in got), reverse=True)
    # `below` goes on where an answer stopped, and the two make one.
    first = await store.read(store.search.newest_matching, [inbox, archive], terms, limit=6)
    rest = await store.read(
        store.search.newest_matching, [inbox, archive], terms, limit=6, below=first[-1].message_id
    )
    assert first + rest == expected(stored, terms, 12)


async def test_every_term_must_match_and_none_is_cut_short_alone(store: Store) -> None:
    account = await make_account(store)
    box = (await store.read(store.mail.mailbox, account.id, "INBOX")).id
    # The oldest messages hold both words; the newest thirty one each, so
    # that the newest of either word alone would miss every hit of both.
    stored = [await deliver(store, box, doc(f"alpha {n}", "Beta report")) for n in range(3)]
    for n in range(30):
        stored.append(await deliver(store, box, doc("alpha only" if n % 2 else "beta only")))
    terms = [
        SearchTerm("alpha", (SearchField.SUBJECT, SearchField.BODY)),
        SearchTerm("beta", (SearchField.SUBJECT, SearchField.BODY)),
    ]
    got = await store.read(store.search.newest_matching, [box], terms, limit=2)
    assert got == expected(stored, terms, 2)
    assert [m.masks for m in got] == [(0b10, 0b01), (0b10, 0b01)]
    assert len(await store.read(store.search.newest_matching, [box], terms, limit=10)) == 3
    text = [SearchTerm("subject: beta", (SearchField.TEXT,)), SearchTerm("alpha 1", BODY)]
    assert await store.read(store.search.newest_matching, [box], text, limit=5) == expected(
        stored, text, 5
    )


async def test_candidates_the_exact_test_refuses_are_skipped_not_counted(store: Store) -> None:
    account = await make_account(store)
    box = (await store.read(store.mail.mailbox, account.id, "INBOX")).id
    # "abc bcd" holds every trigram of "abcd" but not "abcd": the index's
    # candidates, not hits. They are the newest, and many.
    stored = [await deliver(store, box, doc(f"abcd number {n}")) for n in range(3)]
    stored += [await deliver(store, box, doc("abc bcd, ABC BCD")) for _ in range(20)]
    terms = [SearchTerm("ABCD", BODY)]
    got = await store.read(store.search.newest_matching, [box], terms, limit=2)
    assert got == expected(stored, terms, 2)
    assert [m.message_id for m in got] == [stored[2].message_id, stored[1].message_id]
    assert len(await store.read(store.search.newest_matching, [box], terms, limit=50)) == 3


async def test_a_rare_word_far_back_and_filters_without_words(store: Store) -> None:
    account = await make_account(store)
    box = (await store.read(store.mail.mailbox, account.id, "INBOX")).id
    stored = [await deliver(store, box, doc("the quokka once", attachments="plan.pdf"))]
    stored += [
        await deliver(store, box, doc(f"common text {n}", attachments="a.txt" if n % 7 else ""))
        for n in range(40)
    ]
    quokka = [SearchTerm("quokka", BODY)]
    got = await store.read(store.search.newest_matching, [box], quokka, limit=3)
    assert got == expected(stored, quokka, 3) and len(got) == 1
    # No words: the newest indexed messages; with has:attachment, those with one.
    newest = await store.read(store.search.newest_matching, [box], [], limit=5)
    assert [m.message_id for m in newest] == [s.message_id for s in stored[::-1][:5]]
    assert all(m.masks == () for m in newest)
    attached = await store.read(
        store.search.newest_matching, [box], [], limit=100, with_attachment=True
    )
    assert [m.message_id for m in attached] == [
        s.message_id for s in reversed(stored) if s.doc.attachments
    ]
    with_word = await store.read(
        store.search.newest_matching,
        [box],
        [SearchTerm("text", BODY)],
        limit=3,
        with_attachment=True,
    )
    assert [m.message_id for m in with_word] == [
        s.message_id for s in reversed(stored) if s.doc.attachments and "text" in s.doc.body
    ][:3]
    assert await store.read(store.search.newest_matching, [], quokka, limit=3) == []
    with pytest.raises(ValueError, match="cannot answer"):
        await store.read(store.search.newest_matching, [box], [SearchTerm("qu", BODY)], limit=3)
    with pytest.raises(ValueError, match="limit"):
        await store.read(store.search.newest_matching, [box], quokka, limit=0)


async def test_random_documents_and_terms_equal_a_scan(store: Store) -> None:
    account = await make_account(store)
    box = (await store.read(store.mail.mailbox, account.id, "INBOX")).id
    rng = random.Random(11)
    words = ["Straße", "strasse", "JDG2-04711", "100%", "under_score", "ab", "abc", "bcd"]
    stored = [
        await deliver(
            store,
            box,
            doc(" ".join(rng.choices(words, k=4)), " ".join(rng.choices(words, k=2))),
        )
        for _ in range(30)
    ]
    needles = ["strasse", "abc", "bcd", "jdg2-04", "00%", "r_s", "STRASSE ab"]
    for _ in range(25):
        terms = [
            SearchTerm(
                n, tuple(rng.sample([SearchField.SUBJECT, SearchField.BODY], k=rng.randint(1, 2)))
            )
            for n in rng.sample(needles, k=rng.randint(1, 3))
        ]
        limit = rng.randint(1, 12)
        got = await store.read(store.search.newest_matching, [box], terms, limit=limit)
        assert got == expected(stored, terms, limit), (terms, limit)
