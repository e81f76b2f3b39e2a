"""Invitations by mail, acted on: sent as the user, answered, recorded.

The organiser's side (the calendar form calls it, through
`roost.control.calendar_invites`): `send_invitations` sends the stored event
as a REQUEST to its attendees, `send_cancel` withdraws it (or one occurrence,
or some attendees' places). A message goes out as the user through the path
every webmail send takes: the `SubmissionPolicy` (the From must be theirs,
the recipient limit, the hourly rate) and `Intake.accept_bytes` with the
source `submission`. Only the event's organiser sends its messages.

The receiving side: `standing` says where a received message
(`roost.control.itip_messages.received`) stands against the user's
calendars; `answer`, `remove_cancelled` and `record_reply` act on it. A
REQUEST older than the copy in the user's calendar is out of date and cannot
be answered; so is a CANCEL older than that copy, and a REPLY whose SEQUENCE
is below the organiser's event. An answer's calendar change commits with its
REPLY's queue entry, in the intake's unit of work, or not at all. A REPLY is
recorded only for an attendee the organiser's event names, and only when the
mail comes from that attendee (or the SENT-BY it names).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import icalendar

from roost.control.calendar_ical import sequence_of
from roost.control.compose import Writer
from roost.control.compose_mime import ComposeError
from roost.control.groupware import Groupware, GroupwareError
from roost.control.intake import Envelope, Intake
from roost.control.itip_messages import (
    ANSWERS,
    CANCEL,
    REPLY,
    REQUEST,
    ItipError,
    Person,
    Scheduling,
    answered_copy,
    build_message,
    cancel_calendar,
    cancelled_copy,
    invitees,
    master_event,
    older,
    organizer_of,
    parse_scheduling,
    people_of,
    person_of,
    recorded_reply,
    reply_calendar,
    request_calendar,
    stamp_of,
    summary_text,
)
from roost.control.submission import SubmissionPolicy
from roost.core.clock import Clock
from roost.core.config import Config, DavSettings
from roost.store.db import Tx
from roost.store.groupware import CALENDAR, Collection, Item, NewItem
from roost.store.settings import JsonValue
from roost.store.store import Store
from roost.store.types import NewRecipient

__all__ = ["Invitations", "ItipLimits", "Sent", "Standing"]

DEFAULT_CALENDAR = "calendar"
_SAFE_NAME = re.compile(r"[A-Za-z0-9@._-]{1,200}")
_SUBJECT = {
    REQUEST: "Invitation",
    CANCEL: "Cancelled",
    "ACCEPTED": "Accepted",
    "TENTATIVE": "Tentative",
    "DECLINED": "Declined",
    "DELEGATED": "Delegated",
}


@dataclass(frozen=True, slots=True)
class Sent:
    queue_id: int
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a received message stands against the user's calendars."""

    me: Person | None
    """REQUEST, CANCEL: the user among the attendees. REPLY: the attendee answering."""
    stored: bool
    """The user's calendars hold an event of this UID."""
    answer: str
    """REQUEST: the user's PARTSTAT in their copy; REPLY: the one the organiser's
    event records for the attendee; "" when there is none."""
    out_of_date: bool
    problem: str = ""
    """Why nothing may be done with the message; "" when something may."""


@dataclass(frozen=True, slots=True)
class ItipLimits:
    dav: DavSettings
    max_message_bytes: int

    @classmethod
    def of(cls, config: Config) -> ItipLimits:
        return cls(
            config.dav, min(config.webmail.compose_max_message_bytes, config.smtp.max_message_bytes)
        )


InUnit = Callable[[Tx], Awaitable[None]]


class Invitations:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        policy: SubmissionPolicy,
        limits: ItipLimits,
        clock: Clock,
    ) -> None:
        self._store = store
        self._intake = intake
        self._policy = policy
        self.limits = limits
        self._clock = clock
        self._groupware = Groupware(store, limits.dav)

    # --- the organiser's side (called by the calendar view)

    async def send_invitations(
        self, sender: Writer, event_text: str, only: Iterable[str] | None = None
    ) -> Sent | None:
        """Send the stored event as a REQUEST to its attendees (with `only`, to those
        of them alone); None when it names none to send to."""
        scheduling = await self._organised(sender, event_text)
        to = await self._targets(sender, event_text, only)
        if not to:
            return None
        now = self._clock.now()
        calendar = await asyncio.to_thread(request_calendar, event_text, now)
        lead = f"{scheduling.organizer.shown()} invites you to an event:"
        return await self._send(
            sender, scheduling.organizer, to, REQUEST, scheduling, lead, calendar
        )

    async def send_cancel(
        self,
        sender: Writer,
        event_text: str,
        only: Iterable[str] | None = None,
        *,
        rid: str = "",
    ) -> Sent | None:
        """Tell the attendees the event is cancelled (when the organiser deletes
        it), or with `only` tell those attendees they are no longer invited, or
        with `rid` that one occurrence is cancelled; the event is given as it
        was before, with them (and the occurrence) in it."""
        scheduling = await self._organised(sender, event_text)
        targets = None if only is None else list(only)
        to = await self._targets(sender, event_text, targets)
        if not to:
            return None
        now = self._clock.now()
        calendar = await asyncio.to_thread(cancel_calendar, event_text, now, targets, rid)
        lead = f"{scheduling.organizer.shown()} has cancelled this event:"
        if rid:
            lead = f"{scheduling.organizer.shown()} has cancelled one occurrence of this event:"
        return await self._send(
            sender, scheduling.organizer, to, CANCEL, scheduling, lead, calendar
        )

    async def organises(self, user: Writer, event_text: str) -> bool:
        """Whether the event names one of the user's addresses as its ORGANIZER:
        only then does its calendar form send its invitations."""
        organizer = await asyncio.to_thread(organizer_of, event_text)
        if not organizer:
            return False
        own = {a.lower() for a in await self._policy.allowed_senders(user.address)}
        return organizer in own

    async def invitees(self, user: Writer, event_text: str) -> tuple[str, ...]:
        """The addresses a REQUEST or CANCEL of this event goes to."""
        own = await self._policy.allowed_senders(user.address)
        people = await asyncio.to_thread(invitees, event_text, own)
        return tuple(p.address for p in people)

    async def _organised(self, sender: Writer, event_text: str) -> Scheduling:
        scheduling = await asyncio.to_thread(
            functools.partial(parse_scheduling, default_method=REQUEST),
            event_text,
            self.limits.dav,
        )
        verdict = await self._policy.check_sender(sender.address, scheduling.organizer.address)
        if not verdict.ok:
            raise ItipError(
                f"The event's organiser is {scheduling.organizer.address}, not one of your "
                "addresses: only its organiser sends its invitations.",
                403,
                "sender",
            )
        return scheduling

    async def _targets(
        self, sender: Writer, event_text: str, only: Iterable[str] | None
    ) -> list[Person]:
        own = await self._policy.allowed_senders(sender.address)
        people = invitees(event_text, own)
        if only is None:
            return list(people)
        wanted = {a.lower() for a in only}
        return [p for p in people if p.key in wanted]

    async def _send(
        self,
        sender: Writer,
        from_: Person,
        to: Sequence[Person],
        method: str,
        scheduling: Scheduling,
        lead: str,
        calendar: str,
        in_unit: InUnit | None = None,
        answer: str = "",
    ) -> Sent:
        verdict = await self._policy.check_sender(sender.address, from_.address)
        if not verdict.ok:
            raise ItipError(f"You may not send as {from_.address}.", 403, "sender")
        count = self._policy.check_recipient_count(len(to))
        if not count.ok:
            raise ItipError(
                f"The event names {len(to)} people to write to: more than one message may "
                "reach. Invite fewer at a time.",
                400,
                "recipients",
            )
        name = sender.display_name if from_.key == sender.address.lower() else from_.name
        now = self._clock.now()
        title = scheduling.summary or "(no title)"
        subject = f"{_SUBJECT[answer or method]}: {title}"
        text = summary_text(scheduling, lead)
        try:
            data = await asyncio.to_thread(
                build_message, Person(from_.address, name), to, subject, text, calendar, method, now
            )
        except ComposeError as exc:
            raise ItipError(exc.message) from None
        if len(data) > self.limits.max_message_bytes:
            raise ItipError(
                f"The invitation is {len(data)} bytes; at most {self.limits.max_message_bytes} "
                "may be sent.",
                413,
                "size",
            )
        rate = self._policy.check_rate(sender.address)
        if not rate.ok:
            raise ItipError(
                "You have sent as many messages this hour as you may: try again later.",
                429,
                "rate",
            )
        details: dict[str, JsonValue] = {
            "user": sender.address,
            "listener": "webmail",
            "itip": method,
        }
        envelope = Envelope(
            sender=from_.address,
            recipients=tuple(NewRecipient(p.address) for p in to),
            source="submission",
            details=details,
        )
        queue_id = await self._intake.accept_bytes(data, envelope, in_unit)
        return Sent(queue_id, tuple(p.address for p in to))

    # --- the receiving side

    async def standing(self, user: Writer, scheduling: Scheduling, mail_from: str) -> Standing:
        """Where the message stands against the user's calendars; `mail_from` is
        the message's From address."""
        own = {a.lower() for a in await self._policy.allowed_senders(user.address)}
        found = await self._store.read(self._find, user.account_id, scheduling.uid)
        stored = None if found is None else await asyncio.to_thread(_version, found[1].data)
        if scheduling.method == REPLY:
            return _reply_standing(scheduling, own, stored, mail_from)
        me = next((p for p in scheduling.attendees if p.key in own), None)
        problem = ""
        if scheduling.organizer.key in own:
            problem = "You organise this event: this message is your own."
            me = None
        elif me is None and scheduling.method == REQUEST:
            problem = (
                "You are not among this event's attendees (the invitation may have been "
                "forwarded to you): ask its organiser to invite you."
            )
        elif stored is not None and stored.organizer != scheduling.organizer.key:
            # RFC 5546 §6.1.1: only the organiser of an event may change it.
            problem = (
                "Your calendar holds another event with this UID"
                + (f", organised by {stored.organizer}" if stored.organizer else "")
                + ": this message cannot change it."
            )
        out_of_date = stored is not None and older(
            scheduling.sequence, scheduling.stamp, stored.sequence, stored.stamp
        )
        answer = ""
        if stored is not None and me is not None:
            answer = stored.partstats.get(me.key, "")
        return Standing(me, stored is not None, answer, out_of_date, problem)

    async def answer(self, user: Writer, scheduling: Scheduling, partstat: str) -> Sent:
        """Accept, accept tentatively or decline a REQUEST: the user's calendar
        keeps the event with their PARTSTAT (a decline removes it), and the REPLY
        goes to the organiser, in one unit of work."""
        if scheduling.method != REQUEST:
            raise ItipError("Only an invitation (REQUEST) can be answered.")
        if partstat not in ANSWERS:
            raise ItipError("Answer with accept, tentative or decline.")
        standing = await self.standing(user, scheduling, scheduling.organizer.address)
        _refuse(standing, "invitation")
        me = standing.me
        assert me is not None
        found = await self._store.read(self._find, user.account_id, scheduling.uid)
        etag = found[1].etag if found is not None else None
        new: NewItem | None = None
        target: Collection | None = found[0] if found is not None else None
        if partstat != "DECLINED":
            if target is None:
                target = await self._store.write(self._default_calendar, user.account_id)
            stored_text = found[1].data if found is not None else None
            text = await asyncio.to_thread(answered_copy, scheduling, me, partstat, stored_text)
            name = found[1].name if found is not None else ""
            try:
                new = await asyncio.to_thread(self._groupware.parse, target, text, name)
            except GroupwareError as exc:
                raise ItipError(f"Your calendar cannot keep this event: {exc.message}") from None
        role = self._store.groupware
        limit = self.limits.dav.max_items_per_collection

        async def in_unit(tx: Tx) -> None:
            now_found = await self._find(tx, user.account_id, scheduling.uid)
            current = now_found[1] if now_found is not None else None
            if (current.etag if current else None) != etag:
                raise ItipError(
                    "The event changed in your calendar meanwhile: open the message again.", 409
                )
            if new is None:
                if now_found is not None:
                    await role.delete_item(tx, now_found[0].id, now_found[1].name)
                return
            assert target is not None
            item = new
            if current is None:
                if await role.item_count(tx, target.id) >= limit:
                    raise ItipError(f"Your calendar holds its limit of {limit} events.", 507)
                item = dataclasses.replace(
                    new, name=await _free_name(tx, self._store, target.id, new.uid)
                )
            await role.put_item(tx, target.id, item)

        now = self._clock.now()
        calendar = await asyncio.to_thread(reply_calendar, scheduling, me, partstat, now)
        verb = {"ACCEPTED": "accepted", "TENTATIVE": "tentatively accepted"}.get(
            partstat, "declined"
        )
        lead = f"{me.shown()} has {verb} your invitation:"
        return await self._send(
            user,
            me,
            [scheduling.organizer],
            REPLY,
            scheduling,
            lead,
            calendar,
            in_unit,
            answer=partstat,
        )

    async def remove_cancelled(self, user: Writer, scheduling: Scheduling) -> bool:
        """Apply a CANCEL to the user's calendar: the event (or the occurrence it
        names) removed; False when the calendar did not hold it."""
        if scheduling.method != CANCEL:
            raise ItipError("Only a cancellation (CANCEL) removes an event.")
        standing = await self.standing(user, scheduling, scheduling.organizer.address)
        if standing.out_of_date:
            raise ItipError(
                "This cancellation is out of date: your calendar has a newer version.", 409
            )
        found = await self._store.read(self._find, user.account_id, scheduling.uid)
        if found is None:
            return False
        collection, item = found
        rest = await asyncio.to_thread(cancelled_copy, item.data, scheduling)
        try:
            if rest is None:
                await self._groupware.delete(collection, item.name, if_match=f'"{item.etag}"')
            else:
                await self._groupware.put(
                    collection, item.name, rest, if_match=f'"{item.etag}"', if_none_match=None
                )
        except GroupwareError as exc:
            raise ItipError(exc.message, exc.status) from None
        return True

    async def record_reply(self, user: Writer, scheduling: Scheduling, mail_from: str) -> Person:
        """Record an attendee's REPLY in the organiser's event; the attendee."""
        if scheduling.method != REPLY:
            raise ItipError("Only an answer (REPLY) is recorded.")
        standing = await self.standing(user, scheduling, mail_from)
        _refuse(standing, "answer")
        found = await self._store.read(self._find, user.account_id, scheduling.uid)
        assert found is not None and standing.me is not None
        collection, item = found
        text = await asyncio.to_thread(recorded_reply, item.data, scheduling)
        try:
            await self._groupware.put(
                collection, item.name, text, if_match=f'"{item.etag}"', if_none_match=None
            )
        except GroupwareError as exc:
            raise ItipError(exc.message, exc.status) from None
        return standing.me

    # --- the user's calendars

    async def _find(self, tx: Tx, account_id: int, uid: str) -> tuple[Collection, Item] | None:
        """The event of this UID in any of the user's event calendars."""
        role = self._store.groupware
        for collection in await role.collections(tx, account_id, CALENDAR):
            if "VEVENT" not in collection.components:
                continue
            item = await role.item_by_uid(tx, collection.id, uid)
            if item is not None:
                return collection, item
        return None

    async def _default_calendar(self, tx: Tx, account_id: int) -> Collection:
        """The user's calendar `calendar`, else their first that holds events."""
        found = await self._store.groupware.ensure_defaults(tx, account_id)
        events = [c for c in found if c.kind == CALENDAR and "VEVENT" in c.components]
        for collection in events:
            if collection.name == DEFAULT_CALENDAR:
                return collection
        if not events:
            raise ItipError("You have no calendar for events: make one first.", 409)
        return events[0]


@dataclass(frozen=True, slots=True)
class _Version:
    sequence: int
    stamp: datetime | None
    organizer: str
    partstats: dict[str, str]


def _version(text: str) -> _Version:
    try:
        master = master_event(icalendar.Calendar.from_ical(text))
    except (ValueError, KeyError, IndexError, TypeError):
        return _Version(0, None, "", {})
    organizer = person_of(master.get("ORGANIZER"))
    return _Version(
        sequence_of(master),
        stamp_of(master),
        organizer.key if organizer else "",
        {p.key: p.partstat for p in people_of(master)},
    )


def _reply_standing(
    scheduling: Scheduling, own: set[str], stored: _Version | None, mail_from: str
) -> Standing:
    attendee = scheduling.attendees[0]
    problem = ""
    if stored is None:
        problem = "None of your calendars holds this event (it may have been deleted)."
    elif stored.organizer and stored.organizer not in own:
        problem = "You do not organise this event: only its organiser records answers."
    elif attendee.key not in stored.partstats:
        problem = (
            f"{attendee.address} is not among the attendees of this event: "
            "the answer is not recorded."
        )
    elif mail_from.lower() not in (attendee.key, attendee.sent_by.lower()):
        problem = (
            f"This answer for {attendee.address} comes from {mail_from or 'an unknown sender'}: "
            "it is not recorded."
        )
    out_of_date = stored is not None and scheduling.sequence < stored.sequence
    answer = stored.partstats.get(attendee.key, "") if stored is not None else ""
    return Standing(attendee, stored is not None, answer, out_of_date, problem)


def _refuse(standing: Standing, what: str) -> None:
    if standing.problem:
        raise ItipError(standing.problem, 403)
    if standing.out_of_date:
        raise ItipError(
            f"This {what} is out of date: your calendar has a newer version of the event.", 409
        )


async def _free_name(tx: Tx, store: Store, collection_id: int, uid: str) -> str:
    """A resource name for a new event: its UID when that is a safe name no other
    item has, else a hash of it."""
    if _SAFE_NAME.fullmatch(uid):
        name = f"{uid}.ics"
        if await store.groupware.item(tx, collection_id, name) is None:
            return name
    digest = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{digest}.ics"
