"""Counts of mail traffic for the dashboard: the last 5 minutes, 24 hours, and since start.

In memory, per node: one bucket per minute for a day, plus totals. The
dashboard's plot reads the last hour minute by minute (`per_minute`).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from roost.core.clock import Clock

KINDS = ("received", "delivered", "failed", "deferred")
DAY_MINUTES = 24 * 60
HOUR_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Window:
    last_5_minutes: int
    last_24_hours: int
    since_start: int


class MailStats:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: deque[tuple[int, Counter[str]]] = deque()
        self._totals: Counter[str] = Counter()

    def record(self, kind: str, count: int = 1) -> None:
        if count <= 0:
            return
        minute = int(self._clock.monotonic() // 60)
        if not self._buckets or self._buckets[-1][0] != minute:
            self._buckets.append((minute, Counter()))
            while self._buckets and self._buckets[0][0] <= minute - DAY_MINUTES:
                self._buckets.popleft()
        self._buckets[-1][1][kind] += count
        self._totals[kind] += count

    def window(self, kind: str) -> Window:
        now = int(self._clock.monotonic() // 60)
        recent = sum(c[kind] for m, c in self._buckets if m > now - 5)
        day = sum(c[kind] for m, c in self._buckets if m > now - DAY_MINUTES)
        return Window(recent, day, self._totals[kind])

    def snapshot(self) -> dict[str, Window]:
        return {kind: self.window(kind) for kind in KINDS}

    def per_minute(self, kind: str, minutes: int = HOUR_MINUTES) -> list[int]:
        """Counts of the last `minutes` whole and current minutes, oldest first; the
        last one is the minute under way."""
        minutes = max(1, min(minutes, DAY_MINUTES))
        now = int(self._clock.monotonic() // 60)
        first = now - minutes + 1
        series = [0] * minutes
        for minute, counts in reversed(self._buckets):
            if minute < first:
                break
            if minute <= now:
                series[minute - first] = counts[kind]
        return series
