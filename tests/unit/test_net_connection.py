"""`TcpConnection` against a fake transport: buffering, STARTTLS discard, limits."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.net import (
    ConnectionClosed,
    ConnectionOptions,
    LineTooLong,
    ListenAddress,
    TcpConnection,
    next_event,
    parse_address,
)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = bytearray()
        self.paused = False
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("192.0.2.1", 40000), "sockname": ("127.0.0.1", 25)}.get(name)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += data

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


def open_connection(**options: int) -> tuple[TcpConnection, FakeTransport]:
    conn = TcpConnection(ConnectionOptions(**options), server_side=True, label="u")
    transport = FakeTransport()
    conn.connection_made(transport)
    return conn, transport


def receive(conn: TcpConnection, data: bytes) -> None:
    buffer = conn.get_buffer(-1)
    buffer[: len(data)] = data
    conn.buffer_updated(len(data))


async def test_read_until_leaves_the_rest_buffered() -> None:
    conn, _ = open_connection()
    receive(conn, b"EHLO a\r\nMAIL FROM:<>\r\n")
    assert await conn.read_until(b"\r\n", 100) == b"EHLO a\r\n"
    assert conn.pending_octets == len(b"MAIL FROM:<>\r\n")
    assert await conn.read(4) == b"MAIL"
    receive(conn, b"")
    conn.eof_received()
    assert await conn.read_until(b"\r\n", 100) == b" FROM:<>\r\n"
    assert await conn.read_until(b"\r\n", 100) == b""


async def test_line_too_long() -> None:
    conn, _ = open_connection()
    receive(conn, b"x" * 50)
    with pytest.raises(LineTooLong):
        await conn.read_until(b"\r\n", 40)


async def test_peer_sees_plain_writes_and_close() -> None:
    conn, transport = open_connection()
    conn.write(b"220 ready\r\n")
    conn.close()
    assert transport.sent == b"220 ready\r\n" and transport.closed
    with pytest.raises(ConnectionClosed):
        conn.write(b"more")
    with pytest.raises(ConnectionClosed):
        await conn.read()
    conn.connection_lost(None)


async def test_input_beyond_its_limit_pauses_reading() -> None:
    conn, transport = open_connection(input_buffer_octets=100)
    receive(conn, b"a" * 150)
    assert transport.paused
    assert await conn.read(100) == b"a" * 100
    assert not transport.paused


@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=8),
    st.data(),
)
def test_read_until_is_independent_of_chunking(lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))

    async def run() -> list[bytes]:
        conn, _ = open_connection()
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            if end > start:
                receive(conn, stream[start:end])
        conn.eof_received()
        got = []
        while line := await conn.read_until(b"\n", 100):
            got.append(line)
        return got

    assert asyncio.run(run()) == [line + b"\n" for line in lines]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:25", ListenAddress("127.0.0.1", 25)),
        ("[::1]:993", ListenAddress("::1", 993)),
        ("*:587", ListenAddress("", 587)),
        (":0", ListenAddress("", 0)),
    ],
)
def test_parse_address(text: str, address: ListenAddress) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["127.0.0.1", "::1:25", "host:99999", "host:x"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|brackets"):
        parse_address(text)


class LineCore:
    """A minimal h11-shaped core: one event per LF-terminated line."""

    def __init__(self) -> None:
        self.buffer = b""
        self.closed = False

    def receive_data(self, data: bytes) -> None:
        self.buffer += data
        self.closed = self.closed or not data

    def next_event(self) -> bytes | None:
        line, sep, rest = self.buffer.partition(b"\n")
        if sep:
            self.buffer = rest
            return line
        return b"<closed>" if self.closed else None


async def test_next_event_reads_only_when_the_core_needs_data() -> None:
    conn, _ = open_connection()
    core = LineCore()
    receive(conn, b"one\ntw")
    assert await next_event(conn, core) == b"one"
    receive(conn, b"o\n")
    assert await next_event(conn, core) == b"two"
    conn.eof_received()
    assert await next_event(conn, core) == b"<closed>"
