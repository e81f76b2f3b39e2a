"""VTIMEZONE components from the tz database (RFC 5545 §3.6.5).

Every TZID a property names needs a VTIMEZONE in the object. icalendar writes
one as a list of every change from 1970 to 2038 (about 3 KB for Europe/Berlin,
and wrong for anything after 2037). Ours is read from the tz database
(zoneinfo) and covers the object's times for ever: the changes from the
object's earliest time up to the year the zone's present rule began, listed,
then that rule as yearly RRULEs, as Thunderbird and Apple's clients write it
(a few hundred bytes). A zone without summer time any more needs no rule: its
last change holds. A VTIMEZONE already in the object stays as it was written
while it covers the object's times; a TZID that zoneinfo does not know (an
Outlook name) keeps the VTIMEZONE its client sent.

The calendar forms (`roost.control.calendar_ical.serialise`) and the iTIP
messages (`roost.control.itip_messages`) both write their objects through
`ensure_timezones`.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

__all__ = ["ZONE_LATE_YEAR", "ZONE_LIST_YEARS", "ensure_timezones", "zone_component"]


ZONE_LATE_YEAR = 2100
"""A year that every zone's closing rule governs (the tz database lists changes
one by one up to 2087 at most): the rule read there goes on for ever."""
ZONE_LIST_YEARS = 100
"""How far a zone whose rule cannot be written as a yearly RRULE is listed change
by change (none such in the tz database today; a guard, not a limit users meet)."""
_ZONE_WEEK = timedelta(days=7)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True, slots=True)
class _Change:
    at: datetime
    """The instant, in UTC."""
    before: timedelta
    after: timedelta
    name: str
    dst: bool

    @property
    def onset(self) -> datetime:
        """The wall-clock time of the change as the clock read before it (§3.6.5 DTSTART)."""
        return (self.at + self.before).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _YearlyRule:
    """A change that comes every year: on a weekday of the month (the nth, the last,
    or the one among some days: "the Saturday before the last Sunday" is the
    Saturday of the 24th to the 30th), or on a fixed day."""

    change: _Change
    month: int
    weekday: str
    """"SU" and the like; "" for a fixed day."""
    nth: int
    """1 to 4, -1 for the last; 0 when `days` says which."""
    days: tuple[int, ...] = ()

    def onset(self, year: int) -> datetime:
        first = date(year, self.month, 1)
        last = _next_month(first) - timedelta(days=1)
        if not self.weekday:
            day = date(year, self.month, self.days[0])
        elif self.nth > 0:
            weekday = _WEEKDAYS.index(self.weekday)
            day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (self.nth - 1))
        elif self.nth < 0:
            weekday = _WEEKDAYS.index(self.weekday)
            day = last - timedelta(days=(last.weekday() - weekday) % 7)
        else:
            found = [
                date(year, self.month, d)
                for d in self.days
                if d <= last.day and _WEEKDAYS[date(year, self.month, d).weekday()] == self.weekday
            ]
            if len(found) != 1:
                raise ValueError("no such day")
            day = found[0]
        return datetime.combine(day, self.change.onset.time())

    def rrule(self) -> dict[str, object]:
        rule: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": self.month}
        if self.weekday:
            rule["BYDAY"] = f"{self.nth}{self.weekday}" if self.nth else self.weekday
        if not self.nth:
            rule["BYMONTHDAY"] = list(self.days)
        return rule


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


@functools.lru_cache(maxsize=4096)
def _changes(zone: ZoneInfo, year: int) -> tuple[_Change, ...]:
    """The zone's changes of UTC offset in `year` (a day's look, then to the second)."""
    found = []
    at = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = _offset(zone, at)
    while at < end:
        following = min(at + timedelta(days=1), end)
        then = _offset(zone, following)
        if then != offset:
            low, high = at, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            local = high.astimezone(zone)
            found.append(_Change(high, offset, then, local.tzname() or "", bool(local.dst())))
            offset = then
        at = following
    return tuple(found)


def _rule_for(change: _Change, zone: ZoneInfo) -> _YearlyRule | None:
    """The yearly rule that `change` follows, tried on the years before it."""
    onset = change.onset
    weekday = _WEEKDAYS[onset.weekday()]
    month, day = onset.month, onset.day
    last_day = (_next_month(onset.date().replace(day=1)) - timedelta(days=1)).day
    candidates = []
    if day + 7 > last_day:
        candidates.append(_YearlyRule(change, month, weekday, -1))
    if day <= 28:
        candidates.append(_YearlyRule(change, month, weekday, (day - 1) // 7 + 1))
    candidates.append(_YearlyRule(change, month, "", 0, (day,)))
    candidates.extend(
        _YearlyRule(change, month, weekday, 0, tuple(range(low, low + 7)))
        for low in range(max(1, day - 6), min(day, last_day - 6) + 1)
    )
    for rule in candidates:
        if all(_happens(rule, zone, onset.year - back) for back in range(1, 8)):
            return rule
    return None


def _happens(rule: _YearlyRule, zone: ZoneInfo, year: int) -> bool:
    try:
        onset = rule.onset(year)
    except ValueError:
        return False
    at = (onset - rule.change.before).replace(tzinfo=UTC)
    return (
        _offset(zone, at - timedelta(seconds=1)) == rule.change.before
        and _offset(zone, at) == rule.change.after
    )


def _year_follows(rules: list[_YearlyRule], zone: ZoneInfo, year: int) -> bool:
    """Whether `year` changes exactly as the rules say: at their onsets, and at
    no other time (looked at week by week)."""
    if not all(_happens(rule, zone, year) for rule in rules):
        return False
    onsets = sorted(
        ((rule.onset(year) - rule.change.before).replace(tzinfo=UTC), rule.change.after)
        for rule in rules
    )
    offset = _offset(zone, datetime(year, 1, 1, tzinfo=UTC))
    at = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    for instant, after in onsets:
        while at < instant:
            if _offset(zone, at) != offset:
                return False
            at = min(at + _ZONE_WEEK, instant)
        offset, at = after, instant
    while at < end:
        if _offset(zone, at) != offset:
            return False
        at += _ZONE_WEEK
    return True


@functools.lru_cache(maxsize=64)
def _zone_rules(zone: ZoneInfo, floor: int) -> tuple[tuple[_YearlyRule, ...], int] | None:
    """The zone's present yearly rules and the first year (not before `floor`) from
    which they hold; ((), year) for a zone whose last change came before `year`;
    None when its rule is not yearly."""
    late = _changes(zone, ZONE_LATE_YEAR)
    rules = [_rule_for(change, zone) for change in late]
    if any(rule is None for rule in rules):
        return None
    found = [rule for rule in rules if rule is not None]
    year = ZONE_LATE_YEAR
    if not found:
        return (), year
    while year > floor and _year_follows(found, zone, year - 1):
        year -= 1
    return tuple(found), year


def zone_component(zone: ZoneInfo, first: date) -> icalendar.Timezone:
    """A VTIMEZONE for `zone` right from `first` on (for ever: see above)."""
    component = icalendar.Timezone()
    component.add("TZID", zone.key)
    first = min(max(first, date(1, 1, 2)), date(9997, 12, 31))  # one day either side
    known = _zone_rules(zone, first.year)
    if known is None:
        until = date(min(first.year + ZONE_LIST_YEARS, 9998), 1, 1)
        _list_changes(component, zone, first, until)
        return component
    rules, since = known
    _list_changes(component, zone, first, date(since, 1, 1))
    for rule in rules:
        part = _observance(rule.change, rule.onset(since))
        part.add("RRULE", rule.rrule())
        component.add_component(part)
    return component


def _observance(change: _Change, onset: datetime) -> icalendar.Component:
    part = icalendar.TimezoneDaylight() if change.dst else icalendar.TimezoneStandard()
    part.add("DTSTART", onset)
    if change.name:
        part.add("TZNAME", change.name)
    part.add("TZOFFSETFROM", change.before)
    part.add("TZOFFSETTO", change.after)
    return part


def _list_changes(component: icalendar.Component, zone: ZoneInfo, first: date, until: date) -> None:
    """The zone as it stands the day before `first`, then each change up to `until`,
    one observance per kind of change (its first onset, the others as RDATE)."""
    begin = datetime.combine(first - timedelta(days=1), time(), tzinfo=UTC)
    end = datetime.combine(until, time(), tzinfo=UTC)
    local = begin.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    component.add_component(
        _observance(
            _Change(begin, offset, offset, local.tzname() or "", bool(local.dst())), _wall(local)
        )
    )
    kinds: dict[tuple[bool, str, timedelta, timedelta], list[datetime]] = {}
    for year in range(begin.year, until.year + 1):
        for change in _changes(zone, year):
            if begin < change.at < end:
                kind = (change.dst, change.name, change.before, change.after)
                kinds.setdefault(kind, []).append(change.onset)
    for (dst, name, before, after), onsets in kinds.items():
        part = _observance(_Change(begin, before, after, name, dst), onsets[0])
        if onsets[1:]:
            part.add("RDATE", onsets[1:])
        component.add_component(part)


def _zone_named(tzid: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(tzid)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return None


def _earliest(calendar: icalendar.Calendar, tzid: str) -> date:
    """The first day any time in the object that names `tzid` falls on."""
    days: list[date] = []
    for component in calendar.walk():
        if component.name in ("VTIMEZONE", "STANDARD", "DAYLIGHT"):
            continue
        for value in component.values():
            for prop in _values(value):
                if getattr(prop, "params", {}).get("TZID") != tzid:
                    continue
                entries = getattr(prop, "dts", None) or [prop]
                days.extend(
                    e.dt.date() for e in entries if isinstance(getattr(e, "dt", None), datetime)
                )
    return min(days, default=date(1970, 1, 1))


def _covers(component: icalendar.Component, first: date) -> bool:
    """Whether a VTIMEZONE defines every time from `first` on: an observance starts
    by then, and one repeats without end (or the zone has no changes left)."""
    starts = [_start(part) for part in component.subcomponents]
    known = [_wall(start).date() for start in starts if start is not None]
    if not starts or len(known) != len(starts) or min(known) > first:
        return False
    for part in component.subcomponents:
        rule = part.get("RRULE")
        if rule is not None and not isinstance(rule, list) and not {"UNTIL", "COUNT"} & set(rule):
            return True
    zone = _zone_named(str(component.get("TZID", "")))
    rules = None if zone is None else _zone_rules(zone, first.year)
    return rules is not None and not rules[0]


def ensure_timezones(calendar: icalendar.Calendar) -> None:
    """A VTIMEZONE for each TZID the object names that zoneinfo knows, covering
    its times; what another client wrote stays while it covers them."""
    present = {str(c.get("TZID", "")): c for c in calendar.walk("VTIMEZONE")}
    for tzid in sorted(calendar.get_used_tzids()):
        zone = _zone_named(tzid)
        if zone is None:
            continue
        first = _earliest(calendar, tzid)
        old = present.get(tzid)
        if old is not None and _covers(old, first):
            continue
        new = zone_component(zone, first)
        if old is not None:
            calendar.subcomponents[calendar.subcomponents.index(old)] = new
        else:
            timezones = sum(1 for c in calendar.subcomponents if c.name == "VTIMEZONE")
            calendar.subcomponents.insert(timezones, new)


def _wall(value: date | datetime) -> datetime:
    """The value as the clock on the wall reads it (a date: its midnight)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time())


def _values(value: object) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _start(part: icalendar.Component) -> date | datetime | None:
    value = getattr(part.get("DTSTART"), "dt", None)
    return value if isinstance(value, date) else None
