"""Responses to bytes (RFC 9051 §7): data items, status lines, continuations.

The one place that decides how a value looks on the wire (RFC 9051 §4):

- ``None`` is NIL, an ``int`` a number, an `Atom` goes as is (after a check
  that it cannot break the line);
- a ``str`` is a quoted string when it is at most `QUOTED_MAX_OCTETS` long
  and holds only characters a quoted string may carry — 7-bit without NUL,
  CR or LF, or any UTF-8 once the client enabled UTF8=ACCEPT or IMAP4rev2
  (``utf8=True``, RFC 9051 §4.3, RFC 6855 §3) — and a literal ``{n}``
  otherwise;
- ``bytes`` is always a literal, `Binary` a literal8 ``~{n}`` (RFC 3516);
- a tuple is a parenthesised list.

Status texts are one line: CR, LF and NUL become spaces, and outside UTF-8
mode anything beyond ASCII becomes ``?``. A value Roost could only have
built by mistake (an atom with a line break, a negative number) raises
`ImapUsageError` rather than reach the client.
"""

from __future__ import annotations

import base64
import re

from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.reader import TAG
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.values import Atom, Binary, ImapData, Juxtaposed, Raw

QUOTED_MAX_OCTETS = 1024
"""Longer strings go as literals: the quoted form buys nothing there, and
clients that read a line at a time (imaplib reads at most 10,000 octets)
keep their lines short."""

CRLF = b"\r\n"

_QUOTABLE_ASCII = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x7f]*")
_QUOTABLE_UTF8 = re.compile(r"[^\x00\r\n]*")
_ATOM_BREAKS = re.compile(r"[\x00\r\n]|[^\x00-\x7f]")
_TEXT_BREAKS = re.compile(r"[\x00\r\n]")


def _utf8(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8; "?" is kinder than an exception here.
    return text.encode("utf-8", "replace")


def quoted_or_none(text: str, *, utf8: bool) -> bytes | None:
    """``text`` as a quoted string, or None when it must be a literal."""
    if len(text) > QUOTED_MAX_OCTETS:
        return None
    pattern = _QUOTABLE_UTF8 if utf8 else _QUOTABLE_ASCII
    if pattern.fullmatch(text) is None:
        return None
    raw = _utf8(text)
    if len(raw) > QUOTED_MAX_OCTETS:
        return None
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes, *, binary: bool = False) -> bytes:
    """``{n}`` CRLF data, or ``~{n}`` for a literal8."""
    return (b"~{" if binary else b"{") + str(len(data)).encode() + b"}\r\n" + data


def write_into(out: bytearray, value: ImapData, *, utf8: bool = False) -> None:
    """Append ``value`` in its wire form to ``out`` (no copy of large bytes twice)."""
    match value:
        case None:
            out += b"NIL"
        case bool():
            raise ImapUsageError("a bool is not IMAP data; send an int or an atom")
        case int():
            if value < 0:
                raise ImapUsageError(f"IMAP numbers are unsigned, got {value}")
            out += str(value).encode("ascii")
        case Atom(text):
            out += atom_bytes(text)
        case str():
            quoted = quoted_or_none(value, utf8=utf8)
            if quoted is None:
                raw = _utf8(value)
                out += b"{" + str(len(raw)).encode("ascii") + b"}\r\n"
                out += raw
            else:
                out += quoted
        case bytes():
            out += b"{" + str(len(value)).encode("ascii") + b"}\r\n"
            out += value
        case Binary(data):
            out += b"~{" + str(len(data)).encode("ascii") + b"}\r\n"
            out += data
        case Juxtaposed(items):
            for item in items:
                write_into(out, item, utf8=utf8)
        case Raw(data):
            out += data
        case tuple():
            out += b"("
            for index, item in enumerate(value):
                if index:
                    out += b" "
                write_into(out, item, utf8=utf8)
            out += b")"


def write_data(value: ImapData, *, utf8: bool = False) -> bytes:
    """``value`` in its wire form."""
    out = bytearray()
    write_into(out, value, utf8=utf8)
    return bytes(out)


def atom_bytes(text: str) -> bytes:
    """An atom's bytes, refusing what would break the line or the encoding."""
    if not text or _ATOM_BREAKS.search(text):
        raise ImapUsageError(f"{text!r} cannot be sent as an atom")
    return text.encode("ascii")


def _text(text: str, *, utf8: bool) -> bytes:
    line = _TEXT_BREAKS.sub(" ", text)
    return _utf8(line) if utf8 else line.encode("ascii", "replace")


def _status_line(
    prefix: bytes, condition: Condition, text: str, code: ResponseCode | None, utf8: bool
) -> bytes:
    out = bytearray(prefix)
    out += condition.value.encode("ascii")
    if code is not None:
        out += b" ["
        out += atom_bytes(code.name)
        for arg in code.args:
            out += b" "
            write_into(out, arg, utf8=utf8)
        out += b"]"
    elif text.startswith("["):
        # Without a code, a text opening with "[" would read as one.
        text = " " + text
    if text:
        out += b" "
        out += _text(text, utf8=utf8)
    out += CRLF
    return bytes(out)


def tagged(
    tag: str,
    condition: Condition,
    text: str,
    code: ResponseCode | None = None,
    *,
    utf8: bool = False,
) -> bytes:
    """``tag OK|NO|BAD [code] text`` (RFC 9051 §7.1)."""
    if condition not in (Condition.OK, Condition.NO, Condition.BAD):
        raise ImapUsageError(f"{condition.value} is never tagged")
    if TAG.fullmatch(tag.encode("ascii", "replace")) is None:
        raise ImapUsageError(f"{tag!r} is not a tag")
    return _status_line(tag.encode("ascii") + b" ", condition, text, code, utf8)


def untagged_status(
    condition: Condition,
    text: str,
    code: ResponseCode | None = None,
    *,
    utf8: bool = False,
) -> bytes:
    """``* OK|NO|BAD|PREAUTH|BYE [code] text`` (RFC 9051 §7.1)."""
    return _status_line(b"* ", condition, text, code, utf8)


def untagged(*items: ImapData, utf8: bool = False) -> bytes:
    """``*`` and the items separated by spaces: ``untagged(23, Atom("EXISTS"))``.

    A list item becomes a parenthesised list; the caller passes response
    names (FETCH, LIST, ESEARCH ...) and flags as `Atom`.
    """
    if not items:
        raise ImapUsageError("an untagged response needs at least one item")
    out = bytearray(b"*")
    for item in items:
        out += b" "
        write_into(out, item, utf8=utf8)
    out += CRLF
    return bytes(out)


def continuation(text: str = "Ready for literal data") -> bytes:
    """``+ text``: the go-ahead for a synchronising literal or for IDLE (RFC 9051 §7.6)."""
    return b"+ " + _text(text, utf8=False) + CRLF


def challenge(data: bytes) -> bytes:
    """``+ base64``: a SASL challenge in AUTHENTICATE (RFC 9051 §6.2.2)."""
    return b"+ " + base64.b64encode(data) + CRLF


def rejection(error: ParseError) -> bytes:
    """The answer to a command the framer or parser refused.

    Tagged when the tag could be read, else ``* BAD`` (RFC 9051 §7.1.3).
    """
    if error.tag is None:
        return untagged_status(Condition.BAD, error.text, error.code)
    return tagged(error.tag, error.condition, error.text, error.code)
