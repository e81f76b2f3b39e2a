"""Sequence sets (RFC 9051 §9 ``sequence-set``) and the saved result ``$`` (RFC 5182).

A sequence set names messages by sequence number or UID: numbers, ranges
``a:b`` in either order, and ``*`` for the largest number in use.
``$`` alone stands for the result a SEARCH saved with ``RETURN (SAVE)``.

The parser takes the whole run of set characters with one regular
expression and counts its commas before it splits anything, so a set of a
million ranges costs one linear scan and a refusal: `MAX_SEQUENCE_RANGES`.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from roost.proto.imap.errors import ImapUsageError
from roost.proto.imap.reader import MAX_DIGITS, NUMBER_MAX, Reader

MAX_SEQUENCE_RANGES = 10_000
"""Most ranges one set may hold. A client that needs more compresses its
set into ranges (RFC 9051 §6.4.4 asks servers to, and clients follow);
ten thousand separate numbers fit within a 64 KiB line anyway."""

_SET_CHARS = re.compile(rb"[0-9*:,]+")
_ITEM = re.compile(rb"(\*|[1-9][0-9]*)(?::(\*|[1-9][0-9]*))?")


class Star(enum.Enum):
    """``*``: the largest sequence number or UID in use."""

    STAR = "*"


STAR: Final = Star.STAR

SeqNumber = int | Literal[Star.STAR]


@dataclass(frozen=True, slots=True)
class SeqRange:
    """``first:last``; a single number has ``first == last``. Order as sent."""

    first: SeqNumber
    last: SeqNumber

    def __str__(self) -> str:
        first = "*" if self.first is STAR else str(self.first)
        if self.first == self.last:
            return first
        return first + ":" + ("*" if self.last is STAR else str(self.last))


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A non-empty sequence set as sent (RFC 9051 §9 ``sequence-set``)."""

    ranges: tuple[SeqRange, ...]

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.ranges)

    def resolve(self, largest: int) -> tuple[tuple[int, int], ...]:
        """The set as sorted, disjoint ``(low, high)`` intervals.

        ``*`` is ``largest``, the highest number in use (0 for an empty
        mailbox, where ``*`` then matches nothing). A range reaching past
        ``largest`` is cut at it, so ``5:*`` still names message ``largest``
        when ``largest`` < 5, as RFC 9051 §6.4.8 describes for UIDs.
        """
        spans: list[tuple[int, int]] = []
        for item in self.ranges:
            first = largest if item.first is STAR else item.first
            last = largest if item.last is STAR else item.last
            low, high = min(first, last), max(first, last)
            high = min(high, largest)
            if low <= high and high > 0:
                spans.append((low, high))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1] + 1:
                if high > merged[-1][1]:
                    merged[-1] = (merged[-1][0], high)
            else:
                merged.append((low, high))
        return tuple(merged)

    def contains(self, number: int, largest: int) -> bool:
        """Whether ``number`` is in the set when ``*`` is ``largest``."""
        spans = self.resolve(largest)
        at = bisect.bisect_right(spans, (number, NUMBER_MAX + 1)) - 1
        return at >= 0 and spans[at][0] <= number <= spans[at][1]


@dataclass(frozen=True, slots=True)
class SavedResult:
    """``$``: the result the last ``SEARCH RETURN (SAVE)`` kept (RFC 5182 §2.1)."""

    def __str__(self) -> str:
        return "$"


MessageSet = SequenceSet | SavedResult
"""What a command that takes a sequence set accepts."""


def sequence_of(numbers: Iterable[int]) -> SequenceSet:
    """The shortest set naming ``numbers``, runs folded into ranges.

    For responses that carry sets: COPYUID, ESEARCH ALL, VANISHED. Raises
    `ImapUsageError` when ``numbers`` is empty, since a set never is.
    """
    ordered = sorted(set(numbers))
    if not ordered or ordered[0] < 1:
        raise ImapUsageError("a sequence set names at least one number, each above 0")
    ranges: list[SeqRange] = []
    start = previous = ordered[0]
    for number in ordered[1:]:
        if number != previous + 1:
            ranges.append(SeqRange(start, previous))
            start = number
        previous = number
    ranges.append(SeqRange(start, previous))
    return SequenceSet(tuple(ranges))


def parse_message_set(r: Reader, *, saved: bool = True, star: bool = True) -> MessageSet:
    """A sequence set at the reader; ``$`` when ``saved`` allows it (RFC 5182).

    ``star`` False refuses ``*``, as RFC 7162 does in QRESYNC's known UIDs.
    """
    if saved and r.skip(b"$"):
        return SavedResult()
    start = r.pos
    found = _SET_CHARS.match(r.data, start)
    if found is None:
        raise r.error("expected a sequence set")
    run = found.group()
    if run.count(b",") >= MAX_SEQUENCE_RANGES:
        raise r.error(f"a sequence set may hold at most {MAX_SEQUENCE_RANGES} ranges")
    ranges = tuple(_parse_item(r, item, star) for item in run.split(b","))
    r.pos = found.end()
    return SequenceSet(ranges)


def parse_sequence_set(r: Reader, *, star: bool = True) -> SequenceSet:
    """A sequence set where ``$`` is not allowed (QRESYNC's known UIDs)."""
    result = parse_message_set(r, saved=False, star=star)
    assert isinstance(result, SequenceSet)
    return result


def _parse_item(r: Reader, item: bytes, star: bool) -> SeqRange:
    found = _ITEM.fullmatch(item)
    if found is None:
        raise r.error("malformed sequence set")
    first = _number(r, found.group(1), star)
    last = first if found.group(2) is None else _number(r, found.group(2), star)
    return SeqRange(first, last)


def _number(r: Reader, text: bytes, star: bool) -> SeqNumber:
    if text == b"*":
        if not star:
            raise r.error("'*' is not allowed in this sequence set")
        return STAR
    if len(text) > MAX_DIGITS or int(text) > NUMBER_MAX:
        raise r.error("a sequence number must fit in 32 bits")
    return int(text)
