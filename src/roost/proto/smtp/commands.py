"""The grammar of command lines (RFC 5321 §4.1), kept apart from the engine.

Each parser takes the argument text and returns values or raises a
`PeerError`; `refusal` is the one place that maps those errors to replies.
The engine in `roost.proto.smtp.connection` decides what a command means
in the session's state.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from roost.proto.smtp import replies
from roost.proto.smtp.addresses import parse_path
from roost.proto.smtp.buffer import OVERLONG, Overlong
from roost.proto.smtp.capabilities import Offer
from roost.proto.smtp.errors import (
    ArgumentSyntaxError,
    Base64Error,
    CharacterError,
    NonAsciiPathError,
    ParameterSyntaxError,
    PathSyntaxError,
    PeerError,
    UnknownParameterError,
)
from roost.proto.smtp.events import AuthResponse, MailParams, RcptParams
from roost.proto.smtp.params import parse_mail_params, parse_rcpt_params, split_params
from roost.proto.smtp.replies import Reply

NOT_IMPLEMENTED = frozenset({"EXPN", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML", "VERB"})
"""Verbs of RFC 5321 and its extensions that Roost does not run: 502 (§4.2.4)."""

HTTP_VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "CONNECT"})
"""A browser or proxy talking to us: a cross-protocol attack, answered with
421 and a close, as Postfix does for the same verbs."""

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_VERB = re.compile(r"[A-Za-z]+")
_MECHANISM = re.compile(r"[A-Za-z0-9_-]{1,20}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One command line: the verb upper-cased, and the argument text.

    ``argument`` is what follows the first space, with outer spaces
    removed; it may hold UTF-8 (RFC 6531).
    """

    verb: str
    argument: str


def split_line(line: bytes) -> CommandLine:
    """Split a command line without its CRLF into verb and argument.

    Raises `CharacterError` for control characters (NUL, bare CR, TAB
    included: the grammar separates with SP only) or invalid UTF-8.
    An unknown or malformed verb is returned as is; the engine answers it.
    """
    if _CONTROL.search(line):
        raise CharacterError("control character")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise CharacterError("invalid UTF-8") from None
    verb, _, argument = text.partition(" ")
    if _VERB.fullmatch(verb) is None:
        return CommandLine("", text)
    return CommandLine(verb.upper(), argument.strip(" "))


def parse_hello(argument: str, verb: str) -> str:
    """HELO/EHLO argument (§4.1.1.1): required, kept as sent."""
    if not argument:
        raise ArgumentSyntaxError(f"Syntax: {verb} hostname")
    return argument


def _after_keyword(argument: str, keyword: str, usage: str) -> str:
    if argument[: len(keyword)].upper() != keyword:
        raise ArgumentSyntaxError(usage)
    # "MAIL FROM: <a@b>" breaks the grammar but is common; allow the space.
    return argument[len(keyword) :].lstrip(" ")


def parse_mail(argument: str, offer: Offer) -> tuple[str, MailParams]:
    """``FROM:<reverse-path> [params]`` (§4.1.1.2); UTF-8 only with SMTPUTF8."""
    text = _after_keyword(argument, "FROM:", "Syntax: MAIL FROM:<address>")
    address, rest = parse_path(text, null_ok=True, postmaster_ok=False, utf8=True)
    items = split_params(rest, utf8=True)
    params = parse_mail_params(items, offer)
    if not params.smtputf8:
        if not address.isascii():
            raise NonAsciiPathError(address)
        if not rest.isascii():
            raise ParameterSyntaxError("UTF-8 in a parameter without SMTPUTF8")
    return address, params


def parse_rcpt(argument: str, offer: Offer, *, utf8: bool) -> tuple[str, RcptParams]:
    """``TO:<forward-path> [params]`` (§4.1.1.3); UTF-8 only if MAIL had SMTPUTF8."""
    text = _after_keyword(argument, "TO:", "Syntax: RCPT TO:<address>")
    address, rest = parse_path(text, null_ok=False, postmaster_ok=True, utf8=utf8)
    items = split_params(rest, utf8=utf8)
    return address, parse_rcpt_params(items, offer, utf8=utf8)


def parse_bdat(argument: str) -> tuple[int, bool]:
    """``BDAT chunk-size [LAST]`` (RFC 3030 §2); returns (size, last)."""
    words = [word for word in argument.split(" ") if word]
    if not 1 <= len(words) <= 2 or _DIGITS.fullmatch(words[0]) is None:
        raise ArgumentSyntaxError("Syntax: BDAT size [LAST]")
    if len(words) == 2 and words[1].upper() != "LAST":
        raise ArgumentSyntaxError("Syntax: BDAT size [LAST]")
    return int(words[0]), len(words) == 2


def decode_base64(text: str) -> bytes:
    """Strict base64 (RFC 4648 §4) as SASL in SMTP uses it (RFC 4954 §4):
    whole quanta, padding only where needed, nothing else."""
    if _BASE64.fullmatch(text) is None:
        raise Base64Error("not base64")
    return binascii.a2b_base64(text.encode("ascii"))


def parse_auth(argument: str) -> tuple[str, bytes | None]:
    """``AUTH mechanism [initial-response]`` (RFC 4954 §4).

    Returns the mechanism upper-cased and the decoded initial response:
    ``b""`` for ``=``, None when there is none.
    """
    words = argument.split(" ")
    if not 1 <= len(words) <= 2 or _MECHANISM.fullmatch(words[0]) is None:
        raise ArgumentSyntaxError("Syntax: AUTH mechanism [initial-response]")
    mechanism = words[0].upper()
    if len(words) == 1:
        return mechanism, None
    if words[1] == "=":
        return mechanism, b""
    return mechanism, decode_base64(words[1])


def auth_response(line: bytes | Overlong) -> AuthResponse | Reply:
    """A line answering a 334 challenge (RFC 4954 §4): base64 data, or
    ``*`` to cancel; the reply ending the exchange when it is not data."""
    if line is OVERLONG:
        return replies.AUTH_LINE_TOO_LONG
    if line == b"*\r\n":
        return replies.AUTH_CANCELLED
    if not line.endswith(b"\r\n"):
        return replies.AUTH_BAD_BASE64
    try:
        return AuthResponse(decode_base64(line[:-2].decode("latin-1")))
    except Base64Error as exc:
        return refusal(exc, "AUTH")


def refusal(error: PeerError, verb: str) -> Reply:
    """The reply for a client's mistake in ``verb``: the single mapping."""
    match error:
        case ArgumentSyntaxError(usage=usage):
            return replies.syntax_error(usage)
        case PathSyntaxError() if verb == "MAIL":
            return replies.BAD_SENDER_SYNTAX
        case PathSyntaxError():
            return replies.BAD_RECIPIENT_SYNTAX
        case NonAsciiPathError():
            return replies.NON_ASCII_ADDRESS
        case UnknownParameterError():
            return replies.UNKNOWN_PARAMETER
        case ParameterSyntaxError():
            return replies.BAD_PARAMETER
        case Base64Error():
            return replies.AUTH_BAD_BASE64
        case CharacterError():
            return replies.INVALID_CHARACTERS
        case _:
            return replies.COMMAND_UNRECOGNIZED
