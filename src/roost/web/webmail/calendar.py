"""The webmail's calendar under /mail/calendar.

/mail/calendar?view=day|week|month&date=YYYY-MM-DD   the grid, in the user's zone
/mail/calendar/event?cal=&uid=&rid=                   one event (or occurrence)
/mail/calendar/new                                    the form for a new event
/mail/calendar/edit?cal=&uid=&rid=&scope=this|all     the form for a change
/mail/calendar/delete                                 (POST) the event or one occurrence
/mail/calendar/invite                                 (POST) send the invitations again
/mail/calendar/colours.css                            the user's calendar colours

Pages are server-rendered: the grid places events with classes of
`static/calendar.css`, served with the webmail's other static files (the
pages' policy allows no inline style), and each
calendar's colour comes from a small stylesheet made for the user. What a
form changes and what it keeps is `roost.control.calendar_ical`; the reads
and writes are `roost.control.calendar_view`.

After a save or a delete of an event the user organises, the attendees are
told by mail (`roost.control.calendar_invites`): the form's "Send invitations
to the attendees" box, ticked when it is shown, says whether; a delete always
tells them. The page the user lands on says to whom mail went, or why it did
not (`calendar_notices`): the event is saved either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import icalendar
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control import calendar_forms as forms
from roost.control import calendar_ical as ical
from roost.control.calendar_forms import CalendarConflict, CalendarRefused, parse_event_form
from roost.control.calendar_invites import CalendarInvites, Mailed
from roost.control.calendar_view import (
    VIEWS,
    CalendarInfo,
    Calendars,
    Occurrence,
    colours_css,
    day_columns,
    form_values,
    month_weeks,
    occurrence_of,
    step,
    view_days,
)
from roost.control.compose import Writer
from roost.control.groupware import Groupware
from roost.control.user_settings import UserSettings
from roost.store.groupware import Item
from roost.web.context import WebContext
from roost.web.forms import PageError
from roost.web.webmail.calendar_notices import mailed_query, notices
from roost.web.webmail.invitation import invitations_of
from roost.web.webmail.pages import MailRequest, Webmail

CALENDAR = "/mail/calendar"
CALENDAR_CSS = "calendar.css"
"""The stylesheet of the calendar and task pages (one of `pages.STATIC`)."""
EVENT_FIELDS = (
    "title", "all_day", "start_date", "start_time", "end_date", "end_time", "location",
    "description", "calendar", "repeat", "count", "until", "attendees", "send_invitations",
)  # fmt: skip
PARTSTATS = {
    "NEEDS-ACTION": "has not answered",
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "maybe",
    "DELEGATED": "delegated",
}
REPEAT_WORDS = {
    "none": "Does not repeat",
    "daily": "Every day",
    "weekly": "Every week",
    "monthly": "Every month",
    "yearly": "Every year",
}


@dataclass(frozen=True, slots=True)
class CalendarPages:
    """What the calendar's pages and the task pages share: the user's calendars
    and zone, and pages drawn with the calendar stylesheet."""

    calendars: Calendars
    users: UserSettings
    mail: Webmail
    css_url: str

    @classmethod
    def of(cls, web: WebContext, mail: Webmail) -> CalendarPages:
        config = web.config
        calendars = Calendars(
            web.store,
            Groupware(web.store, config.dav),
            web.store.clock,
            max_shown=config.webmail.calendar_max_shown,
        )
        users = UserSettings(web.store, config.vacation)
        return cls(calendars, users, mail, mail.static_urls[CALENDAR_CSS])

    async def zone_of(self, page: MailRequest) -> ZoneInfo:
        return (await self.users.get(page.session.address)).zone

    def render(
        self, page: MailRequest, template: str, context: dict[str, object], status: int = 200
    ) -> Response:
        context = {"calendar_css_url": self.css_url, **context}
        return self.mail.render(template, context, session=page.session, status=status)

    async def form_page(
        self,
        page: MailRequest,
        template: str,
        values: dict[str, str],
        *,
        action: str,
        hidden: dict[str, str],
        heading: str,
        message: str,
        status: int,
        **extra: object,
    ) -> Response:
        """An event's or a task's form: `extra` is what only that form shows."""
        context: dict[str, object] = {
            "title": heading,
            "heading": heading,
            "values": values,
            "action": action,
            "hidden": hidden,
            "repeats": REPEAT_WORDS,
            "zone": (await self.zone_of(page)).key,
            "message": message,
            **extra,
        }
        return self.render(page, template, context, status)


def submitted(page: MailRequest, names: Iterable[str]) -> dict[str, str]:
    """The form's fields `names`, each "" when absent."""
    return {name: page.form.get(name) for name in names}


def refused_status(refused: CalendarRefused) -> int:
    """409 when the change lost a race with another (the user reads again), else 400."""
    return 409 if isinstance(refused, CalendarConflict) else 400


def colours_url(infos: list[CalendarInfo]) -> str:
    """The user's colour stylesheet, versioned by its content."""
    version = hashlib.sha256(colours_css(infos).encode()).hexdigest()[:12]
    return f"{CALENDAR}/colours.css?v={version}"


def event_url(occurrence: Occurrence) -> str:
    query = {"cal": occurrence.calendar, "uid": occurrence.uid}
    if occurrence.rid:
        query["rid"] = occurrence.rid
    return f"{CALENDAR}/event?{urlencode(query)}"


def view_url(view: str, day: date) -> str:
    return f"{CALENDAR}?{urlencode({'view': view, 'date': day.isoformat()})}"


def time_span(occurrence: Occurrence, day: date | None = None) -> str:
    if occurrence.all_day:
        return "All day"
    start = occurrence.start.strftime("%H:%M")
    end = occurrence.end.strftime("%H:%M")
    if day is not None and occurrence.first_day < day:
        start = "…"
    if day is not None and occurrence.last_day > day:
        end = "…"
    return f"{start}–{end}"


def when_text(occurrence: Occurrence) -> str:
    first = occurrence.first_day.strftime("%A %d %B %Y")
    if occurrence.all_day:
        if occurrence.last_day == occurrence.first_day:
            return f"{first}, all day"
        return f"{first} to {occurrence.last_day.strftime('%A %d %B %Y')}, all day"
    if occurrence.last_day == occurrence.first_day:
        return f"{first}, {time_span(occurrence)}"
    last = occurrence.end.strftime("%A %d %B %Y %H:%M")
    return f"{first} {occurrence.start.strftime('%H:%M')} to {last}"


def calendar_routes(web: WebContext, mail: Webmail) -> list[BaseRoute]:
    config = web.config
    pages = CalendarPages.of(web, mail)
    calendars, users, zone_of, render = pages.calendars, pages.users, pages.zone_of, pages.render
    invitations = invitations_of(web)
    invites = CalendarInvites(invitations)
    per_cell = config.webmail.calendar_month_cell_events
    max_attendees = config.dav.max_attendees

    def writer(page: MailRequest) -> Writer:
        session = page.session
        return Writer(session.account_id, session.address, session.display_name)

    def landing(url: str, done: str, mailed: Mailed) -> Response:
        query = urlencode({"done": done, **mailed_query(mailed)})
        separator = "&" if "?" in url else "?"
        return RedirectResponse(f"{url}{separator}{query}", status_code=303)

    async def today(zone: ZoneInfo) -> date:
        return web.store.clock.now().astimezone(zone).date()

    async def show(page: MailRequest) -> Response:
        query = page.request.query_params
        zone = await zone_of(page)
        view = query.get("view", "week")
        if view not in VIEWS:
            raise PageError(400, f"{view[:20]!r} is not a view: day, week or month.")
        now_day = await today(zone)
        day = _query_date(query.get("date", "")) or now_day
        first, last = view_days(view, day)
        infos, shown = await calendars.occurrences(page.session.address, first, last, zone)
        if view == "month":
            label = day.strftime("%B %Y")
        elif view == "week":
            label = f"Week of {first.strftime('%d %B %Y')}"
        else:
            label = day.strftime("%A %d %B %Y")
        context: dict[str, object] = {
            "title": "Calendar",
            "view": view,
            "day": day,
            "today": now_day,
            "label": label,
            "zone": zone.key,
            "calendars": infos,
            "colours_url": colours_url(await calendars.calendars(page.session.address, "")),
            "prev_url": view_url(view, step(view, day, False)),
            "next_url": view_url(view, step(view, day, True)),
            "today_url": view_url(view, now_day),
            "view_urls": {v: view_url(v, day) for v in VIEWS},
            "shown": shown,
            "columns": day_columns(shown.occurrences, first, last, zone) if view != "month" else [],
            "weeks": month_weeks(shown.occurrences, first, last, day.month, per_cell)
            if view == "month"
            else [],
            "hours": range(24),
            "event_url": event_url,
            "view_url": view_url,
            "time_span": time_span,
            "done": query.get("done", ""),
            "notices": notices(query, query.get("done", "")),
        }
        return render(page, "calendar.html", context)

    async def colours(page: MailRequest) -> Response:
        infos = await calendars.calendars(page.session.address, "")
        return Response(
            colours_css(infos),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "private, max-age=86400"},
        )

    async def show_event(page: MailRequest) -> Response:
        query = page.request.query_params
        zone = await zone_of(page)
        cal, uid, rid = query.get("cal", ""), query.get("uid", ""), query.get("rid", "")
        try:
            stored = await calendars.event(page.session.address, cal, uid)
            component = _instance(stored.calendar, stored.master(), rid)
        except CalendarRefused as refused:
            raise PageError(404, str(refused)) from None
        infos = await calendars.calendars(page.session.address, "")
        info = next((i for i in infos if i.name == cal), None)
        assert info is not None
        occurrence = _occurrence(component, stored.item, info, zone)
        master = stored.master()
        repeat = ical.simple_repeat(master) if master is not None else forms.Repeat("none")
        organizer = ical.addresses_of(component, "ORGANIZER")
        attendees = _attendees(component)
        context: dict[str, object] = {
            "title": occurrence.title,
            "occurrence": occurrence,
            "when": when_text(occurrence),
            "calendar": info,
            "colours_url": colours_url(infos),
            "description": ical.text_of(component, "DESCRIPTION"),
            "repeat": _repeat_words(repeat, master),
            "recurring": stored.item.recurring and bool(rid),
            "organizer": organizer[0] if organizer else "",
            "attendees": attendees,
            "etag": stored.item.etag,
            "rid": rid,
            "edit_this": _edit_url(cal, uid, rid, "this"),
            "edit_all": _edit_url(cal, uid, rid, "all"),
            "back": view_url("week", occurrence.first_day),
            "organised": bool(attendees)
            and await invitations.organises(writer(page), stored.item.data),
            "notices": notices(query, query.get("done", "")),
        }
        return render(page, "calendar_event.html", context)

    async def form_page(
        page: MailRequest,
        values: dict[str, str],
        *,
        action: str,
        hidden: dict[str, str],
        heading: str,
        scope: str = "all",
        custom_rule: str = "",
        organizer: str = "",
        message: str = "",
        status: int = 200,
    ) -> Response:
        return await pages.form_page(
            page,
            "calendar_form.html",
            values,
            action=action,
            hidden=hidden,
            heading=heading,
            message=message,
            status=status,
            calendars=await calendars.calendars(page.session.address),
            scope=scope,
            custom_rule=custom_rule,
            organizer=organizer,
        )

    async def new_form(page: MailRequest) -> Response:
        zone = await zone_of(page)
        query = page.request.query_params
        day = _query_date(query.get("date", "")) or await today(zone)
        try:
            start = forms.parse_time(query.get("time", ""), "time") or time(9)
        except CalendarRefused as refused:
            raise PageError(400, str(refused)) from None
        end_hour = min(start.hour + 1, 23)
        values = {name: "" for name in EVENT_FIELDS} | {
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "start_time": start.strftime("%H:%M"),
            "end_time": start.replace(hour=end_hour).strftime("%H:%M"),
            "calendar": "calendar",
            "repeat": "none",
            "send_invitations": "yes",
        }
        return await form_page(
            page, values, action=f"{CALENDAR}/new", hidden={}, heading="New event"
        )

    async def create(page: MailRequest) -> Response:
        values = submitted(page, EVENT_FIELDS)
        zone = await zone_of(page)
        address = page.session.address
        try:
            form = parse_event_form(values, zone, address, max_attendees)
            name = (await users.get(address)).display_name
            saved = await calendars.create(address, form, zone, name)
        except CalendarRefused as refused:
            return await form_page(
                page,
                values,
                action=f"{CALENDAR}/new",
                hidden={},
                heading="New event",
                message=str(refused),
                status=400,
            )
        send = values["send_invitations"] == "yes"
        mailed = await invites.saved(writer(page), None, saved.item.data, send=send)
        return landing(
            view_url(page.form.get("view") or "week", _day_of(form.start)), "saved", mailed
        )

    async def edit_form(page: MailRequest) -> Response:
        query = page.request.query_params
        cal, uid, rid = query.get("cal", ""), query.get("uid", ""), query.get("rid", "")
        scope = query.get("scope", "")
        zone = await zone_of(page)
        try:
            stored = await calendars.event(page.session.address, cal, uid)
        except CalendarRefused as refused:
            raise PageError(404, str(refused)) from None
        master = stored.master()
        recurring = stored.item.recurring and bool(rid)
        if recurring and scope not in ("this", "all"):
            context: dict[str, object] = {
                "title": "Change a repeating event",
                "edit_this": _edit_url(cal, uid, rid, "this"),
                "edit_all": _edit_url(cal, uid, rid, "all"),
            }
            return render(page, "calendar_ask.html", context)
        this_one = recurring and scope == "this"
        try:
            component = _instance(stored.calendar, master, rid) if this_one else master
        except CalendarRefused as refused:
            raise PageError(404, str(refused)) from None
        if component is None:
            raise PageError(400, "This event holds only changed occurrences: open one of them.")
        values = form_values(component, zone, cal, page.session.address)
        values["send_invitations"] = "yes"
        hidden = {"cal": cal, "uid": uid, "etag": stored.item.etag}
        if this_one:
            hidden["rid"] = rid
            values |= {"repeat": "none", "count": "", "until": ""}
        organizer = ical.addresses_of(component, "ORGANIZER")
        return await form_page(
            page,
            values,
            action=f"{CALENDAR}/edit",
            hidden=hidden,
            heading="Change this occurrence" if this_one else "Change the event",
            scope="this" if this_one else "all",
            custom_rule=ical.rule_text(component) if values["repeat"] == forms.KEEP_RULE else "",
            organizer=organizer[0]
            if organizer and organizer[0].lower() != page.session.address.lower()
            else "",
        )

    async def update(page: MailRequest) -> Response:
        values = submitted(page, EVENT_FIELDS)
        zone = await zone_of(page)
        address = page.session.address
        hidden = submitted(page, ("cal", "uid", "etag", "rid"))
        if not hidden["rid"]:
            hidden.pop("rid")
        try:
            form = parse_event_form(values, zone, address, max_attendees)
            name = (await users.get(address)).display_name
            saved = await calendars.update(
                address,
                hidden["cal"],
                hidden["uid"],
                hidden["etag"],
                form,
                zone,
                name,
                rid=hidden.get("rid", ""),
            )
        except CalendarRefused as refused:
            return await form_page(
                page,
                values,
                action=f"{CALENDAR}/edit",
                hidden=hidden,
                heading="Change the event",
                scope="this" if "rid" in hidden else "all",
                message=str(refused),
                status=refused_status(refused),
            )
        send = values["send_invitations"] == "yes"
        mailed = await invites.saved(writer(page), saved.previous, saved.item.data, send=send)
        return landing(view_url("week", _day_of(form.start)), "saved", mailed)

    async def delete(page: MailRequest) -> Response:
        fields = submitted(page, ("cal", "uid", "etag", "rid", "scope", "back"))
        rid = fields["rid"] if fields["scope"] == "this" else ""
        try:
            deleted = await calendars.delete(
                page.session.address, fields["cal"], fields["uid"], fields["etag"], rid=rid
            )
        except CalendarRefused as refused:
            raise PageError(refused_status(refused), str(refused)) from None
        mailed = await invites.deleted(
            writer(page), deleted.previous, rid=rid if deleted.rest is not None else ""
        )
        back = fields["back"] if fields["back"].startswith(CALENDAR) else CALENDAR
        return landing(back, "deleted", mailed)

    async def invite_again(page: MailRequest) -> Response:
        cal, uid = page.form.get("cal"), page.form.get("uid")
        try:
            stored = await calendars.event(page.session.address, cal, uid)
        except CalendarRefused as refused:
            raise PageError(404, str(refused)) from None
        user = writer(page)
        if not await invitations.organises(user, stored.item.data):
            raise PageError(403, "Only the event's organiser sends its invitations.")
        mailed = await invites.resend(user, stored.item.data)
        return landing(f"{CALENDAR}/event?{urlencode({'cal': cal, 'uid': uid})}", "sent", mailed)

    return [
        Route(CALENDAR, mail.page(show), methods=["GET"]),
        Route(f"{CALENDAR}/colours.css", mail.page(colours), methods=["GET"]),
        Route(f"{CALENDAR}/event", mail.page(show_event), methods=["GET"]),
        Route(f"{CALENDAR}/new", mail.page(new_form), methods=["GET"]),
        Route(f"{CALENDAR}/new", mail.page(create), methods=["POST"]),
        Route(f"{CALENDAR}/edit", mail.page(edit_form), methods=["GET"]),
        Route(f"{CALENDAR}/edit", mail.page(update), methods=["POST"]),
        Route(f"{CALENDAR}/delete", mail.page(delete), methods=["POST"]),
        Route(f"{CALENDAR}/invite", mail.page(invite_again), methods=["POST"]),
    ]


def _query_date(text: str) -> date | None:
    try:
        return forms.parse_date(text, "date")
    except CalendarRefused as refused:
        raise PageError(400, str(refused)) from None


def _day_of(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _edit_url(cal: str, uid: str, rid: str, scope: str) -> str:
    query = {"cal": cal, "uid": uid, "scope": scope}
    if rid:
        query["rid"] = rid
    return f"{CALENDAR}/edit?{urlencode(query)}"


def _instance(
    calendar: icalendar.Calendar, master: icalendar.Component | None, rid: str
) -> icalendar.Component:
    """The occurrence `rid` names as it is: its override, or the master moved there."""
    if rid:
        override = ical.override_of(calendar, "VEVENT", rid)
        if override is not None:
            return override
        if master is not None:
            return ical.make_override(master, ical.parse_rid(rid))
    if master is None:
        raise CalendarRefused("This event holds only changed occurrences.")
    return master


def _occurrence(
    component: icalendar.Component, item: Item, info: CalendarInfo, zone: ZoneInfo
) -> Occurrence:
    found = occurrence_of(component, item, info, zone)
    if found is None:
        raise PageError(400, "This event has no start.")
    return found


def _attendees(component: icalendar.Component) -> list[tuple[str, str]]:
    found = component.get("ATTENDEE")
    values = found if isinstance(found, list) else [] if found is None else [found]
    result = []
    for value in values:
        params = getattr(value, "params", {})
        state = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        address = str(value)
        address = address[7:] if address.lower().startswith("mailto:") else address
        result.append((address, PARTSTATS.get(state, state.lower())))
    return result


def _repeat_words(repeat: forms.Repeat, master: icalendar.Component | None) -> str:
    if repeat.frequency == forms.KEEP_RULE:
        return "Repeats: " + (
            ical.rule_text(master) if master is not None else "as set in another app"
        )
    words = REPEAT_WORDS.get(repeat.frequency, "")
    if repeat.count is not None:
        words += f", {repeat.count} times"
    if repeat.until is not None:
        words += f", until {repeat.until.strftime('%d %B %Y')}"
    return words if repeat.frequency != "none" else ""
