"""Commands of the not-authenticated state (RFC 9051 §6.2): STARTTLS, AUTHENTICATE, LOGIN.

AUTHENTICATE may carry the first SASL response on its line (SASL-IR,
RFC 4959); the responses that follow a ``+`` challenge are lines, not
commands, and `parse_sasl_response` reads them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from roost.proto.imap.errors import ParseError
from roost.proto.imap.reader import Reader

_TO_EOL = re.compile(rb"[^\r\n]*")
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@dataclass(frozen=True, slots=True)
class StartTls:
    """STARTTLS (RFC 9051 §6.2.1)."""

    NAME: ClassVar[str] = "STARTTLS"
    tag: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """AUTHENTICATE mechanism [initial-response] (RFC 9051 §6.2.2, RFC 4959).

    ``mechanism`` is upper-cased. ``initial_response`` is the decoded
    SASL-IR: None when absent, ``b""`` when sent as ``=``.
    """

    NAME: ClassVar[str] = "AUTHENTICATE"
    tag: str
    mechanism: str
    initial_response: bytes | None = None

    def __repr__(self) -> str:
        # The initial response of PLAIN holds the password.
        hidden = None if self.initial_response is None else "<hidden>"
        return (
            f"Authenticate(tag={self.tag!r}, mechanism={self.mechanism!r}, "
            f"initial_response={hidden})"
        )


@dataclass(frozen=True, slots=True)
class Login:
    """LOGIN user password (RFC 9051 §6.2.3)."""

    NAME: ClassVar[str] = "LOGIN"
    tag: str
    username: str
    password: str

    def __repr__(self) -> str:
        # Never let a password reach a log line through repr().
        return f"Login(tag={self.tag!r}, username={self.username!r}, password=<hidden>)"


NotAuthenticatedCommand = StartTls | Authenticate | Login


def decode_base64(raw: bytes) -> bytes:
    """Strict base64 as SASL uses it (RFC 4648 §4, no line breaks); ``=`` is empty."""
    if raw == b"=":
        return b""
    if not raw or _BASE64.fullmatch(raw) is None:
        raise ParseError("not valid base64")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise ParseError("not valid base64") from None


def parse_sasl_response(line: bytes) -> bytes | None:
    """A client's answer to a ``+`` challenge: its decoded bytes, or None for ``*``.

    ``line`` comes without its CRLF (RFC 9051 §6.2.2: ``*`` cancels the
    exchange, anything else is base64; ``=`` is taken as empty, as in
    SASL-IR). Raises `ParseError` for anything else; the exchange then
    ends with a tagged BAD.
    """
    if line == b"*":
        return None
    if not line:
        return b""  # the base64 of an empty response is an empty line
    return decode_base64(line)


def _parse_authenticate(r: Reader, tag: str) -> Authenticate:
    r.sp()
    mechanism = r.keyword("a SASL mechanism")
    if not r.skip(b" "):
        return Authenticate(tag, mechanism)
    found = _TO_EOL.match(r.data, r.pos)
    assert found is not None  # the pattern matches the empty string
    r.pos = found.end()
    return Authenticate(tag, mechanism, decode_base64(found.group()))


def _parse_login(r: Reader, tag: str) -> Login:
    r.sp()
    username = r.decode(r.astring(), "a user name")
    r.sp()
    return Login(tag, username, r.decode(r.astring(), "a password"))


PARSERS: dict[str, Callable[[Reader, str], NotAuthenticatedCommand]] = {
    "STARTTLS": lambda r, tag: StartTls(tag),
    "AUTHENTICATE": _parse_authenticate,
    "LOGIN": _parse_login,
}
