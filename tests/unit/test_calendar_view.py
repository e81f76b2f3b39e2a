"""control/calendar_view: events expanded on the user's clock (a week that crosses
the change to summer time in Europe/Berlin), laid out side by side, and the
webmail's writes: a new event, "this occurrence" (an override) and "all", one
occurrence deleted (EXDATE), stale forms refused by their ETag, and what
another client wrote kept through an edit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from roost.control import calendar_forms as forms
from roost.control import calendar_ical as ical
from roost.control.calendar_view import (
    CalendarInfo,
    Calendars,
    Occurrence,
    day_columns,
    month_weeks,
    stored_object,
    view_days,
)
from roost.control.groupware import Groupware
from roost.core.clock import ManualClock
from roost.core.config import DavSettings
from roost.store.store import Store
from tests.calendar_support import BERLIN, NOW, STANDUP
from tests.contract.test_groupware_store import make_account

USER = "ann@example.org"
NEW_YORK = ZoneInfo("America/New_York")
FORM = {**STANDUP, "count": "4"}
ON_30_MARCH = "20260330T070000Z"
"""The third occurrence's identifier: 09:00 in Berlin, summer time."""
THEIRS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\n"
    "BEGIN:VEVENT\r\nUID:theirs-1\r\nDTSTAMP:20260301T000000Z\r\nSEQUENCE:2\r\n"
    "DTSTART;TZID=Europe/Berlin:20260324T140000\r\nDURATION:PT1H\r\n"
    "SUMMARY:Review\r\nX-MOZ-GENERATION:7\r\n"
    "ORGANIZER:mailto:ann@example.org\r\n"
    "ATTENDEE;PARTSTAT=TENTATIVE;CN=Bob:mailto:bob@example.net\r\n"
    "BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;RELATED=END:PT0S\r\nEND:VALARM\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
async def calendars(sqlite_store: Store, clock: ManualClock) -> Calendars:
    await make_account(sqlite_store, USER)
    clock.advance((NOW - clock.now()).total_seconds())
    return Calendars(sqlite_store, Groupware(sqlite_store, DavSettings()), clock, max_shown=2000)


def form(**changes: str) -> forms.EventForm:
    fields = {**FORM, **changes}
    return forms.parse_event_form(fields, BERLIN, USER, 100)


async def shown(
    calendars: Calendars, first: date, days: int, zone: ZoneInfo = BERLIN
) -> list[Occurrence]:
    _, found = await calendars.occurrences(USER, first, first + timedelta(days=days), zone)
    assert found.failed == 0 and not found.truncated
    return list(found.occurrences)


async def stored_event(store: Store, uid: str) -> icalendar.Calendar:
    found = await stored_object(store, USER, "calendar", uid)
    assert found is not None
    return found.calendar


# --- reading


async def test_a_daily_event_keeps_its_wall_clock_through_the_change(calendars: Calendars) -> None:
    await calendars.create(USER, form(repeat="daily", count="8"), BERLIN, "Ann")
    week = await shown(calendars, date(2026, 3, 23), 7)  # summer time from Sunday 29 March
    assert [o.start.strftime("%a %H:%M") for o in week] == [
        "Mon 09:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00", "Sat 09:00", "Sun 09:00",
    ]  # fmt: skip
    assert week[0].start.utcoffset() == timedelta(hours=1)
    assert week[-1].start.utcoffset() == timedelta(hours=2)
    assert week[-1].start.astimezone(UTC).hour == 7
    (monday,) = await shown(calendars, date(2026, 3, 30), 1)
    assert monday.rid == ON_30_MARCH
    # Seen from New York (already on summer time since 8 March), it moves an hour.
    (seen,) = await shown(calendars, date(2026, 3, 30), 1, NEW_YORK)
    assert seen.start.strftime("%H:%M") == "03:00"
    (before,) = await shown(calendars, date(2026, 3, 27), 1, NEW_YORK)
    assert before.start.strftime("%H:%M") == "04:00"


async def test_a_week_places_events_on_quarter_hours_side_by_side(calendars: Calendars) -> None:
    await calendars.create(USER, form(repeat="none"), BERLIN, "Ann")
    for start, end in (("09:15", "10:00"), ("09:15", "09:45"), ("11:00", "11:10")):
        await calendars.create(
            USER, form(repeat="none", start_time=start, end_time=end), BERLIN, "Ann"
        )
    await calendars.create(
        USER, form(repeat="none", all_day="yes", end_date="2026-03-24"), BERLIN, "Ann"
    )
    first, last = view_days("week", date(2026, 3, 25))
    assert (first, last) == (date(2026, 3, 23), date(2026, 3, 30))
    occurrences = tuple(await shown(calendars, first, 7))
    monday, tuesday, *_ = day_columns(occurrences, first, last, BERLIN)
    assert [o.title for o in monday.all_day] == ["Standup"] and len(tuesday.all_day) == 1
    placed = sorted((p.row, p.rows, p.lane, p.lanes) for p in monday.timed)
    # 09:00-09:30, 09:15-10:00 and 09:15-09:45 overlap: three lanes; 11:00 has the day alone.
    assert placed == [(37, 2, 0, 3), (38, 2, 2, 3), (38, 3, 1, 3), (45, 1, 0, 1)]
    weeks = month_weeks(occurrences, *view_days("month", date(2026, 3, 1)), 3, 2)
    assert weeks[0][0].day == date(2026, 2, 23) and len(weeks) == 6
    (cell,) = [c for week in weeks for c in week if c.day == date(2026, 3, 23)]
    assert len(cell.events) == 2 and cell.more == 3


def test_an_event_over_midnight_is_split_between_days() -> None:
    info = CalendarInfo("calendar", "Calendar", "#1f5fbf", "cal-0", ("VEVENT",))
    night = Occurrence(
        "calendar", "Calendar", "cal-0", "u", "", "Night", "",
        datetime(2026, 3, 26, 22, tzinfo=BERLIN), datetime(2026, 3, 27, 6, tzinfo=BERLIN),
        False, date(2026, 3, 26), date(2026, 3, 27),
    )  # fmt: skip
    assert info.css_class == night.css_class
    thursday, friday = day_columns((night,), date(2026, 3, 26), date(2026, 3, 28), BERLIN)
    (late,) = thursday.timed
    (early,) = friday.timed
    assert (late.row, late.rows, late.ends_after) == (89, 8, True)
    assert (early.row, early.rows, early.starts_before) == (1, 24, True)


# --- writing


async def test_a_new_event_carries_a_small_lasting_vtimezone(calendars: Calendars) -> None:
    saved = await calendars.create(USER, form(attendees="bob@example.net"), BERLIN, "Ann")
    assert saved.previous is None
    text = saved.item.data
    assert len(text) < 1500, "the VTIMEZONE is no longer 3 KB"
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text and "only works" not in text
    assert "ORGANIZER;CN=Ann:mailto:ann@example.org" in text
    assert "PARTSTAT=NEEDS-ACTION" in text and "SEQUENCE:0" in text


async def test_this_occurrence_then_all_of_them(calendars: Calendars, sqlite_store: Store) -> None:
    saved = await calendars.create(USER, form(), BERLIN, "Ann")
    uid, etag = saved.item.uid, saved.item.etag
    moved = await calendars.update(
        USER, "calendar", uid, etag,
        form(repeat="none", start_date="2026-03-31", end_date="2026-03-31",
             start_time="11:00", end_time="12:00"),
        BERLIN, "Ann", rid=ON_30_MARCH,
    )  # fmt: skip
    assert moved.previous == saved.item.data
    calendar = await stored_event(sqlite_store, uid)
    master = ical.master_of(calendar, "VEVENT")
    override = ical.override_of(calendar, "VEVENT", ON_30_MARCH)
    assert master is not None and override is not None
    assert int(master["SEQUENCE"]) == 0 and master["RRULE"]["COUNT"] == [4]
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 30, 9, tzinfo=BERLIN)
    assert override["DTSTART"].dt == datetime(2026, 3, 31, 11, tzinfo=BERLIN)
    assert int(override["SEQUENCE"]) == 1 and "RRULE" not in override
    starts = [o.start for o in await shown(calendars, date(2026, 3, 23), 28)]
    assert starts == [
        datetime(2026, 3, 23, 9, tzinfo=BERLIN),
        datetime(2026, 3, 31, 11, tzinfo=BERLIN),
        datetime(2026, 4, 6, 9, tzinfo=BERLIN),
        datetime(2026, 4, 13, 9, tzinfo=BERLIN),
    ]

    # All of them move to 10:00 and are renamed: the changed one moves its RECURRENCE-ID along.
    everything = await calendars.update(
        USER, "calendar", uid, moved.item.etag,
        form(title="Daily sync", start_time="10:00", end_time="10:30"), BERLIN, "Ann",
    )  # fmt: skip
    calendar = await stored_event(sqlite_store, uid)
    master = ical.master_of(calendar, "VEVENT")
    assert master is not None and int(master["SEQUENCE"]) == 1
    override = ical.override_of(calendar, "VEVENT", "20260330T080000Z")
    assert override is not None and override["DTSTART"].dt.hour == 11
    titles = [(o.title, o.start.hour) for o in await shown(calendars, date(2026, 3, 23), 28)]
    assert titles == [("Daily sync", 10), ("Standup", 11), ("Daily sync", 10), ("Daily sync", 10)]
    assert everything.previous == moved.item.data


async def test_deleting_one_occurrence_adds_an_exdate(
    calendars: Calendars, sqlite_store: Store
) -> None:
    saved = await calendars.create(USER, form(), BERLIN, "Ann")
    uid = saved.item.uid
    one = await calendars.delete(USER, "calendar", uid, saved.item.etag, rid=ON_30_MARCH)
    assert one.rest is not None and one.previous == saved.item.data
    assert "EXDATE;TZID=Europe/Berlin:20260330T090000" in one.rest.data
    days = [o.first_day.day for o in await shown(calendars, date(2026, 3, 23), 28)]
    assert days == [23, 6, 13]
    master = ical.master_of(await stored_event(sqlite_store, uid), "VEVENT")
    assert master is not None and int(master["SEQUENCE"]) == 1
    # The whole event: nothing is left.
    everything = await calendars.delete(USER, "calendar", uid, one.rest.etag)
    assert everything.rest is None and everything.previous == one.rest.data
    assert await stored_object(sqlite_store, USER, "calendar", uid) is None


async def test_a_stale_form_is_refused_and_nothing_is_lost(
    calendars: Calendars, sqlite_store: Store
) -> None:
    saved = await calendars.create(USER, form(), BERLIN, "Ann")
    uid = saved.item.uid
    await calendars.update(USER, "calendar", uid, saved.item.etag, form(title="New"), BERLIN, "")
    with pytest.raises(forms.CalendarConflict, match="changed elsewhere"):
        await calendars.update(
            USER, "calendar", uid, saved.item.etag, form(title="Old"), BERLIN, ""
        )
    with pytest.raises(forms.CalendarConflict):
        await calendars.delete(USER, "calendar", uid, saved.item.etag)
    master = ical.master_of(await stored_event(sqlite_store, uid), "VEVENT")
    assert master is not None and str(master["SUMMARY"]) == "New"


async def test_an_edit_keeps_what_another_client_wrote(calendars: Calendars) -> None:
    collection = await calendars.collection(USER, "calendar", "VEVENT")
    written = await calendars.groupware.put(
        collection, "theirs.ics", THEIRS, if_match=None, if_none_match="*"
    )
    values = {**FORM, "repeat": "none", "count": "", "start_date": "2026-03-24",
              "end_date": "2026-03-24", "start_time": "14:00", "end_time": "15:00",
              "location": "", "title": "Design review", "attendees": "bob@example.net"}  # fmt: skip
    saved = await calendars.update(
        USER, "calendar", "theirs-1", written.item.etag,
        forms.parse_event_form(values, BERLIN, USER, 100), BERLIN, "Ann",
    )  # fmt: skip
    text = saved.item.data
    assert "X-MOZ-GENERATION:7" in text and "ACTION:AUDIO" in text
    assert "TRIGGER;RELATED=END:P0D" in text  # PT0S as icalendar writes it: the same length
    assert "DURATION:PT1H" in text and "DTEND" not in text  # its length, as it was written
    assert "SEQUENCE:2" in text  # a new title is no new version for attendees
    assert "PARTSTAT=TENTATIVE" in text and "SUMMARY:Design review" in text
    later = {**values, "start_time": "15:00", "end_time": "16:00"}
    moved = await calendars.update(
        USER, "calendar", "theirs-1", saved.item.etag,
        forms.parse_event_form(later, BERLIN, USER, 100), BERLIN, "Ann",
    )  # fmt: skip
    assert "SEQUENCE:3" in moved.item.data and "X-MOZ-GENERATION:7" in moved.item.data
