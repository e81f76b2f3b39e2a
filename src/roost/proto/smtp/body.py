"""Message content: DATA's dot transparency, BDAT chunks, and their limits.

SMTP smuggling
--------------
A message sent with DATA ends at the first ``<CRLF>.<CRLF>`` (RFC 5321
§4.1.1.4) and nowhere else. Servers that also took ``<LF>.<LF>``,
``<CR>.<CR>`` or ``<LF>.<CR><LF>`` as the end let an attacker hide a
second SMTP transaction inside a message that an outbound relay, which
ends data only at ``<CRLF>.<CRLF>``, passed along as one message
(CVE-2023-51764/51765/51766, the "SMTP smuggling" family). So:

* Lines end with CRLF only. A CR not followed by LF, or an LF not after
  a CR, is a *bare* line end (§2.3.8); it never ends a line, so it
  can never be half of an end-of-data.
* A message holding a bare CR or LF is refused at its end (554 5.6.0)
  rather than repaired: repairing it (Postfix's "normalize") would turn
  what some other server saw as one message into lines it never saw.
  Nothing of it is accepted, and the data still ends only at
  ``<CRLF>.<CRLF>``, so one DATA never yields two messages.
* BDAT chunks are counted, not scanned for a terminator, but the same
  bare CR/LF rule applies to them (except with BODY=BINARYMIME, whose
  content is binary by definition, RFC 3030 §3), because Roost may relay
  the message with DATA later.

Dot transparency (§4.5.2): a line that starts with a period loses that
period; ``.`` alone on a line is the end of data. The DATA command's own
CRLF counts as the CRLF before the first line, so ``.<CRLF>`` right
after the 354 is an empty message.

Limits are checked as bytes arrive: the message size (RFC 1870 §5:
octets after unstuffing, CRLFs included, terminator excluded) and the
line length (CRLF included, the stuffed period not counted,
§4.5.3.1.6). Past a limit the receiver keeps reading to the end of data
and only then the message is refused.

Output comes in chunks of exactly `SmtpSettings.data_chunk_octets` (the
last one shorter). The receiver stops as soon as a chunk fills and checks
limits before it appends, so the events depend only on the bytes and
never on how the network cut them.
"""

from __future__ import annotations

import enum
import re

from roost.proto.smtp import replies
from roost.proto.smtp.replies import Reply

_CR = 0x0D
_LF = 0x0A
_DOT = 0x2E
_CR_OR_LF = re.compile(rb"[\r\n]")


class _Where(enum.Enum):
    """Where in a line the receiver stands."""

    START = enum.auto()
    """At the start of a line."""
    DOT = enum.auto()
    """A period at the start of a line was read (DATA only)."""
    DOT_CR = enum.auto()
    """A period and a CR at the start of a line were read (DATA only)."""
    MID = enum.auto()
    """Inside a line."""
    MID_CR = enum.auto()
    """Inside a line, a CR was read and waits for its LF."""


class MessageReceiver:
    """Turns the bytes of one message (DATA or BDAT) into checked chunks."""

    __slots__ = (
        "_check_lines",
        "_chunk_octets",
        "_line_octets",
        "_max_line_octets",
        "_max_message_octets",
        "_out",
        "_ready",
        "_where",
        "ended",
        "octets",
        "problem",
    )

    def __init__(
        self,
        *,
        max_message_octets: int,
        max_line_octets: int,
        chunk_octets: int,
        check_lines: bool = True,
    ) -> None:
        self._max_message_octets = max_message_octets
        self._max_line_octets = max_line_octets
        self._chunk_octets = chunk_octets
        self._check_lines = check_lines
        self._out = bytearray()
        self._ready: list[bytes] = []
        self._where = _Where.START
        self._line_octets = 0
        self.octets = 0
        """Message octets so far (meaningless once `problem` is set)."""
        self.problem: Reply | None = None
        """The reply that refuses the message, once a check failed."""
        self.ended = False
        """DATA only: the ``<CRLF>.<CRLF>`` was read."""

    # Output.

    def take_ready(self) -> list[bytes]:
        """Full chunks waiting to be emitted."""
        ready, self._ready = self._ready, []
        return ready

    def take_rest(self) -> bytes:
        """The last, short chunk once the message is complete."""
        rest = bytes(self._out)
        self._out.clear()
        return rest

    def fail(self, reply: Reply) -> None:
        """Refuse the message; keep reading it, emit nothing more of it."""
        if self.problem is None:
            self.problem = reply
            self._out.clear()
            self._ready.clear()

    def _room(self) -> int:
        if self.problem is not None:
            return 1 << 62
        return self._chunk_octets - len(self._out)

    def _put(self, data: bytes | bytearray, *, line_end: bool = False) -> None:
        """Append message bytes, checking the limits before they count."""
        if self.problem is not None:
            return
        self.octets += len(data)
        if self._max_message_octets and self.octets > self._max_message_octets:
            self.fail(replies.MESSAGE_TOO_BIG)
            return
        self._line_octets += len(data)
        if self._check_lines and self._line_octets > self._max_line_octets:
            self.fail(replies.DATA_LINE_TOO_LONG)
            return
        if line_end:
            self._line_octets = 0
        self._out += data
        while len(self._out) >= self._chunk_octets:
            self._ready.append(bytes(self._out[: self._chunk_octets]))
            del self._out[: self._chunk_octets]

    def _bare(self) -> None:
        self.fail(replies.BARE_LINE_END)

    # Input.

    def feed_data(self, buf: bytearray) -> int:
        """Read DATA content from ``buf``; return the octets consumed.

        Stops at the end of data (`ended`), when a chunk is ready, or when
        ``buf`` is used up. What follows the end of data stays in ``buf``:
        it is the next pipelined command.
        """
        pos, end = 0, len(buf)
        while pos < end and not self._ready and not self.ended:
            where = self._where
            if where is _Where.START:
                if buf[pos] == _DOT:
                    self._where = _Where.DOT
                    pos += 1
                else:
                    self._where = _Where.MID
            elif where is _Where.DOT:
                if buf[pos] == _CR:
                    self._where = _Where.DOT_CR
                    pos += 1
                else:
                    # A leading period goes, whatever follows (§4.5.2).
                    self._where = _Where.MID
            elif where is _Where.DOT_CR:
                if buf[pos] == _LF:
                    self.ended = True
                else:
                    # "." then a bare CR: not the end, and not a valid line.
                    self._bare()
                    self._where = _Where.MID
                    continue
                pos += 1
            else:
                pos = self._scan_line(buf, pos, end, dots=True)
        return pos

    def feed_bdat(self, buf: bytearray, limit: int) -> int:
        """Read up to ``limit`` octets of a BDAT chunk; return those consumed."""
        pos, end = 0, min(len(buf), limit)
        while pos < end and not self._ready:
            if not self._check_lines:
                take = min(end - pos, self._room())
                self._put(buf[pos : pos + take])
                pos += take
            elif self._where is _Where.START:
                self._where = _Where.MID
            else:
                pos = self._scan_line(buf, pos, end, dots=False)
        return pos

    def finish_bdat(self) -> None:
        """After BDAT LAST: a CR at the very end had no LF, so it was bare."""
        if self._check_lines and self._where is _Where.MID_CR:
            self._bare()

    def _scan_line(self, buf: bytearray, pos: int, end: int, *, dots: bool) -> int:
        """Go on inside a line: content up to the next CR or LF, then that."""
        if self._where is _Where.MID and (bulk := self._scan_bulk(buf, pos, end, dots)) > pos:
            return bulk
        if self._where is _Where.MID_CR:
            if buf[pos] == _LF:
                self._line_end()
                return pos + 1
            self._bare()
            self._where = _Where.MID
            return pos
        found = _CR_OR_LF.search(buf, pos, end)
        stop = found.start() if found else end
        room = self._room()
        if stop - pos > room:
            self._put(buf[pos : pos + room])
            return pos + room
        if stop > pos:
            self._put(buf[pos:stop])
        if found is None or self._ready:
            return stop
        if buf[stop] == _LF:
            self._bare()
            return stop + 1
        if stop + 1 == end:
            self._where = _Where.MID_CR
            return end
        if buf[stop + 1] == _LF:
            self._line_end()
            return stop + 2
        self._bare()
        return stop + 1

    def _scan_bulk(self, buf: bytearray, pos: int, end: int, dots: bool) -> int:
        """Take many clean lines at once; ``pos`` unchanged when it cannot.

        The run stops before any line that starts with a period (DATA), at
        the last CRLF available, or where the chunk fills — never between
        CR and LF. It is taken only if it has no bare CR or LF and cannot
        hold a line over the cap, so the result is what `_scan_line` would
        produce line by line, only faster.
        """
        if self.problem is not None or not self._check_lines:
            return pos
        dot_line = buf.find(b"\r\n.", pos, end) if dots else -1
        last_crlf = dot_line if dot_line >= 0 else buf.rfind(b"\r\n", pos, end)
        if last_crlf < 0:
            return pos
        stop = last_crlf + 2
        room = self._room()
        if stop - pos > room:
            stop = pos + room
            if buf[stop - 1] == _CR:
                stop -= 1
        if stop <= pos:
            return pos
        run = buf[pos:stop]
        lines = run.count(b"\r\n")
        if run.count(b"\r") != lines or run.count(b"\n") != lines:
            return pos
        if self._line_octets + len(run) > self._max_line_octets:
            return pos
        last_lf = run.rfind(b"\n")
        self._put(run)
        if last_lf >= 0:
            self._line_octets = len(run) - last_lf - 1
        if run.endswith(b"\n"):
            self._where = _Where.START
        return stop

    def _line_end(self) -> None:
        self._put(b"\r\n", line_end=True)
        self._where = _Where.START
