"""Authentication throttling: delays, lock-out windows, no account lock-out by default."""

from __future__ import annotations

from roost.control.throttle import Throttle
from roost.core.clock import ManualClock
from roost.core.config import AuthSettings


def make(**overrides: object) -> tuple[Throttle, ManualClock]:
    clock = ManualClock()
    settings = AuthSettings(
        **{
            "free_failures": 2,
            "delay_initial_s": 1.0,
            "delay_max_s": 4.0,
            "lockout_failures": 6,
            "lockout_window_s": 100.0,
            "lockout_s": 50.0,
            **overrides,
        }
    )  # type: ignore[arg-type]
    return Throttle(settings, clock), clock


def test_delay_grows_then_caps() -> None:
    throttle, _ = make()
    delays = []
    for _ in range(5):
        delays.append(throttle.check("192.0.2.1", "a@x.org").delay_s)
        throttle.failed("192.0.2.1", "a@x.org")
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0]


def test_lockout_by_address_ends_after_its_time() -> None:
    throttle, clock = make()
    for _ in range(6):
        throttle.failed("192.0.2.1", f"user{_}@x.org")
    assert throttle.check("192.0.2.1", "other@x.org").locked_for_s == 50.0
    assert throttle.check("192.0.2.2", "other@x.org").locked_for_s == 0.0
    clock.advance(51)
    assert throttle.check("192.0.2.1", "other@x.org").locked_for_s == 0.0


def test_failures_outside_the_window_are_forgotten() -> None:
    throttle, clock = make()
    for _ in range(5):
        throttle.failed("192.0.2.1", "a@x.org")
    clock.advance(101)
    assert throttle.check("192.0.2.1", "a@x.org").delay_s == 0.0
    throttle.failed("192.0.2.1", "a@x.org")
    assert throttle.check("192.0.2.1", "a@x.org").locked_for_s == 0.0


def test_nobody_can_lock_an_account_out_from_elsewhere_by_default() -> None:
    throttle, _ = make()
    for i in range(200):
        throttle.failed(f"198.51.100.{i}", "victim@x.org")
    verdict = throttle.check("192.0.2.9", "victim@x.org")
    assert verdict.locked_for_s == 0.0 and verdict.delay_s == 0.0


def test_account_lockout_when_turned_on() -> None:
    throttle, _ = make(account_lockout=True, account_lockout_failures=10)
    for i in range(10):
        throttle.failed(f"198.51.100.{i}", "victim@x.org")
    assert throttle.check("192.0.2.9", "victim@x.org").locked_for_s > 0


def test_success_clears_the_account_and_address_pair() -> None:
    throttle, _ = make()
    for _ in range(4):
        throttle.failed("192.0.2.1", "a@x.org")
    throttle.succeeded("192.0.2.1", "a@x.org")
    # The address keeps its own count (it may be guessing other accounts).
    assert throttle.check("192.0.2.1", "b@x.org").delay_s == 4.0
