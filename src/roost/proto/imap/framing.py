"""Command framing: bytes in, whole commands (lines and their literals) out.

Theory of operation
-------------------

An IMAP command is a line, or several lines joined by literals (RFC 9051
§4.3): a line that ends in ``{n}`` is followed by n octets and then by
the rest of the command, which may announce another literal. ``{n}`` is
synchronising — the client waits for a ``+`` continuation before it sends
the octets (§7.6); ``{n+}`` is non-synchronising (LITERAL+ and LITERAL-,
RFC 7888) and the octets follow at once; ``~{n}`` is a literal8 (RFC 3516)
and may be either. `CommandFramer` only finds where a command ends; the
parser reads what it says.

The framer is pulled, as h11 is: `receive_data` buffers, and `next_event`
returns the next event or None when it needs more bytes. It looks at
nothing until asked, so after an IDLE or AUTHENTICATE the connection can
read the next line as a plain line (`next_line`: DONE, a SASL response)
before the framer takes it for a command. The events::

    CommandReceived(raw)         a whole command, CRLF included: parse it
    ContinuationNeeded(tag, n)   a synchronising literal within the limits:
                                 write ``+ ...`` now, the octets follow
    CommandRefused(error)        the command was dropped: write
                                 ``writer.rejection(error)``; the session goes on
    LineReceived(line)           from `next_line` only: one line, no CRLF
    InputClosed()                the client closed its side; what is left is
                                 an unfinished command, dropped

Limits (`FramingLimits`), and what exceeding each does::

    a line over line_octets       dropped as it arrives, through its LF, and
                                  the rest of its command: BAD [TOOBIG]
    {n} over literal_octets       refused at once, before the client sends
                                  it: NO [TOOBIG] (RFC 9051 §7.1, RFC 4469)
    {n+} over literal_octets      read and discarded with the rest of its
                                  command (the client is already sending
                                  it), then NO [TOOBIG] (RFC 7888 §4)
    {n+} over 4096 in LITERAL-    the same, answered BAD [TOOBIG] (RFC 7888 §5;
                                  IMAP4rev2 has LITERAL- built in, RFC 9051 §4.3)
    a command over command_octets as a literal over its limit

Hostile input cannot make the framer quadratic: the search for a line's
LF resumes where the last one stopped; an overlong line is thrown away as
it arrives, keeping its first octets (for the tag) and its last ones (for
a literal announcement); literal octets are counted, never searched.
``{n-}`` is not IMAP syntax, but is framed like ``{n+}`` so that a client
that sends it cannot have its literal read as a command; the parser then
refuses the command.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.reader import TAG
from roost.proto.imap.responses import TOOBIG, Condition

MAX_LINE_OCTETS = 64 * 1024
"""One line of a command, CRLF included. RFC 7162 §4 asks servers to take
at least 8192 octets; 64 KiB leaves room for long UID sets, as Dovecot does."""

MAX_LITERAL_OCTETS = 64 * 1024 * 1024
"""One literal: in practice the largest message APPEND takes (RFC 7889 APPENDLIMIT)."""

MAX_COMMAND_OCTETS = MAX_LITERAL_OCTETS + 1024 * 1024
"""A whole command, every line and literal together."""

LITERAL_MINUS_OCTETS = 4096
"""RFC 7888 §5: the largest non-synchronising literal LITERAL- allows."""

_HEAD_OCTETS = 256
_TAIL_OCTETS = 64
_MARKER = re.compile(rb"(~?)\{([0-9]+)([+-]?)\}\r?\n\Z")


@dataclass(frozen=True, slots=True)
class FramingLimits:
    """The named limits of `CommandFramer`; ``literal_minus`` means LITERAL- was offered."""

    line_octets: int = MAX_LINE_OCTETS
    literal_octets: int = MAX_LITERAL_OCTETS
    command_octets: int = MAX_COMMAND_OCTETS
    literal_minus: bool = False

    def __post_init__(self) -> None:
        if min(self.line_octets, self.literal_octets, self.command_octets) < 1:
            raise ImapUsageError("framing limits must be positive")
        if self.line_octets < 64:
            raise ImapUsageError("a line limit under 64 octets cannot hold a command")


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A whole command: its lines and literals, CRLF included."""

    raw: bytes

    def __repr__(self) -> str:
        # The bytes may hold a password or a message: never in a log.
        return f"CommandReceived(<{len(self.raw)} octets>)"


@dataclass(frozen=True, slots=True)
class ContinuationNeeded:
    """The client announced a synchronising literal and waits for ``+``."""

    tag: str | None
    octets: int


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """A command was dropped for its size; ``error`` is the answer to send."""

    error: ParseError


@dataclass(frozen=True, slots=True)
class LineReceived:
    """A plain line (`CommandFramer.next_line`) without its line end."""

    line: bytes

    def __repr__(self) -> str:
        return f"LineReceived(<{len(self.line)} octets>)"


@dataclass(frozen=True, slots=True)
class InputClosed:
    """The client closed its side of the connection."""


FramingEvent = CommandReceived | ContinuationNeeded | CommandRefused | InputClosed


class _Phase(enum.Enum):
    LINE = enum.auto()
    LITERAL = enum.auto()
    SKIP_LITERAL = enum.auto()


class _Overlong(enum.Enum):
    LINE = enum.auto()


_OVERLONG = _Overlong.LINE


class CommandFramer:
    """Splits the client's bytes into commands; see the module docstring."""

    def __init__(self, limits: FramingLimits | None = None) -> None:
        self.limits = limits or FramingLimits()
        # Never more than a line's limit, so the head is the same however the line arrived.
        self._head_octets = min(_HEAD_OCTETS, self.limits.line_octets)
        self._buf = bytearray()
        self._scan = 0
        self._skipping = False
        self._head = b""
        self._tail = b""
        self._eof = False
        self._reset()

    def _reset(self) -> None:
        self._phase = _Phase.LINE
        self._parts: list[bytes] = []
        self._size = 0
        self._started = False
        self._tag: str | None = None
        self._left = 0
        self._refusal: ParseError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet framed: a driver stops reading above its limit."""
        return len(self._buf)

    @property
    def in_command(self) -> bool:
        """A command has begun and not ended."""
        return self._started

    def receive_data(self, data: bytes) -> None:
        """Feed what the client sent; ``b""`` means it closed its side."""
        if not data:
            self._eof = True
        elif self._eof:
            raise ImapUsageError("receive_data after end of input")
        else:
            self._buf += data

    def clear(self) -> None:
        """Forget everything buffered: after STARTTLS (RFC 9051 §6.2.1) or COMPRESS."""
        self._buf.clear()
        self._scan = 0
        self._skipping = False
        self._reset()

    def abandon_command(self) -> None:
        """Drop the command whose literal `ContinuationNeeded` announced.

        For a connection that refuses the command itself (tagged BAD or NO
        instead of ``+``): the client then sends no literal (RFC 9051 §7.6).
        """
        if self._phase is not _Phase.LITERAL:
            raise ImapUsageError("no literal is awaiting its continuation")
        self._reset()

    def next_event(self) -> FramingEvent | None:
        """The next event, or None when more bytes are needed."""
        while True:
            if self._phase is not _Phase.LINE:
                if not self._read_literal():
                    return self._end_of_input()
                continue
            line = self._line()
            if line is None:
                return self._end_of_input()
            event = self._end_of_line(line)
            if event is not None:
                return event

    def next_line(self) -> LineReceived | CommandRefused | InputClosed | None:
        """The next line as a plain line: IDLE's DONE, a SASL response (RFC 9051 §6.2.2)."""
        if self._started or self._phase is not _Phase.LINE:
            raise ImapUsageError("next_line in the middle of a command")
        line = self._line()
        if line is None:
            return self._end_of_input()
        if line is _OVERLONG:
            return CommandRefused(ParseError("line too long", code=TOOBIG))
        return LineReceived(line.removesuffix(b"\n").removesuffix(b"\r"))

    def _end_of_input(self) -> InputClosed | None:
        return InputClosed() if self._eof else None

    def _line(self) -> bytes | _Overlong | None:
        """A line through its LF, `_OVERLONG` for one over the limit, or None."""
        buf = self._buf
        limit = self.limits.line_octets
        if self._skipping:
            end = buf.find(b"\n")
            if end < 0:
                self._tail = (self._tail + buf[-_TAIL_OCTETS:])[-_TAIL_OCTETS:]
                buf.clear()
                return None
            self._tail = (self._tail + buf[max(0, end + 1 - _TAIL_OCTETS) : end + 1])[
                -_TAIL_OCTETS:
            ]
            del buf[: end + 1]
            self._skipping = False
            return _OVERLONG
        end = buf.find(b"\n", self._scan)
        if end < 0:
            if len(buf) >= limit:
                # Too long before its LF: drop it as it comes.
                self._head = bytes(buf[: self._head_octets])
                self._tail = bytes(buf[-_TAIL_OCTETS:])
                buf.clear()
                self._scan = 0
                self._skipping = True
            else:
                self._scan = len(buf)
            return None
        self._scan = 0
        if end + 1 > limit:
            self._head = bytes(buf[: self._head_octets])
            self._tail = bytes(buf[end + 1 - _TAIL_OCTETS : end + 1])
            del buf[: end + 1]
            return _OVERLONG
        line = bytes(buf[: end + 1])
        del buf[: end + 1]
        return line

    def _end_of_line(self, line: bytes | _Overlong) -> FramingEvent | None:
        overlong = line is _OVERLONG
        text = self._tail if isinstance(line, _Overlong) else line
        if not self._started:
            self._started = True
            self._tag = _tag_of(self._head if overlong else text)
        if overlong:
            self._refuse("command line too long", Condition.BAD)
        elif self._refusal is None:
            self._parts.append(text)
            self._size += len(text)
            if self._size > self.limits.command_octets:
                self._refuse("command too long", Condition.NO)
        marker = _MARKER.search(text[-_TAIL_OCTETS:])
        if marker is None:
            return self._finish()
        # The tail holds at most 61 digits, so int() stays cheap.
        octets = int(marker.group(2))
        sync = not marker.group(3)
        if self._refusal is None:
            if octets > self.limits.literal_octets:
                self._refuse("literal too big", Condition.NO)
            elif self._size + octets > self.limits.command_octets:
                self._refuse("command too long", Condition.NO)
            elif not sync and self.limits.literal_minus and octets > LITERAL_MINUS_OCTETS:
                self._refuse("LITERAL- allows non-synchronising literals of 4096 octets at most")
        if self._refusal is not None:
            if sync:
                # The client waits for "+"; the refusal ends the command instead.
                return self._finish()
            self._phase = _Phase.SKIP_LITERAL
        else:
            self._phase = _Phase.LITERAL
        self._left = octets
        return ContinuationNeeded(self._tag, octets) if sync else None

    def _refuse(self, text: str, condition: Condition = Condition.BAD) -> None:
        if self._refusal is None:
            self._refusal = ParseError(text, tag=self._tag, condition=condition, code=TOOBIG)
            self._parts.clear()

    def _read_literal(self) -> bool:
        """Take the literal's octets that have come; True once it is complete."""
        count = min(self._left, len(self._buf))
        if count:
            if self._phase is _Phase.LITERAL:
                self._parts.append(bytes(self._buf[:count]))
                self._size += count
            del self._buf[:count]
            self._left -= count
        if self._left:
            return False
        self._phase = _Phase.LINE
        return True

    def _finish(self) -> CommandReceived | CommandRefused:
        refusal, parts = self._refusal, self._parts
        self._reset()
        if refusal is not None:
            return CommandRefused(refusal)
        return CommandReceived(b"".join(parts))


def _tag_of(line: bytes) -> str | None:
    """The tag a command line begins with, if it has one followed by a space."""
    found = TAG.match(line)
    if found is None or not line.startswith(b" ", found.end()):
        return None
    return found.group().decode("ascii")
