"""The webmail's event and task forms, read and checked.

A form's fields become an `EventForm` or a `TaskForm`, or a `CalendarRefused`
that says in words what is wrong: a title that is not one line, a date out of
`FIRST_DAY`..`LAST_DAY`, a time of day the user's clock skips (summer time),
an end before the start, a repeat with both a count and a last date, an
attendee that is not an address. Times are read on the user's clock (their
zone); an all-day event's end is exclusive, as RFC 5545 §3.6.1 wants. How a
form then changes the stored object is `roost.control.calendar_ical`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roost.control.user_settings import SettingsRefused, check_address
from roost.core.errors import RoostError

REPEATS = ("none", "daily", "weekly", "monthly", "yearly")
KEEP_RULE = "custom"
"""The repeat choice that leaves a rule the form cannot show as it is."""
PRIORITIES = {"high": 1, "normal": 5, "low": 9}
MAX_TITLE_CHARS = 1000
MAX_LOCATION_CHARS = 1000
MAX_DESCRIPTION_CHARS = 100_000
MAX_REPEAT_COUNT = 10_000
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
"""The days the forms and views accept: beyond them a date is a typing slip."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ADDRESS_SPLIT = re.compile(r"[\s,;]+")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class CalendarRefused(RoostError):
    """A form or a change that cannot be saved as given (the reason in words)."""


class CalendarConflict(CalendarRefused):
    """The event or task changed elsewhere since the form was shown (its ETag)."""


@dataclass(frozen=True, slots=True)
class Repeat:
    frequency: str
    """One of `REPEATS`, or `KEEP_RULE`."""
    count: int | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class EventForm:
    title: str
    all_day: bool
    start: datetime | date
    """Aware (in the user's zone) for a timed event; a date for an all-day one."""
    end: datetime | date
    """Exclusive: for an all-day event the day after its last day (RFC 5545 §3.6.1)."""
    location: str
    description: str
    calendar: str
    repeat: Repeat
    attendees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskForm:
    title: str
    due: datetime | date | None
    priority: str
    """high, normal or low."""
    description: str
    task_list: str
    repeat: Repeat


# --- reading the forms


def _line(text: str, what: str, limit: int, *, required: bool = False) -> str:
    text = text.strip()
    if required and not text:
        raise CalendarRefused(f"Give the {what}.")
    if "\n" in text or "\r" in text or _CONTROL.search(text):
        raise CalendarRefused(f"The {what} must be one line of text.")
    if len(text) > limit:
        raise CalendarRefused(f"The {what} is {len(text)} characters long; at most {limit}.")
    return text


def _text(text: str, what: str, limit: int) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(text):
        raise CalendarRefused(f"The {what} contains control characters.")
    if len(text) > limit:
        raise CalendarRefused(f"The {what} is {len(text)} characters long; at most {limit}.")
    return text


def parse_date(text: str, what: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CalendarRefused(f"The {what} {text[:20]!r} is not a date (YYYY-MM-DD).") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CalendarRefused(
            f"The {what} {day.isoformat()} is out of range: choose a day from the year "
            f"{FIRST_DAY.year} to {LAST_DAY.year}."
        )
    return day


def parse_time(text: str, what: str) -> time | None:
    text = text.strip()
    if not text:
        return None
    found = _TIME.match(text)
    if found is None:
        raise CalendarRefused(f"The {what} {text[:20]!r} is not a time of day (HH:MM).")
    return time(int(found[1]), int(found[2]))


def local_time(day: date, at: time, zone: ZoneInfo, what: str) -> datetime:
    """`day` at `at` on the user's clock; refused when the clock skips it (DST)."""
    value = datetime.combine(day, at, tzinfo=zone)
    if value.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value.replace(tzinfo=None):
        raise CalendarRefused(
            f"The {what} {day.isoformat()} {at.strftime('%H:%M')} does not exist in "
            f"{zone.key}: the clocks go forward then. Choose another time."
        )
    return value


def parse_repeat(fields: Mapping[str, str], first: date) -> Repeat:
    frequency = fields.get("repeat", "none").strip() or "none"
    if frequency not in (*REPEATS, KEEP_RULE):
        raise CalendarRefused(f"{frequency[:20]!r} is not a choice for Repeat.")
    count_text = fields.get("count", "").strip()
    until = parse_date(fields.get("until", ""), "last date of the repeat")
    count: int | None = None
    if count_text:
        if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_REPEAT_COUNT:
            raise CalendarRefused(
                f"The number of times is a whole number from 1 to {MAX_REPEAT_COUNT}."
            )
        count = int(count_text)
    if frequency in ("none", KEEP_RULE):
        return Repeat(frequency)
    if count is not None and until is not None:
        raise CalendarRefused("Give a number of times or a last date for the repeat, not both.")
    if until is not None and until < first:
        raise CalendarRefused("The repeat's last date is before the first day.")
    return Repeat(frequency, count, until)


def parse_attendees(text: str, own: str, limit: int) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for word in _ADDRESS_SPLIT.split(text.strip()):
        if not word:
            continue
        word = word.removeprefix("mailto:").strip("<>")
        try:
            address = check_address(word, "attendee")
        except SettingsRefused as refused:
            raise CalendarRefused(str(refused)) from None
        if address.lower() != own.lower():
            found.setdefault(address.lower(), address)
    if len(found) > limit:
        raise CalendarRefused(f"An event may have at most {limit} attendees.")
    return tuple(found.values())


def parse_event_form(
    fields: Mapping[str, str], zone: ZoneInfo, own: str, max_attendees: int
) -> EventForm:
    """The event form's fields, checked; CalendarRefused says what is wrong."""
    title = _line(fields.get("title", ""), "title", MAX_TITLE_CHARS, required=True)
    all_day = fields.get("all_day", "") == "yes"
    start_day = parse_date(fields.get("start_date", ""), "start date")
    if start_day is None:
        raise CalendarRefused("Give the start date.")
    end_day = parse_date(fields.get("end_date", ""), "end date") or start_day
    start: datetime | date
    end: datetime | date
    if all_day:
        if end_day < start_day:
            raise CalendarRefused("The end date is before the start date.")
        start, end = start_day, end_day + timedelta(days=1)
    else:
        at = parse_time(fields.get("start_time", ""), "start time")
        if at is None:
            raise CalendarRefused("Give the start time, or tick All day.")
        start = local_time(start_day, at, zone, "start")
        until = parse_time(fields.get("end_time", ""), "end time")
        if until is None:
            end = start + timedelta(hours=1)
        else:
            end = local_time(end_day, until, zone, "end")
        if end < start:
            raise CalendarRefused("The event ends before it starts.")
    return EventForm(
        title=title,
        all_day=all_day,
        start=start,
        end=end,
        location=_line(fields.get("location", ""), "location", MAX_LOCATION_CHARS),
        description=_text(fields.get("description", ""), "description", MAX_DESCRIPTION_CHARS),
        calendar=fields.get("calendar", "").strip(),
        repeat=parse_repeat(fields, start_day),
        attendees=parse_attendees(fields.get("attendees", ""), own, max_attendees),
    )


def parse_task_form(fields: Mapping[str, str], zone: ZoneInfo) -> TaskForm:
    title = _line(fields.get("title", ""), "title", MAX_TITLE_CHARS, required=True)
    day = parse_date(fields.get("due_date", ""), "due date")
    at = parse_time(fields.get("due_time", ""), "due time")
    due: datetime | date | None = day
    if day is None and at is not None:
        raise CalendarRefused("Give the due date with the due time.")
    if day is not None and at is not None:
        due = local_time(day, at, zone, "due time")
    priority = fields.get("priority", "normal").strip() or "normal"
    if priority not in PRIORITIES:
        raise CalendarRefused(f"{priority[:20]!r} is not a priority (high, normal or low).")
    repeat = parse_repeat(fields, day or date.min)
    if repeat.frequency not in ("none", KEEP_RULE) and day is None:
        raise CalendarRefused("A repeating task needs a due date.")
    return TaskForm(
        title=title,
        due=due,
        priority=priority,
        description=_text(fields.get("description", ""), "description", MAX_DESCRIPTION_CHARS),
        task_list=fields.get("list", "").strip(),
        repeat=repeat,
    )
