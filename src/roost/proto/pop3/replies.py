"""POP3 responses: the value type, its wire form, and the replies Roost sends.

A response is a status indicator, ``+OK`` or ``-ERR``, then text (RFC 1939
§3). RFC 2449 §8 lets a response carry a code in brackets right after the
indicator, ``-ERR [IN-USE] ...``, so that a client can tell a locked
maildrop from a wrong password without parsing English; RFC 3206 adds
``[SYS/TEMP]``, ``[SYS/PERM]`` and ``[AUTH]``. Roost announces RESP-CODES
and AUTH-RESP-CODE in every session and so may send the codes always.

A multi-line response (RFC 1939 §3) is the status line, then lines that
are dot-stuffed (a line starting with ``.`` gets another in front), then
``.`` alone: `multiline` writes one. Message bodies are written by
`roost.proto.pop3.encoder.MessageEncoder` instead, since they stream.

Each constant below is named after what it says; the core uses them, and
a service passes them (or its own `Reply`) to the answer methods.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from roost.proto.pop3.errors import Pop3StateError

MAX_RESPONSE_LINE_OCTETS = 512
"""RFC 2449 §4: a response line, status line or multi-line body line, is at
most 512 octets with its CRLF."""

TERMINATOR = b".\r\n"
"""Ends a multi-line response (RFC 1939 §3)."""

_TEXT = re.compile(r"[\x20-\x7e]*")


class ResponseCode(enum.StrEnum):
    """A response code (RFC 2449 §8): why a command failed, for software."""

    IN_USE = "IN-USE"
    """RFC 2449 §8.1.1: another session holds the maildrop."""
    LOGIN_DELAY = "LOGIN-DELAY"
    """RFC 2449 §8.1.2: the user logged in less than LOGIN-DELAY ago."""
    SYS_TEMP = "SYS/TEMP"
    """RFC 3206 §4: a temporary problem on the server; try again later."""
    SYS_PERM = "SYS/PERM"
    """RFC 3206 §4: a problem on the server that retrying will not fix."""
    AUTH = "AUTH"
    """RFC 3206 §5: the credentials, or the policy on using them, failed."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One status line: ``+OK text`` or ``-ERR [CODE] text``.

    ``text`` is printable ASCII (RFC 1939 §3 leaves it free, RFC 2449 §4
    bounds it); anything else raises `Pop3StateError`, since only a bug
    in Roost would build it. Only a negative reply carries a code here:
    RFC 2449 §8 allows one on ``+OK`` too, but no code Roost sends needs it.
    """

    ok: bool
    text: str
    code: ResponseCode | None = None

    def __post_init__(self) -> None:
        if _TEXT.fullmatch(self.text) is None:
            raise Pop3StateError(f"POP3 reply text {self.text!r} is not printable ASCII")
        if self.ok and self.code is not None:
            raise Pop3StateError("a +OK reply carries no response code here")
        if len(self.to_bytes()) > MAX_RESPONSE_LINE_OCTETS:
            raise Pop3StateError("POP3 reply line longer than 512 octets (RFC 2449 §4)")

    def to_bytes(self) -> bytes:
        """The wire form, CRLF included."""
        parts = ["+OK" if self.ok else "-ERR"]
        if self.code is not None:
            parts.append(f"[{self.code.value}]")
        if self.text:
            parts.append(self.text)
        return (" ".join(parts) + "\r\n").encode("ascii")


def stuff_line(line: bytes) -> bytes:
    """One line of a multi-line response, dot-stuffed (RFC 1939 §3)."""
    return b"." + line if line.startswith(b".") else line


def multiline(status: Reply, lines: Iterable[str]) -> bytes:
    """A positive multi-line response: status, stuffed lines, terminator.

    The lines are Roost's own (capabilities, listings), so each must be
    printable ASCII that fits in a response line.
    """
    if not status.ok:
        raise Pop3StateError("a multi-line response starts with +OK (RFC 1939 §3)")
    out = bytearray(status.to_bytes())
    for line in lines:
        if _TEXT.fullmatch(line) is None or len(line) + 3 > MAX_RESPONSE_LINE_OCTETS:
            raise Pop3StateError(f"multi-line response line {line!r} cannot be sent")
        out += stuff_line(line.encode("ascii")) + b"\r\n"
    out += TERMINATOR
    return bytes(out)


def ok(text: str) -> Reply:
    """A positive reply."""
    return Reply(True, text)


def err(text: str, code: ResponseCode | None = None) -> Reply:
    """A negative reply, with a response code where one applies."""
    return Reply(False, text, code)


# The session.
NOOP = ok("")
"""RFC 1939 §5 NOOP: a bare ``+OK``."""
USER_OK = ok("Send PASS")
"""RFC 1939 §7: the reply to USER never tells whether the user exists."""
CAPA_FOLLOWS = ok("Capability list follows")
AUTH_MECHANISMS_FOLLOW = ok("Authentication mechanisms follow")
"""``AUTH`` with no argument (RFC 1734 §2, kept by many servers and clients)."""
BEGIN_TLS = ok("Begin TLS negotiation")
"""RFC 2595 §4."""
UTF8_ENABLED = ok("UTF-8 mode enabled")
"""RFC 6856 §2."""
SIGNING_OFF = ok("Roost POP3 server signing off")
"""QUIT in the AUTHORIZATION state (RFC 1939 §4)."""
TOP_FOLLOWS = ok("Top of message follows")
UIDL_FOLLOWS = ok("Unique-id listing follows")

# Authentication (RFC 1939 §7, RFC 3206, RFC 5034).
AUTH_FAILED = err("Authentication failed", ResponseCode.AUTH)
"""Wrong password, unknown user: the same words for both (RFC 3206 §5)."""
AUTHZID_REFUSED = err("Not authorized to act as that user", ResponseCode.AUTH)
PLAINTEXT_REFUSED = err(
    "Plaintext authentication disallowed on non-secure connections; use STLS",
    ResponseCode.AUTH,
)
"""USER or a password mechanism before TLS where the policy forbids it."""
USER_PASS_DISABLED = err("USER/PASS not available; use AUTH", ResponseCode.AUTH)
AUTH_TEMPORARY_FAILURE = err("Temporary authentication failure", ResponseCode.SYS_TEMP)
AUTH_CANCELLED = err("Authentication cancelled")
"""RFC 5034 §4: the client answered a challenge with ``*``."""
AUTH_BAD_BASE64 = err("Cannot decode the BASE64 data")
AUTH_MALFORMED = err("Malformed authentication exchange")
AUTH_LINE_TOO_LONG = err("Authentication data too long")
AUTH_MECHANISM_UNKNOWN = err("Unrecognized authentication type")
NEED_USER = err("Send USER first")
"""RFC 1939 §7: PASS only right after a successful USER."""
IN_USE = err("Maildrop is locked by another session", ResponseCode.IN_USE)
"""RFC 2449 §8.1.1; the service sends it when the maildrop lock is taken."""
LOGIN_DELAY = err("Logged in too recently; try again later", ResponseCode.LOGIN_DELAY)
"""RFC 2449 §8.1.2."""
MAILDROP_UNAVAILABLE = err("Maildrop temporarily unavailable", ResponseCode.SYS_TEMP)
MAILDROP_BROKEN = err("Maildrop cannot be opened", ResponseCode.SYS_PERM)
TOO_MANY_FAILURES = err("Too many failed sign-ins; try again later", ResponseCode.SYS_TEMP)

# TLS (RFC 2595 §4).
TLS_ACTIVE = err("Command not permitted when TLS active")
TLS_NOT_AVAILABLE = err("TLS not available")
TLS_TEMPORARY_FAILURE = err("TLS not available due to a temporary problem", ResponseCode.SYS_TEMP)

# Syntax and sequence.
UNKNOWN_COMMAND = err("Unknown command")
NOT_SUPPORTED = err("Command not supported")
INVALID_CHARACTERS = err("Invalid characters in command")
LINE_TOO_LONG = err("Line too long")
WRONG_STATE = err("Command not valid in this state")
ALREADY_AUTHENTICATED = err("Already authenticated")
NOT_AUTHENTICATED = err("Not authenticated; send USER/PASS or AUTH first")
NO_SUCH_MESSAGE = err("No such message")
TOO_MANY_ERRORS = err("Too many errors, closing connection")
HTTP_REFUSED = err("HTTP is not spoken here, closing connection")
"""A web page posting to the POP3 port (a cross-protocol attack) gets this and a close."""

# Messages and the UPDATE state.
MESSAGE_UNAVAILABLE = err("Message cannot be read now", ResponseCode.SYS_TEMP)
"""For the service: the store could not open a listed message."""
NOT_ALL_DELETED = err("Some deleted messages not removed", ResponseCode.SYS_TEMP)
"""RFC 1939 §6: the UPDATE state could not remove every marked message."""


def syntax_error(usage: str) -> Reply:
    """``-ERR`` with the command's syntax, e.g. ``Syntax: RETR msg``."""
    return err(usage)


def message_deleted(number: int) -> Reply:
    """RFC 1939 §5: a command may not refer to a message marked as deleted."""
    return err(f"Message {number} already deleted")


def deleted(number: int) -> Reply:
    """RFC 1939 §5 DELE."""
    return ok(f"Message {number} deleted")


def maildrop_summary(count: int, octets: int) -> Reply:
    """``+OK`` after login and RSET, as in RFC 1939 §5 and §7."""
    return ok(f"Maildrop has {count} message{'' if count == 1 else 's'} ({octets} octets)")


def message_follows(octets: int) -> Reply:
    """RFC 1939 §5 RETR: the size in the status line, before dot-stuffing."""
    return ok(f"{octets} octets")


def signing_off(remaining: int) -> Reply:
    """RFC 1939 §6: the reply to QUIT once the UPDATE state has done its work."""
    if remaining == 0:
        left = "maildrop empty"
    else:
        left = f"{remaining} message{'' if remaining == 1 else 's'} left"
    return ok(f"Roost POP3 server signing off ({left})")
