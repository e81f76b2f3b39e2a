"""Listeners and the session driver: limits, stop with grace, slow readers, errors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roost.core.errors import StartupError
from roost.net import (
    Connection,
    ConnectionClosed,
    ConnectionOptions,
    IdleTimeout,
    Listener,
    ListenerLimits,
    NetError,
    Server,
    SessionHandler,
    ShuttingDown,
    WriteTimeout,
)

HOST = "127.0.0.1"
WAIT_S = 5.0

StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[Server] = []

    async def start(
        handler: SessionHandler,
        *,
        limits: ListenerLimits | None = None,
        options: ConnectionOptions | None = None,
    ) -> Server:
        listener = Listener("t", [f"{HOST}:0"], limits=limits, options=options)
        server = Server(listener, handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace_s=1.0)


def port_of(server: Server) -> int:
    return server.addresses[0].port


async def greet_and_wait(conn: Connection) -> None:
    """Greets, then answers each line until QUIT or the end of input."""
    conn.write(b"HELLO\r\n")
    while line := await conn.read_until(b"\r\n", 100, between_commands=True):
        if line == b"QUIT\r\n":
            return
        conn.write(b"OK\r\n")


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(WAIT_S):
            await writer.wait_closed()


async def wait_until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_reports_bound_addresses_of_several_listeners(start_server: StartServer) -> None:
    listener = Listener("multi", [f"{HOST}:0", f"{HOST}:0"])
    server = Server(listener, greet_and_wait)
    await server.start()
    try:
        ports = [a.port for a in server.addresses]
        assert len(ports) == 2 and all(ports) and ports[0] != ports[1]
        for port in ports:
            async with asyncio.timeout(WAIT_S):
                reader, writer = await asyncio.open_connection(HOST, port)
                assert await reader.readline() == b"HELLO\r\n"
            await close_writer(writer)
    finally:
        await server.stop(grace_s=1.0)
    assert server.addresses == ()


async def test_port_in_use_is_a_one_line_startup_error() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = Listener("smtp", [f"{HOST}:0", f"{HOST}:{port}"])
        with pytest.raises(StartupError) as caught:
            await listener.start(lambda conn: None)
    assert str(caught.value) == f"cannot listen on {HOST}:{port}: Address already in use"
    assert listener.bound == ()


async def test_per_address_limit_refuses_with_the_protocol_line(
    start_server: StartServer,
) -> None:
    limits = ListenerLimits(max_per_address=2, refusal=b"421 too many connections\r\n")
    server = await start_server(greet_and_wait, limits=limits)
    async with asyncio.timeout(WAIT_S):
        first = await asyncio.open_connection(HOST, port_of(server))
        second = await asyncio.open_connection(HOST, port_of(server))
        for reader, _ in (first, second):
            assert await reader.readline() == b"HELLO\r\n"
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.read() == b"421 too many connections\r\n"
        await close_writer(writer)
        assert server.listener.active == 2
        await close_writer(first[1])
        await wait_until(lambda: server.listener.active == 1)
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.readline() == b"HELLO\r\n"
    await close_writer(writer)
    await close_writer(second[1])


async def test_total_limit(start_server: StartServer) -> None:
    server = await start_server(greet_and_wait, limits=ListenerLimits(max_connections=1))
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.readline() == b"HELLO\r\n"
        refused_reader, refused_writer = await asyncio.open_connection(HOST, port_of(server))
        assert await refused_reader.read() == b""
    await close_writer(refused_writer)
    await close_writer(writer)
    assert server.active_sessions <= 1


async def test_idle_timeout_lets_the_protocol_say_goodbye(start_server: StartServer) -> None:
    async def handler(conn: Connection) -> None:
        try:
            await conn.read()
        except IdleTimeout:
            conn.write(b"421 idle too long\r\n")

    server = await start_server(handler, options=ConnectionOptions(idle_timeout_s=0.2))
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.read() == b"421 idle too long\r\n"
    await close_writer(writer)


async def test_each_read_keeps_its_own_timeout(start_server: StartServer) -> None:
    """One timer serves a connection's reads: a long timeout after a short
    one never ends early, and a short one after a long one fires on time."""
    events: list[str] = []

    async def handler(conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        assert await conn.read(timeout_s=0.3) == b"a"  # the timer stays armed for 0.3 s
        conn.write(b"go\r\n")
        assert await conn.read(timeout_s=30) == b"b"  # it fires early and waits on
        events.append("long read got data")
        started = loop.time()
        with contextlib.suppress(IdleTimeout):
            await conn.read(timeout_s=0.2)  # armed for 30 s: re-armed sooner
            events.append("short read got data")
        events.append(f"short timed out after {loop.time() - started:.1f} s")
        conn.write(b"done\r\n")

    server = await start_server(handler)
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        writer.write(b"a")
        assert await reader.readline() == b"go\r\n"
        await asyncio.sleep(0.8)  # well past the first read's timer
        writer.write(b"b")
        assert await reader.readline() == b"done\r\n"
    await close_writer(writer)
    assert events[0] == "long read got data"
    assert events[1].startswith("short timed out after ")
    assert float(events[1].split()[-2]) < 5


async def test_stop_lets_busy_sessions_finish_and_ends_idle_ones(
    start_server: StartServer,
) -> None:
    release = asyncio.Event()
    working = asyncio.Event()
    outcomes: list[str] = []

    async def handler(conn: Connection) -> None:
        conn.write(b"HELLO\r\n")
        try:
            line = await conn.read_until(b"\r\n", 100, between_commands=True)
        except ShuttingDown:
            conn.write(b"421 shutting down\r\n")
            outcomes.append("idle told")
            return
        if line == b"WORK\r\n":
            working.set()
            await asyncio.wait_for(release.wait(), WAIT_S)
            conn.write(b"DONE\r\n")
            outcomes.append("work done")

    server = await start_server(handler)
    async with asyncio.timeout(WAIT_S):
        busy_r, busy_w = await asyncio.open_connection(HOST, port_of(server))
        idle_r, idle_w = await asyncio.open_connection(HOST, port_of(server))
        for reader in (busy_r, idle_r):
            assert await reader.readline() == b"HELLO\r\n"
        busy_w.write(b"WORK\r\n")
        await working.wait()
        stopping = asyncio.create_task(server.stop(grace_s=WAIT_S))
        assert await idle_r.read() == b"421 shutting down\r\n"
        assert not stopping.done()
        refused = False
        try:
            _r, w = await asyncio.open_connection(HOST, port_of(server))
            await close_writer(w)
        except ConnectionRefusedError:
            refused = True
        assert refused
        release.set()
        assert await busy_r.read() == b"DONE\r\n"
        await stopping
    await close_writer(busy_w)
    await close_writer(idle_w)
    assert sorted(outcomes) == ["idle told", "work done"]
    assert server.active_sessions == 0 and server.listener.active == 0


async def test_stop_cancels_sessions_after_the_grace_time(start_server: StartServer) -> None:
    never = asyncio.Event()
    cancelled: list[bool] = []

    async def handler(conn: Connection) -> None:
        conn.write(b"HELLO\r\n")
        try:
            await asyncio.wait_for(never.wait(), 60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    server = await start_server(handler)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.readline() == b"HELLO\r\n"
        started = loop.time()
        await server.stop(grace_s=0.2)
        elapsed = loop.time() - started
        assert await reader.read() == b""
    await close_writer(writer)
    assert cancelled == [True]
    assert 0.2 <= elapsed < 2.0
    assert server.active_sessions == 0 and server.listener.active == 0


async def test_slow_reader_is_disconnected(start_server: StartServer) -> None:
    failures: list[NetError] = []

    async def flood(conn: Connection) -> None:
        chunk = b"x" * 32_768
        try:
            while True:
                conn.write(chunk)
                await conn.drain()
        except ConnectionClosed as exc:
            failures.append(exc)

    options = ConnectionOptions(output_buffer_octets=64 * 1024, write_timeout_s=0.3)
    server = await start_server(flood, options=options)
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((HOST, port_of(server)))  # never reads
        await wait_until(lambda: bool(failures))
        await wait_until(lambda: server.listener.active == 0)
    assert isinstance(failures[0], WriteTimeout)


async def test_slow_reader_is_disconnected_without_drain(start_server: StartServer) -> None:
    failures: list[NetError] = []

    async def write_then_read(conn: Connection) -> None:
        try:
            # Fill the kernel's buffers, then stay above the limit (64 KiB)
            # and below the hard limit, without ever awaiting drain().
            while conn.queued_octets <= 64 * 1024:
                conn.write(b"y" * 16_384)
                await asyncio.sleep(0)
            await conn.read(timeout_s=WAIT_S)
        except ConnectionClosed as exc:
            failures.append(exc)

    options = ConnectionOptions(output_buffer_octets=64 * 1024, write_timeout_s=0.3)
    server = await start_server(write_then_read, options=options)
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((HOST, port_of(server)))
        await wait_until(lambda: bool(failures))
    assert isinstance(failures[0], WriteTimeout)


async def test_a_failing_handler_does_not_disturb_others(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(conn: Connection) -> None:
        conn.write(b"HELLO\r\n")
        if await conn.read_until(b"\r\n", 100) == b"CRASH\r\n":
            raise ValueError("bug in a handler")
        conn.write(b"STILL HERE\r\n")

    server = await start_server(handler)
    async with asyncio.timeout(WAIT_S):
        r1, w1 = await asyncio.open_connection(HOST, port_of(server))
        r2, w2 = await asyncio.open_connection(HOST, port_of(server))
        await r1.readline()
        await r2.readline()
        w1.write(b"CRASH\r\n")
        assert await r1.read() == b""
        w2.write(b"OK\r\n")
        assert await r2.readline() == b"STILL HERE\r\n"
    await close_writer(w1)
    await close_writer(w2)
    assert "session failed" in caplog.text and "bug in a handler" in caplog.text
