"""The webmail's calendar: what a day, week or month shows, and the event edits.

`Calendars` reads the user's calendars (every collection of kind calendar
that holds VEVENT) and expands each event into the occurrences that meet the
range shown, in the user's time zone: recurring events through
`roost.control.groupware.instances`, bounded per event by `[dav]
max_instances` and per page by `[webmail] calendar_max_shown`. The layout
helpers place them on the page's grid: all-day events in a row of their own,
timed ones on quarter-hour rows of the wall clock, side by side in lanes
where they overlap.

Every write goes through `roost.control.groupware.Groupware`, so the CalDAV
rules and limits apply, with If-Match of the ETag the form was shown with: an
edit made meanwhile by a CalDAV client (or another window) is refused with
`CalendarConflict`, and nothing is lost. How a form changes the object (and
what it keeps) is `roost.control.calendar_ical`.

Each write returns the object's text before it (`Saved.previous`,
`Deleted.previous`): what `roost.control.calendar_invites` compares to tell
the attendees. `stored_object` returns a stored event or task with its parsed
object.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from roost.control import calendar_ical as ical
from roost.control.calendar_forms import CalendarConflict, CalendarRefused, EventForm, Repeat
from roost.control.calendar_ical import parse_rid
from roost.control.groupware import Groupware, GroupwareError, instances
from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.groupware import CALENDAR, Collection, Item
from roost.store.store import Store

log = logging.getLogger(__name__)

VIEWS = ("day", "week", "month")
ROWS_PER_DAY = 96
"""The grid's rows: a day's quarter hours."""
MAX_LANES = 4
"""Overlapping events side by side; a fifth shares the last lane."""
PALETTE = ("#1f5fbf", "#2f855a", "#b7791f", "#9b2c2c", "#6b46c1", "#2c7a7b", "#c05621", "#4a5568")
_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?$")
_READ_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError)
CONFLICT_MESSAGE = (
    "It was changed elsewhere (in a calendar app, or in another window) since you opened "
    "it. Nothing was saved: open it again to see the change, then make yours."
)


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored event or task: where it is, its row, and its parsed object."""

    collection: Collection
    item: Item
    calendar: icalendar.Calendar

    def master(self) -> icalendar.Component | None:
        return ical.master_of(self.calendar, self.item.component)


@dataclass(frozen=True, slots=True)
class Saved:
    collection: Collection
    item: Item
    previous: str | None
    """The object's text before the change (None when new): what iTIP compares."""


@dataclass(frozen=True, slots=True)
class Deleted:
    previous: str
    """The object's text before the delete: what a CANCEL is made from."""
    rest: Item | None
    """The object with the occurrence excepted; None when the whole event went."""


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    name: str
    title: str
    colour: str
    css_class: str
    components: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Occurrence:
    calendar: str
    calendar_title: str
    css_class: str
    uid: str
    rid: str
    """The occurrence's recurrence identifier; "" for an event that does not recur."""
    title: str
    location: str
    start: datetime
    """In the user's zone (an all-day event: midnight of its first day)."""
    end: datetime
    all_day: bool
    first_day: date
    last_day: date
    """The last day it covers (inclusive)."""


@dataclass(frozen=True, slots=True)
class Shown:
    occurrences: tuple[Occurrence, ...]
    truncated: bool
    failed: int
    """Stored events that could not be read (shown in words, not lost)."""


@dataclass(frozen=True, slots=True)
class Placed:
    occurrence: Occurrence
    row: int
    """First grid row, 1-based."""
    rows: int
    lane: int
    lanes: int
    starts_before: bool
    ends_after: bool


@dataclass(frozen=True, slots=True)
class DayColumn:
    day: date
    all_day: tuple[Occurrence, ...]
    timed: tuple[Placed, ...]


@dataclass(frozen=True, slots=True)
class MonthCell:
    day: date
    in_month: bool
    events: tuple[Occurrence, ...]
    more: int


# --- the range a view shows


def view_days(view: str, day: date) -> tuple[date, date]:
    """The first day shown and the day after the last (weeks start on Monday)."""
    if view == "day":
        return day, day + timedelta(days=1)
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    first = day.replace(day=1)
    following = _next_month(first)
    start = first - timedelta(days=first.weekday())
    end = following + timedelta(days=(7 - following.weekday()) % 7)
    return start, end


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def step(view: str, day: date, forward: bool) -> date:
    """The day the previous or next page of a view shows."""
    if view == "day":
        return day + timedelta(days=1 if forward else -1)
    if view == "week":
        return day + timedelta(days=7 if forward else -7)
    first = day.replace(day=1)
    if forward:
        return _next_month(first)
    return (first - timedelta(days=1)).replace(day=1)


# --- occurrences


def occurrence_of(
    component: icalendar.Component, item: Item, info: CalendarInfo, zone: ZoneInfo
) -> Occurrence | None:
    start_value = ical.when_or_none(component, "DTSTART")
    if start_value is None:
        return None
    length = ical.duration_of(component)
    if isinstance(start_value, datetime):
        start = _in_zone(start_value, zone)
        end_value = ical.when_or_none(component, "DTEND")
        end = _in_zone(end_value, zone) if isinstance(end_value, datetime) else start + length
        end = max(start, end)
        first_day = start.date()
        last_day = (end - timedelta(microseconds=1)).date() if end > start else first_day
        all_day = False
    else:
        end_day = ical.when_or_none(component, "DTEND")
        if end_day is None or isinstance(end_day, datetime):
            end_day = start_value + timedelta(days=max(1, length.days))
        end_day = max(end_day, start_value + timedelta(days=1))
        start = datetime.combine(start_value, time(), tzinfo=zone)
        end = datetime.combine(end_day, time(), tzinfo=zone)
        first_day, last_day = start_value, end_day - timedelta(days=1)
        all_day = True
    return Occurrence(
        calendar=info.name,
        calendar_title=info.title,
        css_class=info.css_class,
        uid=item.uid,
        rid=ical.occurrence_rid(component) if item.recurring else "",
        title=ical.text_of(component, "SUMMARY") or "(no title)",
        location=ical.text_of(component, "LOCATION"),
        start=start,
        end=end,
        all_day=all_day,
        first_day=first_day,
        last_day=last_day,
    )


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    """A floating time is read on the user's clock (RFC 5545 §3.3.5)."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def _sort_key(occurrence: Occurrence) -> tuple[date, bool, datetime, str]:
    return (occurrence.first_day, not occurrence.all_day, occurrence.start, occurrence.title)


# --- layout


def day_columns(
    occurrences: tuple[Occurrence, ...], first: date, last: date, zone: ZoneInfo
) -> list[DayColumn]:
    """One column per day in [first, last): its all-day events, its timed ones placed."""
    columns = []
    day = first
    while day < last:
        on_day = [o for o in occurrences if o.first_day <= day <= o.last_day]
        columns.append(
            DayColumn(
                day,
                tuple(o for o in on_day if o.all_day),
                tuple(_lanes([_segment(o, day, zone) for o in on_day if not o.all_day])),
            )
        )
        day += timedelta(days=1)
    return columns


def _segment(occurrence: Occurrence, day: date, zone: ZoneInfo) -> Placed:
    """The part of a timed event on `day`, as rows of the day's wall clock."""
    day_start = datetime.combine(day, time(), tzinfo=zone)
    day_end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    start = max(occurrence.start, day_start)
    end = min(occurrence.end, day_end)
    first = (start.hour * 60 + start.minute) // 15
    if end >= day_end:
        last = ROWS_PER_DAY
    else:
        minutes = end.hour * 60 + end.minute + (1 if end.second or end.microsecond else 0)
        last = -(-minutes // 15)
    rows = max(1, min(last, ROWS_PER_DAY) - first)
    return Placed(
        occurrence,
        first + 1,
        min(rows, ROWS_PER_DAY - first),
        0,
        1,
        occurrence.start < day_start,
        occurrence.end > day_end,
    )


def _lanes(segments: list[Placed]) -> list[Placed]:
    """Overlapping events side by side: each cluster of overlaps gets as many
    lanes as it needs at once (at most `MAX_LANES`)."""
    segments.sort(key=lambda p: (p.row, -p.rows, p.occurrence.title))
    placed: list[Placed] = []
    cluster: list[tuple[Placed, int]] = []
    ends: list[int] = []

    def close() -> None:
        lanes = min(MAX_LANES, max((lane for _, lane in cluster), default=0) + 1)
        for segment, lane in cluster:
            placed.append(
                Placed(
                    segment.occurrence,
                    segment.row,
                    segment.rows,
                    min(lane, lanes - 1),
                    lanes,
                    segment.starts_before,
                    segment.ends_after,
                )
            )
        cluster.clear()
        ends.clear()

    for segment in segments:
        if ends and segment.row >= max(ends):
            close()
        free = next((i for i, end in enumerate(ends) if end <= segment.row), None)
        if free is None:
            ends.append(segment.row + segment.rows)
            free = len(ends) - 1
        else:
            ends[free] = segment.row + segment.rows
        cluster.append((segment, free))
    close()
    return placed


def month_weeks(
    occurrences: tuple[Occurrence, ...], first: date, last: date, month: int, per_cell: int
) -> list[list[MonthCell]]:
    weeks: list[list[MonthCell]] = []
    day = first
    while day < last:
        on_day = [o for o in occurrences if o.first_day <= day <= o.last_day]
        cell = MonthCell(day, day.month == month, tuple(on_day[:per_cell]), len(on_day) - per_cell)
        if day.weekday() == 0:
            weeks.append([])
        weeks[-1].append(cell)
        day += timedelta(days=1)
    return weeks


def colour_of(collection: Collection, index: int) -> str:
    """The calendar's colour (as CalDAV clients set it, #RRGGBB[AA]), else one of ours."""
    found = _COLOUR.match(collection.colour.strip())
    if found:
        return "#" + found[1].lower()
    return PALETTE[index % len(PALETTE)]


def colours_css(calendars: list[CalendarInfo]) -> str:
    """The user's calendar colours as a stylesheet (the pages allow no inline style)."""
    return "".join(f".{c.css_class} {{ --cal: {c.colour}; }}\n" for c in calendars)


# --- the store side


class Calendars:
    def __init__(self, store: Store, groupware: Groupware, clock: Clock, *, max_shown: int) -> None:
        self._store = store
        self._gw = groupware
        self._clock = clock
        self._max_shown = max_shown

    @property
    def groupware(self) -> Groupware:
        return self._gw

    async def calendars(self, address: str, component: str = "VEVENT") -> list[CalendarInfo]:
        """The user's calendars that hold `component` (any: ""), defaults made on first use."""
        role = self._store.groupware

        async def work(tx: Tx) -> list[Collection]:
            account = await self._store.directory.account(tx, address)
            return await role.ensure_defaults(tx, account.id)

        found = [c for c in await self._store.write(work) if c.kind == CALENDAR]
        return [
            CalendarInfo(
                c.name, c.display_name or c.name, colour_of(c, i), f"cal-{i}", c.components
            )
            for i, c in enumerate(found)
            if not component or component in c.components or not c.components
        ]

    async def occurrences(
        self, address: str, first: date, last: date, zone: ZoneInfo
    ) -> tuple[list[CalendarInfo], Shown]:
        """Every event occurrence that meets the days [first, last) on the user's clock."""
        infos = await self.calendars(address)
        start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(last, time(), tzinfo=zone).astimezone(UTC)
        # All-day events are stored from midnight UTC: a day each side finds them
        # from any zone; the days are checked exactly below.
        wide = (start - timedelta(days=1), end + timedelta(days=1))
        shown: list[Occurrence] = []
        failed = 0
        truncated = False
        limit = self._gw.settings.max_instances
        for info, item in await self.items(address, infos, "VEVENT", *wide):
            try:
                components = list(instances(item, *wide, limit))
            except _READ_ERRORS:
                log.warning("calendar item %s of %s could not be expanded", item.name, info.name)
                failed += 1
                continue
            for component in components:
                occurrence = occurrence_of(component, item, info, zone)
                if occurrence is None or occurrence.last_day < first:
                    continue
                if occurrence.first_day >= last:
                    continue
                shown.append(occurrence)
        shown.sort(key=_sort_key)
        if len(shown) > self._max_shown:
            shown, truncated = shown[: self._max_shown], True
        return infos, Shown(tuple(shown), truncated, failed)

    async def items(
        self,
        address: str,
        infos: list[CalendarInfo],
        component: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[CalendarInfo, Item]]:
        """The items of `component` in the calendars `infos` names that meet
        [start, end) (None: no bound), each with its calendar."""
        role = self._store.groupware
        by_name = {i.name: i for i in infos}

        async def work(tx: Tx) -> list[tuple[CalendarInfo, Item]]:
            account = await self._store.directory.account(tx, address)
            found: list[tuple[CalendarInfo, Item]] = []
            for collection in await role.collections(tx, account.id, CALENDAR):
                info = by_name.get(collection.name)
                if info is not None:
                    items = await role.items_in_range(tx, collection.id, component, start, end)
                    found.extend((info, item) for item in items)
            return found

        return await self._store.read(work)

    async def event(self, address: str, calendar: str, uid: str) -> Stored:
        found = await stored_object(self._store, address, calendar, uid)
        if found is None or found.item.component != "VEVENT":
            raise CalendarRefused(
                "There is no such event (it may have been deleted in another app)."
            )
        return found

    async def collection(self, address: str, name: str, component: str) -> Collection:
        role = self._store.groupware

        async def work(tx: Tx) -> Collection | None:
            account = await self._store.directory.account(tx, address)
            await role.ensure_defaults(tx, account.id)
            return await role.collection(tx, account.id, CALENDAR, name)

        found = await self._store.write(work)
        if found is None or (found.components and component not in found.components):
            kind = "task list" if component == "VTODO" else "calendar"
            raise CalendarRefused(f"You have no {kind} {name[:100]!r}.")
        return found

    # --- writes

    async def create(
        self, address: str, form: EventForm, zone: ZoneInfo, organizer_name: str
    ) -> Saved:
        collection = await self.collection(address, form.calendar or "calendar", "VEVENT")
        calendar = ical.new_calendar()
        event = icalendar.Event()
        uid = ical.new_uid()
        event.add("UID", uid)
        event.add("SEQUENCE", 0)
        ical.apply_event(
            event,
            form,
            zone,
            organizer=address,
            organizer_name=organizer_name,
            with_rule=True,
        )
        ical.stamp(event, self._clock.now())
        calendar.add_component(event)
        item = await self.put(collection, f"{uid}.ics", ical.serialise(calendar), None)
        return Saved(collection, item, None)

    async def update(
        self,
        address: str,
        calendar_name: str,
        uid: str,
        etag: str,
        form: EventForm,
        zone: ZoneInfo,
        organizer_name: str,
        *,
        rid: str = "",
    ) -> Saved:
        """Change the series (rid "") or one occurrence of it (an override)."""
        stored = await self.event(address, calendar_name, uid)
        if stored.item.etag != etag:
            raise CalendarConflict(CONFLICT_MESSAGE)
        previous = stored.item.data
        calendar = stored.calendar
        now = self._clock.now()
        options: dict[str, Any] = {"organizer": address, "organizer_name": organizer_name}
        master = stored.master()
        if rid and stored.item.recurring:
            target = ical.override_of(calendar, "VEVENT", rid)
            if target is None:
                if master is None:
                    raise CalendarRefused("This occurrence is not part of the event any more.")
                target = ical.make_override(master, parse_rid(rid))
                calendar.add_component(target)
            before = ical.snapshot(target)
            ical.apply_event(target, form, zone, with_rule=False, **options)
            ical.bump_sequence(target, before)
            ical.stamp(target, now)
            destination = stored.collection
        else:
            if master is None:
                raise CalendarRefused(
                    "This event holds only changed occurrences: edit them one at a time."
                )
            before = ical.snapshot(master)
            old_start = ical.when(master, "DTSTART")
            ical.apply_event(master, form, zone, with_rule=True, **options)
            if "RRULE" not in master and "RDATE" not in master:
                _drop_exceptions(calendar, master)
            else:
                ical.shift_exceptions(calendar, master, old_start, ical.when(master, "DTSTART"))
            ical.bump_sequence(master, before)
            ical.stamp(master, now)
            destination = stored.collection
            if form.calendar and form.calendar != stored.collection.name:
                destination = await self.collection(address, form.calendar, "VEVENT")
        text = ical.serialise(calendar)
        item = await self.replace(stored, destination, text)
        return Saved(destination, item, previous)

    async def delete(
        self, address: str, calendar_name: str, uid: str, etag: str, *, rid: str = ""
    ) -> Deleted:
        """Delete the event, or one occurrence of it (an EXDATE)."""
        stored = await self.event(address, calendar_name, uid)
        if stored.item.etag != etag:
            raise CalendarConflict(CONFLICT_MESSAGE)
        previous = stored.item.data
        if rid and stored.item.recurring:
            calendar = stored.calendar
            override = ical.override_of(calendar, "VEVENT", rid)
            if override is not None:
                calendar.subcomponents.remove(override)
            master = stored.master()
            if master is not None:
                before = ical.snapshot(master)
                ical.add_exdate(master, parse_rid(rid))
                ical.bump_sequence(master, before)
                ical.stamp(master, self._clock.now())
            if calendar.walk("VEVENT"):
                text = ical.serialise(calendar)
                item = await self.put(stored.collection, stored.item.name, text, etag)
                return Deleted(previous, item)
        await self.remove(stored.collection, stored.item.name, etag)
        return Deleted(previous, None)

    async def replace(self, stored: Stored, destination: Collection, text: str) -> Item:
        """Write the object where it is, or move it to another calendar: the copy is
        made first and the original deleted by its ETag, so a conflict loses nothing."""
        etag = stored.item.etag
        if destination.id == stored.collection.id:
            return await self.put(destination, stored.item.name, text, etag)
        item = await self.put(destination, stored.item.name, text, None)
        try:
            await self.remove(stored.collection, stored.item.name, etag)
        except CalendarRefused:
            await self.remove(destination, item.name, item.etag)
            raise
        return item

    async def put(self, collection: Collection, name: str, text: str, etag: str | None) -> Item:
        """A write through Groupware: If-Match the ETag shown, or If-None-Match * when new."""
        try:
            written = await self._gw.put(
                collection,
                name,
                text,
                if_match=None if etag is None else f'"{etag}"',
                if_none_match="*" if etag is None else None,
            )
        except GroupwareError as refused:
            raise _refusal(refused) from None
        return written.item

    async def remove(self, collection: Collection, name: str, etag: str) -> None:
        try:
            await self._gw.delete(collection, name, if_match=f'"{etag}"')
        except GroupwareError as refused:
            raise _refusal(refused) from None


def _refusal(error: GroupwareError) -> CalendarRefused:
    if error.status in (404, 412):
        return CalendarConflict(CONFLICT_MESSAGE)
    return CalendarRefused(error.message)


def _drop_exceptions(calendar: icalendar.Calendar, master: icalendar.Component) -> None:
    """An event that no longer recurs has no occurrences to except or change."""
    master.pop("EXDATE", None)
    for component in [
        c for c in calendar.subcomponents if c.name == master.name and "RECURRENCE-ID" in c
    ]:
        calendar.subcomponents.remove(component)


async def stored_object(store: Store, address: str, collection: str, uid: str) -> Stored | None:
    """The user's stored event or task of this UID in the named calendar or task
    list, parsed; None when there is none (or it cannot be read)."""
    role = store.groupware

    async def work(tx: Tx) -> tuple[Collection, Item] | None:
        account = await store.directory.find_account(tx, address)
        if account is None:
            return None
        found = await role.collection(tx, account.id, CALENDAR, collection)
        if found is None:
            return None
        item = await role.item_by_uid(tx, found.id, uid)
        return None if item is None else (found, item)

    found = await store.read(work)
    if found is None:
        return None
    try:
        parsed: Any = icalendar.Calendar.from_ical(found[1].data)
    except _READ_ERRORS:
        return None
    if not isinstance(parsed, icalendar.Calendar):
        return None
    return Stored(found[0], found[1], parsed)


def form_values(
    component: icalendar.Component, zone: ZoneInfo, calendar: str, own: str
) -> dict[str, str]:
    """An event as the form shows it, in the user's zone."""
    start = ical.when(component, "DTSTART")
    length = ical.duration_of(component)
    end_value = ical.when_or_none(component, "DTEND")
    values = {
        "title": ical.text_of(component, "SUMMARY"),
        "location": ical.text_of(component, "LOCATION"),
        "description": ical.text_of(component, "DESCRIPTION"),
        "calendar": calendar,
        "attendees": "\n".join(
            a for a in ical.addresses_of(component, "ATTENDEE") if a.lower() != own.lower()
        ),
    }
    if isinstance(start, datetime):
        begins = _in_zone(start, zone)
        ends = _in_zone(end_value, zone) if isinstance(end_value, datetime) else begins + length
        values |= {
            "all_day": "",
            "start_date": begins.date().isoformat(),
            "start_time": begins.strftime("%H:%M"),
            "end_date": ends.date().isoformat(),
            "end_time": ends.strftime("%H:%M"),
        }
    else:
        last = (end_value if isinstance(end_value, date) else start + length) - timedelta(days=1)
        values |= {
            "all_day": "yes",
            "start_date": start.isoformat(),
            "start_time": "",
            "end_date": max(start, last).isoformat(),
            "end_time": "",
        }
    values |= repeat_values(ical.simple_repeat(component))
    return values


def repeat_values(repeat: Repeat) -> dict[str, str]:
    return {
        "repeat": repeat.frequency,
        "count": "" if repeat.count is None else str(repeat.count),
        "until": "" if repeat.until is None else repeat.until.isoformat(),
    }
