"""The receive buffer: bytes the client sent that the core has not used yet.

Written after h11's, so that hostile input cannot make it quadratic: a
search for the end of a line resumes where the last one gave up, and a
line longer than the limit is dropped as it arrives instead of being
kept, so the buffer never holds more than one limit's worth of a line.
Deleting from the front of a ``bytearray`` is amortised O(1) in CPython.
"""

from __future__ import annotations

import enum


class Overlong(enum.Enum):
    """Marker returned by `ReceiveBuffer.take_line` for a line over its limit."""

    LINE = enum.auto()


OVERLONG = Overlong.LINE


class ReceiveBuffer:
    """Bytes received and not yet consumed, with line and count access."""

    __slots__ = ("_data", "_discarding", "_scan")

    def __init__(self) -> None:
        self._data = bytearray()
        self._scan = 0
        self._discarding = False

    def __len__(self) -> int:
        return len(self._data)

    @property
    def data(self) -> bytearray:
        """The buffered bytes; readers call `consume` for what they used."""
        return self._data

    def feed(self, data: bytes) -> None:
        """Append bytes the client sent."""
        self._data += data

    def clear(self) -> None:
        """Forget everything buffered (STARTTLS, RFC 3207 §4.2)."""
        self._data.clear()
        self._scan = 0
        self._discarding = False

    def consume(self, octets: int) -> None:
        """Drop the first ``octets`` bytes."""
        del self._data[:octets]
        self._scan = 0

    def take(self, octets: int) -> bytes:
        """Remove and return up to ``octets`` bytes."""
        taken = bytes(self._data[:octets])
        self.consume(len(taken))
        return taken

    def take_line(self, limit: int) -> bytes | Overlong | None:
        """The next line through its LF, if it has arrived.

        Returns None while the line is incomplete, and `OVERLONG` once a
        line longer than ``limit`` octets (LF included) has ended; its
        bytes are gone by then. The caller checks for the CR before the LF.
        """
        end = self._data.find(b"\n", self._scan)
        if self._discarding:
            if end < 0:
                self._data.clear()
                self._scan = 0
                return None
            self._discarding = False
            self.consume(end + 1)
            return OVERLONG
        if end < 0:
            if len(self._data) >= limit:
                # Already too long before its LF: drop it as it comes.
                self._data.clear()
                self._scan = 0
                self._discarding = True
            else:
                self._scan = len(self._data)
            return None
        if end + 1 > limit:
            self.consume(end + 1)
            return OVERLONG
        line = bytes(self._data[: end + 1])
        self.consume(end + 1)
        return line
