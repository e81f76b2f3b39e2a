"""What the POP tests share: a running Roost with POP on free ports, a test CA,
and messages put straight into a mailbox."""

from __future__ import annotations

import poplib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trustme

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.pop.service import PopService
from roost.store.types import NewMessage
from tests.conftest import PG_URL, fresh_pg_schema, make_config
from tests.tls_support import write_certificate

ACTOR = Actor("test")
ALICE = "alice@example.org"
ALICE_PASSWORD = "alice-password"
BOB = "bob@example.org"
BOB_PASSWORD = "bob-password"
TIMEOUT_S = 30.0
TRACE = b"Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.org\r\n"


def sample_messages() -> list[bytes]:
    """Messages that exercise dot-stuffing, 8-bit text and multi-chunk reads."""
    big_line = b"0123456789abcdef" * 4 + b"\r\n"
    return [
        b"From: bob@example.net\r\nTo: alice@example.org\r\nSubject: one\r\n\r\n"
        b"Hello Alice.\r\n.a line with a leading dot\r\n..two dots\r\n.\r\nend\r\n",
        b"From: carol@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
        + "8-bit body: café\r\n".encode()
        + b"line 2\r\nline 3\r\nline 4\r\n",
        b"From: dave@example.net\r\nSubject: big\r\n\r\n" + big_line * 10_000 + b".\r\nlast\r\n",
    ]


@asynccontextmanager
async def pop_roost(
    tmp_path: Path,
    ca: trustme.CA,
    *,
    backend: str = "sqlite",
    **sections: dict[str, object],
) -> AsyncIterator[Roost]:
    """Roost with POP on free ports (both listeners), the CA's certificate,
    alice and bob, and nothing else listening but the web API."""
    cert, key = write_certificate(ca, tmp_path / "certs")
    base: dict[str, dict[str, object]] = {
        "web": {"listen": ["127.0.0.1:0"], "tls_listen": []},
        "smtp": {"mx_listen": [], "submission_listen": [], "submissions_listen": []},
        "tls": {"cert_file": str(cert), "key_file": str(key)},
        "pop": {"listen": ["127.0.0.1:0"], "tls_listen": ["127.0.0.1:0"]},
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


def pop_of(roost: Roost) -> PopService:
    return next(s for s in roost.services if isinstance(s, PopService))


def pop_port(roost: Roost, kind: str = "pop3") -> int:
    (address,) = pop_of(roost).addresses[f"pop-{kind}"]
    return int(address.rpartition(":")[2])


async def inbox_id(roost: Roost, address: str = ALICE) -> int:
    store = roost.store
    account = await store.read(store.directory.account, address)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    return box.id


async def deliver(
    roost: Roost, messages: Sequence[bytes], address: str = ALICE, trace: bytes = TRACE
) -> list[int]:
    """Put messages into the INBOX as local delivery does: a blob each, trace
    headers beside it. Returns their UIDs."""
    store = roost.store
    box = await inbox_id(roost, address)
    staged = [await store.blobs.stage(body) for body in messages]
    appended = await store.write(
        store.mail.append, box, [NewMessage(blob, trace=trace) for blob in staged]
    )
    return [a.uid for a in appended]


async def stored(roost: Roost, address: str = ALICE) -> list[bytes]:
    """The INBOX's messages as POP serves them."""
    store = roost.store
    box = await inbox_id(roost, address)
    return [await store.message_bytes(m) for m in await store.read(store.mail.messages, box)]


def login(port: int, user: str = ALICE, password: str = ALICE_PASSWORD) -> poplib.POP3:
    """A plaintext poplib session on loopback, logged in with USER/PASS."""
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
    client.user(user)
    client.pass_(password)
    return client


def retrieve(client: poplib.POP3, number: int) -> bytes:
    """RETR as poplib gives it: lines without their CRLF, dots unstuffed."""
    _status, lines, _octets = client.retr(number)
    return b"".join(line + b"\r\n" for line in lines)
