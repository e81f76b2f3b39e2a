"""DEFLATE over a connection (RFC 4978 IMAP COMPRESS; the same raw deflate
stream serves XMPP's XEP-0138): `DeflateConnection` wraps a `Connection`.

After the protocol's go-ahead (IMAP's tagged OK to ``COMPRESS DEFLATE``) has
gone out uncompressed, the session swaps its connection for a
`DeflateConnection`: every octet read from then on is inflated, every octet
written is deflated and sync-flushed at once (RFC 4978 §4: each response
must reach the client whole, not wait in the compressor). It sits above TLS,
so a TLS connection compresses before it encrypts.

Memory is what decides the parameters, since an idle client should cost
little (DESIGN: ten thousand idle IMAP clients):

- Our deflater's window is ours to choose, ``window_bits`` (RFC 1951 allows
  256 octets to 32 KiB): with 10 bits and ``mem_level`` 1 it holds about
  6 KiB instead of zlib's default 256 KiB. And between commands, when the
  session waits for its client (`rest`), the deflater is dropped
  altogether: what it wrote was sync-flushed, so a new one can go on with
  the same stream (its blocks never refer back to the old one's output),
  and an idle connection keeps no deflater at all.
- The inflater must keep a 32 KiB window: the client chose its own window,
  and its output may refer back that far (RFC 1951 §2), so this is the one
  cost of an idle compressed connection. zlib allocates the window only
  when the first data arrives.

A client cannot make us inflate without bound: `read` inflates at most the
octets it was asked for and keeps the rest of the input for the next call.
"""

from __future__ import annotations

import ssl
import zlib
from dataclasses import dataclass

from roost.net.errors import ConnectionClosed, LineTooLong
from roost.net.interfaces import Connection
from roost.net.tls import TlsInfo

__all__ = ["DeflateConnection", "DeflateOptions"]

INFLATE_WINDOW_BITS = 15
"""RFC 1951 §3.2.5: distances reach back up to 32 KiB; the peer picks its window."""

_DEFAULT_READ_OCTETS = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeflateOptions:
    """How we compress (the inflating side has no choice, see the module)."""

    level: int = 6
    """zlib level 1-9: 6 is zlib's default balance of speed and size."""
    window_bits: int = 10
    """Our deflate window, 2**bits octets: 9-15."""
    mem_level: int = 1
    """zlib memLevel 1-9: the size of the deflater's hash and pending buffers."""

    def __post_init__(self) -> None:
        if not 1 <= self.level <= 9:
            raise ValueError("the deflate level is 1 to 9")
        if not 9 <= self.window_bits <= 15:
            raise ValueError("the deflate window is 9 to 15 bits")
        if not 1 <= self.mem_level <= 9:
            raise ValueError("the deflate memory level is 1 to 9")


class DeflateConnection:
    """A `Connection` that inflates what it reads and deflates what it writes."""

    def __init__(self, inner: Connection, options: DeflateOptions | None = None) -> None:
        self._inner = inner
        self._options = options or DeflateOptions()
        self._deflater: zlib._Compress | None = None
        self._inflater = zlib.decompressobj(-INFLATE_WINDOW_BITS)
        self._inbox = bytearray()
        self._eof = False
        self.octets_in = 0
        """Compressed octets received."""
        self.octets_out = 0
        """Compressed octets sent."""

    @property
    def inner(self) -> Connection:
        return self._inner

    # -- what the handler sees, as the inner connection has it ------------------

    @property
    def session_id(self) -> str:
        return self._inner.session_id

    @property
    def peer(self) -> tuple[str, int]:
        return self._inner.peer

    @property
    def local(self) -> tuple[str, int]:
        return self._inner.local

    @property
    def is_tls(self) -> bool:
        return self._inner.is_tls

    @property
    def tls(self) -> TlsInfo | None:
        return self._inner.tls

    @property
    def pending_octets(self) -> int:
        return len(self._inbox) + len(self._inflater.unconsumed_tail) + self._inner.pending_octets

    @property
    def queued_octets(self) -> int:
        return self._inner.queued_octets

    @property
    def shutdown_requested(self) -> bool:
        return self._inner.shutdown_requested

    def request_end(self, reason: str) -> None:
        self._inner.request_end(reason)

    def check_ended(self) -> None:
        self._inner.check_ended()

    @property
    def holds_deflater(self) -> bool:
        """A deflater is allocated (between a write and the next `rest`)."""
        return self._deflater is not None

    # -- reading ------------------------------------------------------------------

    async def read(
        self,
        max_octets: int = _DEFAULT_READ_OCTETS,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Up to *max_octets* inflated octets; b"" once the peer has closed."""
        if between_commands:
            self._inner.check_ended()
        while not self._inbox:
            if not await self._fill(max_octets, timeout_s, between_commands):
                return b""
        return self._take(max_octets)

    async def read_until(
        self,
        separator: bytes,
        max_octets: int,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Inflated octets through *separator*; what follows stays buffered."""
        if between_commands:
            self._inner.check_ended()
        while True:
            found = self._inbox.find(separator)
            if found >= 0:
                end = found + len(separator)
                if end > max_octets:
                    raise LineTooLong(f"line longer than {max_octets} octets")
                return self._take(end)
            if len(self._inbox) >= max_octets:
                raise LineTooLong(f"line longer than {max_octets} octets")
            if not await self._fill(max_octets, timeout_s, between_commands and not self._inbox):
                return self._take(len(self._inbox))

    async def _fill(self, max_octets: int, timeout_s: float | None, between: bool) -> bool:
        """Inflate more into the inbox; False at the end of input."""
        tail = self._inflater.unconsumed_tail
        if tail:
            data = tail
        else:
            if self._eof:
                return False
            data = await self._inner.read(max_octets, timeout_s=timeout_s, between_commands=between)
            if not data:
                self._eof = True
                return False
            self.octets_in += len(data)
        try:
            self._inbox += self._inflater.decompress(data, max_octets)
        except zlib.error as exc:
            raise ConnectionClosed(f"the compressed stream is corrupt: {exc}") from exc
        if self._inflater.eof:
            # The peer ended the deflate stream: nothing more can follow.
            self._eof = True
        return True

    def _take(self, count: int) -> bytes:
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        return data

    # -- writing ------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Deflate *data* and send it at once (a sync flush ends each write)."""
        deflater = self._deflater
        if deflater is None:
            options = self._options
            deflater = self._deflater = zlib.compressobj(
                options.level, zlib.DEFLATED, -options.window_bits, options.mem_level
            )
        out = deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)
        self.octets_out += len(out)
        self._inner.write(out)

    def rest(self) -> None:
        """The connection goes idle: drop the deflater (see the module)."""
        self._deflater = None

    async def drain(self) -> None:
        await self._inner.drain()

    # -- the rest is the inner connection's -----------------------------------------

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None = None
    ) -> TlsInfo:
        # RFC 4978 §4: TLS goes under compression, never above it.
        raise ConnectionClosed("TLS cannot start inside a compressed stream")

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    async def wait_closed(self, timeout_s: float | None = None) -> None:
        await self._inner.wait_closed(timeout_s)
