"""The webmail's tasks: VTODOs in the user's task lists (RFC 5545 §3.6.2).

A task list is a calendar collection that holds VTODO (every user has "tasks").
The list shows open tasks first, by due date (those without one last), then
by priority; done ones only when asked, the most recently done first.

Done is STATUS:COMPLETED with COMPLETED (when) and PERCENT-COMPLETE:100;
un-done is STATUS:NEEDS-ACTION without them. A repeating task (RRULE) marked
done moves on to its next occurrence instead, as Apple's Reminders and
Thunderbird's "next occurrence" do: its DTSTART and DUE advance by the rule
(skipping EXDATEs, COUNT counting down) and it stays open; at its last
occurrence it is done for good. No completed copy is kept.

Writes go through `Calendars.put`, so the CalDAV rules and the If-Match of the
ETag shown apply here as for events.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule as dateutil_rrule

from roost.control import calendar_ical as ical
from roost.control.calendar_forms import CalendarConflict, CalendarRefused, TaskForm
from roost.control.calendar_view import (
    CONFLICT_MESSAGE,
    CalendarInfo,
    Calendars,
    Saved,
    Stored,
    repeat_values,
    stored_object,
)
from roost.core.clock import Clock
from roost.store.groupware import Item
from roost.store.store import Store

log = logging.getLogger(__name__)

MAX_SKIPPED = 1000
"""Occurrences an advance may step over (EXDATEs) before it gives up."""
_PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}


@dataclass(frozen=True, slots=True)
class TaskRow:
    task_list: str
    list_title: str
    css_class: str
    uid: str
    etag: str
    title: str
    description: str
    due: date | datetime | None
    """In the user's zone; a date when only the day is due."""
    overdue: bool
    priority: str
    done: bool
    completed: datetime | None
    recurring: bool


@dataclass(frozen=True, slots=True)
class Listed:
    lists: tuple[CalendarInfo, ...]
    tasks: tuple[TaskRow, ...]
    done_count: int
    truncated: bool
    failed: int


@dataclass(frozen=True, slots=True)
class Marked:
    saved: Saved
    next_due: date | datetime | None
    """Where a repeating task moved to; None when it is simply done or undone."""


def row_of(
    component: icalendar.Component, item: Item, info: CalendarInfo, zone: ZoneInfo, now: datetime
) -> TaskRow:
    due_value = ical.when_or_none(component, "DUE")
    due: date | datetime | None = due_value
    overdue = False
    if isinstance(due_value, datetime):
        due = _in_zone(due_value, zone)
        overdue = due < now
    elif due_value is not None:
        overdue = due_value < now.astimezone(zone).date()
    completed = ical.when_or_none(component, "COMPLETED")
    done = ical.is_done(component)
    return TaskRow(
        task_list=info.name,
        list_title=info.title,
        css_class=info.css_class,
        uid=item.uid,
        etag=item.etag,
        title=ical.text_of(component, "SUMMARY") or "(no title)",
        description=ical.text_of(component, "DESCRIPTION"),
        due=due,
        overdue=overdue and not done,
        priority=ical.priority_of(component),
        done=done,
        completed=_in_zone(completed, zone) if isinstance(completed, datetime) else None,
        recurring="RRULE" in component,
    )


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def _due_key(row: TaskRow) -> tuple[int, datetime, int, str]:
    due = row.due
    if due is None:
        moment = datetime.max.replace(tzinfo=UTC)
    elif isinstance(due, datetime):
        moment = due.astimezone(UTC)
    else:
        # A task due on a day comes after those due at a time that day.
        moment = datetime.combine(due, time(23, 59, 59), tzinfo=UTC)
    return (due is None, moment, _PRIORITY_ORDER[row.priority], row.title.lower())


def next_occurrence(component: icalendar.Component) -> tuple[date | datetime, int] | None:
    """The next start of a repeating task after its current one, and how many
    of the rule's occurrences that steps over (for COUNT); None at its end."""
    start = ical.when_or_none(component, "DTSTART") or ical.when_or_none(component, "DUE")
    rule: Any = component.get("RRULE")
    if start is None or rule is None or isinstance(rule, list):
        return None
    text = bytes(rule.to_ical()).decode("utf-8")
    first = start if isinstance(start, datetime) else datetime.combine(start, time())
    try:
        walk = dateutil_rrule.rrulestr(text, dtstart=first)
    except (ValueError, TypeError):
        walk = dateutil_rrule.rrulestr(text, dtstart=first.replace(tzinfo=None), ignoretz=True)
        first = first.replace(tzinfo=None)
    excluded = {ical.rid_text(ical.like(d, start)) for d in _exdates(component)}
    for steps, found in enumerate(itertools.islice(walk, 1, MAX_SKIPPED + 2), start=1):
        value = ical.like(found, start) if isinstance(start, datetime) else found.date()
        if ical.rid_text(value) not in excluded:
            return value, steps
    return None


def _exdates(component: icalendar.Component) -> list[date | datetime]:
    found: list[date | datetime] = []
    lines: Any = component.get("EXDATE")
    for line in lines if isinstance(lines, list) else [] if lines is None else [lines]:
        found.extend(entry.dt for entry in getattr(line, "dts", []))
    return found


def advance(component: icalendar.Component, now: datetime) -> date | datetime | None:
    """Move a repeating task to its next occurrence; None when it has none left."""
    found = next_occurrence(component)
    if found is None:
        return None
    value, steps = found
    base = ical.when_or_none(component, "DTSTART") or ical.when(component, "DUE")
    rule: Any = component["RRULE"]
    if "COUNT" in rule:
        count = rule["COUNT"]
        rule["COUNT"] = [max(1, int(count[0] if isinstance(count, list) else count) - steps)]
    due = ical.when_or_none(component, "DUE")
    if "DTSTART" in component:
        component.pop("DTSTART")
        component.add("DTSTART", value)
    if due is not None:
        component.pop("DUE")
        component.add("DUE", ical.keep_offset(value, due, base))
    ical.set_done(component, False, now)
    return ical.when_or_none(component, "DUE") or value


def task_values(component: icalendar.Component, zone: ZoneInfo, task_list: str) -> dict[str, str]:
    due = ical.when_or_none(component, "DUE")
    values = {
        "title": ical.text_of(component, "SUMMARY"),
        "description": ical.text_of(component, "DESCRIPTION"),
        "priority": ical.priority_of(component),
        "list": task_list,
        "due_date": "",
        "due_time": "",
    }
    if isinstance(due, datetime):
        local = _in_zone(due, zone)
        values |= {"due_date": local.date().isoformat(), "due_time": local.strftime("%H:%M")}
    elif due is not None:
        values["due_date"] = due.isoformat()
    return values | repeat_values(ical.simple_repeat(component))


class Tasks:
    def __init__(self, calendars: Calendars, store: Store, clock: Clock, *, max_listed: int):
        self._calendars = calendars
        self._store = store
        self._clock = clock
        self._max_listed = max_listed

    async def lists(self, address: str) -> list[CalendarInfo]:
        return await self._calendars.calendars(address, "VTODO")

    async def tasks(self, address: str, zone: ZoneInfo, *, show_done: bool) -> Listed:
        infos = await self.lists(address)
        now = self._clock.now()
        rows: list[TaskRow] = []
        failed = 0
        for info, item in await self._calendars.items(address, infos, "VTODO", None, None):
            try:
                parsed: Any = icalendar.Calendar.from_ical(item.data)
                master = ical.master_of(parsed, "VTODO")
                if master is None:
                    raise ValueError("no VTODO without RECURRENCE-ID")
                rows.append(row_of(master, item, info, zone, now))
            except (ValueError, TypeError, KeyError, IndexError, CalendarRefused):
                log.warning("task %s of %s could not be read", item.name, info.name)
                failed += 1
        open_rows = sorted((r for r in rows if not r.done), key=_due_key)
        done_rows = sorted(
            (r for r in rows if r.done),
            key=lambda r: r.completed or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        listed = open_rows + (done_rows if show_done else [])
        truncated = len(listed) > self._max_listed
        return Listed(
            tuple(infos), tuple(listed[: self._max_listed]), len(done_rows), truncated, failed
        )

    async def task(self, address: str, task_list: str, uid: str) -> Stored:
        found = await stored_object(self._store, address, task_list, uid)
        if found is None or found.item.component != "VTODO" or found.master() is None:
            raise CalendarRefused(
                "There is no such task (it may have been deleted in another app)."
            )
        return found

    async def create(self, address: str, form: TaskForm, zone: ZoneInfo) -> Saved:
        collection = await self._calendars.collection(address, form.task_list or "tasks", "VTODO")
        calendar = ical.new_calendar()
        todo = icalendar.Todo()
        uid = ical.new_uid()
        todo.add("UID", uid)
        todo.add("STATUS", "NEEDS-ACTION")
        ical.apply_task(todo, form, zone)
        ical.stamp(todo, self._clock.now())
        calendar.add_component(todo)
        text = ical.serialise(calendar)
        item = await self._calendars.put(collection, f"{uid}.ics", text, None)
        return Saved(collection, item, None)

    async def update(
        self, address: str, task_list: str, uid: str, etag: str, form: TaskForm, zone: ZoneInfo
    ) -> Saved:
        stored = await self._current(address, task_list, uid, etag)
        master = stored.master()
        assert master is not None
        before = ical.snapshot(master)
        ical.apply_task(master, form, zone)
        ical.bump_sequence(master, before)
        ical.stamp(master, self._clock.now())
        text = ical.serialise(stored.calendar)
        destination = stored.collection
        if form.task_list and form.task_list != destination.name:
            destination = await self._calendars.collection(address, form.task_list, "VTODO")
        item = await self._calendars.replace(stored, destination, text)
        return Saved(destination, item, stored.item.data)

    async def mark(
        self, address: str, task_list: str, uid: str, etag: str, *, done: bool
    ) -> Marked:
        """Done or not done; a repeating task marked done moves to its next occurrence."""
        stored = await self._current(address, task_list, uid, etag)
        master = stored.master()
        assert master is not None
        now = self._clock.now()
        before = ical.snapshot(master)
        next_due = advance(master, now) if done else None
        if next_due is None:
            ical.set_done(master, done, now)
        ical.bump_sequence(master, before)
        ical.stamp(master, now)
        text = ical.serialise(stored.calendar)
        item = await self._calendars.put(stored.collection, stored.item.name, text, etag)
        return Marked(Saved(stored.collection, item, stored.item.data), next_due)

    async def delete(self, address: str, task_list: str, uid: str, etag: str) -> None:
        stored = await self._current(address, task_list, uid, etag)
        await self._calendars.remove(stored.collection, stored.item.name, etag)

    async def _current(self, address: str, task_list: str, uid: str, etag: str) -> Stored:
        stored = await self.task(address, task_list, uid)
        if stored.item.etag != etag:
            raise CalendarConflict(CONFLICT_MESSAGE)
        return stored


def due_text(due: date | datetime | None, today: date) -> str:
    """A due date as a list shows it: Today, Tomorrow, or the date (with the time)."""
    if due is None:
        return ""
    day = due.date() if isinstance(due, datetime) else due
    if day == today:
        words = "Today"
    elif day == today + timedelta(days=1):
        words = "Tomorrow"
    elif day == today - timedelta(days=1):
        words = "Yesterday"
    else:
        words = day.strftime("%a %d %b %Y")
    return f"{words} {due.strftime('%H:%M')}" if isinstance(due, datetime) else words
