"""Streaming a message for RETR and TOP: dot-stuffing, TOP's cut, the end.

RFC 1939 §3: a multi-line response ends with a line holding one ``.``,
so every line of the message that begins with ``.`` gets a second one in
front ("byte-stuffing"); the client removes it. RFC 1939 §7 TOP sends the
header, the blank line after it, and then ``n`` lines of the body.

The service reads a message in chunks and passes each through one
`MessageEncoder`, which works on the octets as they come:

- a line may start in one chunk and go on in the next, so the encoder
  remembers only whether the last chunk ended a line, and the few
  octets TOP needs to recognise the blank line that ends the header. It
  holds back nothing: every octet fed is written at once (or, past
  TOP's cut, dropped), so its memory stays bounded whatever the lines;
- a line begins after LF. Roost stores CRLF only, but a bare LF in a
  message from elsewhere must not let a ``.`` through unstuffed: a client
  that splits lines at LF (Python's poplib does) would take it for the
  end and read the rest of the message as replies;
- `finish` makes sure the message ends with CRLF before the terminating
  ``.`` CRLF, so a last line without a line end is still a line.

Nothing is converted: what a client reads, once it removes the stuffed
dots, is byte for byte what the store holds, and its length is what LIST
announced (RFC 1939 §5).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from roost.proto.pop3.errors import Pop3StateError
from roost.proto.pop3.replies import TERMINATOR

_LF = 0x0A
_DOT_AFTER_LF = re.compile(rb"\n\.")
"""A line that begins with a dot. `re.sub` finds it two to three times faster
than `bytes.replace` (it scans for the LF alone, then looks at the next octet),
and this is most of the CPU a RETR costs."""
_CR = 0x0D


class _Line(enum.Enum):
    """What the current line holds so far; only TOP's header needs it."""

    EMPTY = enum.auto()
    CR = enum.auto()
    """Just a CR: the blank line's CRLF may be split across chunks."""
    TEXT = enum.auto()


class MessageEncoder:
    """Dot-stuffs one message for RETR (``top_lines`` None) or TOP.

    Call `feed` with each chunk in order, then `finish` once. Raises
    `Pop3StateError` when used out of that order.
    """

    __slots__ = (
        "_at_line_start",
        "_body_lines_left",
        "_cut",
        "_finished",
        "_in_header",
        "_line",
        "_octets_in",
        "_tail",
        "_top_lines",
    )

    def __init__(self, top_lines: int | None = None) -> None:
        if top_lines is not None and top_lines < 0:
            raise Pop3StateError("TOP takes zero or more body lines (RFC 1939 §7)")
        self._top_lines = top_lines
        self._at_line_start = True
        self._line = _Line.EMPTY
        self._in_header = True
        self._body_lines_left = top_lines or 0
        self._cut = False
        self._finished = False
        self._tail = b""
        self._octets_in = 0

    @property
    def top_lines(self) -> int | None:
        """Body lines TOP asked for; None for RETR."""
        return self._top_lines

    @property
    def wants_more(self) -> bool:
        """False once TOP has all it sends, or after `finish`: the service
        may stop reading the message."""
        return not (self._cut or self._finished)

    @property
    def octets_in(self) -> int:
        """Message octets fed so far (all of them, including any past TOP's cut)."""
        return self._octets_in

    def feed(self, chunk: bytes) -> bytes:
        """The wire form of the next chunk of the message."""
        if self._finished:
            raise Pop3StateError("MessageEncoder.feed after finish")
        self._octets_in += len(chunk)
        if self._cut or not chunk:
            return b""
        sent = chunk if self._top_lines is None else self._through_cut(chunk)
        if not sent:
            return b""
        out = _DOT_AFTER_LF.sub(b"\n..", sent)
        if self._at_line_start and sent[0] == 0x2E:
            out = b"." + out
        self._at_line_start = sent[-1] == _LF
        self._tail = (self._tail + sent[-2:])[-2:]
        return out

    def finish(self) -> bytes:
        """The end: a CRLF if the message did not end with one, then ``.`` CRLF."""
        if self._finished:
            raise Pop3StateError("MessageEncoder.finish called twice")
        self._finished = True
        if self._tail in (b"", b"\r\n"):
            return TERMINATOR
        return b"\r\n" + TERMINATOR

    def _through_cut(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` that TOP sends; marks the cut once reached."""
        pos = 0
        size = len(chunk)
        while pos < size:
            end = chunk.find(b"\n", pos)
            if end < 0:
                self._extend_line(chunk, pos, size)
                return chunk
            if self._in_header:
                if self._ends_blank_line(chunk, pos, end):
                    self._in_header = False
                    if self._body_lines_left == 0:
                        return self._cut_at(chunk, end)
            else:
                self._body_lines_left -= 1
                if self._body_lines_left == 0:
                    return self._cut_at(chunk, end)
            self._line = _Line.EMPTY
            pos = end + 1
        return chunk

    def _cut_at(self, chunk: bytes, end: int) -> bytes:
        self._cut = True
        return chunk[: end + 1]

    def _extend_line(self, chunk: bytes, start: int, stop: int) -> None:
        """Note the octets ``chunk[start:stop]`` that continue the current line."""
        if start == stop or self._line is _Line.TEXT:
            return
        if self._line is _Line.EMPTY and stop - start == 1 and chunk[start] == _CR:
            self._line = _Line.CR
        else:
            self._line = _Line.TEXT

    def _ends_blank_line(self, chunk: bytes, start: int, end: int) -> bool:
        """Whether the line ending at ``chunk[end]`` (an LF) holds nothing but its
        line end: the header's end (RFC 5322 §2.1)."""
        length = end - start
        if self._line is _Line.EMPTY:
            return length == 0 or (length == 1 and chunk[start] == _CR)
        return self._line is _Line.CR and length == 0


@dataclass(frozen=True, slots=True)
class EncodedMessage:
    """A whole message as RETR sends it after the status line; made by
    `encode_message` only."""

    wire: bytes


def encode_message(*parts: bytes) -> EncodedMessage:
    """The message made of *parts* in turn (its trace fields, then the
    stored message), dot-stuffed and ended as RETR sends it: the octets a
    `MessageEncoder` gives for the same parts, in one piece. It touches no
    state, so a service may build it away from the event loop, ahead of
    the RETR that sends it (`Pop3ServerConnection.send_message`)."""
    encoder = MessageEncoder()
    return EncodedMessage(b"".join([*(encoder.feed(part) for part in parts), encoder.finish()]))
