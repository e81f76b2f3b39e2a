"""When to try a deferred recipient again, and when to give up (the spool settings)."""

from __future__ import annotations

from datetime import datetime, timedelta

from roost.core.config import SpoolSettings


def next_attempt(
    settings: SpoolSettings, attempts: int, received_at: datetime, now: datetime
) -> datetime | None:
    """The time of the next attempt after `attempts` attempts, or None to give up.

    `attempts` counts the attempt just made: after the first failure the first
    wait of the schedule applies.
    """
    schedule = settings.retry_schedule_s
    index = attempts - 1
    wait = schedule[index] if 0 <= index < len(schedule) else settings.retry_every_s
    at = now + timedelta(seconds=wait)
    give_up = received_at + timedelta(seconds=settings.give_up_after_s)
    if now >= give_up:
        return None
    return min(at, give_up)


def delay_notice_due(settings: SpoolSettings, received_at: datetime, now: datetime) -> bool:
    if settings.delay_notice_after_s <= 0:
        return False
    return now - received_at >= timedelta(seconds=settings.delay_notice_after_s)
