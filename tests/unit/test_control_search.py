"""Webmail search (`roost.control.search`): the query language, its errors
in words, ranking, snippets, paging, filters, and an honest answer while
messages are not indexed yet."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.search import MailSearch, QueryError, parse_query, snippet
from roost.core.clock import ManualClock
from roost.core.config import IndexingSettings
from roost.store.search import SearchField
from roost.store.store import Store
from roost.store.types import NewMessage
from tests.contract.test_store_mail import make_account
from tests.unit.test_indexing_attachments import docx, message
from tests.unit.test_indexing_service import deliver, running, settled

LIMITS = IndexingSettings()


def mail(subject: str, body: str, sender: str = "ann@example.net") -> bytes:
    return (
        f"From: Ann <{sender}>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    ).encode()


def test_operators_words_and_phrases() -> None:
    query = parse_query(
        'budget "quarterly report" from:ann to:"Bob B" subject:plan has:attachment '
        "in:Archive before:2025-06-01 after:2025-01-01",
        LIMITS,
    )
    assert [t.text for t in query.terms] == ["budget", "quarterly report", "ann", "Bob B", "plan"]
    assert query.terms[2].fields == (SearchField.FROM,)
    assert query.terms[3].fields == (SearchField.TO, SearchField.CC)
    assert query.has_attachment and query.folder == "Archive"
    assert (query.before, query.after) == (datetime.date(2025, 6, 1), datetime.date(2025, 1, 1))


def test_fts_syntax_and_unknown_operators_are_literal() -> None:
    query = parse_query('NEAR(abc def) AND foo:bar https://x.example/y *star* "a\tb{c}"', LIMITS)
    assert [t.text for t in query.terms] == [
        "NEAR(abc",
        "def)",
        "AND",
        "foo:bar",
        "https://x.example/y",
        "*star*",
        "a\tb{c}",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"budget', "not closed"),
        ("", "empty"),
        ("ab", "too short"),
        ("before:yesterday", "not a date"),
        ("has:kittens", "has:attachment is"),
        ("from:", "needs a value"),
        ("x" * 2000, "longer than"),
        ('"abc\x00def"', "control character"),
    ],
)
def test_bad_queries_are_explained(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        parse_query(text, LIMITS)


@given(st.text(max_size=200))
def test_any_input_parses_or_is_explained(text: str) -> None:
    try:
        parse_query(text, LIMITS)
    except QueryError as exc:
        assert str(exc)


def test_snippet_marks_every_hit() -> None:
    text = "x " * 300 + "The Budget for the budget meeting" + " y" * 300
    segments = snippet(text, ["budget"])
    assert [s.text for s in segments if s.hit] == ["Budget", "budget"]
    assert segments[0].text == "…" and segments[-1].text == "…"
    assert snippet("", ["a"]) == ()


async def test_ranked_paged_filtered_and_honest(sqlite_store: Store, clock: ManualClock) -> None:
    store = sqlite_store
    account = await make_account(store)
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    archive = await store.write(store.mail.create_mailbox, account.id, "Archive")
    searcher = MailSearch(store, LIMITS)
    async with running(store, clock) as service:
        await deliver(
            store,
            inbox.id,
            mail("lunch", "the zephyrine budget is in the body"),
            mail("Zephyrine budget", "subject hit ranks first"),
            message(("plan.docx", "application/octet-stream", docx("zephyrine agenda"))),
        )
        await deliver(store, archive.id, mail("old", "zephyrine in the archive", "cy@x.net"))
        await settled(store, service)
        page = await searcher.search(account.id, parse_query("zephyrine", LIMITS))
        assert page.total == 4 and page.unindexed == 0
        assert page.hits[0].subject == "Zephyrine budget"  # the subject weighs most
        body_hit = next(h for h in page.hits if h.subject == "lunch")
        assert [s.text for s in body_hit.snippet if s.hit] == ["zephyrine"]
        only = await searcher.search(account.id, parse_query("zephyrine has:attachment", LIMITS))
        assert [h.uid for h in only.hits] == [3]
        archived = await searcher.search(account.id, parse_query("zephyrine in:archive", LIMITS))
        assert [(h.mailbox, h.sender) for h in archived.hits] == [("Archive", "Ann")]
        sent = await searcher.search(account.id, parse_query("from:cy@x zephyrine", LIMITS))
        assert sent.total == 1
        second = await searcher.search(
            account.id, parse_query("zephyrine", LIMITS), page=2, per_page=3
        )
        assert (second.total, len(second.hits)) == (4, 1)
        with pytest.raises(QueryError, match="no folder"):
            await searcher.search(account.id, parse_query("zephyrine in:nowhere", LIMITS))
        with pytest.raises(QueryError, match="per_page"):
            await searcher.search(account.id, parse_query("zephyrine", LIMITS), per_page=1000)
    # Mail that comes while Indexing is stopped is scanned, and the answer says so.
    await deliver(store, inbox.id, mail("new", "zephyrine arrives late"))
    page = await searcher.search(account.id, parse_query("zephyrine", LIMITS))
    assert page.total == 5 and page.unindexed == 1 and page.lag_changes >= 1
    assert page.scanned == 1 and page.unsearched == 0
    # Past the scan's limit it is not searched, and the answer says that too.
    unscanned = MailSearch(store, IndexingSettings(search_max_scanned=0))
    page = await unscanned.search(account.id, parse_query("zephyrine", LIMITS))
    assert page.total == 4 and page.unsearched == 1


async def test_past_the_bound_the_newest_are_ranked_and_paged(
    sqlite_store: Store, clock: ManualClock
) -> None:
    store = sqlite_store
    account = await make_account(store)
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    archive = await store.write(store.mail.create_mailbox, account.id, "Archive")

    async def arrive(box: int, subject: str, day: int, data: bytes | None = None) -> None:
        blob = await store.blobs.stage(data or mail(subject, "the quoll lives here"))
        when = datetime.datetime(2026, 3, day, 12, tzinfo=datetime.UTC)
        await store.write(store.mail.append, box, [NewMessage(blob, internal_date=when)])

    limits = IndexingSettings(search_max_ranked=3)
    searcher = MailSearch(store, limits)
    async with running(store, clock) as service:
        # Turn by turn into two folders; the oldest has the word in its subject.
        await arrive(inbox.id, "Quoll report", 1)
        for day in range(2, 7):
            await arrive((archive.id, inbox.id)[day % 2], f"day {day}", day)
        await settled(store, service)
        first = await searcher.search(account.id, parse_query("quoll", limits), per_page=2)
        assert (first.total, first.more, first.max_ranked) == (3, True, 3)
        second = await searcher.search(account.id, parse_query("quoll", limits), page=2, per_page=2)
        ranked = [h.subject for h in first.hits + second.hits]
        # The newest three, ranked among themselves: the subject hit, the
        # best of all, is not among them.
        assert sorted(ranked) == ["day 4", "day 5", "day 6"] and len(second.hits) == 1
        assert {h.mailbox for h in first.hits + second.hits} == {"INBOX", "Archive"}
        # A date filter that drops the newest: the bound counts what passes it.
        older = await searcher.search(account.id, parse_query("quoll before:2026-03-05", limits))
        assert [h.subject for h in older.hits] == ["day 4", "day 3", "day 2"]
        assert older.more  # the oldest matches too
        # Fewer matches than the bound: every one, ranked as ever, no "more".
        few = await searcher.search(account.id, parse_query("quoll before:2026-03-03", limits))
        assert [h.subject for h in few.hits] == ["Quoll report", "day 2"] and not few.more
        # A filter without words is bounded the same way.
        recent = await searcher.search(account.id, parse_query("after:2026-03-02", limits))
        assert (recent.total, recent.more) == (3, True)
    # Mail the index has not reached is scanned, and is the newest.
    await arrive(inbox.id, "day 7", 7)
    page = await searcher.search(account.id, parse_query("quoll", limits))
    assert page.scanned == 1 and page.more
    assert sorted(h.subject for h in page.hits) == ["day 5", "day 6", "day 7"]
