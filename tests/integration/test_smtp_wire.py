"""Raw bytes against the running SMTP service: BDAT, and smuggling attempts end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.smtp.service import SmtpService
from roost.store.types import QueueState
from tests.conftest import make_config

ACTOR = Actor("test")


@pytest.fixture
async def roost(tmp_path: Path) -> AsyncIterator[Roost]:
    config = make_config(
        tmp_path,
        web={"listen": ["127.0.0.1:0"], "tls_listen": []},
        smtp={"mx_listen": ["127.0.0.1:0"], "submission_listen": [], "submissions_listen": []},
    )
    running = await start(config, announce=False)
    await running.supervisor.stop("spool", "test")  # keep what arrives in the queue
    await running.directory.add_domain(ACTOR, "example.org")
    await running.directory.add_user(ACTOR, "alice@example.org", "alice-password")
    yield running
    await running.stop()


async def converse(roost: Roost, payload: bytes) -> bytes:
    smtp = next(s for s in roost.services if isinstance(s, SmtpService))
    port = int(smtp.addresses["smtp-mx"][0].rpartition(":")[2])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    received = b""
    try:
        while not received.endswith(b"221 2.0.0 ") and b"\r\n221 " not in received:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            received += chunk
    finally:
        writer.close()
    return received


async def queued(roost: Roost) -> list[bytes]:
    store = roost.store
    entries = await store.read(store.queue.entries, states=[QueueState.QUEUED])
    return [await store.blobs.read(e.blob_hash) for e in entries]


async def test_bdat_chunks(roost: Roost) -> None:
    body = b"Subject: bdat\r\n\r\nchunked body\r\n"
    answer = await converse(
        roost,
        b"EHLO client\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
        + b"BDAT 9\r\n"
        + body[:9]
        + b"BDAT "
        + str(len(body) - 9).encode()
        + b" LAST\r\n"
        + body[9:]
        + b"QUIT\r\n",
    )
    assert b"250 2.0.0 9 octets received" in answer and b"queued as" in answer
    (stored,) = await queued(roost)
    assert stored.endswith(body)


@pytest.mark.parametrize(
    "smuggled",
    [
        b"\n.\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
        b"DATA\r\nSubject: smuggled\r\n",
        b"\r.\rMAIL FROM:<evil@example.net>\r\n",
        b"\n.\r\nMAIL FROM:<evil@example.net>\r\n",
    ],
)
async def test_smuggling_never_makes_two_messages(roost: Roost, smuggled: bytes) -> None:
    answer = await converse(
        roost,
        b"EHLO client\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
        + b"Subject: first\r\n\r\nhello"
        + smuggled
        + b"\r\n.\r\nQUIT\r\n",
    )
    assert b"554 5.6.0" in answer  # bare CR or LF: refused at the real end of data
    assert await queued(roost) == []


async def test_garbage_and_overlong_lines_get_replies(roost: Roost) -> None:
    answer = await converse(
        roost,
        b"EHLO c\r\n\x00\xff\xfe garbage\r\n" + b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\nQUIT\r\n",
    )
    assert b"500 5.5.2" in answer and b"250 2.0.0" in answer and b"221 2.0.0" in answer
