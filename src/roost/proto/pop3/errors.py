"""Errors of the POP3 core, split the way h11 splits them.

*Local* errors mean Roost drove the core wrongly: it answered an event
that was never asked, built a reply or a maildrop listing that cannot be
sent, or gave settings that make no sense. They raise, since only a bug
causes them.

*Peer* errors mean the client broke the protocol. They never escape the
core: the command parser and the engine raise them, and
`roost.proto.pop3.commands.refusal` turns each one into the ``-ERR`` the
client gets — the one place where that mapping lives. A client can
therefore never make the core raise.
"""

from __future__ import annotations

from roost.core.errors import RoostError


class Pop3Error(RoostError):
    """Base of the errors raised by `roost.proto.pop3`."""


class Pop3StateError(Pop3Error):
    """The service drove the core out of order (an h11 *local* error).

    For example it answered twice, called `next_event` while an event
    still waited for its answer, streamed a message nobody asked for, or
    built a maildrop listing with a unique-id RFC 1939 §7 forbids. This
    is a bug in the service, never something a client can cause.
    """


class Pop3SettingsError(Pop3Error):
    """`Pop3Settings` were given a value the protocol cannot honour."""


class PeerError(Exception):
    """Base of what a client can get wrong; internal to the core.

    Not a `RoostError`: it never leaves the package. Each subclass maps
    to one ``-ERR`` reply in `roost.proto.pop3.commands.refusal`.
    """


class CharacterError(PeerError):
    """A command line holds control characters or invalid UTF-8."""


class UnknownCommandError(PeerError):
    """The keyword names no command Roost runs (RFC 1939 §3, RFC 2449 §3)."""


class HttpRequestError(PeerError):
    """The line is an HTTP request: a browser made to post to the POP3 port
    (a cross-protocol attack). The core refuses it and closes."""


class NotSupportedError(PeerError):
    """A command of the RFCs that Roost deliberately does not run.

    APOP (RFC 1939 §7) needs the clear-text password on the server,
    which Roost never stores.
    """


class ArgumentSyntaxError(PeerError):
    """A command's arguments are missing, extra or malformed.

    ``usage`` is the syntax line the reply shows, e.g. ``"Syntax: RETR msg"``.
    """

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


class Base64Error(PeerError):
    """An AUTH initial response or SASL response is not base64 (RFC 5034 §4)."""


class LineTooLongError(PeerError):
    """A command line is longer than its named limit (RFC 2449 §4)."""


class WrongStateError(PeerError):
    """The command is not valid in the session's state (RFC 1939 §3)."""


class NotAuthenticatedError(WrongStateError):
    """A command of the TRANSACTION state before login."""


class AlreadyAuthenticatedError(WrongStateError):
    """A command of the AUTHORIZATION state after login."""


class NoSuchMessageError(PeerError):
    """A message number outside the maildrop (RFC 1939 §5)."""


class MessageDeletedError(PeerError):
    """A message number that DELE marked in this session (RFC 1939 §5)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number
