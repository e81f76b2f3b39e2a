"""Errors raised by the net layer.

Each one ends (or is about to end) a single connection; none of them is a bug.
The session wrapper in `roost.net.server` logs them as one line and closes the
connection; a protocol that wants to say goodbye first (``421 4.4.2 Idle
timeout``) catches the one it cares about.
"""

from __future__ import annotations

from roost.core.errors import RoostError


class NetError(RoostError):
    """Base of the errors that end one connection."""


class ConnectionClosed(NetError):
    """The connection is closed: the peer went away, or we closed it."""


class IdleTimeout(NetError):
    """No byte arrived within the read timeout; the connection is still open."""


class WriteTimeout(ConnectionClosed):
    """The peer stopped reading: output stayed above its limit too long."""


class OutputOverflow(ConnectionClosed):
    """More output was queued than the hard limit allows without a drain."""


class ShuttingDown(NetError):
    """The server is stopping and the session is between commands."""


class SessionEnded(ShuttingDown):
    """The session was ended from outside (its account disabled, its password
    changed) and is between commands; the message says why, for the client."""


class TlsHandshakeError(ConnectionClosed):
    """The TLS handshake failed, timed out, or the peer left during it."""


class LineTooLong(NetError):
    """A line exceeded its limit before its terminator arrived."""
