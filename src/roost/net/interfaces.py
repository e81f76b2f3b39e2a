"""The net layer's contracts, as seen by the services above it.

Only `typing.Protocol`s: a service's session code is typed against
`Connection`, so a test can hand it a fake.
"""

from __future__ import annotations

import ssl
from typing import Protocol, TypeVar

from roost.net.tls import TlsInfo

__all__ = ["Connection", "SansIoCore", "SessionHandler"]

EventT_co = TypeVar("EventT_co", covariant=True)


class Connection(Protocol):
    """One client connection, plaintext or TLS, as a protocol handler drives it.

    Every wait is bounded: `read` by the idle timeout, `drain` by the write
    timeout, `start_tls` by the handshake timeout.
    """

    @property
    def session_id(self) -> str:
        """Short unique id that starts every log line about this connection."""
        ...

    @property
    def peer(self) -> tuple[str, int]: ...

    @property
    def local(self) -> tuple[str, int]: ...

    @property
    def is_tls(self) -> bool: ...

    @property
    def tls(self) -> TlsInfo | None: ...

    @property
    def pending_octets(self) -> int:
        """Octets received and not yet read."""
        ...

    @property
    def queued_octets(self) -> int:
        """Octets written and not yet taken by the kernel."""
        ...

    @property
    def shutdown_requested(self) -> bool: ...

    def request_end(self, reason: str) -> None:
        """End the session at its next read between commands (`SessionEnded`)."""
        ...

    def check_ended(self) -> None:
        """Raise `SessionEnded` if the session was asked to end."""
        ...

    async def read(
        self,
        max_octets: int = ...,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Up to *max_octets* octets; b"" at end of input."""
        ...

    async def read_until(
        self,
        separator: bytes,
        max_octets: int,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        """Octets through *separator*; what follows stays buffered."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None = None
    ) -> TlsInfo:
        """Upgrade in place; plaintext received before the go-ahead is dropped."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    async def wait_closed(self, timeout_s: float | None = None) -> None: ...


class SessionHandler(Protocol):
    """Runs one session; returns (or raises) when it is over."""

    async def __call__(self, conn: Connection) -> None: ...


class SansIoCore(Protocol[EventT_co]):
    """The shape of a protocol core (h11's): bytes in, events out.

    `next_event` returns None when it needs more data. `receive_data(b"")`
    tells the core the peer closed; the core then returns an event (or
    raises), never None again.
    """

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> EventT_co | None: ...
