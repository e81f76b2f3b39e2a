"""SORT (RFC 5256, ESORT RFC 5267, SORT=DISPLAY RFC 5957) and THREAD
(ORDEREDSUBJECT, REFERENCES) over the wire, with imapclient and imaplib."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    Wire,
    deliver,
    imap_port,
    imap_roost,
    imapclient_login,
    imaplib_login,
    in_thread,
)


def mail(
    sender: str, to: str, subject: str, date: str, mid: str, extra: str = "", size: int = 0
) -> bytes:
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: <{mid}@example.net>\r\n{extra}\r\n"
    )
    return head.encode() + b"body\r\n" + b"x" * size


CORPUS = [
    # 1: the first of a thread
    mail(
        "Zoe <zoe@example.net>", "bob@example.org", "Lunch", "Tue, 1 Apr 2025 12:00:00 +0000", "m1"
    ),
    # 2: a reply to 1, sent earlier in UTC than it looks
    mail(
        "adam@example.net",
        "Carol <carol@example.org>",
        "Re: Lunch",
        "Tue, 1 Apr 2025 15:00:00 +0200",
        "m2",
        "In-Reply-To: <m1@example.net>\r\nReferences: <m1@example.net>\r\n",
        size=300,
    ),
    # 3: no Date: at all, so its internal date (delivery, later) counts
    (
        b"From: =?utf-8?q?=C3=89mile?= <emile@example.net>\r\nTo: alice@example.org\r\n"
        b"Subject: [news] Weekly\r\nMessage-ID: <m3@example.net>\r\n\r\nnews\r\n"
    ),
    # 4: a reply to 2 by References
    mail(
        "bob@example.net",
        "alice@example.org",
        "Re: Re: Lunch",
        "Wed, 2 Apr 2025 09:00:00 +0000",
        "m4",
        "References: <m1@example.net> <m2@example.net>\r\n",
        size=100,
    ),
    # 5: a forward of the news, no references
    mail(
        "carl@example.net",
        "dora@example.org",
        "Fwd: weekly",
        "Mon, 31 Mar 2025 08:00:00 +0000",
        "m5",
    ),
]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_sort_keys(tmp_path: Path, ca: trustme.CA, backend: str) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, CORPUS)
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            caps = wire.ok("CAPABILITY")[0].split()
            for name in (b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=REFERENCES"):
                assert name in caps
            wire.ok("SELECT INBOX")

            def sort(criteria: str, search: str = "ALL") -> bytes:
                (line,) = wire.ok(f"SORT ({criteria}) UTF-8 {search}")
                return line

            # Delivered together: equal internal dates keep mailbox order, REVERSE too.
            assert sort("ARRIVAL") == b"* SORT 1 2 3 4 5"
            assert sort("REVERSE ARRIVAL") == b"* SORT 1 2 3 4 5"
            # 2 is 13:00 UTC, after 1; 3 has no Date: and sorts by its delivery.
            assert sort("DATE") == b"* SORT 5 1 2 4 3"
            assert sort("SUBJECT") == b"* SORT 1 2 4 3 5"
            assert sort("SUBJECT REVERSE DATE") == b"* SORT 4 2 1 3 5"
            assert sort("FROM") == b"* SORT 2 4 5 3 1"
            assert sort("TO") == b"* SORT 3 4 1 2 5"
            assert sort("CC") == b"* SORT 1 2 3 4 5"
            assert sort("SIZE") == b"* SORT 3 1 5 4 2"
            # The display name, decoded, else the address (RFC 5957); i;ascii-casemap
            # folds ASCII only, so "\u00c9mile" sorts after "ZOE".
            assert sort("DISPLAYFROM") == b"* SORT 2 4 5 1 3"
            assert sort("DISPLAYTO") == b"* SORT 3 4 1 2 5"
            assert sort("SUBJECT", "NOT FROM zoe") == b"* SORT 2 4 3 5"
            (line,) = wire.ok("UID SORT (REVERSE SIZE) UTF-8 ALL")
            assert line == b"* SORT 2 4 5 1 3"
            _, done = wire.command("SORT (SIZE) KOI8-R ALL")
            assert done.startswith(b"NO [BADCHARSET")
            # ESORT: MIN and MAX in sort order, ALL in sort order.
            (line,) = wire.ok("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
            assert line.startswith(b'* ESEARCH (TAG "w')
            assert line.endswith(b'") MIN 5 MAX 3 ALL 5,1:2,4,3 COUNT 5')
            assert wire.ok("SORT RETURN (SAVE) (SIZE) UTF-8 FROM adam") == []
            (line,) = wire.ok("FETCH $ (UID)")
            assert line == b"* 2 FETCH (UID 2)"
            wire.close()

        await in_thread(scenario)


async def test_thread_algorithms(tmp_path: Path, ca: trustme.CA, backend: str) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, CORPUS)
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("EXAMINE INBOX")
            (line,) = wire.ok("THREAD REFERENCES UTF-8 ALL")
            # 5 ("Fwd: weekly") is a forward: it joins 3 ("[news] Weekly", the
            # original) by base subject, and the thread sorts by 3's date.
            assert line == b"* THREAD (1 2 4)(3 5)"
            (line,) = wire.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
            assert line == b"* THREAD (5 3)(1 (2)(4))"
            (line,) = wire.ok("UID THREAD REFERENCES UTF-8 NOT SUBJECT weekly")
            assert line == b"* THREAD (1 2 4)"
            assert wire.ok("THREAD REFERENCES UTF-8 FROM nobody") == [b"* THREAD"]
            _, done = wire.command("THREAD X-MAGIC UTF-8 ALL")
            assert done.startswith(b"BAD")
            wire.close()

        await in_thread(scenario)


async def test_clients_sort_and_thread(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, CORPUS)
        port = imap_port(roost)

        def scenario() -> None:
            client = imapclient_login(port)
            client.select_folder("INBOX", readonly=True)
            assert client.sort(["REVERSE DATE"]) == [3, 4, 2, 1, 5]
            assert client.sort(["SUBJECT", "ARRIVAL"], ["SINCE", "1-Jan-2000"]) == [1, 2, 4, 3, 5]
            assert client.thread() == ((1, 2, 4), (3, 5))
            assert client.thread("ORDEREDSUBJECT") == ((5, 3), (1, (2,), (4,)))
            client.logout()
            imaplib_client = imaplib_login(port)
            imaplib_client.select("INBOX", readonly=True)
            typ, data = imaplib_client.sort("(FROM)", "UTF-8", "ALL")
            assert (typ, data) == ("OK", [b"2 4 5 3 1"])
            typ, data = imaplib_client.thread("REFERENCES", "UTF-8", "ALL")
            assert (typ, data) == ("OK", [b"(1 2 4)(3 5)"])
            imaplib_client.logout()

        await in_thread(scenario)
