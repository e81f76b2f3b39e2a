"""The webmail's search page over HTTP (`/mail/search`): each operator narrows
the results, a query that cannot be run is a 400 in words, snippets are
escaped text with marked hits, paging, dates in the user's time zone, and an
honest page while the Indexing service is stopped (its scan still finds new
mail) or when nothing matches."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.control.webmail_access import WebmailAccess
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.services.indexing.service import IndexingService
from roost.store.store import Store, open_store
from roost.store.types import NewMessage
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from tests.conftest import make_config
from tests.unit.test_indexing_service import settled
from tests.web_support import app_client, base_url
from tests.webmail_support import PASSWORD, USER, sign_in

_RESULTS = re.compile(r'<li class="result" data-folder="([^"]*)" data-uid="(\d+)">')
_SUBJECTS = re.compile(r'<a class="result-subject" href="[^"]*">([^<]*)</a>')


@dataclass
class Searching:
    client: httpx.AsyncClient
    store: Store
    supervisor: Supervisor
    indexing: IndexingService
    account_id: int
    config: Config

    async def deliver(self, data: bytes, folder: str = "INBOX", at: datetime | None = None) -> int:
        box = await self.store.read(self.store.mail.mailbox, self.account_id, folder)
        blob = await self.store.blobs.stage(data)
        (done,) = await self.store.write(
            self.store.mail.append, box.id, [NewMessage(blob, internal_date=at)]
        )
        return done.uid

    async def indexed(self) -> None:
        await settled(self.store, self.indexing)

    async def search(self, q: str, **params: str) -> httpx.Response:
        return await self.client.get("/mail/search", params={"q": q, **params})

    async def found(self, q: str) -> set[tuple[str, int]]:
        answer = await self.search(q)
        assert answer.status_code == 200, answer.text
        return {(folder, int(uid)) for folder, uid in _RESULTS.findall(answer.text)}


@asynccontextmanager
async def searching(tmp_path: Path, **sections: dict[str, object]) -> AsyncIterator[Searching]:
    """The webmail with a real Indexing service under the supervisor, signed in."""
    clock = ManualClock()
    config = make_config(tmp_path, **sections)
    store = await open_store(config, clock)
    indexing = IndexingService(store, config.indexing, clock)
    supervisor = Supervisor([indexing], store, config.supervisor, clock, "node1")
    try:
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await directory.add_domain(Actor("test"), "example.test")
        await directory.add_user(Actor("test"), USER, PASSWORD)
        account = await store.read(store.directory.account, USER)
        await supervisor.boot()
        intake = Intake(store, config.spool, clock)
        admin = AdminAccess(store, passwords, directory, config.admin, auth.throttle, clock)
        access = WebmailAccess(store, auth, directory, config.webmail, clock)
        context = WebContext(
            config,
            store,
            supervisor,
            directory,
            QueueAdmin(store, intake),
            intake.stats,
            "cli-token",
            admin,
            webmail_access=access,
        )
        async with app_client(create_app(context), https=False) as client:
            assert (await sign_in(client)).status_code == 303
            yield Searching(client, store, supervisor, indexing, account.id, config)
    finally:
        await supervisor.shutdown()
        await store.close()


def mail(
    sender: str,
    subject: str,
    body: str,
    *,
    to: str = USER,
    attachment: str | None = None,
) -> bytes:
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    )
    if attachment is None:
        return f"{head}\r\n{body}\r\n".encode()
    return (
        f'{head}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{attachment}"\r\n'
        "\r\nAAAA\r\n--b--\r\n"
    ).encode()


def day(month: int, date: int) -> datetime:
    return datetime(2026, month, date, 12, 0, tzinfo=UTC)


async def test_each_operator_narrows_the_results(tmp_path: Path) -> None:
    async with searching(tmp_path) as s:
        ann = await s.deliver(
            mail("Ann <ann@example.net>", "Budget plan", "the otterly budget"), at=day(3, 1)
        )
        bob = await s.deliver(
            mail("Bob <bob@example.net>", "lunch", "otterly hungry", to="carl@example.net"),
            at=day(6, 1),
        )
        filed = await s.deliver(
            mail("Ann <ann@example.net>", "old otterly notes", "archived"), "Archive", day(1, 5)
        )
        attached = await s.deliver(
            mail("Dee <dee@example.net>", "scan", "otterly see file", attachment="scan.pdf"),
            at=day(9, 9),
        )
        await s.indexed()
        everything = {("INBOX", ann), ("INBOX", bob), ("Archive", filed), ("INBOX", attached)}
        assert await s.found("otterly") == everything
        assert await s.found("otterly from:ann") == {("INBOX", ann), ("Archive", filed)}
        assert await s.found("otterly to:carl") == {("INBOX", bob)}
        assert await s.found("subject:otterly") == {("Archive", filed)}
        assert await s.found("otterly in:archive") == {("Archive", filed)}
        assert await s.found("otterly has:attachment") == {("INBOX", attached)}
        assert await s.found("otterly before:2026-03-02") == {("INBOX", ann), ("Archive", filed)}
        assert await s.found("otterly after:2026-06-01") == {("INBOX", bob), ("INBOX", attached)}
        assert await s.found("after:2026-02-01 before:2026-07-01") == {
            ("INBOX", ann),
            ("INBOX", bob),
        }
        assert await s.found('"otterly hungry"') == {("INBOX", bob)}
        assert await s.found('"hungry otterly"') == set()
        # Ranked: a subject hit counts most; each result links to its message in its folder.
        page = (await s.search("otterly")).text
        assert _SUBJECTS.findall(page)[0] == "old otterly notes"
        assert f'href="/mail/message?folder=Archive&amp;uid={filed}"' in page
        assert "Results 1–4 of 4 in every folder" in page
        assert "index-note" not in page  # the index is complete: nothing to say


async def test_a_hyphenated_token_matches_exactly(tmp_path: Path) -> None:
    async with searching(tmp_path) as s:
        whole = await s.deliver(mail("a@example.net", "one", "order x-ray-42 shipped"))
        inside = await s.deliver(mail("a@example.net", "two", "refXX-RAY-42b"))
        await s.deliver(mail("a@example.net", "three", "an x ray 42 apart"))
        await s.deliver(mail("a@example.net", "four", "order x-ray-43 shipped"))
        await s.indexed()
        assert await s.found("x-ray-42") == {("INBOX", whole), ("INBOX", inside)}


async def test_queries_that_cannot_run_are_a_400_in_words(tmp_path: Path) -> None:
    async with searching(tmp_path, indexing={"search_max_terms": 3}) as s:
        cases = {
            '"unclosed quote': "is not closed",
            "before:yesterday": "before:yesterday is not a date",
            "x" * 1001: "longer than 1000 characters",
            "one two three four": "at most 3 words",
            "has:kittens": "has:attachment is",
            "ab": "too short",
            "word in:nowhere": "no folder named",
        }
        for q, words in cases.items():
            answer = await s.search(q)
            assert answer.status_code == 400, q
            text = html.unescape(answer.text)
            assert "This search cannot be run" in text and words in text, (q, text[-2000:])
            # The box keeps what was typed, to correct it.
            assert f'id="search-q" name="q" type="search" value="{q[:50]}' in text
        answer = await s.search("word", page="zero")
        assert answer.status_code == 400 and "the page is a number" in answer.text
        # No query: the page and its help, no error.
        empty = await s.client.get("/mail/search")
        assert empty.status_code == 200 and "How to search" in empty.text
        assert "has:attachment" in empty.text and "cannot be run" not in empty.text


async def test_snippets_are_escaped_text_with_marked_hits(tmp_path: Path) -> None:
    async with searching(tmp_path) as s:
        body = "<script>alert('x')</script> the <b>quokkas</b> & friends"
        await s.deliver(mail("Eve <eve@example.net>", "<img src=x onerror=alert(1)>", body))
        await s.indexed()
        page = (await s.search("quokkas")).text
        snippet = re.search(r'<p class="snippet">(.*?)</p>', page, re.S)
        assert snippet
        assert snippet[1] == (
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; the &lt;b&gt;<mark>quokkas</mark>"
            "&lt;/b&gt; &amp; friends"
        )
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_results_are_paged(tmp_path: Path) -> None:
    async with searching(tmp_path, webmail={"search_page_size": 5}) as s:
        uids = {await s.deliver(mail("a@example.net", f"wombat {n}", "text")) for n in range(12)}
        await s.indexed()
        seen: set[tuple[str, int]] = set()
        first = (await s.search("wombat")).text
        assert "Results 1–5 of 12" in first and "Page 1 of 3" in first
        assert 'rel="prev"' not in first
        url = re.search(r'href="([^"]+)" rel="next"', first)
        seen |= {(f, int(u)) for f, u in _RESULTS.findall(first)}
        pages = 1
        while url:
            page = (await s.client.get(html.unescape(url[1]))).text
            seen |= {(f, int(u)) for f, u in _RESULTS.findall(page)}
            pages += 1
            assert 'rel="prev"' in page
            url = re.search(r'href="([^"]+)" rel="next"', page)
        assert pages == 3 and seen == {("INBOX", uid) for uid in uids}
        assert "Results 11–12 of 12" in page
        past = await s.search("wombat", page="9")
        assert past.status_code == 200 and "page 9 is past the last of them (page 3)" in past.text


async def test_dates_show_in_the_users_time_zone(tmp_path: Path) -> None:
    async with searching(tmp_path) as s:
        await s.deliver(
            mail("a@example.net", "numbat", "x"), at=datetime(2025, 11, 20, 23, 30, tzinfo=UTC)
        )
        await s.indexed()
        s.client.cookies.set("roost_tz", "Asia/Tokyo")
        page = (await s.search("numbat")).text
        assert 'title="2025-11-21 08:30 JST"' in page and "Times in Asia/Tokyo" in page


async def test_with_indexing_stopped_new_mail_is_scanned_and_the_page_says_so(
    tmp_path: Path,
) -> None:
    async with searching(tmp_path) as s:
        old = await s.deliver(mail("a@example.net", "before", "the platypus"))
        await s.indexed()
        await s.supervisor.stop("indexing", "cli:test")
        new = await s.deliver(mail("a@example.net", "after", "another platypus"))
        page = await s.search("platypus")
        assert {(f, int(u)) for f, u in _RESULTS.findall(page.text)} == {
            ("INBOX", old),
            ("INBOX", new),
        }
        assert (
            "Indexing is stopped: results come from the index as it was and a slower scan "
            "of the 1 message it has not indexed." in page.text
        )
        # An empty result says what was searched, and the note stays.
        nothing = (await s.search("echidna")).text
        assert "No message matches “echidna” in any folder." in nothing
        assert "Indexing is stopped" in nothing
        # Indexing again: it catches up and the note goes.
        await s.supervisor.start("indexing", "cli:test")
        await s.indexed()
        assert "index-note" not in (await s.search("platypus")).text


async def test_mail_past_the_scan_limit_is_said_to_be_unsearched(tmp_path: Path) -> None:
    async with searching(tmp_path, indexing={"search_max_scanned": 1}) as s:
        await s.supervisor.stop("indexing", "cli:test")
        older = await s.deliver(mail("a@example.net", "one", "kiwi"), at=day(1, 1))
        newer = await s.deliver(mail("a@example.net", "two", "kiwi"), at=day(2, 1))
        page = (await s.search("kiwi")).text
        assert [int(u) for _, u in _RESULTS.findall(page)] == [newer] and older != newer
        assert (
            "The 1 oldest message not indexed yet was not searched: results may be missing." in page
        )
        nothing = (await s.search("kakapo")).text
        assert "No message matches “kakapo”" in nothing and "may be missing" in nothing


async def test_the_search_box_is_on_every_page_and_needs_a_session(tmp_path: Path) -> None:
    async with searching(tmp_path) as s:
        for path in ("/mail", "/mail/password", "/mail/search"):
            page = (await s.client.get(path)).text
            assert 'action="/mail/search" role="search"' in page and 'id="search-q"' in page
        stranger = httpx.AsyncClient(transport=s.client._transport, base_url=base_url(False))
        async with stranger:
            answer = await stranger.get("/mail/search", params={"q": "secret"})
        assert answer.status_code in (302, 303) and "/mail/sign-in" in answer.headers["location"]


async def test_past_the_ranking_bound_the_newest_are_ranked_and_the_page_says_so(
    tmp_path: Path,
) -> None:
    sections = {"indexing": {"search_max_ranked": 7}, "webmail": {"search_page_size": 5}}
    async with searching(tmp_path, **sections) as s:
        uids = [
            await s.deliver(mail("a@example.net", f"wombat {n}", "text"), at=day(1, n + 1))
            for n in range(10)
        ]
        await s.indexed()
        first = (await s.search("wombat")).text
        assert "Results 1–5 of the newest 7 (more match)" in first and "Page 1 of 2" in first
        note = (
            "More than 7 messages match: the newest 7 are ranked. Add words to narrow the search."
        )
        assert note in first
        url = re.search(r'href="([^"]+)" rel="next"', first)
        assert url
        second = (await s.client.get(html.unescape(url[1]))).text
        shown = [int(u) for _, u in _RESULTS.findall(first) + _RESULTS.findall(second)]
        assert sorted(shown) == sorted(uids[-7:])
        # Fewer matches than the bound: every one, and no note.
        narrow = (await s.search('wombat subject:"wombat 3"')).text
        assert [int(u) for _, u in _RESULTS.findall(narrow)] == [uids[3]]
        assert "Results 1–1 of 1" in narrow and "index-note" not in narrow
        # The API says so too, in `more` and the note.
        answer = await s.client.get(
            "/api/v1/search",
            params={"user": USER, "q": "wombat", "per_page": "3"},
            headers={"Authorization": "Bearer cli-token", "X-Roost-User": "test"},
        )
        found = answer.json()
        assert answer.status_code == 200, found
        assert (found["total"], found["more"], len(found["hits"])) == (7, True, 3)
        assert found["index"]["note"] == (
            "More than 7 messages match: the newest 7 are ranked; add words to narrow"
        )
