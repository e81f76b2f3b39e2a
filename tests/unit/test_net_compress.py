"""`DeflateConnection` (RFC 4978) over a `TcpConnection` with a fake transport:
both directions, the deflater dropped between commands, bounded inflation."""

from __future__ import annotations

import asyncio
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.net import ConnectionClosed, LineTooLong, TcpConnection
from roost.net.compress import DeflateConnection, DeflateOptions
from roost.net.connection import _recv_buffer
from tests.unit.test_net_connection import open_connection


class Peer:
    """The client's side: raw deflate with zlib's defaults, as clients use."""

    def __init__(self) -> None:
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)

    def send(self, data: bytes) -> bytes:
        return self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)

    def receive(self, data: bytes) -> bytes:
        return self.inflater.decompress(data)


async def test_both_directions_and_a_deflater_only_while_busy() -> None:
    conn, transport = open_connection()
    wrapped = DeflateConnection(conn, DeflateOptions(window_bits=9))
    peer = Peer()
    _feed(conn, peer.send(b"a1 NOOP\r\n"))
    assert await wrapped.read_until(b"\r\n", 100) == b"a1 NOOP\r\n"
    assert not wrapped.holds_deflater
    for round_ in range(3):
        text = b"* 1 FETCH (FLAGS (\\Seen))\r\n" * 50 + b"a%d OK done\r\n" % round_
        wrapped.write(text)
        assert wrapped.holds_deflater
        # Each write is sync-flushed: the peer can read it whole at once.
        assert peer.receive(bytes(transport.sent)) == text
        transport.sent.clear()
        wrapped.rest()
        assert not wrapped.holds_deflater
    assert wrapped.octets_out < 3 * len(text)


async def test_inflation_is_bounded_by_what_is_read() -> None:
    conn, _ = open_connection()
    wrapped = DeflateConnection(conn)
    peer = Peer()
    bomb = b"x" * 5_000_000
    _feed(conn, peer.send(bomb))
    assert len(await wrapped.read(1000)) == 1000
    assert wrapped.pending_octets > 0
    with pytest.raises(LineTooLong):
        await wrapped.read_until(b"\r\n", 10_000)


async def test_a_corrupt_stream_ends_the_connection() -> None:
    conn, _ = open_connection()
    wrapped = DeflateConnection(conn)
    _feed(conn, b"\xff\xff\xff\xff not deflate")
    with pytest.raises(ConnectionClosed):
        await wrapped.read()


async def test_end_of_input() -> None:
    conn, _ = open_connection()
    wrapped = DeflateConnection(conn)
    conn.eof_received()
    assert await wrapped.read() == b""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=8))
def test_any_writes_arrive_whole(pieces: list[bytes]) -> None:
    """Whatever is written, with rests between, the peer inflates it back."""

    async def run() -> None:
        conn, transport = open_connection()
        wrapped = DeflateConnection(conn, DeflateOptions(level=1, window_bits=9))
        peer = Peer()
        for index, piece in enumerate(pieces):
            wrapped.write(piece)
            if index % 2:
                wrapped.rest()
        assert peer.receive(bytes(transport.sent)) == b"".join(pieces)

    asyncio.run(run())


def test_options_are_checked() -> None:
    for bad in ({"level": 0}, {"window_bits": 8}, {"mem_level": 10}):
        with pytest.raises(ValueError, match="deflate"):
            DeflateOptions(**bad)


def _feed(conn: TcpConnection, data: bytes) -> None:
    """Deliver octets as the transport would."""
    view = _recv_buffer()
    for start in range(0, len(data), len(view)):
        piece = data[start : start + len(view)]
        view[: len(piece)] = piece
        conn.buffer_updated(len(piece))
