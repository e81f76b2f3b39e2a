"""Raw bytes against the running POP service: pipelining, bad input, STLS
injection, the supervisor's view (status, probe, stop and start), and RETR
of a large message streamed in bounded memory."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from roost.app import Roost
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    TIMEOUT_S,
    TRACE,
    deliver,
    inbox_id,
    pop_of,
    pop_port,
    pop_roost,
    sample_messages,
    stored,
)
from tests.tls_support import client_context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def roost(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Roost]:
    async with pop_roost(tmp_path, ca) as running:
        yield running


async def converse(port: int, payload: bytes, *, until: bytes = b"signing off") -> bytes:
    """Send everything at once, read until ``until`` appears or the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    received = b""
    try:
        while until not in received:
            chunk = await asyncio.wait_for(reader.read(65536), TIMEOUT_S)
            if not chunk:
                break
            received += chunk
    finally:
        writer.close()
    return received


def lines(answer: bytes) -> list[bytes]:
    return answer.split(b"\r\n")


async def test_pipelined_commands_are_answered_in_order(roost: Roost) -> None:
    messages = sample_messages()[:2]
    await deliver(roost, messages)
    login = f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode()
    answer = await converse(
        pop_port(roost), login + b"STAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n"
    )
    first = TRACE + messages[0]
    second = TRACE + messages[1]
    stuffed = first.replace(b"\r\n.", b"\r\n..")
    expected = (
        b"+OK Roost POP3 server ready\r\n+OK Send PASS\r\n"
        b"+OK Maildrop has 2 messages (%d octets)\r\n"
        b"+OK 2 %d\r\n"
        b"+OK Maildrop has 2 messages (%d octets)\r\n1 %d\r\n2 %d\r\n.\r\n"
    ) % (
        len(first) + len(second),
        len(first) + len(second),
        len(first) + len(second),
        len(first),
        len(second),
    )
    assert answer.startswith(expected)
    rest = answer[len(expected) :]
    assert rest.startswith(b"+OK 1 ")
    rest = rest.split(b"\r\n", 1)[1]
    assert rest.startswith(b"+OK %d octets\r\n" % len(first) + stuffed + b".\r\n")
    assert rest.endswith(
        b"+OK Message 2 deleted\r\n+OK Roost POP3 server signing off (1 message left)\r\n"
    )
    assert await stored(roost) == [first]


async def test_bad_input_gets_err_and_the_server_survives(roost: Roost) -> None:
    await deliver(roost, sample_messages()[:1])
    port = pop_port(roost)
    login = f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode()
    answer = await converse(
        port,
        b"STAT\r\nFROB\r\nRETR 1\r\n"  # wrong state, unknown, wrong state
        + b"NOOP "
        + b"x" * 5000
        + b"\r\n"  # over-long line
        + login
        + b"RETR 99\r\nRETR 0\r\nRETR x\r\nDELE 1\r\nDELE 1\r\nTOP 1\r\nUSER again\r\n"
        + b"\x00\xff garbage\r\nQUIT\r\n",
    )
    replies = [line for line in lines(answer) if line.startswith((b"+OK", b"-ERR"))]
    assert replies[1:5] == [
        b"-ERR Not authenticated; send USER/PASS or AUTH first",
        b"-ERR Unknown command",
        b"-ERR Not authenticated; send USER/PASS or AUTH first",
        b"-ERR Line too long",
    ]
    assert replies[7] == b"-ERR No such message"
    assert replies[8] == b"-ERR No such message"
    assert replies[9].startswith(b"-ERR Syntax")
    assert replies[10] == b"+OK Message 1 deleted"
    assert replies[11] == b"-ERR Message 1 already deleted"
    assert replies[12].startswith(b"-ERR Syntax")
    assert replies[13] == b"-ERR Already authenticated"
    assert replies[14].startswith(b"-ERR")
    assert replies[15].startswith(b"+OK Roost POP3 server signing off")
    assert await stored(roost) == []
    # A fresh connection still gets its greeting.
    assert (await converse(port, b"QUIT\r\n")).startswith(b"+OK Roost POP3 server ready")


async def test_too_many_errors_and_http_end_the_session(roost: Roost) -> None:
    port = pop_port(roost)
    limit = roost.config.pop.max_errors
    answer = await converse(port, b"FROB\r\n" * (limit + 5), until=b"Too many errors")
    assert lines(answer).count(b"-ERR Unknown command") == limit
    assert b"-ERR Too many errors, closing connection" in answer
    answer = await converse(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"HTTP is not")
    assert b"-ERR HTTP is not spoken here" in answer


async def test_stls_drops_what_was_pipelined_after_it(roost: Roost, ca: trustme.CA) -> None:
    """RFC 2595 §4 (CVE-2011-0411): nothing sent before the handshake counts as TLS."""
    port = pop_port(roost)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await asyncio.wait_for(reader.readline(), TIMEOUT_S)).startswith(b"+OK")
        writer.write(f"STLS\r\nUSER {ALICE}\r\n".encode())
        await writer.drain()
        assert await asyncio.wait_for(reader.readline(), TIMEOUT_S) == (
            b"+OK Begin TLS negotiation\r\n"
        )
        await writer.start_tls(client_context(ca), server_hostname="localhost")
        writer.write(f"PASS {ALICE_PASSWORD}\r\n".encode())
        answer = await asyncio.wait_for(reader.readline(), TIMEOUT_S)
        assert answer == b"-ERR Send USER first\r\n"  # the injected USER was dropped
        writer.write(b"QUIT\r\n")
        assert (await asyncio.wait_for(reader.readline(), TIMEOUT_S)).startswith(b"+OK")
    finally:
        writer.close()


async def test_status_probe_stop_and_start(roost: Roost) -> None:
    pop = pop_of(roost)
    status = roost.supervisor.status("pop")
    assert status.state.value == "running" and status.title == "POP"
    assert len(status.service.listeners) == 2
    probe = await pop.probe()
    assert probe.ok, probe.detail
    await roost.supervisor.stop("pop", "test")
    assert roost.supervisor.status("pop").state.value == "stopped"
    assert not (await pop.probe()).ok
    await roost.supervisor.start("pop", "test")
    assert (await pop.probe()).ok
    assert pop.counters["connections"] >= 2


async def test_probe_over_implicit_tls_only(tmp_path: Path, ca: trustme.CA) -> None:
    async with pop_roost(tmp_path, ca, pop={"listen": []}) as roost:
        probe = await pop_of(roost).probe()
        assert probe.ok, probe.detail


async def test_retr_of_a_large_message_streams_in_bounded_memory(roost: Roost) -> None:
    """Memory must not grow with the message: the blob is read and sent in chunks."""
    size = 24 * 1024 * 1024
    line = b".dotted line to be stuffed, 64 octets long...................\r\n"
    body = b"Subject: large\r\n\r\n" + line * (size // len(line))
    await deliver(roost, [body])
    expected = hashlib.sha256(TRACE + body).hexdigest()
    del body
    port = pop_port(roost)

    def fetch() -> tuple[str, int]:
        """A client that reads 64 KB blocks and keeps none of them."""
        digest = hashlib.sha256()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
            sock.sendall(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\nRETR 1\r\n".encode())
            pending = b""
            for _ in range(3):  # greeting, USER, PASS
                while b"\r\n" not in pending:
                    pending += sock.recv(65536)
                pending = pending.split(b"\r\n", 1)[1]
            while b"\r\n" not in pending:
                pending += sock.recv(65536)
            status, pending = pending.split(b"\r\n", 1)
            assert status.startswith(b"+OK")
            tail = b""
            octets = 0
            while True:
                data = pending or sock.recv(65536)
                pending = b""
                if not data:
                    raise AssertionError("connection closed during RETR")
                joined = tail + data
                if joined.endswith(b"\r\n.\r\n"):
                    joined = joined[:-3]
                    digest.update(joined.replace(b"\r\n..", b"\r\n."))
                    octets += len(joined)
                    break
                # Unstuff up to the last line end: a stuffed dot may straddle blocks.
                cut = max(joined.rfind(b"\r\n"), 0)
                digest.update(joined[:cut].replace(b"\r\n..", b"\r\n."))
                octets += cut
                tail = joined[cut:]
            sock.sendall(b"QUIT\r\n")
        return digest.hexdigest(), octets

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        got, _octets = await asyncio.to_thread(fetch)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == expected
    # The message is 24 MiB; the server holds a blob chunk and its stuffed copy.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while sending a 24 MiB message"


async def test_an_unreadable_message_is_refused_alone(roost: Roost) -> None:
    """Small messages are read in batches; one missing blob fails only its RETR."""
    import os

    from roost.store.blobs import FileBlobs

    bodies = [b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i) for i in range(1, 6)]
    await deliver(roost, bodies)
    store = roost.store
    assert isinstance(store.blobs, FileBlobs)
    (_, second, *_rest) = await store.read(store.mail.messages, await inbox_id(roost))
    os.unlink(store.blobs.path(second.blob_hash))
    login = f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode()
    answer = await converse(
        pop_port(roost), login + b"RETR 1\r\nRETR 2\r\nTOP 3 0\r\nRETR 4\r\nRETR 5\r\nQUIT\r\n"
    )
    assert b"-ERR [SYS/TEMP] Message cannot be read now\r\n" in answer
    for number in (1, 4, 5):
        assert TRACE + bodies[number - 1] + b".\r\n" in answer
    assert b"+OK Top of message follows\r\n" + TRACE + b"Subject: 3\r\n\r\n.\r\n" in answer
    assert answer.endswith(b"signing off (5 messages left)\r\n")
