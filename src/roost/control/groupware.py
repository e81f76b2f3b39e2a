"""Groupware rules shared by CalDAV, CardDAV and (later) the webmail.

Parsing: iCalendar through icalendar (RFC 5545), vCard 4 and 3 through
vobject (RFC 6350, RFC 2426). What a client sends is kept as it sent it; what
is parsed out is what a query needs (`NewItem`). The rules of RFC 4791 §4.1
and RFC 6352 §5.1 apply: one calendar object holds one kind of component
with one UID (plus its overrides and time zones); a vCard has a UID and an
FN. Every limit is a `[dav]` setting.

`Groupware` runs the writes as one unit of work each, so a conditional PUT
(If-Match, If-None-Match: RFC 7232) is checked and applied atomically.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
import recurring_ical_events
import vobject
from dateutil import rrule as dateutil_rrule

from roost.core.config import DavSettings
from roost.store.db import Tx
from roost.store.groupware import ADDRESSBOOK, CALENDAR, Collection, Item, NewItem
from roost.store.store import Store

CALENDAR_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
FAR_PAST = datetime(1900, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
# RFC 5545 §3.1: a content line is a name (IANA or X-), parameters, ":" and a value.
_CONTENT_LINE = re.compile(r"[A-Za-z0-9-]+[;:]")
# Rules whose every day holds tens of thousands of occurrences: the expansion
# libraries walk them a time window at a time, and a year of seconds is 31
# million steps. Refused outright, as most servers do.
_TOO_FREQUENT = ("SECONDLY", "MINUTELY")
# RFC 5545 §3.3.10: the ranges of the BYxxx parts (negative values count from
# the end). dateutil accepts BYMONTH=13 and then searches to the year 9999.
_BY_RANGES = {
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (1, 31),
    "BYYEARDAY": (1, 366),
    "BYWEEKNO": (1, 53),
    "BYHOUR": (0, 23),
    "BYMINUTE": (0, 59),
    "BYSECOND": (0, 60),
}


class GroupwareError(Exception):
    """A request refused: the HTTP status, the DAV precondition it breaks
    (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1, RFC 4918 §16), and words."""

    def __init__(self, status: int, message: str, condition: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.condition = condition


def _invalid(kind: str, message: str) -> GroupwareError:
    if kind == CALENDAR:
        return GroupwareError(403, message, "{urn:ietf:params:xml:ns:caldav}valid-calendar-data")
    return GroupwareError(403, message, "{urn:ietf:params:xml:ns:carddav}valid-address-data")


# --- iCalendar


def as_utc(value: date | datetime) -> datetime:
    """A DATE is its midnight; a floating time is read as UTC (RFC 4791 §9.9 lets
    the server pick a zone for floating times when the query gives none)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_calendar(text: str, settings: DavSettings, allowed: tuple[str, ...]) -> NewItem:
    """The indexed fields of a calendar object resource; GroupwareError when
    it breaks a rule (the name is filled in by the caller)."""
    _scan_lines(text, settings)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _invalid(CALENDAR, f"not valid iCalendar: {_first_line(exc)}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise _invalid(CALENDAR, "a calendar object must be one VCALENDAR")
    zones = {str(z.get("TZID")) for z in calendar.walk("VTIMEZONE")}
    components = [c for c in calendar.subcomponents if c.name in CALENDAR_COMPONENTS]
    if not components:
        raise _invalid(CALENDAR, "the VCALENDAR holds no VEVENT, VTODO or VJOURNAL")
    kinds = {c.name for c in components}
    if len(kinds) > 1:
        raise _invalid(CALENDAR, "one calendar object may hold one kind of component only")
    kind = components[0].name
    if kind not in allowed:
        raise GroupwareError(
            403,
            f"this calendar holds {', '.join(allowed)}, not {kind}",
            "{urn:ietf:params:xml:ns:caldav}supported-calendar-component",
        )
    uids = {str(c.get("UID", "")) for c in components}
    if len(uids) != 1 or "" in uids:
        raise _invalid(CALENDAR, "every component needs the same UID (RFC 4791 §4.1)")
    uid = uids.pop()
    if len(uid) > 255:
        raise _invalid(CALENDAR, "the UID is longer than 255 characters")
    for component in components:
        attendees = component.get("ATTENDEE")
        count = len(attendees) if isinstance(attendees, list) else int(attendees is not None)
        if count > settings.max_attendees:
            raise GroupwareError(
                403,
                f"an event or task may name at most {settings.max_attendees} attendees "
                f"(this one names {count})",
                "{http://roost.example/ns/}max-attendees",
            )
        _check_zones(component, zones)
    master = next((c for c in components if "RECURRENCE-ID" not in c), components[0])
    try:
        start, end = _span(master)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(CALENDAR, f"bad date or time: {_first_line(exc)}") from None
    _check_rule(master)
    recurring = "RRULE" in master or "RDATE" in master or len(components) > 1
    return NewItem(
        name="",
        uid=uid,
        component=kind,
        data=text,
        title=str(master.get("SUMMARY", ""))[:1000],
        starts_at=start,
        ends_at=None if recurring else end,
        recurring=recurring,
    )


def _scan_lines(text: str, settings: DavSettings) -> None:
    """Refuse, before the parser builds anything, what it would accept or pay
    for: a line folded without its leading space (RFC 5545 §3.1; icalendar
    drops such a line silently), and more attendees in one component than
    `max_attendees` (so 100,000 of them cost a line scan, not a parse)."""
    attendees = 0
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    for number, line in enumerate(unfolded.splitlines(), start=1):
        if not line.strip():
            continue
        if not _CONTENT_LINE.match(line):
            raise _invalid(
                CALENDAR,
                f"content line {number} ({line[:40]!r}) has no property name and colon: "
                "a folded line must start with a space or a tab (RFC 5545 §3.1)",
            )
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name in ("BEGIN", "END"):
            attendees = 0
        elif name == "ATTENDEE":
            attendees += 1
            if attendees > settings.max_attendees:
                raise GroupwareError(
                    403,
                    f"an event or task may name at most {settings.max_attendees} attendees",
                    "{http://roost.example/ns/}max-attendees",
                )


def _check_rule(master: Any) -> None:
    """A recurrence rule must be one the expansion can walk (RFC 5545 §3.3.10)."""
    rule = master.get("RRULE")
    if rule is None:
        return
    if isinstance(rule, list):
        raise _invalid(CALENDAR, "a component may have one RRULE only")
    try:
        # icalendar keeps a rule it cannot read as a "broken" property that
        # raises on any use: one catch covers that and dateutil's refusals.
        frequency = str((rule.get("FREQ") or [""])[0]).upper()
        for part, (low, high) in _BY_RANGES.items():
            for value in rule.get(part, []):
                if not low <= abs(int(value)) <= high:
                    raise ValueError(f"{part}={value} is outside {low}..{high}")
        if frequency not in _TOO_FREQUENT:
            _rule_cap(master.to_ical().decode("utf-8"), 1)
    except Exception as exc:
        raise _invalid(CALENDAR, f"the recurrence rule is not valid: {_first_line(exc)}") from None
    if frequency in _TOO_FREQUENT:
        raise _invalid(
            CALENDAR, f"FREQ={frequency} rules are not served: use HOURLY or less frequent"
        )


@functools.lru_cache(maxsize=4096)
def _rule_cap(component_text: str, limit: int) -> datetime | None:
    """The start of the `limit`-th occurrence of a component's RRULE, in UTC, or
    None when the rule ends sooner. Walked with dateutil, which steps one
    occurrence at a time, so the cost is bounded by `limit` whatever the rule."""
    component: Any = icalendar.Event.from_ical(component_text)
    rule = component.get("RRULE")
    if rule is None or "DTSTART" not in component:
        return None
    first = component["DTSTART"].dt
    zone = first.tzinfo if isinstance(first, datetime) else None
    naive = (
        first.replace(tzinfo=None)
        if isinstance(first, datetime)
        else datetime.combine(first, time())
    )
    walk = dateutil_rrule.rrulestr(rule.to_ical().decode("utf-8"), dtstart=naive, ignoretz=True)
    if not isinstance(walk, dateutil_rrule.rrule):
        raise ValueError("not a single recurrence rule")
    cap: datetime | None = None
    for number, occurrence in enumerate(itertools.islice(walk, limit + 1), start=1):
        if number == limit:
            cap = occurrence
        elif number > limit and cap is not None:
            return as_utc(cap.replace(tzinfo=zone) if zone is not None else cap)
    return None


def _check_zones(component: Any, zones: set[str]) -> None:
    for _name, value in component.property_items(recursive=False, sorted=False):
        tzid = getattr(value, "params", {}).get("TZID") if hasattr(value, "params") else None
        if tzid is None or tzid in zones:
            continue
        try:
            zoneinfo.ZoneInfo(str(tzid))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _invalid(
                CALENDAR,
                f"unknown time zone {str(tzid)[:100]!r}: no VTIMEZONE defines it and it is "
                "not an IANA zone name",
            ) from None


def _span(component: Any) -> tuple[datetime | None, datetime | None]:
    start_prop = component.get("DTSTART") or component.get("DUE")
    if start_prop is None:
        return None, None
    start_value = start_prop.dt
    start = as_utc(start_value)
    if "DTEND" in component:
        end = as_utc(component["DTEND"].dt)
    elif "DURATION" in component:
        end = start + component["DURATION"].dt
    elif not isinstance(start_value, datetime):
        end = start + timedelta(days=1)
    else:
        end = start
    return start, max(start, end)


def instances(item: Item, start: datetime, end: datetime, limit: int) -> Iterator[Any]:
    """The occurrences of an item that overlap [start, end), at most `limit`.

    A rule that never ends is served up to its `limit`-th occurrence: the
    expansion walks every occurrence from DTSTART to the range, so without
    the cap a range far from DTSTART would cost millions of steps."""
    calendar = icalendar.Calendar.from_ical(item.data)
    masters = [
        c for c in calendar.walk(item.component) if "RRULE" in c and "RECURRENCE-ID" not in c
    ]
    for master in masters[:1]:
        cap = _rule_cap(master.to_ical().decode("utf-8"), limit)
        if cap is not None:
            if start > cap:
                return
            end = min(end, cap + timedelta(seconds=1))
    query = recurring_ical_events.of(calendar, components=[item.component])
    yield from itertools.islice(query.between(start, end), limit)


def overlaps(item: Item, start: datetime | None, end: datetime | None, limit: int) -> bool:
    """Whether the item (each of its occurrences, when it recurs) meets the range
    (RFC 4791 §9.9)."""
    if start is None and end is None:
        return True
    low, high = start or FAR_PAST, end or FAR_FUTURE
    if not item.recurring:
        if item.starts_at is None:
            return True
        ends = item.ends_at or item.starts_at
        if ends == item.starts_at:
            return low <= item.starts_at < high
        return item.starts_at < high and ends > low
    try:
        return next(instances(item, low, high, limit), None) is not None
    except (ValueError, TypeError, OverflowError, KeyError):
        # Stored before the rule checks existed: shown rather than lost.
        return True


def expanded(item: Item, start: datetime, end: datetime, limit: int) -> str:
    """The item as RFC 4791 §9.6.5 `expand` returns it: each occurrence in the
    range as its own component with a RECURRENCE-ID, times in UTC, no rule."""
    out = icalendar.Calendar()
    out.add("VERSION", "2.0")
    out.add("PRODID", "-//Roost//CalDAV//EN")
    for occurrence in instances(item, start, end, limit):
        component = occurrence.copy() if hasattr(occurrence, "copy") else occurrence
        for name in ("RRULE", "RDATE", "EXDATE"):
            component.pop(name, None)
        for name in ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID"):
            if name in component and isinstance(component[name].dt, datetime):
                value = as_utc(component[name].dt)
                component.pop(name)
                component.add(name, value)
        if "RECURRENCE-ID" not in component and item.recurring and "DTSTART" in component:
            component.add("RECURRENCE-ID", component["DTSTART"].dt)
        out.add_component(component)
    return str(out.to_ical().decode("utf-8"))


# --- vCard


def parse_vcard(text: str) -> NewItem:
    """The indexed fields of a vCard 4 or 3; GroupwareError when it breaks a rule."""
    try:
        cards = list(vobject.readComponents(text, validate=True))
    except Exception as exc:
        raise _invalid(ADDRESSBOOK, f"not a valid vCard: {_first_line(exc)}") from None
    if len(cards) != 1 or cards[0].name != "VCARD":
        raise _invalid(ADDRESSBOOK, "an address object must be exactly one VCARD")
    card = cards[0]
    version = str(getattr(getattr(card, "version", None), "value", ""))
    if version not in ("3.0", "4.0"):
        raise _invalid(ADDRESSBOOK, f"vCard version {version or '(none)'}: only 3.0 and 4.0")
    uid = str(getattr(getattr(card, "uid", None), "value", "") or "")
    if not uid:
        raise _invalid(ADDRESSBOOK, "the vCard has no UID (RFC 6352 §5.1)")
    if len(uid) > 255:
        raise _invalid(ADDRESSBOOK, "the UID is longer than 255 characters")
    fn = getattr(card, "fn", None)
    if fn is None:
        raise _invalid(ADDRESSBOOK, "the vCard has no FN")
    return NewItem(name="", uid=uid, component="VCARD", data=text, title=str(fn.value)[:1000])


def card_values(text: str) -> dict[str, list[str]]:
    """Each property's values (upper-case names) for addressbook-query text matches."""
    found: dict[str, list[str]] = {}
    try:
        card = vobject.readOne(text)
    except Exception:
        return found
    for name, lines in card.contents.items():
        for line in lines:
            value = line.value
            found.setdefault(name.upper(), []).append(
                value if isinstance(value, str) else str(value)
            )
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# --- the unit-of-work operations


@dataclass(frozen=True, slots=True)
class Written:
    item: Item
    created: bool


class Groupware:
    def __init__(self, store: Store, settings: DavSettings) -> None:
        self.store = store
        self.settings = settings

    def parse(self, collection: Collection, text: str, name: str = "") -> NewItem:
        """The item `text` makes in `collection`, to be stored under `name`;
        GroupwareError when it breaks one of the collection's rules."""
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_resource_bytes:
            raise GroupwareError(
                413,
                f"the resource is larger than {self.settings.max_resource_bytes} bytes",
            )
        if collection.kind == CALENDAR:
            parsed = parse_calendar(text, self.settings, collection.components)
        elif collection.kind == ADDRESSBOOK:
            parsed = parse_vcard(text)
        else:
            raise GroupwareError(403, "notes folders are not served over DAV")
        return dataclasses.replace(parsed, name=name)

    async def put(
        self,
        collection: Collection,
        name: str,
        text: str,
        *,
        if_match: str | None,
        if_none_match: str | None,
    ) -> Written:
        new = self.parse(collection, text, name)
        role = self.store.groupware

        async def work(tx: Tx) -> Written:
            current = await role.item(tx, collection.id, name)
            check_preconditions(current, if_match, if_none_match)
            same_uid = await role.item_by_uid(tx, collection.id, new.uid)
            if same_uid is not None and same_uid.name != name:
                kind = "caldav" if collection.kind == CALENDAR else "carddav"
                raise GroupwareError(
                    409 if kind == "carddav" else 403,
                    f"another resource ({same_uid.name}) of this collection has UID {new.uid}",
                    f"{{urn:ietf:params:xml:ns:{kind}}}no-uid-conflict",
                )
            if current is None:
                count = await role.item_count(tx, collection.id)
                if count >= self.settings.max_items_per_collection:
                    raise GroupwareError(
                        507,
                        f"this collection holds its limit of "
                        f"{self.settings.max_items_per_collection} items",
                    )
            return Written(await role.put_item(tx, collection.id, new), current is None)

        return await self.store.write(work)

    async def delete(self, collection: Collection, name: str, *, if_match: str | None) -> None:
        role = self.store.groupware

        async def work(tx: Tx) -> None:
            current = await role.item(tx, collection.id, name)
            if current is None:
                raise GroupwareError(404, f"no resource {name} in this collection")
            check_preconditions(current, if_match, None)
            await role.delete_item(tx, collection.id, name)

        await self.store.write(work)


def check_preconditions(
    current: Item | None, if_match: str | None, if_none_match: str | None
) -> None:
    """RFC 7232 §3.1 and §3.2 for one resource; 412 when one fails."""
    if if_match is not None:
        tags = _tags(if_match)
        if current is None or ("*" not in tags and f'"{current.etag}"' not in tags):
            raise GroupwareError(
                412, "the resource changed since you read it (If-Match does not match its ETag)"
            )
    if if_none_match is not None and current is not None:
        tags = _tags(if_none_match)
        if "*" in tags or f'"{current.etag}"' in tags:
            raise GroupwareError(412, "the resource exists already (If-None-Match)")


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
