"""One TCP connection: bytes in and out, with timeouts, limits and TLS.

Theory of operation
-------------------
`TcpConnection` is an `asyncio.BufferedProtocol` on a raw socket transport.
asyncio reads the socket into one buffer shared by every connection of the
thread (`get_buffer` hands it out, `buffer_updated` empties it before the next
read), so an idle connection owns no read buffer at all. Plaintext waits in a
`bytearray` that is dropped as soon as the caller has read it; beyond
`ConnectionOptions.input_buffer_octets` the socket is paused.

TLS (`roost.net.tls.TlsEngine`) sits between the socket and that buffer:
ciphertext is decrypted as it arrives and encrypted as it is written.

STARTTLS injection (RFC 3207 §4.2, CVE-2011-0411): plaintext that a client
sends after its STARTTLS command but before our go-ahead was written must
not be read as if it had come over TLS. The connection counts the octets it
has received and notes the count whenever plaintext is written; `start_tls`
discards every buffered octet received before the last write (the
go-ahead) and feeds the rest, the client's ClientHello, to TLS. Every
protocol gets this without doing anything: it writes its go-ahead and calls
`start_tls`. A protocol must still not parse past its STARTTLS command
itself: read commands with `read_until`, or replace the protocol core after
TLS (which RFC 3207 §4.2 requires anyway).

Output goes straight to the transport, whose buffer is bounded by
`output_buffer_octets`: above it the transport pauses us; if it stays above
for `write_timeout_s` the peer has stopped reading and is disconnected,
whether or not the caller awaits `drain`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import threading
from dataclasses import dataclass
from typing import Protocol, cast

from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    LineTooLong,
    OutputOverflow,
    SessionEnded,
    ShuttingDown,
    TlsHandshakeError,
    WriteTimeout,
)
from roost.net.tls import FEED_OCTETS, TlsEngine, TlsInfo

__all__ = ["ConnectionOptions", "ConnectionOwner", "TcpConnection"]

_log = logging.getLogger(__name__)

# The socket read buffer, one per thread: 256 KiB like asyncio's own
# transports, so a fast peer costs as few system calls, but shared.
RECV_OCTETS = 256 * 1024

_DEFAULT_READ_OCTETS = 64 * 1024

_local = threading.local()


def _recv_buffer() -> memoryview:
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = memoryview(bytearray(RECV_OCTETS))
        _local.view = view
    return view


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """Timeouts and buffer limits of a connection; one instance shared by many."""

    idle_timeout_s: float = 300.0
    """Default limit for one `read` to wait for a byte."""
    write_timeout_s: float = 60.0
    """How long output may stay above its limit before the peer is dropped;
    also the bound on flushing output when closing."""
    handshake_timeout_s: float = 30.0
    output_buffer_octets: int = 256 * 1024
    input_buffer_octets: int = 64 * 1024
    """Received but unread plaintext beyond which the socket is not read."""

    @property
    def output_hard_limit_octets(self) -> int:
        """Queued output that aborts the connection at once: a caller that
        writes this much without awaiting `drain` is broken or hostile."""
        return 4 * self.output_buffer_octets + RECV_OCTETS


class ConnectionOwner(Protocol):
    """Who accepted a connection: told when it opens (may refuse) and closes."""

    def connection_opened(self, conn: TcpConnection) -> bool:
        """False if the owner refused (and closed) the connection."""
        ...

    def connection_closed(self, conn: TcpConnection) -> None: ...


def _describe(exc: ssl.SSLError) -> str:
    reason = exc.reason
    if not reason:
        return str(exc)
    text = reason.lower().replace("_", " ")
    if reason in {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_TOO_LARGE"}:
        text += " (the peer did not send a TLS ClientHello)"
    return text


def _address(raw: object) -> tuple[str, int]:
    if isinstance(raw, tuple) and len(raw) >= 2:
        return str(raw[0]), int(raw[1])
    return ("", 0)


class TcpConnection(asyncio.BufferedProtocol):
    """A connection as its protocol handler sees it (implements `Connection`)."""

    __slots__ = (
        "_closed_waiter",
        "_closing",
        "_drainer",
        "_end_reason",
        "_eof",
        "_failure",
        "_handshaker",
        "_inbox",
        "_loop",
        "_lost",
        "_mark",
        "_options",
        "_owner",
        "_read_deadline",
        "_read_paused",
        "_read_timed_out",
        "_read_timer",
        "_reader",
        "_reader_interruptible",
        "_received",
        "_server_side",
        "_shutdown",
        "_stall_timer",
        "_tls",
        "_transport",
        "_write_paused",
        "local",
        "peer",
        "session_id",
    )

    def __init__(
        self,
        options: ConnectionOptions,
        *,
        server_side: bool,
        label: str,
        owner: ConnectionOwner | None = None,
    ) -> None:
        self._options = options
        self._server_side = server_side
        self._owner = owner
        self.session_id = f"{label}-{secrets.token_hex(4)}"
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._inbox = bytearray()
        self._received = 0
        self._mark = 0
        self._eof = False
        self._lost = False
        self._closing = False
        self._failure: ConnectionClosed | None = None
        self._shutdown = False
        self._end_reason: str | None = None
        self._read_paused = False
        self._write_paused = False
        self._reader: asyncio.Future[None] | None = None
        self._reader_interruptible = False
        # One timer serves every read: a read moves the deadline, and the
        # timer, when it fires early, re-arms for it (no timer per read).
        self._read_deadline = 0.0
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_timed_out = False
        self._drainer: asyncio.Future[None] | None = None
        self._handshaker: asyncio.Future[None] | None = None
        self._closed_waiter: asyncio.Future[None] | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._tls: TlsEngine | None = None

    # -- what the handler sees ---------------------------------------------

    @property
    def server_side(self) -> bool:
        return self._server_side

    @property
    def is_tls(self) -> bool:
        return self._tls is not None and self._tls.handshake_done

    @property
    def tls(self) -> TlsInfo | None:
        """Negotiated TLS parameters, or None on a plaintext connection."""
        return self._tls.info() if self._tls is not None and self._tls.handshake_done else None

    @property
    def is_closing(self) -> bool:
        return self._closing or self._lost

    @property
    def pending_octets(self) -> int:
        """Octets received and not yet read (an SMTP server's pregreet test)."""
        return len(self._inbox)

    @property
    def queued_octets(self) -> int:
        """Octets written and not yet taken by the kernel."""
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None and not self._lost else 0

    @property
    def shutdown_requested(self) -> bool:
        """The server is stopping: finish the current command, then say goodbye."""
        return self._shutdown

    async def read(
        self,
        max_octets: int = _DEFAULT_READ_OCTETS,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Up to *max_octets* received octets; b"" once the peer has closed.

        Raises `IdleTimeout` if nothing arrives within *timeout_s* (default:
        the idle timeout), leaving the connection open for a goodbye. With
        *between_commands*, a server stop raises `ShuttingDown` instead of
        waiting out the grace time.
        """
        if between_commands:
            self.check_ended()
        while not self._inbox:
            self._check_readable(between_commands)
            if self._eof:
                return b""
            await self._wait_readable(timeout_s, between_commands)
        return self._take(max_octets)

    async def read_until(
        self,
        separator: bytes,
        max_octets: int,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Octets up to and including *separator*, leaving the rest buffered.

        At most *max_octets* including the separator, else `LineTooLong`.
        At end of input returns what is left (without separator; b"" if none).
        """
        if between_commands:
            self.check_ended()
        scan_from = 0
        while True:
            found = self._inbox.find(separator, scan_from)
            if found >= 0:
                end = found + len(separator)
                if end > max_octets:
                    raise LineTooLong(f"line longer than {max_octets} octets")
                return self._take(end)
            if len(self._inbox) >= max_octets:
                raise LineTooLong(f"line longer than {max_octets} octets")
            scan_from = max(0, len(self._inbox) - len(separator) + 1)
            if not self._inbox:
                self._check_readable(between_commands)
            if self._eof:
                return self._take(len(self._inbox)) if self._inbox else b""
            await self._wait_readable(timeout_s, between_commands and not self._inbox)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue *data* for sending; never blocks. Await `drain` after large writes."""
        transport = self._transport
        if transport is None or self._closing or self._lost:
            raise self._failure or ConnectionClosed("connection is closed")
        tls = self._tls
        if tls is None:
            transport.write(data)
            self._mark = self._received
        elif not tls.handshake_done:
            raise RuntimeError("write() while the TLS handshake is in progress")
        else:
            try:
                transport.writelines(tls.encrypt(data))
            except ssl.SSLError as exc:
                self._fail(f"TLS error while writing: {_describe(exc)}")
                raise self._failure or ConnectionClosed("TLS error") from exc
        size = transport.get_write_buffer_size()
        if size > self._options.output_hard_limit_octets:
            _log.warning(
                "[%s] %d octets of output queued without a drain; disconnecting %s:%d",
                self.session_id,
                size,
                *self.peer,
            )
            self._failure = OutputOverflow("output queued beyond its limit")
            self.abort()
            raise self._failure

    async def drain(self) -> None:
        """Wait until queued output is below its limit (at most the write timeout)."""
        if self._write_paused and not self._lost:
            waiter = self._drainer = self._loop.create_future()
            try:
                async with asyncio.timeout(self._options.write_timeout_s):
                    await waiter
            except TimeoutError:
                self._on_write_stalled()
            finally:
                self._drainer = None
        if self._lost or self._closing:
            raise self._failure or ConnectionClosed("connection is closed")

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None = None
    ) -> TlsInfo:
        """Switch to TLS now; returns once the handshake has completed.

        On a server, write the go-ahead first (``220 Ready to start TLS``),
        then call this: every octet received before the go-ahead was written
        is discarded (RFC 3207 §4.2), every one after it is TLS, even if it
        arrived before this call. On a client, everything still buffered
        is discarded (response injection).
        """
        if self._tls is not None:
            raise RuntimeError("TLS is already active on this connection")
        if self._transport is None or self._closing or self._lost:
            raise self._failure or ConnectionClosed("connection is closed")
        buffered = self._inbox
        if self._server_side:
            # Octets numbered from `first` were received after the go-ahead.
            first = self._mark - (self._received - len(buffered))
        else:
            # A server speaks TLS only after our ClientHello: anything
            # buffered now was injected after its go-ahead.
            first = len(buffered)
        if first > 0:
            _log.info(
                "[%s] discarded %d plaintext octets sent before the TLS go-ahead",
                self.session_id,
                min(first, len(buffered)),
            )
        pending = buffered[max(first, 0) :]
        self._inbox = bytearray()
        try:
            engine = TlsEngine(
                context, server_side=self._server_side, server_hostname=server_hostname
            )
        except (ssl.SSLError, ValueError) as exc:
            raise TlsHandshakeError(f"cannot start TLS: {exc}") from exc
        self._tls = engine
        waiter = self._handshaker = self._loop.create_future()
        try:
            if not self._server_side:
                self._receive_tls(memoryview(b""))  # sends the ClientHello
            if pending:
                self._receive_tls(memoryview(pending))
            self._resume_reading()
            async with asyncio.timeout(self._options.handshake_timeout_s):
                await waiter
        except TimeoutError:
            _log.info(
                "[%s] TLS handshake with %s:%d timed out after %.1f s",
                self.session_id,
                *self.peer,
                self._options.handshake_timeout_s,
            )
            self.abort()
            raise TlsHandshakeError("TLS handshake timed out") from None
        except TlsHandshakeError as exc:
            _log.info("[%s] TLS handshake with %s:%d failed: %s", self.session_id, *self.peer, exc)
            raise
        finally:
            self._handshaker = None
        info = engine.info()
        _log.debug(
            "[%s] TLS %s %s sni=%s", self.session_id, info.version, info.cipher, info.server_name
        )
        return info

    def request_shutdown(self) -> None:
        """The server is stopping: wake a read that waits between commands."""
        self._shutdown = True
        self._wake_between_commands()

    def request_end(self, reason: str) -> None:
        """End this session (its account was disabled…): a read between commands
        raises `SessionEnded` with *reason*, at once if one is waiting."""
        self._end_reason = reason
        self._wake_between_commands()

    def check_ended(self) -> None:
        """Raise `SessionEnded` if `request_end` was called."""
        if self._end_reason is not None:
            raise SessionEnded(self._end_reason)

    def _wake_between_commands(self) -> None:
        if self._reader_interruptible and not self._inbox:
            self._wake_reader()

    def close(self) -> None:
        """Close after flushing output (TLS: with close_notify), at most the write timeout."""
        if self._closing:
            return
        self._closing = True
        transport = self._transport
        if transport is None or self._lost:
            return
        tls = self._tls
        if tls is not None and tls.handshake_done:
            transport.write(tls.close_notify())
        transport.close()
        self._cancel_stall_timer()
        self._stall_timer = self._loop.call_later(self._options.write_timeout_s, self.abort)
        self._wake_all()

    def abort(self) -> None:
        """Close at once, dropping queued output."""
        self._closing = True
        if self._transport is not None and not self._lost:
            self._transport.abort()
        self._wake_all()

    async def wait_closed(self, timeout_s: float | None = None) -> None:
        """Wait until the socket is closed; aborts it after *timeout_s*."""
        if self._lost or self._transport is None:
            return
        waiter = self._closed_waiter
        if waiter is None:
            waiter = self._closed_waiter = self._loop.create_future()
        limit = self._options.write_timeout_s + 1.0 if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(limit):
                await asyncio.shield(waiter)
        except TimeoutError:
            self.abort()

    # -- asyncio protocol callbacks ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.peer = _address(transport.get_extra_info("peername"))
        self.local = _address(transport.get_extra_info("sockname"))
        self._transport.set_write_buffer_limits(high=self._options.output_buffer_octets)
        if self._owner is not None and not self._owner.connection_opened(self):
            self._closing = True

    def get_buffer(self, sizehint: int) -> memoryview:
        return _recv_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        view = _recv_buffer()[:nbytes]
        if self._tls is None:
            self._inbox += view
            self._received += nbytes
        else:
            self._receive_tls(view)
        if len(self._inbox) > self._options.input_buffer_octets and not self._read_paused:
            if self._transport is not None:
                self._transport.pause_reading()
            self._read_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        tls = self._tls
        if tls is not None and not self._closing:
            tls.feed_eof()
            if not tls.handshake_done:
                self._fail("the peer closed the connection during the TLS handshake")
                return True
            self._receive_tls(memoryview(b""))
        self._eof = True
        self._wake_reader()
        # Stay open for writing: the handler decides when to close.
        return True

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._stall_timer is None and not self._closing:
            self._stall_timer = self._loop.call_later(
                self._options.write_timeout_s, self._on_write_stalled
            )

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._closing:
            self._cancel_stall_timer()
        if self._drainer is not None and not self._drainer.done():
            self._drainer.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._eof = True
        self._cancel_stall_timer()
        self._cancel_read_timer()
        if self._handshaker is not None and not self._handshaker.done():
            self._handshaker.set_exception(
                TlsHandshakeError("the connection closed during the TLS handshake")
            )
        self._wake_all()
        if self._closed_waiter is not None and not self._closed_waiter.done():
            self._closed_waiter.set_result(None)
        if self._owner is not None:
            self._owner.connection_closed(self)
        # Break the cycle transport -> protocol -> transport.
        self._owner = None

    # -- internals -------------------------------------------------------------

    def _receive_tls(self, data: memoryview) -> None:
        tls = self._tls
        assert tls is not None
        try:
            # An empty `data` still runs one step: the client's first flight,
            # or the end of input after `feed_eof`.
            for start in range(0, max(len(data), 1), FEED_OCTETS):
                piece = data[start : start + FEED_OCTETS]
                if piece:
                    tls.feed(piece)
                if not tls.handshake_done:
                    if not tls.handshake():
                        continue
                    if self._handshaker is not None and not self._handshaker.done():
                        self._handshaker.set_result(None)
                if tls.decrypt_into(self._inbox):
                    self._eof = True
            self._flush_tls(tls)
        except ssl.SSLError as exc:
            self._fail(_describe(exc))

    def _flush_tls(self, tls: TlsEngine) -> None:
        out = tls.take_output()
        if out and self._transport is not None and not self._lost:
            self._transport.write(out)

    def _fail(self, reason: str) -> None:
        """End the connection after a TLS failure, sending OpenSSL's alert."""
        tls = self._tls
        handshaking = tls is not None and not tls.handshake_done
        if handshaking:
            error: ConnectionClosed = TlsHandshakeError(reason)
        else:
            error = ConnectionClosed(f"TLS error: {reason}")
            _log.info("[%s] TLS error from %s:%d: %s", self.session_id, *self.peer, reason)
        self._failure = error
        if tls is not None:
            self._flush_tls(tls)
        if self._handshaker is not None and not self._handshaker.done():
            self._handshaker.set_exception(error)
        self._closing = True
        if self._transport is not None and not self._lost:
            self._transport.close()
            self._cancel_stall_timer()
            self._stall_timer = self._loop.call_later(self._options.write_timeout_s, self.abort)
        self._wake_all()

    def _check_readable(self, between_commands: bool) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise ConnectionClosed("connection is closed")
        if between_commands:
            self.check_ended()
        if between_commands and self._shutdown:
            raise ShuttingDown("the server is stopping")

    async def _wait_readable(self, timeout_s: float | None, interruptible: bool) -> None:
        if self._reader is not None:
            raise RuntimeError("another task is already reading this connection")
        self._resume_reading()
        waiter = self._reader = self._loop.create_future()
        self._reader_interruptible = interruptible
        limit = self._options.idle_timeout_s if timeout_s is None else timeout_s
        self._read_deadline = deadline = self._loop.time() + limit
        self._read_timed_out = False
        timer = self._read_timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._read_timer = self._loop.call_at(deadline, self._on_read_timer)
        try:
            await waiter
        finally:
            self._reader = None
            self._reader_interruptible = False
        if self._read_timed_out:
            raise IdleTimeout(f"nothing received for {limit:g} s")

    def _on_read_timer(self) -> None:
        self._read_timer = None
        reader = self._reader
        if reader is None or reader.done():
            return  # no read waits: the next one arms the timer again
        if self._loop.time() < self._read_deadline:
            self._read_timer = self._loop.call_at(self._read_deadline, self._on_read_timer)
            return
        self._read_timed_out = True
        reader.set_result(None)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _take(self, count: int) -> bytes:
        inbox = self._inbox
        if len(inbox) <= count:
            data = bytes(inbox)
            self._inbox = bytearray()
        else:
            with memoryview(inbox) as view:
                data = bytes(view[:count])
            del inbox[:count]
        if self._read_paused and len(self._inbox) <= self._options.input_buffer_octets // 2:
            self._resume_reading()
        return data

    def _resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if self._transport is not None and not self._lost:
                self._transport.resume_reading()

    def _on_write_stalled(self) -> None:
        self._stall_timer = None
        if self._lost or self._closing:
            return
        queued = self._transport.get_write_buffer_size() if self._transport else 0
        _log.info(
            "[%s] %s:%d stopped reading: %d octets queued for %.1f s; disconnecting",
            self.session_id,
            *self.peer,
            queued,
            self._options.write_timeout_s,
        )
        self._failure = WriteTimeout("the peer stopped reading")
        self.abort()

    def _cancel_stall_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_all(self) -> None:
        self._wake_reader()
        if self._drainer is not None and not self._drainer.done():
            self._drainer.set_result(None)
