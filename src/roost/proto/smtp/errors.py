"""Errors of the SMTP core, split the way h11 splits them.

*Local* errors mean Roost drove the core wrongly: it answered an event that
was never asked, built a reply that cannot be sent, or gave settings that
make no sense. They raise, since only a bug causes them.

*Peer* errors mean the client broke the protocol. They never escape the
core: the parsers raise them, and `roost.proto.smtp.commands.refusal` turns
each one into the reply the client gets — the one place where that mapping
lives. A client can therefore never make the core raise.
"""

from __future__ import annotations

from roost.core.errors import RoostError


class SmtpError(RoostError):
    """Base of the errors raised by `roost.proto.smtp`."""


class SmtpStateError(SmtpError):
    """The service drove the core out of order (an h11 *local* error).

    For example it answered twice, called `next_event` while an event
    still waited for its answer, or accepted a mail transaction with a
    5xx reply. This is a bug in the service, never something a client
    can cause.
    """


class SmtpSettingsError(SmtpError):
    """`SmtpSettings` were given a value the protocol cannot honour."""


class PeerError(Exception):
    """Base of what a client can get wrong; internal to the core.

    Not a `RoostError`: it never leaves the package, and carries no reply
    of its own because the same fault maps to different replies in
    different commands (a bad path is 501 5.1.7 in MAIL, 501 5.1.3 in RCPT).
    """


class PathSyntaxError(PeerError):
    """A reverse-path or forward-path breaks RFC 5321 §4.1.2."""


class NonAsciiPathError(PeerError):
    """A path holds UTF-8 although the transaction did not ask for SMTPUTF8.

    RFC 6531 §3.4: only a MAIL command with the SMTPUTF8 parameter opens
    a transaction whose paths may be internationalised.
    """


class ParameterSyntaxError(PeerError):
    """An esmtp-param or its value is malformed (RFC 5321 §4.1.2)."""


class UnknownParameterError(PeerError):
    """A parameter that no extension offered in this session defines."""


class ArgumentSyntaxError(PeerError):
    """A command's argument is malformed or missing.

    ``usage`` is the syntax line the reply shows, e.g. ``"Syntax: HELO hostname"``.
    """

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


class CharacterError(PeerError):
    """A command line holds control characters or invalid UTF-8 (RFC 5321 §2.4)."""


class Base64Error(PeerError):
    """An AUTH initial response or SASL response is not base64 (RFC 4954 §4)."""
