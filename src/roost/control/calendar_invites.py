"""What a save or a delete in the webmail's calendar tells the attendees.

The calendar form writes the event first (`roost.control.calendar_view`),
then this module sends, as the user, what the change means for the people it
names (RFC 5546 over RFC 6047, through `roost.control.itip.Invitations`):

- a new event: a REQUEST to every attendee;
- a change: when SEQUENCE went up (the time, the repeat rule, the place or
  the status changed: `roost.control.calendar_ical.SIGNIFICANT`), the updated
  REQUEST to every attendee, else a REQUEST to the ones added only; a CANCEL
  naming only them to the ones removed;
- deleting the event: a CANCEL to every attendee; deleting one occurrence: a
  CANCEL with its RECURRENCE-ID.

Only an event the user organises sends anything: an invitation from someone
else is answered from the message (`roost.web.webmail.invitation`). A form
whose "Send invitations" box is not ticked sends nothing. A refusal (the
hourly rate, the size, too many recipients) comes after the calendar write:
the event stays as saved, and `Mailed.refused` says why nothing more went.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import icalendar

from roost.control.calendar_ical import sequence_of
from roost.control.compose import Writer
from roost.control.itip import Invitations
from roost.control.itip_messages import ItipError

__all__ = ["CalendarInvites", "Mailed", "raised_sequence"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mailed:
    """What went out after a save or a delete."""

    invited: tuple[str, ...] = ()
    """The attendees a REQUEST went to."""
    cancelled: tuple[str, ...] = ()
    """The attendees a CANCEL went to."""
    refused: str = ""
    """Why the rest was not sent (an `ItipError.reason`); "" when all went."""


def _highest_sequence(text: str) -> int:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError, TypeError):
        return 0
    return max((sequence_of(c) for c in calendar.walk("VEVENT")), default=0)


def raised_sequence(previous: str, current: str) -> bool:
    """Whether the change raised SEQUENCE in any of the object's events (the
    series or an occurrence): it needs the attendees' answers again."""
    return _highest_sequence(current) > _highest_sequence(previous)


def _without(people: tuple[str, ...], gone: tuple[str, ...]) -> tuple[str, ...]:
    keys = {a.lower() for a in gone}
    return tuple(a for a in people if a.lower() not in keys)


class CalendarInvites:
    def __init__(self, invitations: Invitations) -> None:
        self._invitations = invitations

    async def saved(
        self, user: Writer, previous: str | None, current: str, *, send: bool
    ) -> Mailed:
        """After a create (`previous` None) or a change: REQUEST and CANCEL as
        the module's docstring says; nothing when `send` is off."""
        itip = self._invitations
        if not send:
            return Mailed()
        mine_now = await itip.organises(user, current)
        mine_before = previous is not None and await itip.organises(user, previous)
        now = await itip.invitees(user, current) if mine_now else ()
        before = await itip.invitees(user, previous) if previous and mine_before else ()
        removed = _without(before, now)
        added = _without(now, before)
        everyone = previous is None or await asyncio.to_thread(raised_sequence, previous, current)
        invite = now if everyone else added
        invited: tuple[str, ...] = ()
        cancelled: tuple[str, ...] = ()
        try:
            if removed and previous is not None:
                sent = await itip.send_cancel(user, previous, only=removed)
                cancelled = sent.recipients if sent else ()
            if invite:
                only = None if everyone else invite
                sent = await itip.send_invitations(user, current, only=only)
                invited = sent.recipients if sent else ()
        except ItipError as refused:
            log.info("invitations of %s not sent: %s", user.address, refused.reason)
            return Mailed(invited, cancelled, refused.reason)
        return Mailed(invited, cancelled)

    async def resend(self, user: Writer, current: str) -> Mailed:
        """The event's REQUEST to every attendee again (after a refusal)."""
        try:
            sent = await self._invitations.send_invitations(user, current)
        except ItipError as refused:
            log.info("invitations of %s not sent: %s", user.address, refused.reason)
            return Mailed(refused=refused.reason)
        return Mailed(invited=sent.recipients if sent else ())

    async def deleted(self, user: Writer, previous: str, *, rid: str = "") -> Mailed:
        """After the event (or with `rid`, one occurrence of it) was deleted:
        a CANCEL to its attendees, made from the object as it was."""
        itip = self._invitations
        if not await itip.organises(user, previous):
            return Mailed()
        try:
            sent = await itip.send_cancel(user, previous, rid=rid)
        except ItipError as refused:
            log.info("cancellations of %s not sent: %s", user.address, refused.reason)
            return Mailed(refused=refused.reason)
        return Mailed(cancelled=sent.recipients if sent else ())
