"""How the webmail's event and task forms change an iCalendar object.

The webmail edits what CalDAV clients wrote, so an edit changes only the
properties its form shows (title, times, location, description, a simple
repeat rule, attendees, and for tasks due date, priority and status) and
keeps everything else as it was: alarms (VALARM), X- properties, other
clients' properties and parameters, time zones, and a repeat rule the form
cannot express (shown as "as set in another app" and left alone).

An occurrence of a recurring event is named by its recurrence identifier
(`rid`): its original start as text, `YYYYMMDDTHHMMSSZ` (UTC),
`YYYYMMDDTHHMMSS` (floating) or `YYYYMMDD` (all-day). Changing one occurrence
adds (or edits) an override component with that RECURRENCE-ID in the same
calendar object; deleting one adds an EXDATE to the master (RFC 5545 §3.8.5.1,
§3.8.4.4).

Group scheduling (RFC 5546): an event with attendees carries ORGANIZER (the
user who wrote it) and ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE for each new
attendee; attendees kept keep their parameters (their answers). SEQUENCE goes
up by one when an edit changes what RFC 5545 §3.8.7.4 names (start, end,
duration, due, recurrence, status) or the location, so that an iTIP REQUEST
sent afterwards supersedes the one before. DTSTAMP and LAST-MODIFIED say when.

The forms themselves are read by `roost.control.calendar_forms`; the
VTIMEZONEs written with the object come from `roost.control.calendar_zones`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from roost.control.calendar_forms import (
    KEEP_RULE,
    PRIORITIES,
    REPEATS,
    CalendarRefused,
    EventForm,
    Repeat,
    TaskForm,
)
from roost.control.calendar_zones import ensure_timezones

PRODID = "-//Roost//Webmail//EN"
SIGNIFICANT = (
    "DTSTART",
    "DTEND",
    "DURATION",
    "DUE",
    "RRULE",
    "RDATE",
    "EXDATE",
    "STATUS",
    "LOCATION",
)
"""What makes an edit a new version for attendees (RFC 5545 §3.8.7.4, and the place)."""
_RID = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")


# --- recurrence identifiers


def rid_text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%S")
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def parse_rid(text: str) -> date | datetime:
    found = _RID.match(text.strip())
    if found is None:
        raise CalendarRefused(f"{text[:40]!r} does not name an occurrence.")
    try:
        day = datetime.strptime(found[1], "%Y%m%d").date()
        if found[2] is None:
            return day
        clock = datetime.strptime(found[2], "%H%M%S").time()
    except ValueError:
        raise CalendarRefused(f"{text[:40]!r} does not name an occurrence.") from None
    return datetime.combine(day, clock, tzinfo=UTC if found[3] else None)


def like(value: date | datetime, model: date | datetime) -> date | datetime:
    """`value` in the form of `model` (a DTSTART): a date, a floating time, or a
    time in the same zone; RECURRENCE-ID and EXDATE must match DTSTART's form."""
    if not isinstance(model, datetime):
        return value.date() if isinstance(value, datetime) else value
    if not isinstance(value, datetime):
        value = datetime.combine(value, model.timetz().replace(tzinfo=None), tzinfo=model.tzinfo)
    if model.tzinfo is None:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=model.tzinfo)
    return value.astimezone(model.tzinfo)


def occurrence_rid(component: icalendar.Component) -> str:
    """The identifier of an expanded occurrence (its RECURRENCE-ID, else its start)."""
    found = component.get("RECURRENCE-ID") or component.get("DTSTART")
    return "" if found is None else rid_text(found.dt)


# --- reading components


def when_or_none(component: icalendar.Component, name: str) -> date | datetime | None:
    """A DATE or DATE-TIME property's value; None when absent or of another kind."""
    prop: Any = component.get(name)
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    value = getattr(prop, "dt", None)
    return value if isinstance(value, date) else None


def when(component: icalendar.Component, name: str) -> date | datetime:
    value = when_or_none(component, name)
    if value is None:
        raise CalendarRefused(f"The {component.name} has no valid {name}.")
    return value


def length_of(component: icalendar.Component) -> timedelta:
    prop: Any = component.get("DURATION")
    value = getattr(prop, "dt", None)
    return value if isinstance(value, timedelta) else timedelta(0)


def text_of(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value)


def addresses_of(component: icalendar.Component, name: str) -> list[str]:
    return [bare_address(v) for v in values_of(component.get(name))]


def bare_address(value: object) -> str:
    """A calendar user address (RFC 5545 §3.3.3) without `mailto:`."""
    text = str(value).strip()
    return text[7:] if text[:7].lower() == "mailto:" else text


def sequence_of(component: icalendar.Component) -> int:
    """SEQUENCE (RFC 5545 §3.8.7.4); 0 when absent or not a number."""
    try:
        return max(0, int(component.get("SEQUENCE", 0)))
    except (TypeError, ValueError):
        return 0


def master_of(calendar: icalendar.Calendar, kind: str) -> icalendar.Component | None:
    return next((c for c in calendar.walk(kind) if "RECURRENCE-ID" not in c), None)


def override_of(calendar: icalendar.Calendar, kind: str, rid: str) -> icalendar.Component | None:
    return next(
        (
            c
            for c in calendar.walk(kind)
            if "RECURRENCE-ID" in c and rid_text(when(c, "RECURRENCE-ID")) == rid
        ),
        None,
    )


def simple_repeat(component: icalendar.Component) -> Repeat:
    """The rule as the form shows it: a simple choice, `KEEP_RULE` or none."""
    rule = component.get("RRULE")
    if rule is None:
        return Repeat("custom" if "RDATE" in component else "none")
    if isinstance(rule, list) or set(rule) - {"FREQ", "COUNT", "UNTIL", "INTERVAL", "WKST"}:
        return Repeat(KEEP_RULE)
    if rule.get("INTERVAL", [1])[0] != 1:
        return Repeat(KEEP_RULE)
    frequency = str(rule.get("FREQ", [""])[0]).lower()
    if frequency not in REPEATS:
        return Repeat(KEEP_RULE)
    count = rule.get("COUNT")
    until = rule.get("UNTIL")
    last = until[0] if until else None
    return Repeat(
        frequency,
        int(count[0]) if count else None,
        last.date() if isinstance(last, datetime) else last,
    )


def rule_text(component: icalendar.Component) -> str:
    rule = component.get("RRULE")
    return "" if rule is None else rule.to_ical().decode("utf-8", "replace")


# --- writing components


def new_calendar() -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    return calendar


def new_uid() -> str:
    """A UID that is also a safe resource name (RFC 4791 §5.3.2 asks none, but
    clients that derive the name from the UID are spared any quoting)."""
    return str(uuid.uuid4())


def _set(component: icalendar.Component, name: str, value: object, **params: str) -> None:
    component.pop(name, None)
    if value is None or value == "":
        return
    if params:
        component.add(name, value, parameters=params)
    else:
        component.add(name, value)


def _rule(repeat: Repeat, start: date | datetime, zone: ZoneInfo) -> dict[str, object]:
    rule: dict[str, object] = {"FREQ": repeat.frequency.upper()}
    if repeat.count is not None:
        rule["COUNT"] = repeat.count
    if repeat.until is not None:
        if isinstance(start, datetime):
            # RFC 5545 §3.3.10: with a zoned DTSTART, UNTIL is in UTC.
            last = datetime.combine(repeat.until, time(23, 59, 59), tzinfo=zone)
            rule["UNTIL"] = last.astimezone(UTC)
        else:
            rule["UNTIL"] = repeat.until
    return rule


def _as_written(value: date | datetime) -> date | datetime:
    """Times in UTC are written with Z; others with their IANA zone's TZID."""
    zone = value.tzinfo if isinstance(value, datetime) else None
    if zone is not None and getattr(zone, "key", "UTC") in ("UTC", "Etc/UTC"):
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
    return value


def snapshot(component: icalendar.Component) -> dict[str, bytes]:
    return {
        name: b"".join(_ical(v) for v in values_of(component.get(name))) for name in SIGNIFICANT
    }


def values_of(value: object) -> list[Any]:
    """A property's values as a list: one, several, or none."""
    return value if isinstance(value, list) else [] if value is None else [value]


def _ical(value: Any) -> bytes:
    return bytes(value.to_ical()) if hasattr(value, "to_ical") else str(value).encode()


def bump_sequence(component: icalendar.Component, before: dict[str, bytes] | None) -> None:
    """SEQUENCE + 1 when a significant property changed since `before`."""
    if before is None or snapshot(component) == before:
        return
    _set(component, "SEQUENCE", sequence_of(component) + 1)


def stamp(component: icalendar.Component, now: datetime) -> None:
    _set(component, "DTSTAMP", now.astimezone(UTC))
    _set(component, "LAST-MODIFIED", now.astimezone(UTC))
    if "CREATED" not in component:
        component.add("CREATED", now.astimezone(UTC))


def same_time(old: date | datetime, new: date | datetime, zone: ZoneInfo) -> bool:
    """Whether two values name the same time (a floating one read on the user's clock)."""
    if isinstance(old, datetime) != isinstance(new, datetime):
        return False
    if not isinstance(old, datetime) or not isinstance(new, datetime):
        return old == new
    return _aware(old, zone) == _aware(new, zone)


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def set_times(component: icalendar.Component, form: EventForm, zone: ZoneInfo) -> None:
    """DTSTART and DTEND from the form; a time that did not change keeps its
    form (its zone, or DURATION), so an untouched time is no change."""
    start = component.get("DTSTART")
    if start is None or not same_time(start.dt, form.start, zone):
        _set(component, "DTSTART", _as_written(form.start))
    old_start = when(component, "DTSTART")
    if "DTEND" in component and same_time(when(component, "DTEND"), form.end, zone):
        return
    if "DTEND" not in component and "DURATION" in component:
        length = length_of(component)
        if isinstance(length, timedelta) and same_time(
            _after(old_start, length) if isinstance(old_start, datetime) else old_start + length,
            form.end,
            zone,
        ):
            return
    component.pop("DURATION", None)
    _set(component, "DTEND", _as_written(form.end))


def set_attendees(
    component: icalendar.Component, attendees: tuple[str, ...], organizer: str, name: str
) -> None:
    """The attendee list as the form gives it: those kept keep their answers,
    new ones NEEDS-ACTION; ORGANIZER is the user while anyone is invited.
    An event organised by someone else keeps its list (only they may change it)."""
    current_organizer = addresses_of(component, "ORGANIZER")
    if current_organizer and current_organizer[0].lower() != organizer.lower():
        return
    kept = {a.lower(): a for a in attendees}
    old = values_of(component.pop("ATTENDEE", None))
    component.pop("ORGANIZER", None)
    if not attendees:
        return
    chair = organizer.lower()
    if name:
        component.add("ORGANIZER", f"mailto:{organizer}", parameters={"CN": name})
    else:
        component.add("ORGANIZER", f"mailto:{organizer}")
    seen: set[str] = set()
    for value in old:
        address = bare_address(value).lower()
        if address in kept or address == chair:
            component.add("ATTENDEE", value)
            seen.add(address)
    for lower, address in kept.items():
        if lower not in seen:
            component.add(
                "ATTENDEE",
                f"mailto:{address}",
                parameters={
                    "CUTYPE": "INDIVIDUAL",
                    "ROLE": "REQ-PARTICIPANT",
                    "PARTSTAT": "NEEDS-ACTION",
                    "RSVP": "TRUE",
                },
            )


def apply_event(
    component: icalendar.Component,
    form: EventForm,
    zone: ZoneInfo,
    *,
    organizer: str,
    organizer_name: str,
    with_rule: bool,
) -> None:
    """The form's fields into `component`; everything else stays."""
    _set(component, "SUMMARY", form.title)
    set_times(component, form, zone)
    _set(component, "LOCATION", form.location)
    _set(component, "DESCRIPTION", form.description)
    if with_rule and form.repeat.frequency != KEEP_RULE:
        component.pop("RRULE", None)
        if form.repeat.frequency != "none":
            component.add("RRULE", _rule(form.repeat, form.start, zone))
    set_attendees(component, form.attendees, organizer, organizer_name)


def shift_exceptions(
    calendar: icalendar.Calendar,
    master: icalendar.Component,
    old_start: date | datetime,
    new_start: date | datetime,
) -> None:
    """After the series moved, its overrides and EXDATEs follow it (as Thunderbird
    does); when it changed between all-day and timed they no longer name an
    occurrence and are dropped."""
    same_kind = isinstance(old_start, datetime) == isinstance(new_start, datetime)
    if same_kind and old_start == new_start:
        return
    kind = master.name
    overrides = [c for c in calendar.subcomponents if c.name == kind and "RECURRENCE-ID" in c]
    exdates = values_of(master.pop("EXDATE", None))
    if not same_kind:
        for component in overrides:
            calendar.subcomponents.remove(component)
        return
    absolute = (
        isinstance(old_start, datetime)
        and isinstance(new_start, datetime)
        and old_start.tzinfo is not None
        and new_start.tzinfo is not None
        and old_start.tzinfo != new_start.tzinfo
    )

    def moved(value: date | datetime) -> date | datetime:
        if absolute:
            assert isinstance(new_start, datetime) and isinstance(old_start, datetime)
            return like(like(value, old_start) + (new_start - old_start), new_start)
        delta = _wall(new_start) - _wall(old_start)
        return like(_unwall(_wall(like(value, old_start)) + delta, new_start), new_start)

    for component in overrides:
        rid = moved(when(component, "RECURRENCE-ID"))
        component.pop("RECURRENCE-ID")
        component.add("RECURRENCE-ID", _as_written(rid))
    for line in exdates:
        for entry in line.dts:
            master.add("EXDATE", _as_written(moved(entry.dt)))


def _wall(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time())


def _unwall(value: datetime, model: date | datetime) -> date | datetime:
    if not isinstance(model, datetime):
        return value.date()
    return value.replace(tzinfo=model.tzinfo)


def make_override(master: icalendar.Component, rid: date | datetime) -> icalendar.Component:
    """A copy of the master for one occurrence: its properties and alarms, no rule."""
    copy = icalendar.Component.from_ical(master.to_ical())
    assert isinstance(copy, icalendar.Component)
    for name in ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "DURATION", "DTEND", "DUE"):
        copy.pop(name, None)
    start = when(master, "DTSTART")
    length = duration_of(master)
    at = like(rid, start)
    _set(copy, "DTSTART", _as_written(at))
    _set(copy, "RECURRENCE-ID", _as_written(at))
    if master.name == "VTODO":
        if "DUE" in master:
            _set(copy, "DUE", _as_written(keep_offset(at, when(master, "DUE"), start)))
    else:
        _set(copy, "DTEND", _as_written(_after(at, length)))
    return copy


def keep_offset(
    when: date | datetime, other: date | datetime, base: date | datetime
) -> date | datetime:
    """`when` plus the wall-clock distance from `base` to `other` (DUE after DTSTART)."""
    length = _wall(other) - _wall(base)
    if isinstance(when, datetime):
        return _unwall(_wall(when) + length, when)
    return when + timedelta(days=length.days)


def _after(when: date | datetime, length: timedelta) -> date | datetime:
    if isinstance(when, datetime):
        return _unwall(_wall(when) + length, when)
    return when + timedelta(days=max(1, length.days))


def duration_of(component: icalendar.Component) -> timedelta:
    start = when(component, "DTSTART")
    if "DTEND" in component:
        return _wall(when(component, "DTEND")) - _wall(start)
    if "DURATION" in component:
        return length_of(component)
    return timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)


def add_exdate(master: icalendar.Component, rid: date | datetime) -> None:
    master.add("EXDATE", _as_written(like(rid, when(master, "DTSTART"))))


def serialise(calendar: icalendar.Calendar) -> str:
    """The object as text, with a VTIMEZONE for every zone it names (RFC 5545 §3.6.5):
    see `roost.control.calendar_zones`."""
    ensure_timezones(calendar)
    return bytes(calendar.to_ical()).decode("utf-8")


def set_priority(component: icalendar.Component, priority: str) -> None:
    """PRIORITY 1/5/9; a value other clients wrote stays when it reads the same."""
    if priority_of(component) != priority:
        _set(component, "PRIORITY", PRIORITIES[priority])


def priority_of(component: icalendar.Component) -> str:
    """RFC 5545 §3.8.1.9: 1-4 high, 5 (and 0, undefined) normal, 6-9 low."""
    try:
        value = int(component.get("PRIORITY", 0) or 0)
    except (TypeError, ValueError):
        value = 0
    if 1 <= value <= 4:
        return "high"
    if 6 <= value <= 9:
        return "low"
    return "normal"


def apply_task(component: icalendar.Component, form: TaskForm, zone: ZoneInfo) -> None:
    _set(component, "SUMMARY", form.title)
    _set(component, "DESCRIPTION", form.description)
    set_priority(component, form.priority)
    old_due = when_or_none(component, "DUE")
    component.pop("DUE", None)
    if form.due is not None:
        component.add("DUE", _as_written(form.due))
    if form.repeat.frequency == KEEP_RULE:
        if form.due is not None and old_due is not None and "DTSTART" in component:
            # The rule walks from DTSTART: it keeps its distance to the due date.
            _set(
                component,
                "DTSTART",
                _as_written(keep_offset(form.due, when(component, "DTSTART"), old_due)),
            )
        return
    component.pop("RRULE", None)
    if form.repeat.frequency != "none" and form.due is not None:
        # A repeating task's rule walks from DTSTART (RFC 5545 §3.8.5.3): it is
        # the due date, as Thunderbird and Apple's Reminders write it.
        _set(component, "DTSTART", _as_written(form.due))
        component.add("RRULE", _rule(form.repeat, form.due, zone))
    elif form.due is not None and "DTSTART" in component:
        start = when(component, "DTSTART")
        if isinstance(start, datetime) != isinstance(form.due, datetime) or _wall(start) > _wall(
            form.due
        ):
            component.pop("DTSTART")


def set_done(component: icalendar.Component, done: bool, now: datetime) -> None:
    """STATUS:COMPLETED with COMPLETED and PERCENT-COMPLETE:100, or back to NEEDS-ACTION."""
    if done:
        _set(component, "STATUS", "COMPLETED")
        _set(component, "COMPLETED", now.astimezone(UTC))
        _set(component, "PERCENT-COMPLETE", 100)
    else:
        _set(component, "STATUS", "NEEDS-ACTION")
        component.pop("COMPLETED", None)
        component.pop("PERCENT-COMPLETE", None)


def is_done(component: icalendar.Component) -> bool:
    return text_of(component, "STATUS").upper() == "COMPLETED" or "COMPLETED" in component
