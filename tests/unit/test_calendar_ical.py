"""control/calendar_ical: the event and task forms read with clear refusals, an
edit that keeps what other clients wrote (alarms, X- properties, parameters,
attendees' answers), the SEQUENCE rules, and VTIMEZONEs built from zoneinfo
that hold for ever and stay small."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from roost.control import calendar_forms as forms
from roost.control import calendar_ical as ical
from roost.control import calendar_zones
from roost.control.calendar_forms import CalendarRefused, parse_event_form, parse_task_form
from tests.calendar_support import BERLIN, STANDUP

OWN = "ann@example.test"
OTHER_CLIENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\n"
    "X-WR-CALNAME:Work\r\n"
    "BEGIN:VEVENT\r\nUID:other-1\r\nDTSTAMP:20260301T000000Z\r\nSEQUENCE:3\r\n"
    "DTSTART;TZID=Europe/Berlin:20260323T090000\r\n"
    "DTEND;TZID=Europe/Berlin:20260323T093000\r\n"
    "SUMMARY;LANGUAGE=en:Standup\r\nLOCATION:Room 1\r\n"
    "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\n"
    "CATEGORIES:Work,Daily\r\n"
    "ORGANIZER;CN=Ann:mailto:ann@example.test\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob;X-NUM-GUESTS=0:mailto:bob@example.net\r\n"
    "ATTENDEE;PARTSTAT=DECLINED;CN=Carol:mailto:carol@example.net\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Soon\r\n"
    "X-WR-ALARMUID:alarm-1\r\nEND:VALARM\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def form(**changes: str) -> forms.EventForm:
    return parse_event_form({**STANDUP, **changes}, BERLIN, OWN, 100)


def refusal(**changes: str) -> str:
    with pytest.raises(CalendarRefused) as refused:
        form(**changes)
    return str(refused.value)


def other_event() -> tuple[icalendar.Calendar, icalendar.Component]:
    calendar = icalendar.Calendar.from_ical(OTHER_CLIENT)
    event = ical.master_of(calendar, "VEVENT")
    assert event is not None
    return calendar, event


# --- the forms


def test_an_event_form_gives_times_on_the_users_clock() -> None:
    read = form()
    assert read.start == datetime(2026, 3, 23, 9, tzinfo=BERLIN)
    assert read.end == datetime(2026, 3, 23, 9, 30, tzinfo=BERLIN)
    assert read.repeat == forms.Repeat("weekly")
    whole_days = form(all_day="yes", end_date="2026-03-24")
    assert (whole_days.start, whole_days.end) == (date(2026, 3, 23), date(2026, 3, 25))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"end_time": "08:00"}, "ends before it starts"),
        ({"all_day": "yes", "end_date": "2026-03-22"}, "end date is before the start date"),
        ({"title": "  "}, "Give the title"),
        ({"title": "x" * 1001}, "1001 characters long; at most 1000"),
        ({"title": "two\nlines"}, "one line"),
        ({"location": "y" * 1001}, "location is 1001 characters"),
        ({"description": "a\x00b"}, "control characters"),
        ({"start_date": "2026-02-30"}, "is not a date"),
        ({"start_date": "99999-01-01"}, "is not a date"),
        ({"start_date": "0001-01-01"}, "out of range: choose a day from the year 1900 to 2199"),
        ({"end_date": "9999-12-31"}, "out of range"),
        ({"until": "2200-01-01"}, "out of range"),
        ({"start_date": ""}, "Give the start date"),
        ({"start_time": "25:00"}, "is not a time of day"),
        ({"start_time": ""}, "Give the start time"),
        ({"start_date": "2026-03-29", "start_time": "02:30"}, "the clocks go forward"),
        ({"repeat": "hourly"}, "not a choice for Repeat"),
        ({"count": "0"}, "whole number from 1 to 10000"),
        ({"count": "10001"}, "whole number from 1 to 10000"),
        ({"count": "2", "until": "2026-04-30"}, "not both"),
        ({"until": "2026-03-01"}, "last date is before the first day"),
        ({"attendees": "not an address"}, "attendee"),
    ],
)
def test_bad_event_forms_are_refused_in_words(changes: dict[str, str], words: str) -> None:
    assert words in refusal(**changes)


def test_attendees_are_read_once_each_without_the_user() -> None:
    read = form(attendees="bob@example.net, mailto:Bob@example.net\n<carol@example.net>; " + OWN)
    assert read.attendees == ("bob@example.net", "carol@example.net")
    with pytest.raises(CalendarRefused, match="at most 1 attendees"):
        parse_event_form({**STANDUP, "attendees": "a@example.net b@example.net"}, BERLIN, OWN, 1)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"title": ""}, "Give the title"),
        ({"title": "t" * 1001}, "at most 1000"),
        ({"due_time": "10:00"}, "due date with the due time"),
        ({"due_date": "2026-13-01"}, "is not a date"),
        ({"priority": "urgent"}, "is not a priority"),
        ({"repeat": "weekly"}, "needs a due date"),
    ],
)
def test_bad_task_forms_are_refused_in_words(changes: dict[str, str], words: str) -> None:
    fields = {"title": "Pay rent", "due_date": "", "due_time": "", "priority": "normal"}
    with pytest.raises(CalendarRefused, match=words):
        parse_task_form({**fields, **changes}, BERLIN)


# --- an edit keeps what it does not show


def test_an_edit_keeps_alarms_x_properties_parameters_and_answers() -> None:
    calendar, event = other_event()
    before = ical.snapshot(event)
    ical.apply_event(
        event,
        form(
            title="Standup (new room)", repeat="none", attendees="bob@example.net dan@example.net"
        ),
        BERLIN,
        organizer=OWN,
        organizer_name="Ann",
        with_rule=True,
    )
    ical.bump_sequence(event, before)
    text = ical.serialise(calendar)
    assert "X-WR-CALNAME:Work" in text
    assert "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC" in text
    assert "CATEGORIES:Work,Daily" in text
    assert "BEGIN:VALARM" in text and "TRIGGER:-PT15M" in text and "X-WR-ALARMUID:alarm-1" in text
    # The times did not change: they keep their form, and SEQUENCE stays.
    assert "DTSTART;TZID=Europe/Berlin:20260323T090000" in text
    assert str(event["SEQUENCE"]) == "3"
    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert attendees["mailto:bob@example.net"]["PARTSTAT"] == "ACCEPTED"
    assert attendees["mailto:bob@example.net"]["X-NUM-GUESTS"] == "0"
    assert attendees["mailto:dan@example.net"]["PARTSTAT"] == "NEEDS-ACTION"
    assert attendees["mailto:dan@example.net"]["RSVP"] == "TRUE"
    assert "mailto:carol@example.net" not in attendees  # taken off the list
    assert str(event["ORGANIZER"]) == f"mailto:{OWN}"


def test_an_event_organised_by_someone_else_keeps_its_list() -> None:
    _, event = other_event()
    event.pop("ORGANIZER")
    event.add("ORGANIZER", "mailto:boss@example.net")
    ical.set_attendees(event, ("eve@example.net",), OWN, "Ann")
    assert str(event["ORGANIZER"]) == "mailto:boss@example.net"
    assert len(event["ATTENDEE"]) == 2


@pytest.mark.parametrize(
    ("changes", "bumped"),
    [
        ({}, False),
        ({"title": "Daily standup", "description": "agenda"}, False),
        ({"start_time": "10:00", "end_time": "10:30"}, True),
        ({"end_time": "10:00"}, True),
        ({"location": "Room 2"}, True),
        ({"repeat": "daily"}, True),
    ],
)
def test_sequence_goes_up_only_for_significant_changes(
    changes: dict[str, str], bumped: bool
) -> None:
    _, event = other_event()
    event.add("RRULE", {"FREQ": "WEEKLY"})
    before = ical.snapshot(event)
    ical.apply_event(
        event, form(**changes), BERLIN, organizer=OWN, organizer_name="", with_rule=True
    )
    ical.bump_sequence(event, before)
    assert int(event["SEQUENCE"]) == (4 if bumped else 3)


def test_a_rule_the_form_cannot_show_is_kept() -> None:
    _, event = other_event()
    event.add("RRULE", {"FREQ": "WEEKLY", "BYDAY": ["MO", "WE"], "INTERVAL": 2})
    assert ical.simple_repeat(event).frequency == forms.KEEP_RULE
    ical.apply_event(
        event,
        form(repeat=forms.KEEP_RULE, title="Still"),
        BERLIN,
        organizer=OWN,
        organizer_name="",
        with_rule=True,
    )
    assert ical.rule_text(event) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE"


def test_override_and_exdate_name_the_occurrence_in_dtstarts_form() -> None:
    _, event = other_event()
    event.add("RRULE", {"FREQ": "WEEKLY"})
    rid = ical.parse_rid("20260330T070000Z")  # 09:00 in Berlin, summer time
    override = ical.make_override(event, rid)
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 30, 9, tzinfo=BERLIN)
    assert override["DTEND"].dt == datetime(2026, 3, 30, 9, 30, tzinfo=BERLIN)
    assert "RRULE" not in override and override.walk("VALARM")
    assert ical.occurrence_rid(override) == "20260330T070000Z"
    ical.add_exdate(event, ical.parse_rid("20260406T070000Z"))
    assert event["EXDATE"].to_ical() == b"20260406T090000"
    assert event["EXDATE"].params["TZID"] == "Europe/Berlin"
    with pytest.raises(CalendarRefused, match="does not name an occurrence"):
        ical.parse_rid("20261340T000000Z")


def test_a_moved_series_takes_its_exceptions_along() -> None:
    calendar, event = other_event()
    event.add("RRULE", {"FREQ": "WEEKLY"})
    calendar.add_component(ical.make_override(event, ical.parse_rid("20260330T070000Z")))
    ical.add_exdate(event, ical.parse_rid("20260406T070000Z"))
    old_start = ical.when(event, "DTSTART")
    ical.apply_event(
        event,
        form(start_date="2026-03-24", end_date="2026-03-24"),
        BERLIN,
        organizer=OWN,
        organizer_name="",
        with_rule=True,
    )
    ical.shift_exceptions(calendar, event, old_start, ical.when(event, "DTSTART"))
    (override,) = [c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" in c]
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 31, 9, tzinfo=BERLIN)
    assert event["EXDATE"].dts[0].dt == datetime(2026, 4, 7, 9, tzinfo=BERLIN)


def test_tasks_are_done_and_undone() -> None:
    todo = icalendar.Todo()
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    ical.set_done(todo, True, now)
    assert ical.is_done(todo) and str(todo["STATUS"]) == "COMPLETED"
    assert todo["COMPLETED"].dt == now and int(todo["PERCENT-COMPLETE"]) == 100
    ical.set_done(todo, False, now)
    assert not ical.is_done(todo) and "COMPLETED" not in todo
    assert "PERCENT-COMPLETE" not in todo


@pytest.mark.parametrize(("value", "words"), [(1, "high"), (4, "high"), (0, "normal"), (9, "low")])
def test_priority_reads_as_rfc_5545_says(value: int, words: str) -> None:
    todo = icalendar.Todo()
    todo.add("PRIORITY", value)
    assert ical.priority_of(todo) == words
    ical.set_priority(todo, words)
    assert int(todo["PRIORITY"]) == value  # the same reading: left as it was


# --- time zones


def _offsets_match(component: icalendar.Timezone, zone: ZoneInfo, start: date, years: int) -> None:
    """The VTIMEZONE read by another reader (dateutil, under a TZID zoneinfo does not
    know) gives zoneinfo's offset at noon UTC on every fifth day of those years."""
    component = icalendar.Timezone.from_ical(component.to_ical())
    component.pop("TZID")
    component.add("TZID", "Test copy of " + zone.key)
    copy = component.to_tz()
    at = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    wrong = []
    while at.year < start.year + years:
        if at.astimezone(copy).utcoffset() != at.astimezone(zone).utcoffset():
            wrong.append(at)
        at += timedelta(days=5)
    assert wrong == []


@pytest.mark.parametrize(
    "key",
    ["Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
     "America/Nuuk", "Asia/Jerusalem", "Asia/Tokyo", "Africa/Casablanca"],
)  # fmt: skip
def test_a_vtimezone_holds_for_ever_and_stays_small(key: str) -> None:
    zone = ZoneInfo(key)
    component = calendar_zones.zone_component(zone, date(2026, 3, 23))
    _offsets_match(component, zone, date(2026, 3, 22), 80)  # well past 2038
    if key != "Africa/Casablanca":  # its changes follow the moon: listed to 2087
        assert len(component.to_ical()) < 700
    assert b"COMMENT" not in component.to_ical()


def test_a_vtimezone_starts_with_the_objects_earliest_time() -> None:
    component = calendar_zones.zone_component(BERLIN, date(1985, 3, 1))
    _offsets_match(component, BERLIN, date(1985, 3, 1), 60)
    text = component.to_ical().decode()
    assert "DTSTART:19850228T010000" in text and "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text


def test_serialise_writes_one_vtimezone_per_zone_and_none_for_utc() -> None:
    calendar = ical.new_calendar()
    event = icalendar.Event()
    event.add("UID", "u")
    event.add("DTSTART", datetime(2040, 7, 1, 9, tzinfo=BERLIN))
    event.add("DTEND", datetime(2040, 7, 1, 10, tzinfo=ZoneInfo("America/New_York")))
    event.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
    calendar.add_component(event)
    text = ical.serialise(calendar)
    assert text.count("BEGIN:VTIMEZONE") == 2
    assert "TZID:Europe/Berlin" in text and "TZID:America/New_York" in text
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")
    assert "TZID:UTC" not in text and "DTSTAMP:20260101T000000Z" in text
    # Read back, 1 July 2040 is summer time in Berlin.
    (reread,) = [
        c
        for c in icalendar.Calendar.from_ical(text).walk("VTIMEZONE")
        if c["TZID"] == "Europe/Berlin"
    ]
    reread.pop("TZID")
    reread.add("TZID", "Copy")
    assert datetime(2040, 7, 1, 9).replace(tzinfo=reread.to_tz()).utcoffset() == timedelta(hours=2)


def test_a_vtimezone_that_covers_stays_and_one_that_does_not_is_replaced() -> None:
    calendar, _ = other_event()
    apple = icalendar.Timezone.from_ical(
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
        "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    )
    calendar.subcomponents.insert(0, apple)
    assert "X-LIC-LOCATION:Europe/Berlin" in ical.serialise(calendar)

    # icalendar's own kind, listed 1970 to 2038, is replaced by one that holds for ever.
    calendar, _ = other_event()
    calendar.add_missing_timezones()
    assert "only works from 1970-01-01 to 2038-01-01" in calendar.to_ical().decode()
    text = ical.serialise(calendar)
    assert text.count("BEGIN:VTIMEZONE") == 1 and "only works" not in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text

    # Ours, made for 2026, no longer covers an event moved back to 2019: made anew.
    calendar = icalendar.Calendar.from_ical(text)
    event = ical.master_of(calendar, "VEVENT")
    assert event is not None and "DTSTART:20260322T010000" in text
    event.pop("DTSTART")
    event.add("DTSTART", datetime(2019, 5, 6, 9, tzinfo=BERLIN))
    text = ical.serialise(calendar)
    assert text.count("BEGIN:VTIMEZONE") == 1 and "DTSTART:20190505T020000" in text


def test_a_tzid_zoneinfo_does_not_know_keeps_its_clients_vtimezone() -> None:
    # A name of this test's own: icalendar keeps the first VTIMEZONE it reads for
    # a TZID zoneinfo does not know, for the whole process (other tests read
    # Outlook's "W. Europe Standard Time").
    text = OTHER_CLIENT.replace("TZID=Europe/Berlin", 'TZID="Roost Test Time"').replace(
        "BEGIN:VEVENT",
        "BEGIN:VTIMEZONE\r\nTZID:Roost Test Time\r\nBEGIN:STANDARD\r\n"
        "DTSTART:16010101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT",
    )
    calendar = icalendar.Calendar.from_ical(text)
    written = ical.serialise(calendar)
    assert written.count("BEGIN:VTIMEZONE") == 1 and "DTSTART:16010101T000000" in written


@pytest.mark.parametrize("day", [date(1, 1, 1), date(9999, 12, 31)])
@pytest.mark.parametrize("key", ["Europe/Berlin", "Africa/Cairo"])
def test_a_vtimezone_for_a_time_at_the_ends_of_the_calendar(day: date, key: str) -> None:
    calendar = ical.new_calendar()
    event = icalendar.Event()
    event.add("UID", "u")
    event.add("DTSTART", datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(key)))
    calendar.add_component(event)
    assert ical.serialise(calendar).count("BEGIN:VTIMEZONE") == 1
