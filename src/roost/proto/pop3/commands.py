"""The grammar of POP3 command lines, kept apart from the engine.

RFC 1939 §3 and RFC 2449 §3: a command is a case-insensitive keyword of
three or four letters, then arguments separated by single spaces. Each
command below is a small value; `parse_command` turns a line into one or
raises a `PeerError`, and `refusal` is the one place that maps those
errors to ``-ERR`` replies. Which commands are valid in which state is the
engine's business (`roost.proto.pop3.connection`), not the grammar's.

Roost is lenient where leniency costs nothing — runs of spaces between
arguments, spaces at the end of a line — and strict where the meaning
would be a guess: a message number is ASCII digits and nothing else.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from roost.proto.pop3 import replies
from roost.proto.pop3.errors import (
    AlreadyAuthenticatedError,
    ArgumentSyntaxError,
    Base64Error,
    CharacterError,
    HttpRequestError,
    LineTooLongError,
    MessageDeletedError,
    NoSuchMessageError,
    NotAuthenticatedError,
    NotSupportedError,
    PeerError,
    UnknownCommandError,
    WrongStateError,
)
from roost.proto.pop3.replies import Reply

HTTP_VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "DELETE"})
"""A browser or proxy talking to us: a cross-protocol attack, answered with
``-ERR`` and a close, as the SMTP core does."""

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_KEYWORD = re.compile(r"[A-Za-z0-9]{3,4}")
_NUMBER = re.compile(r"[0-9]+")
_MECHANISM = re.compile(r"[A-Za-z0-9_-]{1,20}")
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


# The commands (RFC 1939 §4 to §7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4,
# RFC 6856 §2), each with its arguments parsed.


@dataclass(frozen=True, slots=True)
class User:
    """``USER name`` (RFC 1939 §7)."""

    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    """``PASS string`` (RFC 1939 §7): everything after the first space.

    RFC 1939 §7 lets the password hold spaces, so none are removed.
    """

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Quit:
    """``QUIT`` (RFC 1939 §4, §6)."""


@dataclass(frozen=True, slots=True)
class Stat:
    """``STAT`` (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class List:
    """``LIST [msg]`` (RFC 1939 §5)."""

    number: int | None


@dataclass(frozen=True, slots=True)
class Retr:
    """``RETR msg`` (RFC 1939 §5)."""

    number: int


@dataclass(frozen=True, slots=True)
class Dele:
    """``DELE msg`` (RFC 1939 §5)."""

    number: int


@dataclass(frozen=True, slots=True)
class Noop:
    """``NOOP`` (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Rset:
    """``RSET`` (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Top:
    """``TOP msg n`` (RFC 1939 §7): the header and ``n`` body lines."""

    number: int
    lines: int


@dataclass(frozen=True, slots=True)
class Uidl:
    """``UIDL [msg]`` (RFC 1939 §7)."""

    number: int | None


@dataclass(frozen=True, slots=True)
class Capa:
    """``CAPA`` (RFC 2449 §5)."""


@dataclass(frozen=True, slots=True)
class Stls:
    """``STLS`` (RFC 2595 §4)."""


@dataclass(frozen=True, slots=True)
class Auth:
    """``AUTH [mechanism [initial-response]]`` (RFC 5034 §4).

    ``mechanism`` is None for a bare ``AUTH``, which lists the mechanisms
    (RFC 1734 did; clients still send it). ``initial_response`` is
    base64-decoded: ``b""`` for ``=``, None when absent.
    """

    mechanism: str | None
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Utf8:
    """``UTF8`` (RFC 6856 §2)."""


Command = (
    User
    | Pass
    | Quit
    | Stat
    | List
    | Retr
    | Dele
    | Noop
    | Rset
    | Top
    | Uidl
    | Capa
    | Stls
    | Auth
    | Utf8
)
"""Any command `parse_command` returns."""

AUTHORIZATION_COMMANDS = (User, Pass, Quit, Capa, Stls, Auth, Utf8)
"""Valid in the AUTHORIZATION state (RFC 1939 §4, RFC 2449 §5, RFC 5034 §4,
RFC 2595 §4, RFC 6856 §2)."""

TRANSACTION_COMMANDS = (Quit, Stat, List, Retr, Dele, Noop, Rset, Top, Uidl, Capa)
"""Valid in the TRANSACTION state (RFC 1939 §5, §7; RFC 2449 §5)."""


def _no_arguments(words: list[str], keyword: str) -> None:
    if words:
        raise ArgumentSyntaxError(f"Syntax: {keyword}")


def _number(text: str, usage: str) -> int:
    """A message number or a line count: ASCII digits only (RFC 1939 §3)."""
    if _NUMBER.fullmatch(text) is None:
        raise ArgumentSyntaxError(usage)
    return int(text)


def _optional_number(words: list[str], keyword: str) -> int | None:
    usage = f"Syntax: {keyword} [msg]"
    if len(words) > 1:
        raise ArgumentSyntaxError(usage)
    return _number(words[0], usage) if words else None


def _one_number(words: list[str], keyword: str) -> int:
    usage = f"Syntax: {keyword} msg"
    if len(words) != 1:
        raise ArgumentSyntaxError(usage)
    return _number(words[0], usage)


def decode_base64(data: bytes) -> bytes:
    """Strict base64 (RFC 4648 §4) as POP3 AUTH uses it (RFC 5034 §4):
    whole quanta, padding only where needed, nothing else."""
    if _BASE64.fullmatch(data) is None:
        raise Base64Error("not base64")
    return binascii.a2b_base64(data)


def _auth(words: list[str]) -> Auth:
    usage = "Syntax: AUTH mechanism [initial-response]"
    if not words:
        return Auth(None)
    if len(words) > 2 or _MECHANISM.fullmatch(words[0]) is None:
        raise ArgumentSyntaxError(usage)
    mechanism = words[0].upper()
    if len(words) == 1:
        return Auth(mechanism)
    if words[1] == "=":
        return Auth(mechanism, b"")
    return Auth(mechanism, decode_base64(words[1].encode("utf-8")))


def split_line(line: bytes) -> tuple[str, str]:
    """Split a line (without its line end) into keyword and argument text.

    The keyword is upper-cased; the argument is what follows the first
    space, untouched. Raises `CharacterError` for control characters
    (NUL, CR, TAB included: the grammar separates with SP only) or
    invalid UTF-8 (RFC 6856 allows UTF-8 in arguments, nothing else).
    """
    if _CONTROL.search(line):
        raise CharacterError("control character")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise CharacterError("invalid UTF-8") from None
    keyword, _, argument = text.partition(" ")
    return keyword.upper(), argument


def parse_command(line: bytes) -> Command:
    """Parse one command line, given without its CRLF.

    Raises a `PeerError` for anything that is not a command Roost runs.
    """
    keyword, argument = split_line(line)
    if keyword in HTTP_VERBS:
        raise HttpRequestError(keyword)
    if _KEYWORD.fullmatch(keyword) is None:
        raise UnknownCommandError(keyword)
    if keyword == "PASS":
        # RFC 1939 §7: the one argument may hold spaces.
        if not argument:
            raise ArgumentSyntaxError("Syntax: PASS string")
        return Pass(argument)
    words = [word for word in argument.split(" ") if word]
    match keyword:
        case "USER":
            if len(words) != 1:
                raise ArgumentSyntaxError("Syntax: USER name")
            return User(words[0])
        case "LIST":
            return List(_optional_number(words, keyword))
        case "UIDL":
            return Uidl(_optional_number(words, keyword))
        case "RETR":
            return Retr(_one_number(words, keyword))
        case "DELE":
            return Dele(_one_number(words, keyword))
        case "TOP":
            usage = "Syntax: TOP msg n"
            if len(words) != 2:
                raise ArgumentSyntaxError(usage)
            return Top(_number(words[0], usage), _number(words[1], usage))
        case "AUTH":
            return _auth(words)
        case "APOP":
            raise NotSupportedError(keyword)
        case _:
            pass
    simple = _SIMPLE.get(keyword)
    if simple is None:
        raise UnknownCommandError(keyword)
    _no_arguments(words, keyword)
    return simple


_SIMPLE: dict[str, Command] = {
    "QUIT": Quit(),
    "STAT": Stat(),
    "NOOP": Noop(),
    "RSET": Rset(),
    "CAPA": Capa(),
    "STLS": Stls(),
    "UTF8": Utf8(),
}
"""Commands without arguments, by keyword."""


def refusal(error: PeerError) -> Reply:
    """The ``-ERR`` for a client's mistake: the single mapping."""
    match error:
        case ArgumentSyntaxError(usage=usage):
            return replies.syntax_error(usage)
        case MessageDeletedError(number=number):
            return replies.message_deleted(number)
        case NoSuchMessageError():
            return replies.NO_SUCH_MESSAGE
        case NotAuthenticatedError():
            return replies.NOT_AUTHENTICATED
        case AlreadyAuthenticatedError():
            return replies.ALREADY_AUTHENTICATED
        case WrongStateError():
            return replies.WRONG_STATE
        case Base64Error():
            return replies.AUTH_BAD_BASE64
        case CharacterError():
            return replies.INVALID_CHARACTERS
        case LineTooLongError():
            return replies.LINE_TOO_LONG
        case NotSupportedError():
            return replies.NOT_SUPPORTED
        case HttpRequestError():
            return replies.HTTP_REFUSED
        case _:
            return replies.UNKNOWN_COMMAND
