"""The lexical layer of the command grammar (RFC 9051 §9): a cursor over one command.

`Reader` holds the bytes of one framed command — its lines and the
literals between them — and a position. Each method reads one production
(atom, astring, number, date, flag, mailbox ...) and moves past it, or
raises `ParseError`. Every production is a regular expression anchored at
the position or a single slice, and nothing copies the rest of the
buffer, so reading a command is linear in its length whatever it holds.

A literal is read where the grammar allows a string: ``{n}`` or ``{n+}``,
CRLF, then n octets, which the framer has already gathered. Lines may end
in CRLF or, as many servers allow for people typing at a terminal, LF
alone; the framer uses the same rule, so both agree where a literal is.

Strings the client sends are octets; the methods that return ``str``
decode them as strict UTF-8 (RFC 9051 §4.3 allows UTF-8 in quoted strings;
RFC 3501 clients send 7-bit, a subset). Mailbox names are decoded from
modified UTF-7 unless the session enabled UTF-8 (RFC 9051 §5.1, RFC 6855).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TypeVar

from roost.proto.imap import mutf7
from roost.proto.imap.errors import ParseError

T = TypeVar("T")

NUMBER_MAX = 2**32 - 1
"""RFC 9051 §9 ``number``: an unsigned 32-bit integer (sequence numbers, UIDs)."""

NUMBER64_MAX = 2**63 - 1
"""RFC 9051 §9 ``number64`` and RFC 7162 mod-sequence values: 63 bits."""

MAX_DIGITS = 20
"""No number the grammar allows is longer; refusing more keeps int() linear."""

_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
_ASTRING = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')
_LIST_MAILBOX = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')
TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')
"""RFC 9051 ``tag``: ASTRING-CHARs except ``+``."""

_DIGITS = re.compile(rb"[0-9]+")
_LITERAL = re.compile(rb"(~?)\{([0-9]+)([+-]?)\}(?:\r\n|\n)")
_QUOTED_RUN = re.compile(rb'[^"\\\r\n\x00]*')
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME = re.compile(
    rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{4})"'
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {name.upper().encode(): number for number, name in enumerate(MONTHS, 1)}

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
"""RFC 9051 §2.3.2 and RFC 3501 (``\\Recent``), in their canonical spelling."""

_CANONICAL_FLAGS = {flag.upper(): flag for flag in SYSTEM_FLAGS}


def canonical_flag(flag: str) -> str:
    """A system flag in its canonical case; other flags unchanged (RFC 9051 §2.3.2)."""
    return _CANONICAL_FLAGS.get(flag.upper(), flag)


class Reader:
    """A cursor over one framed command; see the module docstring."""

    __slots__ = ("data", "pos", "utf8")

    def __init__(self, data: bytes, *, utf8: bool = False) -> None:
        self.data = data
        self.pos = 0
        self.utf8 = utf8

    # Single bytes and fixed tokens.

    def error(self, text: str) -> ParseError:
        """A `ParseError` saying ``text``; the caller raises it."""
        return ParseError(text)

    def peek(self) -> int:
        """The next byte, or -1 at the end."""
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def next_is(self, token: bytes) -> bool:
        return self.data.startswith(token, self.pos)

    def skip(self, token: bytes) -> bool:
        """Move past ``token`` if it comes next."""
        if self.data.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: bytes, what: str) -> None:
        if not self.skip(token):
            raise self.error(f"expected {what}")

    def sp(self) -> None:
        """One space (RFC 9051 ``SP``); the grammar never allows two."""
        self.expect(b" ", "a space")

    def at_eol(self) -> bool:
        return self.next_is(b"\r\n") or self.next_is(b"\n")

    def eol(self) -> None:
        """The CRLF that ends the command, which must be the end of the data."""
        end = self.pos + (2 if self.next_is(b"\r\n") else 1 if self.next_is(b"\n") else 0)
        if end == self.pos or end != len(self.data):
            raise self.error("unexpected text after the command's arguments")
        self.pos = end

    def _match(self, pattern: re.Pattern[bytes]) -> bytes | None:
        found = pattern.match(self.data, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group()

    # Atoms and names.

    def atom(self, what: str = "an atom") -> str:
        found = self._match(_ATOM)
        if found is None:
            raise self.error(f"expected {what}")
        return found.decode("ascii")

    def keyword(self, what: str = "a keyword") -> str:
        """An atom upper-cased: command names, options, search keys."""
        return self.atom(what).upper()

    def take_keyword(self, word: str) -> bool:
        """Move past the atom ``word`` (any case) if it comes next, whole."""
        found = _ATOM.match(self.data, self.pos)
        if found is not None and found.group().upper() == word.encode("ascii"):
            self.pos = found.end()
            return True
        return False

    def tag(self) -> str:
        found = self._match(TAG)
        if found is None:
            raise self.error("a command must begin with a tag")
        return found.decode("ascii")

    # Numbers.

    def number(self, maximum: int = NUMBER_MAX, what: str = "a number") -> int:
        digits = self._match(_DIGITS)
        if digits is None:
            raise self.error(f"expected {what}")
        if len(digits) > MAX_DIGITS or int(digits) > maximum:
            raise self.error(f"{what} is too large")
        return int(digits)

    def nz_number(self, maximum: int = NUMBER_MAX, what: str = "a number") -> int:
        value = self.number(maximum, what)
        if value == 0:
            raise self.error(f"{what} may not be zero")
        return value

    # Strings.

    def quoted(self) -> bytes:
        """A quoted string's content with its escapes undone (RFC 9051 ``quoted``)."""
        self.expect(b'"', "a quoted string")
        parts: list[bytes] = []
        while True:
            run = _QUOTED_RUN.match(self.data, self.pos)
            assert run is not None  # the pattern matches the empty string
            parts.append(run.group())
            self.pos = run.end()
            if self.skip(b'"'):
                return b"".join(parts)
            if self.skip(b"\\") and self.peek() in (0x22, 0x5C):
                parts.append(self.data[self.pos : self.pos + 1])
                self.pos += 1
                continue
            raise self.error("malformed quoted string")

    def literal(self, *, binary: bool = False) -> bytes:
        """A literal's octets; ``binary`` allows the ``~{n}`` literal8 of RFC 3516."""
        found = _LITERAL.match(self.data, self.pos)
        if found is None:
            raise self.error("malformed literal")
        if found.group(1) and not binary:
            raise self.error("a literal8 is allowed only in APPEND")
        if found.group(3) == b"-":
            raise self.error("'{n-}' is not a literal; LITERAL- uses '{n+}' (RFC 7888)")
        count = found.group(2)
        if len(count) > MAX_DIGITS:
            raise self.error("literal too large")
        start = found.end()
        end = start + int(count)
        if end > len(self.data):
            raise self.error("the literal is shorter than its announced size")
        value = self.data[start:end]
        if not found.group(1) and 0 in value:
            raise self.error("a NUL octet needs a literal8 (RFC 3516)")
        self.pos = end
        return value

    def is_literal8(self) -> bool:
        return self.next_is(b"~{")

    def string(self) -> bytes:
        """RFC 9051 ``string``: quoted or literal."""
        if self.next_is(b'"'):
            return self.quoted()
        if self.next_is(b"{"):
            return self.literal()
        raise self.error("expected a string")

    def astring(self) -> bytes:
        """RFC 9051 ``astring``: ASTRING-CHARs or a string."""
        if self.next_is(b'"') or self.next_is(b"{"):
            return self.string()
        found = self._match(_ASTRING)
        if found is None:
            raise self.error("expected a string")
        return found

    def nstring(self) -> bytes | None:
        """RFC 9051 ``nstring``: a string or NIL."""
        if self.take_keyword("NIL"):
            return None
        return self.string()

    def decode(self, raw: bytes, what: str = "a string") -> str:
        """``raw`` as strict UTF-8; invalid UTF-8 is a BAD, never a replacement character."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{what} is not valid UTF-8") from None

    def text(self) -> str:
        """An astring as text."""
        return self.decode(self.astring())

    def charset(self) -> str:
        """RFC 9051 ``charset``: an atom or a quoted string, upper-cased."""
        raw = self.quoted() if self.next_is(b'"') else self.atom("a charset").encode("ascii")
        return self.decode(raw, "a charset").upper()

    # Mailbox names.

    def mailbox_name(self, raw: bytes) -> str:
        """A name as sent, decoded: UTF-8 once enabled, else modified UTF-7.

        Before UTF8=ACCEPT a client should send 7-bit names; one that sends
        8-bit UTF-8 anyway is taken at its word rather than refused.
        """
        name = self.decode(raw, "a mailbox name")
        if self.utf8 or not name.isascii():
            return name
        try:
            return mutf7.decode(name)
        except mutf7.MUtf7Error as exc:
            raise self.error(f"mailbox name: {exc}") from None

    def mailbox(self) -> str:
        """RFC 9051 ``mailbox``: an astring; ``INBOX`` in any case is INBOX (§5.1)."""
        name = self.mailbox_name(self.astring())
        # ASCII only: "ınbox".upper() is "INBOX" too, and is another mailbox.
        return "INBOX" if name.isascii() and name.upper() == "INBOX" else name

    def list_mailbox(self) -> str:
        """RFC 9051 ``list-mailbox``: like an astring, but ``%`` and ``*`` may stand bare."""
        if self.next_is(b'"') or self.next_is(b"{"):
            return self.mailbox_name(self.string())
        found = self._match(_LIST_MAILBOX)
        if found is None:
            raise self.error("expected a mailbox pattern")
        return self.mailbox_name(found)

    # Flags, dates and lists.

    def flag(self) -> str:
        """RFC 9051 ``flag``: a system flag, ``\\atom`` or a keyword atom."""
        if self.skip(b"\\"):
            return canonical_flag("\\" + self.atom("a flag name"))
        return self.atom("a flag")

    def flag_list(self) -> tuple[str, ...]:
        """RFC 9051 ``flag-list``: ``(`` flags ``)``, maybe empty."""
        return self.parenthesized(self.flag, empty=True)

    def date(self) -> datetime.date:
        """RFC 9051 ``date``: ``d-Mon-yyyy``, maybe quoted."""
        quoted = self.skip(b'"')
        found = _DATE.match(self.data, self.pos)
        if found is None:
            raise self.error("expected a date like 1-Feb-2024")
        self.pos = found.end()
        if quoted:
            self.expect(b'"', "a closing quote")
        day, month, year = found.groups()
        return self._date(int(year), month, int(day))

    def _date(self, year: int, month: bytes, day: int) -> datetime.date:
        number = _MONTH_NUMBERS.get(month.upper())
        if number is None:
            raise self.error("unknown month in date")
        try:
            return datetime.date(year, number, day)
        except ValueError:
            raise self.error("no such date") from None

    def date_time(self) -> datetime.datetime:
        """RFC 9051 ``date-time``: ``"dd-Mon-yyyy hh:mm:ss +zzzz"``."""
        found = _DATE_TIME.match(self.data, self.pos)
        if found is None:
            raise self.error('expected a date-time like "01-Feb-2024 10:00:00 +0000"')
        self.pos = found.end()
        day, month, year, hour, minute, second, sign, zone = found.groups()
        date = self._date(int(year), month, int(day.strip()))
        zone_hours, zone_minutes = int(zone[:2]), int(zone[2:])
        if int(hour) > 23 or int(minute) > 59 or int(second) > 59 or zone_minutes > 59:
            raise self.error("no such time")
        if zone_hours > 23:
            raise self.error("no such time zone")
        offset = datetime.timedelta(hours=zone_hours, minutes=zone_minutes)
        tz = datetime.timezone(-offset if sign == b"-" else offset)
        return datetime.datetime.combine(
            date, datetime.time(int(hour), int(minute), int(second)), tzinfo=tz
        )

    def parenthesized(self, item: Callable[[], T], *, empty: bool = False) -> tuple[T, ...]:
        """``(`` item *(SP item) ``)``; ``empty`` allows ``()``."""
        self.expect(b"(", "'('")
        if self.skip(b")"):
            if not empty:
                raise self.error("an empty list is not allowed here")
            return ()
        items = [item()]
        while not self.skip(b")"):
            self.sp()
            items.append(item())
        return tuple(items)
