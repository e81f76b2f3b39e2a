"""control/calendar_invites and web/webmail/calendar_notices: what counts as a
change needing fresh answers, and what the page says after a save (a crafted
query can make it say nothing but its own sentences)."""

from __future__ import annotations

from roost.control.calendar_invites import Mailed, raised_sequence
from roost.web.webmail.calendar_notices import NAMED_IN_NOTICE, mailed_query, notices

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:1\r\n"
    "DTSTART:20260301T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
OVERRIDE = (
    "BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:2\r\n"
    "RECURRENCE-ID:20260308T100000Z\r\nDTSTART:20260308T120000Z\r\nEND:VEVENT\r\n"
)


def test_a_raised_sequence_in_the_series_or_one_occurrence_counts() -> None:
    assert not raised_sequence(EVENT, EVENT)
    assert raised_sequence(EVENT, EVENT.replace("SEQUENCE:1", "SEQUENCE:2"))
    assert raised_sequence(EVENT, EVENT.replace("END:VCALENDAR", OVERRIDE + "END:VCALENDAR"))
    assert not raised_sequence(EVENT, EVENT.replace("SEQUENCE:1", "SEQUENCE:x"))
    assert not raised_sequence("not a calendar", "not one either")


def test_the_notice_names_whom_mail_went_to_and_counts_the_rest() -> None:
    many = tuple(f"guest{n}@example.test" for n in range(NAMED_IN_NOTICE + 3))
    query = mailed_query(Mailed(invited=many, cancelled=("bob@example.test",)))
    (invited, cancelled) = notices(query, "saved")
    assert invited.text.startswith("Invitations sent to guest0@example.test, guest1")
    assert invited.text.endswith(" and 3 more.") and not invited.error
    assert cancelled.text == "Cancellations sent to bob@example.test."


def test_a_refusal_says_the_event_is_kept_and_why() -> None:
    (saved,) = notices(mailed_query(Mailed(refused="rate")), "saved")
    assert saved.error and saved.text.startswith(
        "The event is saved, but the invitations were not sent: you have sent as many"
    )
    (deleted,) = notices({"unsent": "size"}, "deleted")
    assert deleted.text == (
        "The event is deleted, but its attendees were not told: the invitation is larger "
        "than a message may be."
    )


def test_a_crafted_query_says_only_the_pages_own_words() -> None:
    crafted = {
        "invited": "Your account is locked: call 555-0100,<b>x</b>@example.test",
        "invited_n": "99999999999",
        "unsent": "Please enter your password",
    }
    (unsent,) = notices(crafted, "saved")
    assert "password" not in unsent.text and "could not be written" in unsent.text
    assert notices({"cancelled": "eve@example.test", "cancelled_n": "-4"}, "deleted")[0].text == (
        "Cancellations sent to eve@example.test."
    )
