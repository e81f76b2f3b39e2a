"""Invitations in the read pane: a message's iTIP object shown, and answered.

When the message being read carries text/calendar (RFC 6047), the read page
shows the event above the body: its title, its time in the user's time zone,
where, the organiser and the attendees with their answers, and what may be
done with it:

- REQUEST: Accept, Tentative, Decline (the answer goes to the organiser as a
  REPLY; accepting keeps the event in the user's calendar).
- CANCEL: "cancelled", and a button that removes the event from the calendar.
- REPLY (to the organiser): who answered what, and a button that records the
  answer in the organiser's event. A button rather than on opening: a GET
  must change nothing (link prefetchers, previews and the back button open
  pages too), and the organiser sees what will change before it does.

Each button is a form POSTed with the session's CSRF token to
`/mail/invitation`, naming the message (folder and UID) only: the calendar is
read again from the message itself, never from the form. The page then
comes back with `?invitation=<what was done>` and says so. A calendar part
that cannot be read is named with the reason; the part stays among the
attachments.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import tzinfo
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.compose import Writer
from roost.control.itip import Invitations, ItipLimits, Standing
from roost.control.itip_messages import (
    CANCEL,
    REPLY,
    REQUEST,
    ItipError,
    Scheduling,
    describe_when,
    received,
)
from roost.control.mail_view import Loaded, MailView, clean_text, sender_address
from roost.web.context import WebContext
from roost.web.forms import PageError
from roost.web.webmail.pages import MailRequest, Webmail

PATH = "/mail/invitation"
ACTIONS = {
    "accept": "ACCEPTED",
    "tentative": "TENTATIVE",
    "decline": "DECLINED",
    "remove": "",
    "record": "",
}
DONE = {
    "accepted": "You accepted: the event is in your calendar and the organiser is told.",
    "tentative": "You accepted tentatively: the event is in your calendar and the organiser "
    "is told.",
    "declined": "You declined: the organiser is told, and the event is not in your calendar.",
    "removed": "The cancelled event is removed from your calendar.",
    "absent": "Your calendar does not hold this event: there is nothing to remove.",
    "recorded": "The answer is recorded in your event.",
}
PARTSTAT_WORDS = {
    "ACCEPTED": "accepted",
    "TENTATIVE": "tentative",
    "DECLINED": "declined",
    "DELEGATED": "delegated",
    "NEEDS-ACTION": "not answered yet",
}
MAX_FOLDER_CHARS = 1000
MAX_UID = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Guest:
    who: str
    answer: str


@dataclass(frozen=True, slots=True)
class Panel:
    """What the read page shows of an invitation."""

    method: str
    title: str
    when: str
    repeats: str
    where: str
    organizer: str
    guests: tuple[Guest, ...]
    description: str
    notes: tuple[str, ...]
    """Why something may not be done, or what to know first."""
    answer: str
    """The user's answer now (REQUEST), or the one recorded (REPLY)."""
    actions: tuple[tuple[str, str], ...]
    """(form value, button label) of the buttons shown."""
    done: str
    problem: str
    """Why the calendar part could not be read; "" when it was."""


def invitations_of(web: WebContext) -> Invitations:
    """The invitations over the context's intake and submission policy (the ones
    the compose page and SMTP submission use); the calendar view builds its own
    with this too."""
    store = web.store
    return Invitations(store, *web.sending(), ItipLimits.of(web.config), store.clock)


def _writer(page: MailRequest) -> Writer:
    session = page.session
    return Writer(session.account_id, session.address, session.display_name)


def _mail_from(loaded: Loaded) -> str:
    return sender_address(loaded.structure)


class InvitationPages:
    def __init__(self, mail: Webmail, view: MailView) -> None:
        self._mail = mail
        self._view = view
        self.invitations = invitations_of(mail.web)

    async def panel(self, page: MailRequest, loaded: Loaded, zone: tzinfo) -> Panel | None:
        """The invitation the message carries, for the read page; None when none."""
        found = await asyncio.to_thread(received, loaded, self.invitations.limits.dav)
        if found is None:
            return None
        done = DONE.get(page.request.query_params.get("invitation", ""), "")
        if found.scheduling is None:
            return _unreadable(found.problem)
        scheduling = found.scheduling
        standing = await self.invitations.standing(_writer(page), scheduling, _mail_from(loaded))
        return _panel(
            scheduling, standing, _mail_from(loaded), zone, done, self._mail.settings.max_view_chars
        )

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self._mail.page(self._act), methods=["POST"])]

    async def _act(self, page: MailRequest) -> Response:
        folder = page.form.get("folder")
        uid_text = page.form.get("uid")
        action = page.form.get("action")
        if not folder or len(folder) > MAX_FOLDER_CHARS:
            raise PageError(400, "That is not a folder of yours.")
        if not uid_text.isdigit() or not 0 < int(uid_text) <= MAX_UID:
            raise PageError(400, "That is not a message of this folder.")
        if action not in ACTIONS:
            raise PageError(400, "Choose accept, tentative, decline, remove or record.")
        uid = int(uid_text)
        loaded = await self._view.load(page.session.account_id, folder, uid)
        found = await asyncio.to_thread(received, loaded, self.invitations.limits.dav)
        if found is None or found.scheduling is None:
            raise PageError(400, found.problem if found else "This message carries no invitation.")
        scheduling = found.scheduling
        writer = _writer(page)
        try:
            done = await self._do(writer, scheduling, action, _mail_from(loaded))
        except ItipError as exc:
            raise PageError(exc.status, exc.message + " Nothing was changed.") from None
        query = urlencode({"folder": folder, "uid": uid, "invitation": done})
        return RedirectResponse(f"/mail/message?{query}", status_code=303)

    async def _do(self, writer: Writer, scheduling: Scheduling, action: str, mail_from: str) -> str:
        invitations = self.invitations
        match (scheduling.method, action):
            case ("REQUEST", "accept" | "tentative" | "decline"):
                partstat = ACTIONS[action]
                await invitations.answer(writer, scheduling, partstat)
                return PARTSTAT_WORDS[partstat]
            case ("CANCEL", "remove"):
                removed = await invitations.remove_cancelled(writer, scheduling)
                return "removed" if removed else "absent"
            case ("REPLY", "record"):
                await invitations.record_reply(writer, scheduling, mail_from)
                return "recorded"
        raise ItipError(f"A {scheduling.method} message cannot be answered with {action}.")


def _unreadable(problem: str) -> Panel:
    return Panel(
        method="",
        title="",
        when="",
        repeats="",
        where="",
        organizer="",
        guests=(),
        description="",
        notes=(),
        answer="",
        actions=(),
        done="",
        problem=problem,
    )


def _panel(
    scheduling: Scheduling,
    standing: Standing,
    mail_from: str,
    zone: tzinfo,
    done: str,
    max_chars: int,
) -> Panel:
    notes: list[str] = []
    actions: tuple[tuple[str, str], ...] = ()
    method = scheduling.method
    if standing.problem:
        notes.append(standing.problem)
    if standing.out_of_date:
        notes.append(
            "This invitation is out of date: your calendar has a newer version of the event."
            if method != REPLY
            else "This answer is out of date: it is for an earlier version of the event."
        )
    organizer = scheduling.organizer
    if method != REPLY and mail_from and mail_from not in (organizer.key, organizer.sent_by):
        notes.append(
            f"This message comes from {mail_from}, not from the organiser {organizer.address}."
        )
    if scheduling.recurrence_id is not None:
        notes.append(
            "This message is about one occurrence: "
            + describe_when(scheduling.recurrence_id, None, zone)
            + "."
        )
    usable = not standing.problem and not standing.out_of_date
    if method == REQUEST and usable:
        actions = (("accept", "Accept"), ("tentative", "Tentative"), ("decline", "Decline"))
    elif method == CANCEL and usable and standing.stored:
        actions = (("remove", "Remove from my calendar"),)
    elif method == CANCEL and not standing.stored:
        notes.append("Your calendar does not hold this event.")
    elif method == REPLY and usable:
        actions = (("record", "Record this answer"),)
    answer = PARTSTAT_WORDS.get(standing.answer, standing.answer.lower()) if standing.answer else ""
    return Panel(
        method=method,
        title=clean_text(scheduling.summary, 1000) or "(no title)",
        when=describe_when(scheduling.start, scheduling.end, zone),
        repeats=clean_text(scheduling.repeats, 500),
        where=clean_text(scheduling.location, 1000),
        organizer=clean_text(organizer.shown(), 500),
        guests=tuple(
            Guest(
                clean_text(p.shown(), 500),
                PARTSTAT_WORDS.get(p.partstat, clean_text(p.partstat.lower(), 40)),
            )
            for p in scheduling.attendees
        ),
        description=scheduling.description[:max_chars],
        notes=tuple(notes),
        answer=answer,
        actions=actions,
        done=done,
        problem="",
    )
