"""What the IMAP tests share: a running Roost with IMAP on free ports, a test
CA, users, and messages put into a mailbox the way local delivery puts them.

imaplib and imapclient are blocking clients: a test runs its client code in
a thread (`in_thread`) while Roost serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import trustme
from imapclient import IMAPClient

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.proto.mime import parse_bytes
from roost.services.imap.service import ImapService
from roost.store.db import Tx
from roost.store.types import NewMessage
from tests.conftest import PG_URL, fresh_pg_schema, make_config
from tests.tls_support import write_certificate

T = TypeVar("T")

ACTOR = Actor("test")
ALICE = "alice@example.org"
ALICE_PASSWORD = "alice-password"
BOB = "bob@example.org"
BOB_PASSWORD = "bob-password"
TIMEOUT_S = 30.0
TRACE = b"Return-Path: <bob@example.net>\r\nDelivered-To: alice@example.org\r\n"

PLAIN = (
    b"From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: Lunch\r\n"
    b"Date: Tue, 1 Apr 2025 12:00:00 +0000\r\nMessage-ID: <lunch@example.net>\r\n\r\n"
    b"Shall we meet at noon?\r\n"
)
MULTIPART = (
    b"From: carol@example.net\r\nTo: alice@example.org\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9_menu?=\r\nDate: Wed, 2 Apr 2025 08:30:00 +0200\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"The menu has cr\xc3\xaapes today.\r\n"
    b"--b1\r\nContent-Type: application/pdf; name=menu.pdf\r\n"
    b"Content-Disposition: attachment; filename=menu.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)
NEWSLETTER = (
    b"From: news@example.com\r\nTo: alice@example.org\r\nSubject: Weekly news\r\n"
    b"Date: Thu, 3 Apr 2025 09:00:00 +0000\r\n\r\n" + b"All the news that fits.\r\n" * 200
)


@asynccontextmanager
async def imap_roost(
    tmp_path: Path,
    ca: trustme.CA,
    *,
    backend: str = "sqlite",
    **sections: dict[str, object],
) -> AsyncIterator[Roost]:
    """Roost with IMAP on free ports (both listeners), the CA's certificate,
    alice and bob, and nothing else listening but the web API."""
    cert, key = write_certificate(ca, tmp_path / "certs")
    base: dict[str, dict[str, object]] = {
        "web": {"listen": ["127.0.0.1:0"], "tls_listen": []},
        "smtp": {"mx_listen": [], "submission_listen": [], "submissions_listen": []},
        "pop": {"listen": [], "tls_listen": []},
        "tls": {"cert_file": str(cert), "key_file": str(key)},
        "imap": {"listen": ["127.0.0.1:0"], "tls_listen": ["127.0.0.1:0"]},
        "spool": {"poll_interval_s": 0.05},
        "dns": {"nameservers": ["127.0.0.1:9"], "timeout_s": 0.2},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    if backend == "postgres":
        async with fresh_pg_schema() as schema:
            base["store"] = {"url": PG_URL, "schema": schema}
            async with _running(tmp_path, base) as roost:
                yield roost
    else:
        async with _running(tmp_path, base) as roost:
            yield roost


@asynccontextmanager
async def _running(tmp_path: Path, sections: dict[str, dict[str, object]]) -> AsyncIterator[Roost]:
    roost = await start(make_config(tmp_path, **sections), announce=False)
    try:
        await roost.directory.add_domain(ACTOR, "example.org")
        await roost.directory.add_user(ACTOR, ALICE, ALICE_PASSWORD)
        await roost.directory.add_user(ACTOR, BOB, BOB_PASSWORD)
        yield roost
    finally:
        await roost.stop()


def imap_port(roost: Roost, kind: str = "imap") -> int:
    service = next(s for s in roost.services if isinstance(s, ImapService))
    (address,) = service.addresses[f"imap-{kind}"]
    return int(address.rpartition(":")[2])


async def deliver(
    roost: Roost,
    messages: Sequence[bytes],
    address: str = ALICE,
    mailbox: str = "INBOX",
    trace: bytes = TRACE,
) -> list[int]:
    """Put messages into a mailbox as local delivery does: a blob each, its
    parsed structure kept with it, trace headers beside it. Returns UIDs."""
    store = roost.store
    account = await store.read(store.directory.account, address)
    staged = [await store.blobs.stage(body) for body in messages]

    async def work(tx: Tx) -> list[int]:
        box = await store.mail.mailbox(tx, account.id, mailbox)
        appended = await store.mail.append(
            tx, box.id, [NewMessage(blob, trace=trace) for blob in staged]
        )
        for blob, body in zip(staged, messages, strict=True):
            await store.blobs.set_structure(tx, blob.hash, parse_bytes(body).to_json())
        return [a.uid for a in appended]

    return await store.write(work)


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking client code beside the server, with a bound on the wait."""
    return await asyncio.wait_for(asyncio.to_thread(fn), TIMEOUT_S * 2)


def imaplib_login(port: int, user: str = ALICE, password: str = ALICE_PASSWORD) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT_S)
    client.login(user, password)
    return client


def imapclient_login(port: int, user: str = ALICE, password: str = ALICE_PASSWORD) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port, ssl=False, timeout=TIMEOUT_S)
    client.login(user, password)
    return client


_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n$")


class Wire:
    """A raw IMAP client for exact checks: a command out, every response up
    to its tagged one back, literals read whole and kept inline."""

    def __init__(self, port: int, *, login: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.reader = self.sock.makefile("rb")
        self.greeting = self.reader.readline()
        self._tags = 0
        if login:
            self.ok(f"LOGIN {ALICE} {ALICE_PASSWORD}")

    def response(self) -> bytes:
        """One response, its literals inline, without the final CRLF."""
        out = bytearray()
        while True:
            line = self.reader.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            out += line
            found = _LITERAL.search(line)
            if found is None:
                return bytes(out).removesuffix(b"\r\n")
            out += self.reader.read(int(found.group(1)))

    def command(self, text: str) -> tuple[list[bytes], bytes]:
        """Send ``tag text``; the untagged responses and the tagged one."""
        self._tags += 1
        tag = f"w{self._tags}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        untagged: list[bytes] = []
        while True:
            line = self.response()
            if line.startswith(tag.encode() + b" "):
                return untagged, line[len(tag) + 1 :]
            untagged.append(line)

    def ok(self, text: str) -> list[bytes]:
        """A command that must succeed: its untagged responses."""
        untagged, done = self.command(text)
        assert done.startswith(b"OK"), (text, done, untagged)
        return untagged

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def wire_transcript(port: int, script: str) -> None:
    """Send each ``C:`` line, then read as many lines as the ``S:`` lines that
    follow and compare them; ``<?>`` is a hole. A bare ``C:`` sends an empty
    line, a bare ``S:`` expects one; blank lines are skipped."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        expected: list[str] = []

        def check() -> None:
            for want in expected:
                got = reader.readline().decode("utf-8").removesuffix("\r\n")
                pattern = ".*".join(re.escape(p) for p in want.split("<?>"))
                assert re.fullmatch(pattern, got), f"expected {want!r}, got {got!r}"
            expected.clear()

        for raw in script.strip().splitlines():
            if not raw.strip():
                continue
            side, _, text = raw.strip().partition(" ")
            if side == "C:":
                check()
                sock.sendall(text.encode() + b"\r\n")
            else:
                expected.append(text)
        check()
