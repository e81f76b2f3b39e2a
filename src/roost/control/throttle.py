"""Authentication throttling that every protocol and page shares.

Failures are counted by client address and by (account, client address).
After `free_failures`, each further attempt waits `delay_initial_s`, doubled
each time up to `delay_max_s`; `lockout_failures` from one address within
the window lock that address out. Locking an *account* out after failures
from anywhere is off by default: it would let anyone lock a user out.

State is in memory, per node, bounded in size.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from roost.core.clock import Clock
from roost.core.config import AuthSettings

MAX_TRACKED_KEYS = 100_000


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    locked_for_s: float
    """Seconds until a lock-out ends, 0 when not locked out."""
    delay_s: float
    """Seconds to wait before answering an attempt."""


class Throttle:
    def __init__(self, settings: AuthSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def check(self, client: str, account: str) -> Verdict:
        now = self._clock.monotonic()
        keys = [f"ip:{client}", f"acct-ip:{account}:{client}"]
        if self._settings.account_lockout:
            keys.append(f"acct:{account}")
        locked = max((self._get(k, now).locked_until - now for k in keys), default=0.0)
        failures = max(len(self._get(k, now).failures) for k in keys[:2])
        return Verdict(max(locked, 0.0), self._delay(failures))

    def _delay(self, failures: int) -> float:
        extra = failures - self._settings.free_failures
        if extra < 0:
            return 0.0
        delay = self._settings.delay_initial_s * 2 ** min(extra, 30)
        return float(min(delay, self._settings.delay_max_s))

    def failed(self, client: str, account: str) -> None:
        now = self._clock.monotonic()
        s = self._settings
        self._add(f"ip:{client}", now, s.lockout_failures)
        self._add(f"acct-ip:{account}:{client}", now, s.lockout_failures)
        if s.account_lockout:
            self._add(f"acct:{account}", now, s.account_lockout_failures)

    def succeeded(self, client: str, account: str) -> None:
        self._records.pop(f"acct-ip:{account}:{client}", None)

    def _add(self, key: str, now: float, limit: int) -> None:
        record = self._get(key, now)
        record.failures.append(now)
        if len(record.failures) >= limit:
            record.locked_until = now + self._settings.lockout_s
            record.failures.clear()

    def _get(self, key: str, now: float) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = _Record()
            self._records[key] = record
            while len(self._records) > MAX_TRACKED_KEYS:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        window_start = now - self._settings.lockout_window_s
        while record.failures and record.failures[0] < window_start:
            record.failures.popleft()
        return record
