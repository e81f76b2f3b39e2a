"""IMAP SEARCH through the index gives the scan's answer: a differential test.

Two Roosts on port 0 hold the same corpus; one searches with the index
(`[indexing] use_index`), the other scans every message. imapclient asks
both the same hypothesis-generated SEARCH commands (TEXT, BODY, SUBJECT,
FROM, TO, CC, BCC with substrings of the corpus, hyphenated tokens, parts
of words, case and folding variants, NOT and OR) and the answers must be
equal. Runs on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient import IMAPClient
from imapclient.imapclient import _literal

from roost.app import Roost
from roost.services.imap.service import ImapService
from roost.services.indexing.service import IndexingService
from tests.imap_support import (
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    deliver,
    imap_port,
    imap_roost,
    imapclient_login,
    in_thread,
)
from tests.unit.test_indexing_service import settled

RUN_TIMEOUT_S = 600.0

CORPUS = [
    PLAIN,
    MULTIPART,
    NEWSLETTER,
    b"From: Dispatch <dispatch@carrier.example>\r\nTo: alice@example.org\r\n"
    b"Cc: Ops Team <ops@example.org>, audit@example.org\r\nBcc: archive@example.org\r\n"
    b"Subject: Shipment JDG2-04711 delayed\r\n\r\n"
    b"Tracking JDG2-04711: the parcel JDG2-04712 left the depot.\r\n",
    b"From: =?iso-8859-1?q?J=FCrgen_Stra=DFer?= <js@example.de>\r\nTo: alice@example.org\r\n"
    b"Subject: =?utf-8?b?R3LDvMOfZSBhdXMgZGVyIFNUUkFTU0U=?=\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
    b"Gr\xfc\xdfe aus der Stra\xdfe, STRASSE 12.\r\n",
    b"From: shop@example.com\r\nTo: alice@example.org\r\nSubject: Your order\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><style>p{color:red}</style></head><body><p>Order&nbsp;#A-17 "
    b"&amp; co<br>Total: <b>42&euro;</b></p><script>var hidden='secret';</script>"
    b"</body></html>\r\n",
    b"From: broken@example.net\r\nTo: alice@example.org\r\nSubject: Broken MIME\r\n"
    b"Content-Type: multipart/mixed; boundary=nowhere\r\n\r\n"
    b"--elsewhere\r\nContent-Type: text/plain\r\n\r\nlost part text\r\n",
    b"From: mislabelled@example.net\r\nTo: alice@example.org\r\nSubject: Caf\xe9 latin\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nCaf\xe9 cr\xe8me br\xfbl\xe9e\r\n",
    b'From: quotes@example.net\r\nTo: alice@example.org\r\nSubject: NEAR AND OR "x"\r\n\r\n'
    b'FTS operators: "NEAR" AND OR NOT * ^ {body} : 100% under_score back\\slash\r\n',
    b"From: greek@example.gr\r\nTo: alice@example.org\r\n"
    b"Subject: =?utf-8?q?=CE=A3=CE=AF=CF=83=CF=85=CF=86=CE=BF=CF=82?=\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"zqPOr8+Dz4XPhs6/z4IgzqPOiM6jzqXOps6fzqM=\r\n",
]

WORDS = [
    "JDG2-04711",
    "jdg2-0471",
    "G2-04",
    "noon",
    "crêpes",
    "CRÊPE",
    "strasse",
    "STRAẞE",
    "grüße",
    "Jürgen",
    "order #a-17",
    "42€",
    "secret",
    "color",
    "lost part",
    "café",
    "crème",
    '"NEAR"',
    "100%",
    "r_s",
    "back\\slash",
    "{body} :",
    "σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "example.org",
    "ops team",
    "archive@",
    "news that fits",
    "JVBERi0",
    "menu",
    "Bob <bob",
    "Delivered-To",
    "nothing-like-this",
    "ab",
    "12",
]


def _texts() -> list[str]:
    """Printable text of the corpus, to cut random needles from."""
    out = []
    for raw in CORPUS:
        text = raw.decode("utf-8", "replace")
        out.append("".join(c for c in text if c.isprintable()))
    return out


NEEDLES = st.one_of(
    st.sampled_from(WORDS),
    st.builds(
        lambda text, start, length: text[start % max(1, len(text)) :][:length],
        st.sampled_from(_texts()),
        st.integers(0, 5000),
        st.integers(1, 12),
    ).filter(lambda s: s.strip() != "" and '"' not in s[:0]),
    st.text(st.sampled_from(list("aeAEß-_ %σΣ")), min_size=1, max_size=5).filter(str.strip),
)
FIELDS = st.sampled_from(["TEXT", "BODY", "SUBJECT", "FROM", "TO", "CC", "BCC"])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def literal(needle: str) -> bytes:
    """imapclient sends an atom unquoted even when it holds atom-specials
    (`100%`, `(`): a literal carries any needle as it is."""
    return _literal(needle.encode())


@st.composite
def criteria(draw: st.DrawFn) -> list[str | bytes]:
    first = [draw(FIELDS), literal(draw(NEEDLES))]
    match draw(st.integers(0, 7)):
        case 0:
            return first
        case 1:
            return ["NOT", *first]
        case 2:
            return ["OR", *first, draw(FIELDS), literal(draw(NEEDLES))]
        case 3:
            return [*first, draw(FIELDS), literal(draw(NEEDLES))]
        case 4:  # flags beside text: the light rows serve it
            return ["UNSEEN", *first]
        case 6:  # sets, NOT and text: UID sets answer it
            return ["NOT", "UID", "3:7", *first]
        case 7:
            return ["OR", "NOT", *first, "1:4"]
        case _:  # a size: the full rows serve it
            return ["LARGER", "1000", *first]


@asynccontextmanager
async def twins(tmp_path: Path, ca: trustme.CA, backend: str) -> AsyncIterator[tuple[Roost, Roost]]:
    """Two Roosts with the corpus: one searching with the index, one scanning."""
    async with AsyncExitStack() as stack:
        indexed = await stack.enter_async_context(
            imap_roost(tmp_path / "indexed", ca, backend=backend)
        )
        scanned = await stack.enter_async_context(
            imap_roost(tmp_path / "scanned", ca, backend=backend, indexing={"use_index": False})
        )
        for roost in (indexed, scanned):
            await deliver(roost, CORPUS)
            await deliver(roost, CORPUS[:4], mailbox="INBOX")
        await wait_indexed(indexed)
        yield indexed, scanned


async def wait_indexed(roost: Roost, timeout_s: float = 60.0) -> None:
    store = roost.store
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        status = await store.read(store.search.status)
        if status.pending == 0 and status.messages:
            return
        assert loop.time() < deadline, f"the index did not catch up: {status}"
        await asyncio.sleep(0.05)


def uses(roost: Roost) -> int:
    service = next(s for s in roost.services if isinstance(s, ImapService))
    return service.counters.get("search_index_used", 0)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_index_and_scan_give_the_same_answers(
    tmp_path: Path, ca: trustme.CA, backend: str
) -> None:
    async with twins(tmp_path, ca, backend) as (indexed, scanned):
        a = await in_thread(lambda: imapclient_login(imap_port(indexed)))
        b = await in_thread(lambda: imapclient_login(imap_port(scanned)))
        try:

            @settings(
                max_examples=100,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            @given(criteria())
            def same(query: list[str | bytes]) -> None:
                assert a.search(query, "UTF-8") == b.search(query, "UTF-8"), query

            def run() -> None:
                a.select_folder("INBOX")
                b.select_folder("INBOX")
                for client in (a, b):
                    client.add_flags([1, 4, 5, 12], [b"\\Seen"])
                for word in WORDS:
                    for field in ("TEXT", "BODY", "SUBJECT", "CC"):
                        query = [field, literal(word)]
                        assert a.search(query, "UTF-8") == b.search(query, "UTF-8"), query
                assert a.search(["BODY", "JDG2-04711"]) == [4, 14]
                assert a.search(["BODY", "2-0471"]) == [4, 14]
                same()

            # Hundreds of searches on two servers: a generous bound of its own.
            await asyncio.wait_for(asyncio.to_thread(run), RUN_TIMEOUT_S)
        finally:
            for client in (a, b):
                await in_thread(client.logout)
        assert uses(indexed) > 0
        assert uses(scanned) == 0


async def test_stopped_indexer_falls_back_to_scanning_new_mail(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """Mail that arrives while Indexing is stopped is scanned, then indexed
    when the service comes back (its cursor is in the store)."""
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, CORPUS[:2])
        await wait_indexed(roost)
        await roost.supervisor.stop("indexing", actor="test")
        await deliver(roost, CORPUS[3:4])
        client: IMAPClient = await in_thread(lambda: imapclient_login(imap_port(roost)))
        try:
            await in_thread(lambda: client.select_folder("INBOX"))
            found = await in_thread(lambda: client.search(["BODY", "JDG2-04711"]))
            assert found == [3]
            status = await roost.store.read(roost.store.search.status)
            assert status.pending == 1
            await roost.supervisor.start("indexing", actor="test")
            await wait_indexed(roost)
            found = await in_thread(lambda: client.search(["BODY", "JDG2-04711"]))
            assert found == [3]
        finally:
            await in_thread(client.logout)
        service = next(s for s in roost.services if isinstance(s, IndexingService))
        # The documents are in before the cursor moves past their changes: wait for both.
        await settled(roost.store, service)
        assert (await service.probe()).ok
