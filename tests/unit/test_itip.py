"""control/itip: REQUEST, REPLY and CANCEL written as RFC 5546 and RFC 6047 say,
read back with icalendar and the stdlib email parser; versions ordered by
SEQUENCE then DTSTAMP; a REPLY from someone the event does not name refused;
any text read gives a Scheduling or an ItipError, never a crash."""

from __future__ import annotations

import contextlib
import email
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.control.itip_messages import (
    ItipError,
    NotScheduling,
    Person,
    answered_copy,
    build_message,
    cancel_calendar,
    cancelled_copy,
    describe_when,
    invitees,
    older,
    parse_scheduling,
    received,
    recorded_reply,
    reply_calendar,
    request_calendar,
    summary_text,
)
from roost.control.mail_view import Loaded
from roost.core.config import DavSettings
from roost.proto.mime.parser import parse_bytes
from roost.store.types import Flag, MessageInfo

SETTINGS = DavSettings()
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:plan-1@example.test\r\nDTSTAMP:20260101T000000Z\r\n"
    "SEQUENCE:2\r\n"
    "DTSTART;TZID=Europe/Berlin:20260301T100000\r\n"
    "DTEND;TZID=Europe/Berlin:20260301T110000\r\n"
    "SUMMARY:Planning\r\nLOCATION:Room 4\r\n"
    "ORGANIZER;CN=Ann:mailto:ann@example.test\r\n"
    "ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.test\r\n"
    "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=1.1:MAILTO:Bob@Example.test\r\n"
    "ATTENDEE;CN=Carol:mailto:carol@example.org\r\n"
    "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:dan@example.org\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
BOB = Person("Bob@Example.test", "Bob")


def event_of(text: str) -> Any:
    calendar = icalendar.Calendar.from_ical(text)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def attendees(event: Any) -> dict[str, Any]:
    values = event.get("ATTENDEE")
    values = values if isinstance(values, list) else [values]
    return {str(v).lower().removeprefix("mailto:"): v.params for v in values}


def test_request_asks_for_answers_without_alarms_or_scheduling_parameters() -> None:
    calendar, event = event_of(request_calendar(EVENT, NOW))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event["DTSTAMP"].dt == NOW
    assert int(event["SEQUENCE"]) == 2, "sending changes no version"
    assert not event.walk("VALARM")
    people = attendees(event)
    assert people["bob@example.test"]["RSVP"] == "TRUE"
    assert "SCHEDULE-STATUS" not in people["bob@example.test"]
    assert "RSVP" not in people["ann@example.test"], "Ann has answered already"
    assert "SCHEDULE-AGENT" not in people["dan@example.org"]
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_invitees_are_the_attendees_but_the_organiser_and_client_scheduled_ones() -> None:
    found = invitees(EVENT, ["ANN@example.test"])
    assert [p.address for p in found] == ["Bob@Example.test", "carol@example.org"]


def test_the_imip_message_is_alternative_text_and_calendar_with_its_method() -> None:
    text = request_calendar(EVENT, NOW)
    scheduling = parse_scheduling(text, SETTINGS)
    data = build_message(
        Person("ann@example.test", "Ann"),
        [BOB, Person("carol@example.org", "Carol Ünal")],
        "Invitation: Planning",
        summary_text(scheduling, "Ann invites you:"),
        text,
        "REQUEST",
        NOW,
    )
    assert data.isascii(), "no 8-bit data: no 8BITMIME needed on the way"
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg.get_content_type() == "multipart/alternative"
    plain, calendar = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "Planning" in plain.get_content() and "Room 4" in plain.get_content()
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    parsed, event = event_of(calendar.get_content())
    assert str(parsed["METHOD"]) == "REQUEST" and str(event["UID"]) == "plan-1@example.test"


def test_reply_names_one_attendee_with_the_answer_and_the_request_version() -> None:
    request = parse_scheduling(request_calendar(EVENT, NOW), SETTINGS)
    later = datetime(2026, 2, 2, 8, tzinfo=UTC)
    calendar, event = event_of(reply_calendar(request, BOB, "ACCEPTED", later))
    assert str(calendar["METHOD"]) == "REPLY"
    assert str(event["UID"]) == "plan-1@example.test"
    assert int(event["SEQUENCE"]) == 2
    assert event["DTSTAMP"].dt == later
    assert str(event["ORGANIZER"]) == "mailto:ann@example.test"
    assert attendees(event) == {
        "bob@example.test": icalendar.Parameters(CN="Bob", PARTSTAT="ACCEPTED")
    }
    with pytest.raises(ItipError):
        reply_calendar(request, BOB, "NEEDS-ACTION", later)


def test_cancel_raises_the_sequence_and_can_name_only_the_uninvited() -> None:
    calendar, event = event_of(cancel_calendar(EVENT, NOW))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert int(event["SEQUENCE"]) == 3
    assert str(event["STATUS"]) == "CANCELLED"
    assert len(attendees(event)) == 4
    _, one = event_of(cancel_calendar(EVENT, NOW, ["carol@EXAMPLE.org"]))
    assert list(attendees(one)) == ["carol@example.org"]


def test_cancel_of_one_occurrence_names_it_by_its_recurrence_id() -> None:
    weekly = EVENT.replace("SUMMARY:Planning", "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Planning")
    calendar, event = event_of(cancel_calendar(weekly, NOW, rid="20260308T090000Z"))
    assert str(calendar["METHOD"]) == "CANCEL" and int(event["SEQUENCE"]) == 3
    assert event["RECURRENCE-ID"].dt == datetime(2026, 3, 8, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert event["DTSTART"].dt == event["RECURRENCE-ID"].dt and "RRULE" not in event
    stored = parse_scheduling(cancel_calendar(weekly, NOW, rid="20260308T090000Z"), SETTINGS)
    rest = cancelled_copy(weekly, stored)
    assert rest is not None and "EXDATE;TZID=Europe/Berlin:20260308T100000" in rest
    with pytest.raises(ItipError, match="does not repeat"):
        cancel_calendar(EVENT, NOW, rid="20260308T090000Z")


def test_versions_order_by_sequence_then_dtstamp() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert older(1, late, 2, early)
    assert not older(2, early, 1, late)
    assert older(2, early, 2, late)
    assert not older(2, late, 2, late)
    assert not older(2, None, 2, late), "without a DTSTAMP, an equal SEQUENCE is not older"


def test_a_reply_is_recorded_for_an_attendee_and_refused_for_anyone_else() -> None:
    stored = EVENT
    request = parse_scheduling(request_calendar(EVENT, NOW), SETTINGS)
    answer = parse_scheduling(reply_calendar(request, BOB, "TENTATIVE", NOW), SETTINGS)
    _, event = event_of(recorded_reply(stored, answer))
    assert attendees(event)["bob@example.test"]["PARTSTAT"] == "TENTATIVE"
    stranger = parse_scheduling(
        reply_calendar(answer, Person("eve@example.net"), "ACCEPTED", NOW).replace(
            "bob@example.test", "eve@example.net"
        ),
        SETTINGS,
    )
    assert stranger.attendees[0].address == "eve@example.net"
    with pytest.raises(ItipError, match="not among the attendees") as refused:
        recorded_reply(stored, stranger)
    assert refused.value.status == 403


def test_the_attendee_copy_has_their_answer_and_no_method() -> None:
    request = parse_scheduling(request_calendar(EVENT, NOW), SETTINGS)
    calendar, event = event_of(answered_copy(request, BOB, "ACCEPTED", None))
    assert "METHOD" not in calendar
    people = attendees(event)
    assert people["bob@example.test"]["PARTSTAT"] == "ACCEPTED"
    assert "RSVP" not in people["bob@example.test"]
    assert people["carol@example.org"]["RSVP"] == "TRUE"


WEEKLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260302T090000Z\r\nDTEND:20260302T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n"
    "SUMMARY:Standup\r\nORGANIZER:mailto:ann@example.test\r\n"
    "ATTENDEE:mailto:bob@example.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_an_occurrence_request_updates_that_occurrence_and_its_cancel_excludes_it() -> None:
    bob = Person("bob@example.test")
    series = parse_scheduling(WEEKLY, SETTINGS)
    stored = answered_copy(series, bob, "ACCEPTED", None)
    moved = WEEKLY.replace(
        "DTSTART:20260302T090000Z\r\nDTEND:20260302T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5",
        "RECURRENCE-ID:20260309T090000Z\r\nDTSTART:20260309T100000Z\r\nDTEND:20260309T103000Z",
    )
    occurrence = parse_scheduling(moved, SETTINGS)
    assert occurrence.recurrence_id == datetime(2026, 3, 9, 9, tzinfo=UTC)
    merged = icalendar.Calendar.from_ical(answered_copy(occurrence, bob, "DECLINED", stored))
    events: list[Any] = merged.walk("VEVENT")
    assert len(events) == 2 and "RRULE" in events[0]
    assert events[1]["DTSTART"].dt == datetime(2026, 3, 9, 10, tzinfo=UTC)
    cancel = parse_scheduling(
        moved.replace("METHOD:REQUEST", "METHOD:CANCEL").replace("UID:", "SEQUENCE:1\r\nUID:"),
        SETTINGS,
    )
    left = icalendar.Calendar.from_ical(cancelled_copy(merged.to_ical().decode(), cancel) or "")
    master: Any
    (master,) = left.walk("VEVENT")
    assert master["EXDATE"].dts[0].dt == datetime(2026, 3, 9, 9, tzinfo=UTC)
    whole = parse_scheduling(WEEKLY.replace("METHOD:REQUEST", "METHOD:CANCEL"), SETTINGS)
    assert cancelled_copy(stored, whole) is None, "the whole event goes"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (EVENT.replace("PRODID:-//test//EN", "PRODID:x\r\nMETHOD:PUBLISH"), "this is a PUBLISH"),
        (WEEKLY.replace("ORGANIZER:mailto:ann@example.test\r\n", ""), "no ORGANIZER"),
        (WEEKLY.replace("METHOD:REQUEST", "METHOD:REPLY").replace(
            "ATTENDEE:", "ATTENDEE:mailto:c@example.test\r\nATTENDEE:"), "exactly one ATTENDEE"),
        (WEEKLY.replace("METHOD:REQUEST", "METHOD:REPLY"), "answers nothing"),
        (WEEKLY.replace("DTSTART:20260302T090000Z\r\n", ""), "no DTSTART"),
        (WEEKLY.replace("BEGIN:VEVENT", "BEGIN:VTODO").replace("END:VEVENT", "END:VTODO"),
         "not VTODO"),
        ("BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n", "not valid"),
    ],
)  # fmt: skip
def test_bad_calendars_are_refused_with_their_reason(text: str, words: str) -> None:
    with pytest.raises(ItipError, match=words):
        parse_scheduling(text, SETTINGS)


def test_method_parameter_and_method_property_must_agree() -> None:
    with pytest.raises(ItipError, match="RFC 6047"):
        parse_scheduling(WEEKLY, SETTINGS, "CANCEL")
    with pytest.raises(NotScheduling):
        parse_scheduling(WEEKLY.replace("METHOD:REQUEST\r\n", ""), SETTINGS)


def test_times_are_described_in_the_readers_zone() -> None:
    berlin = datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    end = datetime(2026, 3, 1, 11, tzinfo=ZoneInfo("Europe/Berlin"))
    assert describe_when(berlin, end, ZoneInfo("America/New_York")) == (
        "Sun 01 Mar 2026, 04:00–05:00 (EST)"
    )
    assert describe_when(berlin, end, None) == "Sun 01 Mar 2026, 10:00–11:00 (CET)"
    assert describe_when(date(2026, 3, 1), date(2026, 3, 2), UTC) == "Sun 01 Mar 2026 (all day)"
    assert describe_when(date(2026, 3, 1), date(2026, 3, 4), UTC) == (
        "Sun 01 Mar 2026 – Tue 03 Mar 2026 (all day)"
    )
    floating = datetime(2026, 3, 1, 10)
    assert describe_when(floating, None, UTC) == "Sun 01 Mar 2026, 10:00 (local time)"


def loaded(data: bytes) -> Loaded:
    info = MessageInfo(1, 1, 1, 1, Flag(0), frozenset(), "h", b"", len(data), NOW)
    return Loaded(info, data, parse_bytes(data))


def mail(calendar: bytes, content_type: str) -> bytes:
    return (
        b"From: ann@example.test\r\nTo: bob@example.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + calendar + b"\r\n--b--\r\n"
    )


def test_a_message_gives_its_calendar_or_the_reason_it_cannot() -> None:
    good = received(loaded(mail(WEEKLY.encode(), "text/calendar; method=REQUEST")), SETTINGS)
    assert good is not None and good.scheduling is not None
    assert good.scheduling.summary == "Standup" and good.part == 2
    bad = received(loaded(mail(b"BEGIN:VCALENDAR\r\ngarbage", "text/calendar")), SETTINGS)
    assert bad is not None and bad.scheduling is None and "not valid" in bad.problem
    plain = received(loaded(mail(b"hi", "text/x-other")), SETTINGS)
    assert plain is None
    event_file = WEEKLY.replace("METHOD:REQUEST\r\n", "").encode()
    assert received(loaded(mail(event_file, "application/ics")), SETTINGS) is None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT",
                "METHOD:REQUEST", "METHOD:REPLY", "METHOD:CANCEL", "UID:u", "SEQUENCE:x",
                "SEQUENCE:-4", "DTSTART:20260101T000000Z", "DTSTART:2026", "DTSTAMP:bad",
                "ORGANIZER:mailto:a@b", "ORGANIZER:", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:c@d",
                "ATTENDEE:", "RECURRENCE-ID:20260101T000000Z", "RRULE:FREQ=DAILY;COUNT=2",
                "DURATION:PT1H", "DURATION:nonsense", "VERSION:2.0", " folded",
            ]
        ),
        max_size=14,
    ),
    st.text(max_size=20),
)  # fmt: skip
def test_any_text_reads_as_a_scheduling_or_an_itip_error(lines: list[str], noise: str) -> None:
    text = "\r\n".join([*lines, noise]) + "\r\n"
    with contextlib.suppress(ItipError):
        parse_scheduling(text, SETTINGS)
