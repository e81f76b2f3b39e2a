"""Invitations by mail through a running Roost (RFC 5546 over RFC 6047): Ann's event
goes to Bob as a REQUEST through the queue and the Spool; Bob accepts it in the
webmail, his calendar (read over CalDAV) keeps it and Ann's INBOX gets the REPLY,
which she records in her event. A moved event's new REQUEST makes the old one out
of date; a CANCEL removes the event; a REPLY from someone who is not an attendee
is refused. Made in the calendar form, an event's REQUEST, updated REQUEST and
CANCEL reach the attendees; a form with its box unticked sends nothing, and a
refusal (the hourly rate) leaves the event saved and says so. Invitations
written as Outlook and a web calendar write them are
shown and accepted, and a calendar that cannot be read is named, not a crash."""

from __future__ import annotations

import asyncio
import base64
import email
import re
import smtplib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email import policy
from html import unescape
from pathlib import Path
from typing import Any

import caldav
import httpx
import icalendar
import pytest

from roost.control import calendar_ical as ical
from roost.control.compose import Writer
from roost.control.directory import Actor
from roost.control.groupware import Groupware
from roost.control.intake import Intake
from roost.control.itip import Invitations, ItipLimits
from roost.control.submission import SubmissionPolicy
from roost.store.groupware import CALENDAR, Item
from roost.store.store import Store
from roost.store.types import QueueEntry
from tests.browser_support import Harness, running_roost
from tests.web_support import csrf_of
from tests.webmail_support import sign_in

ANN = "ann@example.test"
BOB = "bob@example.test"
CAROL = "carol@example.test"
PASSWORD = "user-password-1"
ARRIVAL_S = 30.0
"""The bound on waiting for the Spool to deliver."""
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:plan-1@example.test\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20260301T100000\r\n"
    "DTEND;TZID=Europe/Berlin:20260301T110000\r\n"
    "SUMMARY:Planning\r\nLOCATION:Room 4\r\n"
    "ORGANIZER;CN=Ann:mailto:ann@example.test\r\n"
    "ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.test\r\n"
    "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION:mailto:bob@example.test\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
async def roost(tmp_path: Path) -> AsyncIterator[Harness]:
    # What the test itself queues (through an intake of its own) is seen within 0.1 s.
    async with running_roost(tmp_path, {"spool": {"poll_interval_s": 0.1}}) as harness:
        directory = harness.roost.directory
        await directory.add_domain(Actor("test"), "example.test")
        for user in (ANN, BOB, CAROL):
            await directory.add_user(Actor("test"), user, PASSWORD)
        yield harness


def invitations(harness: Harness) -> Invitations:
    store, config = harness.roost.store, harness.roost.config
    return Invitations(
        store,
        Intake(store, config.spool, store.clock),
        SubmissionPolicy.of(config, store, store.clock),
        ItipLimits.of(config),
        store.clock,
    )


async def account_id(store: Store, user: str) -> int:
    return (await store.read(store.directory.account, user)).id


async def calendar_items(store: Store, user: str) -> list[Item]:
    owner = await account_id(store, user)

    async def work(tx: Any) -> list[Item]:
        await store.groupware.ensure_defaults(tx, owner)
        found = await store.groupware.collection(tx, owner, CALENDAR, "calendar")
        assert found is not None
        return await store.groupware.items(tx, found.id)

    return await store.write(work)


async def inbox(store: Store, user: str, count: int) -> list[tuple[int, bytes]]:
    """The user's INBOX once it holds `count` messages (bounded wait)."""
    owner = await account_id(store, user)
    deadline = asyncio.get_running_loop().time() + ARRIVAL_S
    while True:
        box = await store.read(store.mail.mailbox, owner, "INBOX")
        infos = await store.read(store.mail.messages, box.id)
        if len(infos) >= count or asyncio.get_running_loop().time() > deadline:
            assert len(infos) == count, f"{user}'s INBOX has {len(infos)} messages"
            return [(i.uid, await store.blobs.read(i.blob_hash)) for i in infos]
        await asyncio.sleep(0.1)


@asynccontextmanager
async def webmail_as(harness: Harness, user: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=harness.base, timeout=30) as client:
        signed = await sign_in(client, user, PASSWORD)
        assert signed.status_code == 303, signed.text
        yield client


async def act(client: httpx.AsyncClient, uid: int, action: str) -> httpx.Response:
    page = await client.get("/mail/message", params={"folder": "INBOX", "uid": uid})
    form = {"csrf": csrf_of(page.text), "folder": "INBOX", "uid": str(uid), "action": action}
    return await client.post("/mail/invitation", data=form)


def buttons(page: str) -> list[str]:
    return re.findall(r'name="action" value="([a-z]+)"', page)


def events_over_caldav(harness: Harness, user: str) -> list[Any]:
    client: Any = caldav.DAVClient(
        url=f"{harness.base}/.well-known/caldav", username=user, password=PASSWORD
    )
    try:
        calendar = client.principal().calendar(cal_id="calendar")
        return [e.icalendar_component for e in calendar.events()]
    finally:
        client.close()


def with_next_sequence(old: str, new: str) -> str:
    """`new` with SEQUENCE raised as the calendar form raises it for a change of `old`."""
    before = ical.master_of(icalendar.Calendar.from_ical(old), "VEVENT")
    calendar = icalendar.Calendar.from_ical(new)
    after = ical.master_of(calendar, "VEVENT")
    assert before is not None and after is not None
    ical.bump_sequence(after, ical.snapshot(before))
    return str(calendar.to_ical().decode())


def partstats(event: Any) -> dict[str, str]:
    values = event.get("ATTENDEE")
    values = values if isinstance(values, list) else [values]
    return {str(v).lower().removeprefix("mailto:"): str(v.params["PARTSTAT"]) for v in values}


async def test_an_invitation_accepted_by_a_second_user_reaches_both_calendars(
    roost: Harness,
) -> None:
    store, config = roost.roost.store, roost.roost.config
    ann = Writer(await account_id(store, ANN), ANN, "Ann Organiser")
    (ann_calendar,) = [c for c in await calendar_collections(store, ANN) if c.name == "calendar"]
    groupware = Groupware(store, config.dav)
    await groupware.put(ann_calendar, "plan.ics", EVENT, if_match=None, if_none_match="*")
    itip = invitations(roost)

    sent = await itip.send_invitations(ann, EVENT)
    assert sent is not None and sent.recipients == (BOB,)
    [(request_uid, request)] = await inbox(store, BOB, 1)
    assert b"Subject: Invitation: Planning" in request
    assert re.search(rb'text/calendar; charset="utf-8"; method="?REQUEST', request)

    async with webmail_as(roost, BOB) as bob:
        bob.cookies.set("roost_tz", "America/New_York")
        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": request_uid})
        assert page.status_code == 200
        assert "Planning" in page.text and "Room 4" in page.text
        assert "Sun 01 Mar 2026, 04:00–05:00 (EST)" in page.text, "in Bob's time zone"
        assert buttons(page.text) == ["accept", "tentative", "decline"]
        answered = await act(bob, request_uid, "accept")
        assert answered.status_code == 303, answered.text
        page = await bob.get(answered.headers["location"])
        assert "You accepted" in page.text
        assert re.search(r'id="invitation-answer">accepted<', page.text)

    (kept,) = await asyncio.to_thread(events_over_caldav, roost, BOB)
    assert str(kept["UID"]) == "plan-1@example.test"
    assert partstats(kept)["bob@example.test"] == "ACCEPTED"

    [(reply_uid, reply)] = await inbox(store, ANN, 1)
    assert b"Subject: Accepted: Planning" in reply and b"METHOD:REPLY" in reply
    async with webmail_as(roost, ANN) as ann_web:
        page = await ann_web.get("/mail/message", params={"folder": "INBOX", "uid": reply_uid})
        assert buttons(page.text) == ["record"]
        assert (await act(ann_web, reply_uid, "record")).status_code == 303
    (organised,) = await calendar_items(store, ANN)
    event = icalendar.Calendar.from_ical(organised.data).walk("VEVENT")[0]
    assert partstats(event)["bob@example.test"] == "ACCEPTED"

    # Ann moves the event: SEQUENCE 1. Bob answers it; the first REQUEST is then out of date.
    moved = with_next_sequence(
        organised.data, organised.data.replace("T100000", "T120000").replace("T110000", "T130000")
    )
    await groupware.put(
        ann_calendar, "plan.ics", moved, if_match=f'"{organised.etag}"', if_none_match=None
    )
    assert await itip.send_invitations(ann, moved) is not None
    [_, (second_uid, _)] = await inbox(store, BOB, 2)
    async with webmail_as(roost, BOB) as bob:
        assert (await act(bob, second_uid, "tentative")).status_code == 303
        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": request_uid})
        assert "This invitation is out of date" in page.text
        assert buttons(page.text) == []
        stale = await act(bob, request_uid, "accept")
        assert stale.status_code == 409 and "Nothing was changed" in unescape(stale.text)
    (kept,) = await calendar_items(store, BOB)
    assert "T120000" in kept.data and "PARTSTAT=TENTATIVE" in kept.data

    # Ann cancels: Bob's calendar lets it go.
    assert await itip.send_cancel(ann, moved) is not None
    [_, _, (cancel_uid, cancel)] = await inbox(store, BOB, 3)
    assert b"Subject: Cancelled: Planning" in cancel
    async with webmail_as(roost, BOB) as bob:
        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": cancel_uid})
        assert "The organiser has cancelled this event" in page.text
        assert buttons(page.text) == ["remove"]
        removed = await act(bob, cancel_uid, "remove")
        assert "removed from your calendar" in (await bob.get(removed.headers["location"])).text
    assert await calendar_items(store, BOB) == []

    # A REPLY from someone the event does not name is shown, not recorded.
    forged = reply.replace(b"bob@example.test", b"eve@example.net").replace(
        b"ann@example.test", ANN.encode()
    )
    await asyncio.to_thread(smtp_send, roost, "eve@example.net", ANN, forged)
    [_, (tentative_uid, _), (forged_uid, _)] = await inbox(store, ANN, 3)
    async with webmail_as(roost, ANN) as ann_web:
        page = await ann_web.get("/mail/message", params={"folder": "INBOX", "uid": forged_uid})
        assert "eve@example.net is not among the attendees" in page.text
        assert buttons(page.text) == []
        refused = await act(ann_web, forged_uid, "record")
        assert refused.status_code == 403
        # Bob's later answer (to the moved event) is recorded.
        assert (await act(ann_web, tentative_uid, "record")).status_code == 303
    (organised,) = await calendar_items(store, ANN)
    assert "eve@" not in organised.data
    event = icalendar.Calendar.from_ical(organised.data).walk("VEVENT")[0]
    assert partstats(event)["bob@example.test"] == "TENTATIVE"


async def calendar_collections(store: Store, user: str) -> list[Any]:
    owner = await account_id(store, user)
    return await store.write(store.groupware.ensure_defaults, owner)


def smtp_send(harness: Harness, sender: str, to: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", harness.smtp_port, timeout=30) as client:
        client.sendmail(sender, [to], data)


# --- invitations as other programs write them (written for this test after the
# shapes RFC 6047 §4 shows; the property sets are those such programs send)


def fold(text: str) -> str:
    """RFC 5545 §3.1: content lines of at most 75 octets, CRLF line ends."""
    out = []
    for line in text.strip("\n").split("\n"):
        while len(line) > 74:
            out.append(line[:74])
            line = " " + line[74:]
        out.append(line)
    return "\r\n".join(out) + "\r\n"


OUTLOOK_CALENDAR = fold("""
BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:-//Example Corp//Desktop Mail 16.0//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ORGANIZER;CN=Olivia Park:mailto:olivia@contoso.example
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob:mailto:bob@example.test
DESCRIPTION;LANGUAGE=en-US:Figures for the second quarter.\\n
UID:040000008200E00074C5B7101A82E0080000000011223344556677880100000000000000001000000099AABBCCDDEEFF00
SUMMARY;LANGUAGE=en-US:Budget review
DTSTART;TZID=W. Europe Standard Time:20260415T140000
DTEND;TZID=W. Europe Standard Time:20260415T150000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20260401T080000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:0
LOCATION;LANGUAGE=en-US:Meeting room 2
X-MICROSOFT-CDO-APPT-SEQUENCE:0
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
BEGIN:VALARM
DESCRIPTION:REMINDER
TRIGGER;RELATED=START:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
END:VCALENDAR
""")
WEB_CALENDAR = fold("""
BEGIN:VCALENDAR
PRODID:-//Example Web Calendar//Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:America/New_York
X-LIC-LOCATION:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=America/New_York:20260420T093000
DTEND;TZID=America/New_York:20260420T100000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6
DTSTAMP:20260402T150000Z
ORGANIZER;CN=Grace Lee:mailto:grace.lee@mail.example
UID:7kq2p9v4m1abcdefgh3x0@mail.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE;CN=Grac
 e Lee;X-NUM-GUESTS=0:mailto:grace.lee@mail.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=bob@example.test;X-NUM-GUESTS=0:mailto:bob@example.test
CREATED:20260402T145900Z
DESCRIPTION:Weekly sync on the launch.\\n\\nJoin: https://meet.example/abc-defg
LAST-MODIFIED:20260402T150000Z
LOCATION:
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Launch sync
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:This is an event reminder
TRIGGER:-P0DT0H10M0S
END:VALARM
END:VEVENT
END:VCALENDAR
""")


def b64(text: str) -> str:
    return base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")


def outlook_message() -> bytes:
    """multipart/alternative: text, HTML, and the calendar in base64."""
    return (
        "From: Olivia Park <olivia@contoso.example>\r\nTo: Bob <bob@example.test>\r\n"
        "Subject: Budget review\r\nDate: Wed, 01 Apr 2026 08:00:00 +0000\r\n"
        "Message-ID: <budget-1@contoso.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="_000_part_"\r\n\r\n'
        '--_000_part_\r\nContent-Type: text/plain; charset="us-ascii"\r\n\r\n'
        "Figures for the second quarter.\r\n\r\n"
        '--_000_part_\r\nContent-Type: text/html; charset="us-ascii"\r\n\r\n'
        "<html><body><p>Figures for the second quarter.</p></body></html>\r\n\r\n"
        "--_000_part_\r\n"
        'Content-Type: text/calendar; charset="utf-8"; method=REQUEST\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64(OUTLOOK_CALENDAR)
        + "\r\n--_000_part_--\r\n"
    ).encode()


def web_calendar_message() -> bytes:
    """multipart/mixed: the alternative (text, HTML, calendar) and invite.ics beside it."""
    return (
        "From: Grace Lee <grace.lee@mail.example>\r\nTo: bob@example.test\r\n"
        "Subject: Invitation: Launch sync @ Weekly from 9:30am to 10am on Monday\r\n"
        "Date: Thu, 02 Apr 2026 15:00:00 +0000\r\nMessage-ID: <launch-1@mail.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="0000aaaa"\r\n\r\n'
        '--0000aaaa\r\nContent-Type: multipart/alternative; boundary="0000bbbb"\r\n\r\n'
        '--0000bbbb\r\nContent-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes\r\n'
        "\r\nYou have been invited to: Launch sync\r\n\r\n"
        '--0000bbbb\r\nContent-Type: text/html; charset="UTF-8"\r\n\r\n'
        "<p>You have been invited to: <b>Launch sync</b></p>\r\n\r\n"
        '--0000bbbb\r\nContent-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n'
        "Content-Transfer-Encoding: 7bit\r\n\r\n" + WEB_CALENDAR + "\r\n--0000bbbb--\r\n\r\n"
        '--0000aaaa\r\nContent-Type: application/ics; name="invite.ics"\r\n'
        'Content-Disposition: attachment; filename="invite.ics"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(WEB_CALENDAR) + "\r\n--0000aaaa--\r\n"
    ).encode()


def broken_message() -> bytes:
    return (
        b"From: mallory@example.net\r\nTo: bob@example.test\r\nSubject: Party\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nCome!\r\n"
        b'--x\r\nContent-Type: text/calendar; method=REQUEST; name="party.ics"\r\n\r\n'
        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:p\r\n"
        b"DTSTART:2026-13-45\r\nthis line has no name\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        b"--x--\r\n"
    )


def subject_of(data: bytes) -> str:
    found = re.search(rb"^Subject: (Budget review|Invitation: Launch|Party|Moved)", data, re.M)
    assert found, data[:300]
    return found[1].decode()


def hijack_message() -> bytes:
    """Olivia's UID with another organiser and a higher SEQUENCE (RFC 5546 §6.1.1)."""
    calendar = OUTLOOK_CALENDAR.replace(
        "CN=Olivia Park:mailto:olivia@contoso.example", "CN=Mallory:mailto:mallory@example.net"
    ).replace("SEQUENCE:0", "SEQUENCE:5")
    return (
        "From: mallory@example.net\r\nTo: bob@example.test\r\nSubject: Moved\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n" + calendar
    ).encode()


def queued_replies(entries: list[QueueEntry]) -> dict[str, QueueEntry]:
    return {
        e.recipients[0].address: e
        for e in entries
        if e.source == "submission" and '"itip": "REPLY"' in e.details
    }


async def test_outlook_and_web_calendar_invitations_are_shown_and_accepted(
    roost: Harness,
) -> None:
    store = roost.roost.store
    for sender, data in (
        ("olivia@contoso.example", outlook_message()),
        ("grace.lee@mail.example", web_calendar_message()),
        ("mallory@example.net", broken_message()),
        ("mallory@example.net", hijack_message()),
    ):
        await asyncio.to_thread(smtp_send, roost, sender, BOB, data)
    arrived = {subject_of(data): uid for uid, data in await inbox(store, BOB, 4)}
    outlook, web, broken, hijack = (
        arrived[s] for s in ("Budget review", "Invitation: Launch", "Party", "Moved")
    )
    async with webmail_as(roost, BOB) as bob:
        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": outlook})
        assert "Budget review" in page.text and "Meeting room 2" in page.text
        assert "Wed 15 Apr 2026, 12:00–13:00 (UTC)" in page.text
        assert "Olivia Park &lt;olivia@contoso.example&gt;" in page.text
        assert (await act(bob, outlook, "accept")).status_code == 303

        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": web})
        assert "Launch sync" in page.text and "weekly on MO, 6 times" in page.text
        assert "Mon 20 Apr 2026, 13:30–14:00 (UTC)" in page.text
        assert (await act(bob, web, "decline")).status_code == 303

        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": broken})
        assert page.status_code == 200
        assert "This message carries a calendar that Roost cannot read" in page.text
        assert "party.ics" in page.text, "the part stays among the attachments"
        assert buttons(page.text) == []
        assert (await act(bob, broken, "accept")).status_code == 400

        page = await bob.get("/mail/message", params={"folder": "INBOX", "uid": hijack})
        assert "another event with this UID, organised by olivia@contoso.example" in page.text
        assert buttons(page.text) == []
        assert (await act(bob, hijack, "accept")).status_code == 403

    (kept,) = await calendar_items(store, BOB)
    assert kept.title == "Budget review" and "PARTSTAT=ACCEPTED" in kept.data
    assert "mallory" not in kept.data
    replies = queued_replies(await store.read(store.queue.entries))
    assert set(replies) == {"olivia@contoso.example", "grace.lee@mail.example"}
    declined = await store.blobs.read(replies["grace.lee@mail.example"].blob_hash)
    assert b"Subject: Declined: Launch sync" in declined
    assert (
        b"PARTSTAT=DECLINED" in declined and b"UID:7kq2p9v4m1abcdefgh3x0@mail.example" in declined
    )


# --- the calendar form sends them

FORM = {
    "title": "Planning",
    "all_day": "",
    "start_date": "2026-03-10",
    "start_time": "10:00",
    "end_date": "2026-03-10",
    "end_time": "11:00",
    "location": "Room 4",
    "description": "",
    "calendar": "calendar",
    "repeat": "none",
    "count": "",
    "until": "",
    "attendees": BOB,
    "send_invitations": "yes",
}


async def save(client: httpx.AsyncClient, path: str, fields: dict[str, str]) -> str:
    """POST the calendar form; the page the user lands on."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    saved = await client.post(path, data={**fields, "csrf": csrf_of(page.text)})
    assert saved.status_code == 303, saved.text
    landed = await client.get(saved.headers["location"])
    assert landed.status_code == 200
    return unescape(landed.text)


async def edit(client: httpx.AsyncClient, uid: str, changes: dict[str, str]) -> str:
    path = f"/mail/calendar/edit?cal=calendar&uid={uid}"
    form = await client.get(path)
    etag = re.search(r'name="etag" value="([^"]+)"', form.text)
    assert etag
    fields = {**FORM, **changes, "cal": "calendar", "uid": uid, "etag": etag[1]}
    return await save(client, path, fields)


def calendar_of(data: bytes) -> Any:
    """The text/calendar part of an iMIP message, read."""
    message = email.message_from_bytes(data, policy=policy.default)
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return icalendar.Calendar.from_ical(parts[0].get_content())


def sequence(calendar: Any) -> int:
    return int(calendar.walk("VEVENT")[0].get("SEQUENCE", 0))


async def test_the_calendar_form_invites_updates_and_cancels(roost: Harness) -> None:
    store = roost.roost.store
    async with webmail_as(roost, ANN) as ann:
        landed = await save(ann, "/mail/calendar/new", FORM)
        assert f"Invitations sent to {BOB}." in landed
        [(_, first)] = await inbox(store, BOB, 1)
        request = calendar_of(first)
        assert str(request["METHOD"]) == "REQUEST" and sequence(request) == 0
        (event,) = await calendar_items(store, ANN)
        assert str(request.walk("VEVENT")[0]["UID"]) == event.uid

        # Moved: a significant change, the updated REQUEST with a higher SEQUENCE.
        landed = await edit(ann, event.uid, {"start_time": "12:00", "end_time": "13:00"})
        assert f"Invitations sent to {BOB}." in landed
        [_, (_, second)] = await inbox(store, BOB, 2)
        update = calendar_of(second)
        assert str(update["METHOD"]) == "REQUEST" and sequence(update) == 1
        assert update.walk("VEVENT")[0]["DTSTART"].dt.hour == 12

        # Bob removed: he alone gets a CANCEL.
        landed = await edit(ann, event.uid, {"start_time": "12:00", "end_time": "13:00",
                                             "attendees": ""})  # fmt: skip
        assert f"Cancellations sent to {BOB}." in landed and "Invitations sent" not in landed
        [_, _, (_, third)] = await inbox(store, BOB, 3)
        cancel = calendar_of(third)
        assert str(cancel["METHOD"]) == "CANCEL" and sequence(cancel) == 2
        assert partstats(cancel.walk("VEVENT")[0]) == {BOB: "NEEDS-ACTION"}

        # Unticked: nothing is sent. Then Carol's weekly lunch: invited, one
        # occurrence cancelled (RECURRENCE-ID), then the whole event.
        quiet = {**FORM, "title": "Quiet", "attendees": CAROL}
        del quiet["send_invitations"]
        landed = await save(ann, "/mail/calendar/new", quiet)
        assert "Invitations sent" not in landed and "not sent" not in landed
        # What a save sends is queued before its page answers: none is queued or delivered.
        queued = await store.read(store.queue.entries)
        assert [e for e in queued if e.recipients[0].address == CAROL] == []
        assert await inbox(store, CAROL, 0) == []
        lunch = {**FORM, "title": "Lunch", "attendees": CAROL, "repeat": "weekly", "count": "3"}
        assert f"Invitations sent to {CAROL}." in await save(ann, "/mail/calendar/new", lunch)
        (lunch_event,) = [e for e in await calendar_items(store, ANN) if e.title == "Lunch"]
        shown = await ann.get(
            f"/mail/calendar/event?cal=calendar&uid={lunch_event.uid}&rid=20260317T100000Z"
        )
        assert "Send the invitations again" in shown.text
        again = await ann.post(
            "/mail/calendar/invite",
            data={"csrf": csrf_of(shown.text), "cal": "calendar", "uid": lunch_event.uid},
        )
        assert again.status_code == 303, again.text
        landed = unescape((await ann.get(again.headers["location"])).text)
        assert f"Invitations sent to {CAROL}." in landed
        fields = {"csrf": csrf_of(shown.text), "cal": "calendar", "uid": lunch_event.uid,
                  "rid": "20260317T100000Z", "back": "/mail/calendar?date=2026-03-17"}  # fmt: skip
        for scope in ("this", "all"):
            etag = re.search(r'name="etag" value="([^"]+)"', shown.text)
            assert etag
            gone = await ann.post(
                "/mail/calendar/delete", data={**fields, "scope": scope, "etag": etag[1]}
            )
            assert gone.status_code == 303, gone.text
            landed = unescape((await ann.get(gone.headers["location"])).text)
            assert f"Cancellations sent to {CAROL}." in landed
            shown = await ann.get(f"/mail/calendar/event?cal=calendar&uid={lunch_event.uid}")
    [(_, invited), (_, resent), (_, one), (_, whole)] = await inbox(store, CAROL, 4)
    assert calendar_of(invited).walk("VEVENT")[0]["SUMMARY"] == "Lunch"
    assert str(calendar_of(resent)["METHOD"]) == "REQUEST"
    one_cancel = calendar_of(one).walk("VEVENT")[0]
    assert one_cancel["RECURRENCE-ID"].dt == datetime(2026, 3, 17, 10, tzinfo=UTC)
    assert "RECURRENCE-ID" not in calendar_of(whole).walk("VEVENT")[0]


async def test_a_refused_invitation_leaves_the_event_saved_and_says_why(tmp_path: Path) -> None:
    limited: dict[str, dict[str, Any]] = {
        "spool": {"poll_interval_s": 0.1},
        "smtp": {"messages_per_hour": 1},
    }
    async with running_roost(tmp_path, limited) as harness:
        await harness.roost.directory.add_domain(Actor("test"), "example.test")
        await harness.roost.directory.add_user(Actor("test"), ANN, PASSWORD)
        async with webmail_as(harness, ANN) as ann:
            assert "Invitations sent" in await save(ann, "/mail/calendar/new", FORM)
            landed = await save(ann, "/mail/calendar/new", {**FORM, "title": "Review"})
        assert (
            "The event is saved, but the invitations were not sent: you have sent as many "
            "messages this hour as you may." in landed
        )
        titles = sorted(e.title for e in await calendar_items(harness.roost.store, ANN))
        assert titles == ["Planning", "Review"]
