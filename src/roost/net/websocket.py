"""One WebSocket (RFC 6455) on the web listener, as a `Connection`.

The web server (uvicorn, through Starlette) does the WebSocket framing;
this adapter gives a service's session code the same `Connection` it
gets from a TCP listener, so one session class serves both transports.

A WebSocket carries messages, not a byte stream. `read_message` returns
one whole message, which is what a message protocol (XMPP over
WebSocket, RFC 7395 §3.3.3: one element per message) needs; `read` and
`read_until` serve a byte protocol by concatenating messages. Each
`write` becomes one message: a text frame when the octets are UTF-8
(RFC 7395 §3.2 requires text), a binary frame otherwise. Writes queue,
`drain` sends them, bounded by the write timeout.

Timeouts, `request_shutdown` (the service is stopping) and `request_end`
(the account was disabled) behave as on `TcpConnection`: a read between
commands is woken and raises `ShuttingDown` or `SessionEnded`.
There is no STARTTLS on a WebSocket: TLS is the web listener's (``wss:``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections import deque
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    LineTooLong,
    NetError,
    SessionEnded,
    ShuttingDown,
    WriteTimeout,
)
from roost.net.tls import TlsInfo

__all__ = ["CLOSE_GOING_AWAY", "CLOSE_NORMAL", "WebSocketConnection", "WebSocketOptions"]

_log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
"""RFC 6455 §7.4.1: the server is going down."""
CLOSE_INTERNAL_ERROR = 1011

_DEFAULT_READ_OCTETS = 64 * 1024


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    idle_timeout_s: float = 300.0
    """Default limit for one read to wait for a message."""
    write_timeout_s: float = 60.0
    """How long sending the queued messages may take before the peer is dropped."""


class WebSocketConnection:
    """An accepted WebSocket as a `roost.net.interfaces.Connection`."""

    def __init__(
        self, websocket: WebSocket, options: WebSocketOptions, *, label: str = "ws"
    ) -> None:
        self._ws = websocket
        self._options = options
        self.session_id = f"{label}-{secrets.token_hex(4)}"
        client = websocket.client
        self.peer: tuple[str, int] = (client.host, client.port) if client else ("", 0)
        server = websocket.scope.get("server") or ("", 0)
        self.local: tuple[str, int] = (str(server[0]), int(server[1] or 0))
        self._tls = websocket.url.scheme == "wss"
        self._inbox = bytearray()
        self._outbox: deque[bytes] = deque()
        self._queued = 0
        self._receiver: asyncio.Task[bytes | None] | None = None
        self._wake: asyncio.Event = asyncio.Event()
        self._eof = False
        self._closing = False
        self._shutdown = False
        self._end_reason: str | None = None
        self._closer: asyncio.Task[None] | None = None

    # -- properties of `Connection`

    @property
    def is_tls(self) -> bool:
        return self._tls

    @property
    def tls(self) -> TlsInfo | None:
        """The web server terminates TLS and does not say what it negotiated."""
        return None

    @property
    def pending_octets(self) -> int:
        return len(self._inbox)

    @property
    def queued_octets(self) -> int:
        return self._queued

    @property
    def shutdown_requested(self) -> bool:
        return self._shutdown

    @property
    def closed(self) -> bool:
        return self._closing

    # -- ending from outside

    def request_shutdown(self) -> None:
        """The service is stopping: wake a read that waits between commands."""
        self._shutdown = True
        self._wake.set()

    def request_end(self, reason: str) -> None:
        self._end_reason = reason
        self._wake.set()

    def check_ended(self) -> None:
        if self._end_reason is not None:
            raise SessionEnded(self._end_reason)

    # -- input

    async def read_message(
        self, *, timeout_s: float | None = None, between_commands: bool = False
    ) -> bytes:
        """The next whole message; b"" once the peer has closed."""
        if self._inbox:
            raise NetError("a partly read byte stream is in the way of a message")
        message = await self._next(timeout_s, between_commands)
        return b"" if message is None else message

    async def read(
        self,
        max_octets: int = _DEFAULT_READ_OCTETS,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Up to *max_octets* octets of the messages, in order; b"" at the end."""
        if not self._inbox:
            message = await self._next(timeout_s, between_commands)
            if message is None:
                return b""
            self._inbox += message
        return self._take(max_octets)

    async def read_until(
        self,
        separator: bytes,
        max_octets: int,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Octets through *separator* across messages; what follows stays buffered."""
        while True:
            found = self._inbox.find(separator)
            if found >= 0:
                end = found + len(separator)
                if end > max_octets:
                    raise LineTooLong(f"line longer than {max_octets} octets")
                return self._take(end)
            if len(self._inbox) >= max_octets:
                raise LineTooLong(f"line longer than {max_octets} octets")
            message = await self._next(timeout_s, between_commands and not self._inbox)
            if message is None:
                return self._take(len(self._inbox))
            self._inbox += message

    def _take(self, count: int) -> bytes:
        out = bytes(self._inbox[:count])
        del self._inbox[:count]
        return out

    def _check_readable(self, between_commands: bool) -> None:
        if self._closing:
            raise ConnectionClosed("connection is closed")
        if between_commands:
            self.check_ended()
            if self._shutdown:
                raise ShuttingDown("the server is stopping")

    async def _next(self, timeout_s: float | None, between_commands: bool) -> bytes | None:
        """One message from the peer, None at its end."""
        self._check_readable(between_commands)
        if self._eof:
            return None
        receiver = self._receiver
        if receiver is None:
            receiver = self._receiver = asyncio.create_task(
                self._receive(), name=f"ws-read-{self.session_id}"
            )
        limit = self._options.idle_timeout_s if timeout_s is None else timeout_s
        waiters: set[asyncio.Future[object]] = {receiver}  # type: ignore[arg-type]
        waker: asyncio.Task[bool] | None = None
        if between_commands:
            self._wake.clear()
            waker = asyncio.create_task(self._wake.wait())
            waiters.add(waker)  # type: ignore[arg-type]
        try:
            done, _ = await asyncio.wait(waiters, timeout=limit, return_when="FIRST_COMPLETED")
        finally:
            if waker is not None:
                waker.cancel()
        if receiver not in done:
            if waker is not None and waker in done:
                self._check_readable(between_commands)
            raise IdleTimeout(f"nothing received for {limit:g} s")
        self._receiver = None
        message = receiver.result()
        if message is None:
            self._eof = True
        return message

    async def _receive(self) -> bytes | None:
        """The next non-empty message (an empty one carries nothing), None at the end."""
        while True:
            try:
                message = await self._ws.receive()
            except (RuntimeError, OSError):  # the socket is gone
                return None
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            data = str(text).encode() if text is not None else bytes(message.get("bytes") or b"")
            if data:
                return data

    # -- output

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue one message; `drain` sends it."""
        if self._closing:
            raise ConnectionClosed("connection is closed")
        message = bytes(data)
        self._outbox.append(message)
        self._queued += len(message)

    async def drain(self) -> None:
        try:
            async with asyncio.timeout(self._options.write_timeout_s):
                while self._outbox:
                    message = self._outbox.popleft()
                    self._queued -= len(message)
                    try:
                        text = message.decode()
                    except UnicodeDecodeError:
                        await self._ws.send_bytes(message)
                    else:
                        await self._ws.send_text(text)
        except TimeoutError:
            self.abort()
            raise WriteTimeout("the peer stopped reading") from None
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            self._closing = True
            raise ConnectionClosed(f"the WebSocket closed: {exc}") from exc

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None = None
    ) -> TlsInfo:
        raise NetError("a WebSocket has no STARTTLS: TLS is the web listener's")

    # -- closing

    def close(self, code: int = CLOSE_NORMAL) -> None:
        """Send what is queued, then the close frame (RFC 6455 §5.5.1)."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._closer = asyncio.create_task(self._close(code), name=f"ws-close-{self.session_id}")

    def abort(self) -> None:
        """Close at once, dropping what is queued."""
        self._outbox.clear()
        self._queued = 0
        self.close(CLOSE_INTERNAL_ERROR)

    async def _close(self, code: int) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            async with asyncio.timeout(self._options.write_timeout_s):
                while self._outbox:
                    message = self._outbox.popleft()
                    await self._ws.send_text(message.decode("utf-8", "replace"))
                if self._ws.application_state is WebSocketState.CONNECTED:
                    await self._ws.close(code)
        self._queued = 0
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()

    async def wait_closed(self, timeout_s: float | None = None) -> None:
        closer = self._closer
        if closer is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(closer), timeout_s)
