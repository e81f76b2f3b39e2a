"""iTIP messages (RFC 5546) as iMIP mail (RFC 6047): written and read.

Pure functions, no store and no network: `roost.control.itip` acts on them.
A REQUEST carries the organiser's event to its attendees, a REPLY an
attendee's PARTSTAT back, a CANCEL withdraws the event, one occurrence of it
(RECURRENCE-ID), or some attendees' places in it. Each travels as
multipart/alternative with a short text/plain summary and the iCalendar
object as text/calendar whose `method` parameter repeats its METHOD (RFC 6047
§2.4).

Versions (RFC 5546 §2.1.5): of two copies of one UID, the one with the higher
SEQUENCE is newer; with equal SEQUENCE, the later DTSTAMP (`older`). The
calendar form raises SEQUENCE when a change needs fresh answers
(`roost.control.calendar_ical.bump_sequence`); every CANCEL raises it too
(RFC 5546 §3.2.5). DTSTAMP is the time each message is written.

Reading: `received` finds the text/calendar (or application/ics) part of a
message and reads it with the same rules as a CalDAV PUT
(`roost.control.groupware.parse_calendar`); what cannot be read comes back
with the reason, for the read pane to show beside the attachment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import icalendar

from roost.control.calendar_forms import CalendarRefused
from roost.control.calendar_ical import (
    bare_address,
    make_override,
    master_of,
    override_of,
    parse_rid,
    sequence_of,
    values_of,
)
from roost.control.calendar_zones import ensure_timezones
from roost.control.compose_mime import Recipient, clean_header_text, new_message_id, valid_address
from roost.control.groupware import GroupwareError, parse_calendar
from roost.control.mail_view import Loaded
from roost.core.config import DavSettings
from roost.proto.mime import MessageStructure, Part, PartKind, decode_body, decode_text

__all__ = [
    "ANSWERS",
    "CANCEL",
    "REPLY",
    "REQUEST",
    "ItipError",
    "NotScheduling",
    "Person",
    "Received",
    "Scheduling",
    "answered_copy",
    "build_message",
    "calendar_part",
    "cancel_calendar",
    "cancelled_copy",
    "describe_when",
    "invitees",
    "older",
    "parse_scheduling",
    "received",
    "recorded_reply",
    "repeat_words",
    "reply_calendar",
    "request_calendar",
    "summary_text",
]

REQUEST, REPLY, CANCEL = "REQUEST", "REPLY", "CANCEL"
METHODS = (REQUEST, REPLY, CANCEL)
ANSWERS = ("ACCEPTED", "TENTATIVE", "DECLINED")
REPLY_PARTSTATS = (*ANSWERS, "DELEGATED")
"""What a REPLY may say (RFC 5546 §3.2.3); NEEDS-ACTION answers nothing."""
NEEDS_ACTION = "NEEDS-ACTION"
PRODID = "-//Roost//iTIP//EN"
CALENDAR_TYPES = ("text/calendar", "application/ics")
SCHEDULE_PARAMS = ("SCHEDULE-AGENT", "SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND")
"""CalDAV scheduling parameters, never sent in an iTIP message (RFC 6638 §7)."""
TRANSFER_FACTOR = 2
"""A part's encoded size may be this many times the decoded limit (base64 is 4/3)."""
REFUSALS = ("invalid", "sender", "recipients", "size", "rate")
"""The kinds of `ItipError`: the calendar or message cannot be written, the
From is not the user's, too many recipients, too large, the hourly rate."""
_UNITS = {"yearly": "year", "monthly": "month", "weekly": "week", "daily": "day", "hourly": "hour"}


class ItipError(Exception):
    """An invitation that cannot be read, sent or acted on; the message says why
    and `status` is the HTTP status a page answers with. `reason` names the kind
    of refusal in one word for a page to explain after a redirect: one of
    `REFUSALS`."""

    def __init__(self, message: str, status: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class NotScheduling(ItipError):
    """A calendar without METHOD: an event file, not an iTIP message."""


@dataclass(frozen=True, slots=True)
class Person:
    """An ORGANIZER or ATTENDEE: the address without `mailto:`."""

    address: str
    name: str = ""
    partstat: str = NEEDS_ACTION
    sent_by: str = ""

    @property
    def key(self) -> str:
        return self.address.lower()

    def shown(self) -> str:
        if not self.name or self.name.lower() == self.key:
            return self.address
        return f"{self.name} <{self.address}>"


@dataclass(frozen=True, slots=True)
class Scheduling:
    """An iTIP message's calendar, read."""

    method: str
    uid: str
    sequence: int
    stamp: datetime | None
    summary: str
    location: str
    description: str
    start: date | datetime | None
    end: date | datetime | None
    repeats: str
    """The RRULE in words; "" when the event does not repeat."""
    recurrence_id: date | datetime | None
    """Set when the message is about one occurrence only."""
    organizer: Person
    attendees: tuple[Person, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Received:
    """The calendar part of a message: read, or why it could not be."""

    part: int
    scheduling: Scheduling | None
    problem: str = ""


# --- reading iCalendar


def person_of(value: Any) -> Person | None:
    """An ORGANIZER or ATTENDEE value read; None when it names no address."""
    if value is None:
        return None
    params = getattr(value, "params", {})
    address = bare_address(value)
    if not address:
        return None
    return Person(
        address=address,
        name=str(params.get("CN", "")).strip()[:200],
        partstat=str(params.get("PARTSTAT", NEEDS_ACTION)).upper(),
        sent_by=bare_address(params.get("SENT-BY", "")),
    )


def people_of(component: Any) -> tuple[Person, ...]:
    """A component's attendees."""
    found = (person_of(v) for v in values_of(component.get("ATTENDEE")))
    return tuple(p for p in found if p is not None)


def _events(calendar: Any) -> list[Any]:
    return [c for c in calendar.subcomponents if c.name == "VEVENT"]


def master_event(calendar: Any) -> Any:
    """The event's master component, else (an object of overrides only) its first."""
    return master_of(calendar, "VEVENT") or _events(calendar)[0]


def stamp_of(component: Any) -> datetime | None:
    """DTSTAMP in UTC; None when absent or not a time."""
    value = component.get("DTSTAMP")
    moment = getattr(value, "dt", None)
    if not isinstance(moment, datetime):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _calendar(text: str) -> Any:
    return icalendar.Calendar.from_ical(text)


def older(
    a_sequence: int, a_stamp: datetime | None, b_sequence: int, b_stamp: datetime | None
) -> bool:
    """Whether version a is older than version b (RFC 5546 §2.1.5)."""
    if a_sequence != b_sequence:
        return a_sequence < b_sequence
    return a_stamp is not None and b_stamp is not None and a_stamp < b_stamp


def parse_scheduling(
    text: str, settings: DavSettings, method_param: str = "", *, default_method: str = ""
) -> Scheduling:
    """An iTIP message's calendar, checked as a CalDAV PUT is; ItipError naming
    what is wrong, NotScheduling when it has no METHOD (and no `default_method`:
    a stored event is read as the message it becomes)."""
    if len(text.encode("utf-8", "surrogatepass")) > settings.max_resource_bytes:
        raise ItipError(f"The calendar is larger than {settings.max_resource_bytes} bytes.")
    try:
        parse_calendar(text, settings, ("VEVENT",))
    except GroupwareError as exc:
        raise ItipError(f"The calendar is not valid: {exc.message}") from None
    try:
        return _read(text, method_param, default_method)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ItipError(f"The calendar is not valid: {str(exc)[:200]}") from None


def _read(text: str, method_param: str, default_method: str) -> Scheduling:
    calendar = _calendar(text)
    method = str(calendar.get("METHOD", "")).strip().upper() or default_method
    if not method:
        raise NotScheduling("The calendar has no METHOD: it is an event file, not an invitation.")
    if method_param and method_param.strip().upper() != method:
        raise ItipError(
            f"The message says method={method_param[:20]} but its calendar says METHOD:{method} "
            "(RFC 6047 §2.4 wants them equal)."
        )
    if method not in METHODS:
        raise ItipError(
            f"Roost answers REQUEST, REPLY and CANCEL messages; this is a {method[:20]}."
        )
    master = master_event(calendar)
    organizer = person_of(master.get("ORGANIZER"))
    if organizer is None:
        raise ItipError("The event has no ORGANIZER (RFC 5546 §3.2 requires one).")
    attendees = people_of(master)
    if method == REPLY and len(attendees) != 1:
        raise ItipError("A REPLY names exactly one ATTENDEE (RFC 5546 §3.2.3).")
    if method == REPLY and attendees[0].partstat not in REPLY_PARTSTATS:
        raise ItipError(f"The REPLY's PARTSTAT {attendees[0].partstat[:20]} answers nothing.")
    start_prop = master.get("DTSTART")
    if method == REQUEST and start_prop is None:
        raise ItipError("The invitation has no DTSTART (RFC 5546 §3.2.2 requires one).")
    start = start_prop.dt if start_prop is not None else None
    end = master["DTEND"].dt if "DTEND" in master else None
    if end is None and start is not None and "DURATION" in master:
        end = start + master["DURATION"].dt
    rule = master.get("RRULE")
    recurrence = master.get("RECURRENCE-ID")
    return Scheduling(
        method=method,
        uid=str(master.get("UID")),
        sequence=sequence_of(master),
        stamp=stamp_of(master),
        summary=str(master.get("SUMMARY", "")).strip()[:1000],
        location=str(master.get("LOCATION", "")).strip()[:1000],
        description=str(master.get("DESCRIPTION", "")).strip(),
        start=start,
        end=end,
        repeats=repeat_words(rule) if rule is not None else "",
        recurrence_id=recurrence.dt if recurrence is not None else None,
        organizer=organizer,
        attendees=attendees,
        text=text,
    )


def repeat_words(rule: Any) -> str:
    """An RRULE (RFC 5545 §3.3.10) for people: "weekly on MO, 6 times"."""
    frequency = str((rule.get("FREQ") or [""])[0]).lower()
    interval = int((rule.get("INTERVAL") or [1])[0])
    unit = _UNITS.get(frequency, frequency)
    words = frequency if interval == 1 else f"every {interval} {unit}s"
    days = [str(d) for d in rule.get("BYDAY", [])]
    if days:
        words += " on " + ", ".join(days)
    if rule.get("COUNT"):
        words += f", {int(rule['COUNT'][0])} times"
    if rule.get("UNTIL"):
        until = rule["UNTIL"][0]
        words += f", until {until:%d %b %Y}" if isinstance(until, date) else ""
    return words


def calendar_part(structure: MessageStructure) -> Part | None:
    """The message's text/calendar part (else its application/ics part), not one
    inside an attached message."""
    fallback = None
    for part in structure.parts:
        if part.kind is not PartKind.LEAF or _inside_message(structure, part):
            continue
        kind = part.content_type.mime_type.lower()
        if kind == CALENDAR_TYPES[0]:
            return part
        if kind in CALENDAR_TYPES and fallback is None:
            fallback = part
    return fallback


def _inside_message(structure: MessageStructure, part: Part) -> bool:
    parent = part.parent
    while parent is not None:
        if structure.parts[parent].kind is PartKind.MESSAGE:
            return True
        parent = structure.parts[parent].parent
    return False


def received(loaded: Loaded, settings: DavSettings) -> Received | None:
    """The iTIP message a mail carries; None when it carries none."""
    part = calendar_part(loaded.structure)
    if part is None:
        return None
    if part.body_octets > settings.max_resource_bytes * TRANSFER_FACTOR:
        return Received(
            part.index, None, f"The calendar is larger than {settings.max_resource_bytes} bytes."
        )
    body = decode_body(loaded.data[part.body_start : part.body_end], part.transfer_encoding)
    text = decode_text(body, part.content_type.param("charset") or "utf-8")
    try:
        found = parse_scheduling(text, settings, part.content_type.param("method") or "")
    except NotScheduling:
        return None
    except ItipError as exc:
        return Received(part.index, None, exc.message)
    return Received(part.index, found)


# --- writing iCalendar


def _new_calendar(method: str, source: Any) -> Any:
    out = icalendar.Calendar()
    out.add("PRODID", PRODID)
    out.add("VERSION", "2.0")
    out.add("METHOD", method)
    for zone in source.walk("VTIMEZONE"):
        out.add_component(zone)
    return out


def _finish(calendar: Any) -> str:
    """The text, with a VTIMEZONE for each IANA zone the events name (RFC 5546
    §3.2 wants every TZID defined)."""
    ensure_timezones(calendar)
    return str(calendar.to_ical().decode("utf-8"))


def _copy(component: Any) -> Any:
    return icalendar.Event.from_ical(component.to_ical())


def _replace(component: Any, name: str, value: Any) -> None:
    component.pop(name, None)
    component.add(name, value)


def _outgoing(event: Any, now: datetime) -> Any:
    """An event as an iTIP message carries it: no alarms (they are the sender's),
    no CalDAV scheduling parameters, DTSTAMP the time of sending."""
    copy = _copy(event)
    copy.subcomponents = [c for c in copy.subcomponents if c.name != "VALARM"]
    for value in [*values_of(copy.get("ATTENDEE")), *values_of(copy.get("ORGANIZER"))]:
        for param in SCHEDULE_PARAMS:
            value.params.pop(param, None)
    _replace(copy, "DTSTAMP", now.astimezone(UTC))
    return copy


def _schedule_agent_server(value: Any) -> bool:
    """RFC 6638 §7.1: only SERVER (the default) asks us to deliver."""
    return str(getattr(value, "params", {}).get("SCHEDULE-AGENT", "SERVER")).upper() == "SERVER"


def invitees(event_text: str, own: Iterable[str]) -> tuple[Person, ...]:
    """The attendees a REQUEST or CANCEL of this event goes to: all but the
    organiser's own addresses and those another agent schedules."""
    calendar = _calendar(event_text)
    mine = {a.lower() for a in own}
    seen: set[str] = set()
    out: list[Person] = []
    for event in _events(calendar):
        for value in values_of(event.get("ATTENDEE")):
            person = person_of(value)
            if person is None or person.key in mine or person.key in seen:
                continue
            if not valid_address(person.address):
                continue
            if _schedule_agent_server(value):
                seen.add(person.key)
                out.append(person)
    return tuple(out)


def organizer_of(event_text: str) -> str:
    """The event's ORGANIZER address, lower case; "" when it names none or the
    text cannot be read."""
    try:
        found = person_of(master_event(_calendar(event_text)).get("ORGANIZER"))
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    return found.key if found is not None else ""


def request_calendar(event_text: str, now: datetime) -> str:
    """A stored event as METHOD:REQUEST (RFC 5546 §3.2.2): RSVP asked of each
    attendee who has not answered."""
    calendar = _calendar(event_text)
    out = _new_calendar(REQUEST, calendar)
    for event in _events(calendar):
        copy = _outgoing(event, now)
        for value in values_of(copy.get("ATTENDEE")):
            if str(value.params.get("PARTSTAT", NEEDS_ACTION)).upper() == NEEDS_ACTION:
                value.params["RSVP"] = "TRUE"
        out.add_component(copy)
    return _finish(out)


def cancel_calendar(
    event_text: str, now: datetime, only: Iterable[str] | None = None, rid: str = ""
) -> str:
    """The event withdrawn, METHOD:CANCEL (RFC 5546 §3.2.5): SEQUENCE one above
    the event's, STATUS:CANCELLED; with `only`, to those attendees alone (their
    places withdrawn, the event kept for the rest); with `rid` (as the calendar
    forms name an occurrence), that occurrence alone, by its RECURRENCE-ID."""
    calendar = _calendar(event_text)
    out = _new_calendar(CANCEL, calendar)
    main = master_event(calendar)
    copy = _outgoing(_occurrence(calendar, main, rid) if rid else main, now)
    _replace(copy, "SEQUENCE", max(sequence_of(copy), sequence_of(main)) + 1)
    _replace(copy, "STATUS", "CANCELLED")
    if only is not None:
        keep = {a.lower() for a in only}
        attendees = [v for v in values_of(copy.get("ATTENDEE")) if bare_address(v).lower() in keep]
        copy.pop("ATTENDEE", None)
        for value in attendees:
            copy.add("ATTENDEE", value)
    out.add_component(copy)
    return _finish(out)


def _occurrence(calendar: Any, main: Any, rid: str) -> Any:
    """The occurrence `rid` names: its override, else the master moved there."""
    found = override_of(calendar, "VEVENT", rid)
    if found is not None:
        return found
    if "RECURRENCE-ID" in main or ("RRULE" not in main and "RDATE" not in main):
        raise ItipError("The event does not repeat: there is no occurrence to cancel.")
    try:
        return make_override(main, parse_rid(rid))
    except CalendarRefused as refused:
        raise ItipError(str(refused)) from None


def reply_calendar(scheduling: Scheduling, me: Person, partstat: str, now: datetime) -> str:
    """The attendee's answer, METHOD:REPLY (RFC 5546 §3.2.3): for each component of
    the REQUEST, its UID, SEQUENCE, RECURRENCE-ID and times, the ORGANIZER and this
    one ATTENDEE with the PARTSTAT."""
    if partstat not in REPLY_PARTSTATS:
        raise ItipError(f"{partstat} is no answer.")
    calendar = _calendar(scheduling.text)
    out = _new_calendar(REPLY, calendar)
    for event in _events(calendar):
        answer = icalendar.Event()
        for name in (
            "UID", "SEQUENCE", "RECURRENCE-ID", "DTSTART", "DTEND", "DURATION", "SUMMARY",
            "ORGANIZER",
        ):  # fmt: skip
            if name in event:
                answer.add(name, event[name])
        answer.add("DTSTAMP", now.astimezone(UTC))
        mine = next(
            (v for v in values_of(event.get("ATTENDEE")) if bare_address(v).lower() == me.key), None
        )
        value = icalendar.vCalAddress(f"mailto:{me.address}")
        name = str(mine.params.get("CN", "")) if mine is not None else me.name
        if name:
            value.params["CN"] = name
        value.params["PARTSTAT"] = partstat
        answer.add("ATTENDEE", value)
        out.add_component(answer)
    return _finish(out)


def _set_partstat(event: Any, key: str, partstat: str) -> bool:
    """The attendee's PARTSTAT in one component, RSVP dropped; whether they are in it."""
    found = False
    for value in values_of(event.get("ATTENDEE")):
        if bare_address(value).lower() == key:
            value.params["PARTSTAT"] = partstat
            value.params.pop("RSVP", None)
            found = True
    return found


def answered_copy(scheduling: Scheduling, me: Person, partstat: str, stored: str | None) -> str:
    """The event as the attendee's calendar keeps it: the REQUEST without METHOD,
    their PARTSTAT set. A REQUEST for single occurrences only updates those in
    the stored event."""
    calendar = _calendar(scheduling.text)
    calendar.pop("METHOD", None)
    for event in _events(calendar):
        _set_partstat(event, me.key, partstat)
    has_master = any("RECURRENCE-ID" not in e for e in _events(calendar))
    if stored is None or has_master:
        return str(calendar.to_ical().decode("utf-8"))
    kept = _calendar(stored)
    incoming = {_rid(e): e for e in _events(calendar)}
    kept.subcomponents = [
        c for c in kept.subcomponents if c.name != "VEVENT" or _rid(c) not in incoming
    ]
    zones = {str(z.get("TZID")) for z in kept.walk("VTIMEZONE")}
    for zone in calendar.walk("VTIMEZONE"):
        if str(zone.get("TZID")) not in zones:
            kept.add_component(zone)
    for event in incoming.values():
        kept.add_component(event)
    return str(kept.to_ical().decode("utf-8"))


def _rid(event: Any) -> str:
    value = event.get("RECURRENCE-ID")
    return "" if value is None else value.to_ical().decode("utf-8")


def cancelled_copy(stored: str, scheduling: Scheduling) -> str | None:
    """What is left of a stored event after a CANCEL: None for the whole event;
    for one occurrence, the event with that occurrence excluded (EXDATE) and
    its override gone."""
    if scheduling.recurrence_id is None:
        return None
    calendar = _calendar(stored)
    events = _events(calendar)
    master = next((e for e in events if "RECURRENCE-ID" not in e), None)
    if master is None or ("RRULE" not in master and "RDATE" not in master):
        return None
    rid = scheduling.recurrence_id
    calendar.subcomponents = [
        c
        for c in calendar.subcomponents
        if c.name != "VEVENT" or "RECURRENCE-ID" not in c or c["RECURRENCE-ID"].dt != rid
    ]
    master.add("EXDATE", rid)
    return str(calendar.to_ical().decode("utf-8"))


def recorded_reply(stored: str, reply: Scheduling) -> str:
    """The organiser's event with the answering attendee's PARTSTAT (in the
    occurrence the REPLY names, or in every component); ItipError when the
    event does not name that attendee."""
    attendee = reply.attendees[0]
    calendar = _calendar(stored)
    found = False
    for event in _events(calendar):
        if reply.recurrence_id is not None:
            here = event.get("RECURRENCE-ID")
            if here is None or here.dt != reply.recurrence_id:
                continue
        found = _set_partstat(event, attendee.key, attendee.partstat) or found
    if not found:
        raise ItipError(
            f"{attendee.address} is not among the attendees of this event: "
            "the answer is not recorded.",
            403,
        )
    return str(calendar.to_ical().decode("utf-8"))


# --- the mail message


def describe_when(
    start: date | datetime | None, end: date | datetime | None, zone: tzinfo | None
) -> str:
    """An event's time for people: in `zone` (None: the event's own zone); a
    day-long event by its days, a floating time as written."""
    if start is None:
        return ""
    if not isinstance(start, datetime):
        last = end - timedelta(days=1) if isinstance(end, date) and end > start else start
        if not isinstance(last, datetime) and last != start:
            return f"{start:%a %d %b %Y} – {last:%a %d %b %Y} (all day)"
        return f"{start:%a %d %b %Y} (all day)"

    def local(moment: datetime) -> datetime:
        return moment if moment.tzinfo is None or zone is None else moment.astimezone(zone)

    first = local(start)
    text = f"{first:%a %d %b %Y, %H:%M}"
    if isinstance(end, datetime) and end != start:
        last_moment = local(end)
        same_day = last_moment.date() == first.date()
        text += f"–{last_moment:%H:%M}" if same_day else f" – {last_moment:%a %d %b %Y, %H:%M}"
    label = "local time" if first.tzinfo is None else (first.tzname() or "")
    return f"{text} ({label})" if label else text


def summary_text(scheduling: Scheduling, lead: str) -> str:
    """The text/plain beside the calendar (RFC 6047 §2: for readers without iTIP)."""
    lines = [lead, "", f"  {scheduling.summary or '(no title)'}"]
    when = describe_when(scheduling.start, scheduling.end, None)
    if when:
        lines.append(f"  When: {when}")
    if scheduling.repeats:
        lines.append(f"  Repeats: {scheduling.repeats}")
    if scheduling.location:
        lines.append(f"  Where: {scheduling.location}")
    lines.append(f"  Organiser: {scheduling.organizer.shown()}")
    if scheduling.method != REPLY and scheduling.attendees:
        lines.append("  Attendees: " + ", ".join(p.shown() for p in scheduling.attendees))
    if scheduling.description and scheduling.method == REQUEST:
        lines += ["", scheduling.description]
    lines += ["", "The calendar object is in this message (text/calendar, RFC 6047)."]
    return "\n".join(lines) + "\n"


def build_message(
    sender: Person,
    to: Sequence[Person],
    subject: str,
    text: str,
    calendar_text: str,
    method: str,
    now: datetime,
) -> bytes:
    """The iMIP message (RFC 6047 §2): multipart/alternative, the summary then
    text/calendar with `method` and UTF-8; CRLF line ends, no 8-bit data."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Recipient(sender.name, sender.address).formatted()
    msg["To"] = ", ".join(Recipient(p.name, p.address).formatted() for p in to)
    msg["Subject"] = clean_header_text(subject, 1000)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = new_message_id(sender.address.rpartition("@")[2])
    msg.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
    calendar = calendar_text.replace("\r\n", "\n")
    msg.add_alternative(
        calendar,
        subtype="calendar",
        params={"method": method},
        cte="7bit" if calendar.isascii() else "quoted-printable",
    )
    return msg.as_bytes()
