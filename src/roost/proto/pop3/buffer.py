"""The receive buffer: bytes the client sent that the core has not used yet.

POP3 input is lines only (RFC 1939 §3): commands, and in an AUTH exchange
the client's base64 responses (RFC 5034 §4). The buffer is written, as
h11's is, so that hostile input cannot make it quadratic or big:

- the search for the end of a line resumes where the last one gave up,
  so a line that trickles in octet by octet is scanned once;
- a line longer than the limit is dropped as it arrives instead of being
  kept, so the buffer never holds more than one limit's worth of a line;
- taking a line deletes from the front of a ``bytearray``, which CPython
  does in amortised O(1).

The net driver reads only when `next_event` returns None, so besides one
partial line the buffer holds at most what one read returned.
"""

from __future__ import annotations

import enum


class Overlong(enum.Enum):
    """Marker returned by `ReceiveBuffer.take_line` for a line over its limit."""

    LINE = enum.auto()


OVERLONG = Overlong.LINE


class ReceiveBuffer:
    """Bytes received and not yet consumed, taken a line at a time."""

    __slots__ = ("_data", "_discarding", "_scan")

    def __init__(self) -> None:
        self._data = bytearray()
        self._scan = 0
        self._discarding = False

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        """Append bytes the client sent."""
        self._data += data

    def clear(self) -> None:
        """Forget everything buffered (STLS, RFC 2595 §4)."""
        self._data.clear()
        self._scan = 0
        self._discarding = False

    def take_line(self, limit: int) -> bytes | Overlong | None:
        """The next line without its line end, if it has arrived.

        A line ends with LF, and a CR before it is dropped too: RFC 1939
        says CRLF, and a client that sends bare LF (a person at netcat)
        loses nothing by being understood. Returns None while the line is
        incomplete, and `OVERLONG` once a line longer than ``limit``
        octets (line end included) has ended; its bytes are gone by then.
        """
        data = self._data
        end = data.find(b"\n", self._scan)
        if self._discarding:
            if end < 0:
                data.clear()
                self._scan = 0
                return None
            self._discarding = False
            self._consume(end + 1)
            return OVERLONG
        if end < 0:
            if len(data) >= limit:
                # Already too long before its LF: drop it as it comes.
                data.clear()
                self._scan = 0
                self._discarding = True
            else:
                self._scan = len(data)
            return None
        if end + 1 > limit:
            self._consume(end + 1)
            return OVERLONG
        stop = end - 1 if end > 0 and data[end - 1] == 0x0D else end
        line = bytes(data[:stop])
        self._consume(end + 1)
        return line

    def _consume(self, octets: int) -> None:
        del self._data[:octets]
        self._scan = 0
