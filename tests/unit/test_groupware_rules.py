"""control/groupware: the iCalendar and vCard rules a PUT must pass, and the
bounded expansion of recurrence rules. Each refusal is a GroupwareError with
the DAV precondition and words; any text gives a value or such a refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.groupware import (
    GroupwareError,
    expanded,
    overlaps,
    parse_calendar,
    parse_vcard,
)
from roost.core.config import DavSettings
from roost.store.groupware import Item, NewItem

SETTINGS = DavSettings()
EVENTS = ("VEVENT", "VTODO")
HEAD = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"
)
TAIL = "SUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
CALDAV_INVALID = "{urn:ietf:params:xml:ns:caldav}valid-calendar-data"


def event(*lines: str) -> str:
    return HEAD + "".join(line + "\r\n" for line in lines) + TAIL


def stored(parsed: NewItem) -> Item:
    return Item(
        id=1, collection_id=1, name="e1.ics", uid=parsed.uid, component=parsed.component,
        etag="x", data=parsed.data, title=parsed.title, colour="", starts_at=parsed.starts_at,
        ends_at=parsed.ends_at, recurring=parsed.recurring, modseq=1, updated_at=None,
    )  # fmt: skip


def refused(text: str, settings: DavSettings = SETTINGS) -> GroupwareError:
    with pytest.raises(GroupwareError) as caught:
        parse_calendar(text, settings, EVENTS)
    assert caught.value.message
    return caught.value


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def test_a_plain_event_is_indexed() -> None:
    parsed = parse_calendar(event(), SETTINGS, EVENTS)
    assert (parsed.uid, parsed.title, parsed.recurring) == ("e1", "Standup", False)
    assert parsed.starts_at == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_a_rule_that_never_ends_is_capped_by_max_instances() -> None:
    item = stored(parse_calendar(event("RRULE:FREQ=DAILY"), SETTINGS, EVENTS))
    # The 100th daily occurrence from 5 January 2026 is 14 April 2026.
    assert overlaps(item, day(2026, 4, 14), day(2026, 4, 15), 100)
    assert not overlaps(item, day(2026, 4, 15), day(2026, 4, 16), 100)
    assert not overlaps(item, day(2199, 1, 1), day(2199, 1, 2), 100)
    assert overlaps(item, day(2199, 1, 1), day(2199, 1, 2), 100_000)
    text = expanded(item, day(2026, 1, 1), day(2200, 1, 1), 100)
    assert text.count("BEGIN:VEVENT") == 100 and "RRULE" not in text


def test_hourly_rule_far_from_its_start_is_cheap_and_empty() -> None:
    item = stored(parse_calendar(event("RRULE:FREQ=HOURLY"), SETTINGS, EVENTS))
    assert not overlaps(item, day(2199, 1, 1), day(2199, 1, 2), SETTINGS.max_instances)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=SECONDLY", "FREQ=SECONDLY rules are not served"),
        ("FREQ=MINUTELY;INTERVAL=5", "FREQ=MINUTELY rules are not served"),
        ("FREQ=BOGUS", "recurrence rule is not valid"),
        ("FREQ=DAILY;UNTIL=garbage", "recurrence rule is not valid"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH=13 is outside 1..12"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR=24 is outside 0..23"),
    ],
)
def test_bad_rules_are_refused(rule: str, reason: str) -> None:
    error = refused(event(f"RRULE:{rule}"))
    assert error.status == 403 and error.condition == CALDAV_INVALID
    assert reason in error.message


def test_100000_attendees_are_refused_by_max_attendees() -> None:
    attendees = [f"ATTENDEE:mailto:guest{i}@example.org" for i in range(100_000)]
    big = DavSettings(max_attendees=1000, max_resource_bytes=67_108_864)
    error = refused(event(*attendees), big)
    assert error.status == 403 and "at most 1000 attendees" in error.message
    assert error.condition == "{http://roost.example/ns/}max-attendees"
    assert parse_calendar(event(*attendees[:1000]), big, EVENTS).uid == "e1"


@pytest.mark.parametrize(
    "text",
    [
        event("DESCRIPTION:a long line", "that lost its leading space"),
        HEAD.replace("DTSTART:", "DTST\r\nART:") + TAIL,
        HEAD + "SUMMARY:x\r\n\tok\r\nbroken\r\n" + TAIL,
    ],
)
def test_broken_folding_is_refused(text: str) -> None:
    error = refused(text)
    assert "a folded line must start with a space or a tab" in error.message


def test_proper_folding_is_accepted() -> None:
    parsed = parse_calendar(
        HEAD + "SUMMARY:Stand\r\n up\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", SETTINGS, EVENTS
    )
    assert parsed.title == "Standup"


def test_unknown_tzid_is_refused_and_a_defined_one_accepted() -> None:
    error = refused(event("RDATE;TZID=Mars/Olympus:20260110T100000"))
    assert "unknown time zone 'Mars/Olympus'" in error.message
    assert parse_calendar(event("RDATE;TZID=Europe/Berlin:20260110T100000"), SETTINGS, EVENTS)
    own_zone = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Office\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:z\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Office:20260101T100000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert parse_calendar(own_zone, SETTINGS, EVENTS).uid == "z"


def test_one_uid_and_one_kind_per_object() -> None:
    two = event().replace("END:VCALENDAR", "BEGIN:VTODO\r\nUID:e1\r\nEND:VTODO\r\nEND:VCALENDAR")
    assert "one kind of component" in refused(two).message
    assert "UID" in refused(event().replace("UID:e1\r\n", "")).message


def test_vcards() -> None:
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Ann\r\nEND:VCARD\r\n"
    assert parse_vcard(card).title == "Ann"
    assert parse_vcard(card.replace("4.0", "3.0")).uid == "c1"
    for broken, reason in (
        (card.replace("UID:c1\r\n", ""), "no UID"),
        (card.replace("FN:Ann\r\n", ""), "FN"),
        (card.replace("4.0", "2.1"), "only 3.0 and 4.0"),
        (card + card, "exactly one VCARD"),
        ("BEGIN:VCARD\r\nVERSION:4.0\r\nFN", "not a valid vCard"),
    ):
        with pytest.raises(GroupwareError, match=reason):
            parse_vcard(broken)


CONTENT = st.sampled_from(
    [
        "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "VERSION:2.0",
        "UID:u", "DTSTART:20260101T100000Z", "DTSTART;VALUE=DATE:20260101", "DTSTART:garbage",
        "DTEND:20250101T100000Z", "DURATION:PT1H", "DURATION:nonsense", "RRULE:FREQ=WEEKLY",
        "RRULE:FREQ=DAILY;COUNT=x", "RRULE:FREQ=MONTHLY;BYDAY=-1FR", "EXDATE:20260108T100000Z",
        "RECURRENCE-ID:20260108T100000Z", "ATTENDEE:mailto:a@b", "DTSTART;TZID=Nowhere:20260101T1",
        " folded", "no colon", "", "BEGIN:VTODO", "END:VTODO", "DUE:20260101",
    ]
)  # fmt: skip


@given(st.lists(CONTENT, max_size=25))
def test_any_calendar_text_parses_or_is_refused(lines: list[str]) -> None:
    try:
        parsed = parse_calendar("\r\n".join(lines) + "\r\n", SETTINGS, EVENTS)
    except GroupwareError as exc:
        assert exc.status in (403, 413) and exc.message
    else:
        item = stored(parsed)
        overlaps(item, day(2026, 1, 1), day(2026, 2, 1), 100)
        expanded(item, day(2026, 1, 1), day(2026, 2, 1), 100)


@given(st.text(max_size=300))
def test_any_vcard_text_parses_or_is_refused(text: str) -> None:
    try:
        parse_vcard(text)
    except GroupwareError as exc:
        assert exc.status == 403 and exc.message
