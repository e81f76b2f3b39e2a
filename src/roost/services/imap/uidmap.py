"""The UIDs a session's client knows, in order, kept as runs of consecutive UIDs.

Message sequence number n is the n-th UID of the view (RFC 9051 §2.3.1.2), so
every session of a selected mailbox keeps the mailbox's UIDs. A Python list of
10,000 ints costs about 80 KB, a dict of them far more, and an idle IMAP
connection should cost less than that altogether. UIDs are given in order and
mostly stay consecutive (only expunges leave gaps), so runs ``first..last``
hold them in a few octets: a mailbox of 10,000 messages with no gaps is one
run. Each run also knows how many UIDs come before it, so a sequence number
and a UID are found from each other by bisection.

The arrays hold 32-bit numbers: RFC 9051 §9 makes UIDs ``nz-number``, at most
4,294,967,295.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator


class UidMap:
    __slots__ = ("_before", "_count", "_ends", "_starts")

    def __init__(self, uids: Iterable[int] = ()) -> None:
        self._starts = array("I")
        self._ends = array("I")
        self._before = array("I")
        """UIDs in the runs before each run."""
        self._count = 0
        self.extend(uids)

    @classmethod
    def from_runs(cls, runs: Iterable[tuple[int, int]]) -> UidMap:
        """From ``(first, last)`` runs in increasing order, apart from each other."""
        view = cls()
        for first, last in runs:
            if first <= view.last or last < first:
                raise ValueError(f"run {first}:{last} is out of order")
            view._run(first, last)
        return view

    def __len__(self) -> int:
        return self._count

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.seq_of(uid) is not None

    def __iter__(self) -> Iterator[int]:
        for first, last in zip(self._starts, self._ends, strict=True):
            yield from range(first, last + 1)

    @property
    def runs(self) -> int:
        return len(self._starts)

    @property
    def last(self) -> int:
        """The highest UID, 0 for none."""
        return self._ends[-1] if self._ends else 0

    def seq_of(self, uid: int) -> int | None:
        at = bisect.bisect_right(self._starts, uid) - 1
        if at < 0 or uid > self._ends[at]:
            return None
        return self._before[at] + uid - self._starts[at] + 1

    def uid_at(self, seq: int) -> int:
        """The UID of sequence number ``seq`` (1 to ``len``)."""
        if not 1 <= seq <= self._count:
            raise IndexError(f"no message {seq}")
        at = bisect.bisect_right(self._before, seq - 1) - 1
        return self._starts[at] + seq - 1 - self._before[at]

    def seqs_of(self, uids: list[int]) -> list[int]:
        """The sequence numbers of sorted ``uids``, 0 for one that is not here:
        one pass over both, not a bisection each."""
        out: list[int] = []
        starts, ends, before = self._starts, self._ends, self._before
        at, runs = 0, len(starts)
        for uid in uids:
            while at < runs and ends[at] < uid:
                at += 1
            if at < runs and starts[at] <= uid:
                out.append(before[at] + uid - starts[at] + 1)
            else:
                out.append(0)
        return out

    def extend(self, uids: Iterable[int]) -> None:
        """Add UIDs above the last, in increasing order."""
        for uid in uids:
            last = self.last
            if uid <= last:
                raise ValueError(f"UID {uid} does not come after {last}")
            if self._ends and uid == last + 1:
                self._ends[-1] = uid
            else:
                self._starts.append(uid)
                self._ends.append(uid)
                self._before.append(self._count)
            self._count += 1

    def remove(self, uids: Iterable[int]) -> None:
        """Drop these UIDs (those not here are ignored), in one pass."""
        gone = sorted(set(uids))
        if not gone:
            return
        runs = list(zip(self._starts, self._ends, strict=True))
        self._starts, self._ends, self._before = array("I"), array("I"), array("I")
        self._count = 0
        at = 0
        for first, last in runs:
            low = first
            while at < len(gone) and gone[at] < first:
                at += 1
            while at < len(gone) and gone[at] <= last:
                if gone[at] > low:
                    self._run(low, gone[at] - 1)
                low = gone[at] + 1
                at += 1
            if low <= last:
                self._run(low, last)

    def _run(self, first: int, last: int) -> None:
        self._starts.append(first)
        self._ends.append(last)
        self._before.append(self._count)
        self._count += last - first + 1

    def between_seqs(self, low: int, high: int) -> list[int]:
        """The UIDs of sequence numbers ``low`` to ``high``, both included."""
        if low > high:
            return []
        out: list[int] = []
        at = max(bisect.bisect_right(self._before, low - 1) - 1, 0)
        while at < len(self._starts) and self._before[at] < high:
            first = self._starts[at] + max(low - 1 - self._before[at], 0)
            last = min(self._ends[at], self._starts[at] + high - 1 - self._before[at])
            out.extend(range(first, last + 1))
            at += 1
        return out

    def between_uids(self, low: int, high: int) -> list[int]:
        """The UIDs from ``low`` to ``high``, both included, that are here."""
        out: list[int] = []
        at = max(bisect.bisect_right(self._starts, low) - 1, 0)
        while at < len(self._starts) and self._starts[at] <= high:
            first, last = max(self._starts[at], low), min(self._ends[at], high)
            if first <= last:
                out.extend(range(first, last + 1))
            at += 1
        return out
