"""The mailbox page (folders on the side, a folder's messages) and the list's actions.

The list is paged by keyset (`?after=` is an opaque link the list made) and
sorted by date, sender, subject or size; or, when the user chose "Conversations"
(kept in their settings, `roost.control.user_settings`), one row per
conversation of the folder, newest first, whose actions apply to every message
of the ticked conversations. Dates are shown in the user's time
zone, which the page's script reports in a cookie (`roost_tz`, an IANA name
checked against the time zone database; UTC until it is known). Every action
takes the ticked UIDs, or every message of the folder when "all N in this
folder" is ticked, and goes through `roost.control.mail_list`.

The page carries a token of the state of the user's folders (UIDNEXT,
HIGHESTMODSEQ and the count of each); its script asks `/mail/state` for the
current one every `list_poll_s` seconds and, when it differs, fetches the
page again and swaps the list in, so mail that arrives and changes made over
IMAP show within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.mail_folders import MailFolders
from roost.control.mail_list import ConversationItem, MailList
from roost.control.user_settings import SettingsRefused, UserSettings
from roost.store.mail_list import ListedMessage, SortKey
from roost.store.types import Flag, SpecialUse
from roost.web.forms import PageError
from roost.web.webmail.pages import HOME, MailRequest, Webmail

TZ_COOKIE = "roost_tz"
STATE_URL = "/mail/state"
MAX_TZ_CHARS = 64
MAX_UID = 2**32 - 1
DONE = {
    "password": "Your password is changed. Your other sessions have ended.",
    "created": "The folder is made.",
    "renamed": "The folder is renamed.",
    "deleted": "The folder is deleted.",
}
ACTIONS = ("read", "unread", "flag", "unflag", "delete", "junk", "move")
VIEW_URL = "/mail/view"
VIEWS = {"list": False, "conversations": True}
MAX_THREAD_KEY = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Row:
    uid: int
    sender: str
    sender_address: str
    subject: str
    date: str
    date_full: str
    size: str
    unread: bool
    flagged: bool
    answered: bool
    attachment: bool


@dataclass(frozen=True, slots=True)
class ConversationRow:
    key: int | None
    """The conversation's key; None for a message not threaded yet (ticked by UID)."""
    uid: int
    """Its newest message, which the row opens."""
    participants: str
    participants_full: str
    subject: str
    count: int
    date: str
    date_full: str
    size: str
    unread: bool
    flagged: bool
    attachment: bool


def user_zone(request: Request) -> tzinfo:
    name = request.cookies.get(TZ_COOKIE, "")
    if not name or len(name) > MAX_TZ_CHARS or name.startswith(("/", ".")) or ".." in name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def short_date(when: datetime, now: datetime, zone: tzinfo) -> str:
    local = when.astimezone(zone)
    today = now.astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if local.year == today.year:
        return local.strftime("%d %b")
    return local.strftime("%Y-%m-%d")


def human_size(octets: int) -> str:
    if octets < 1024:
        return f"{octets} B"
    if octets < 1024 * 1024:
        return f"{octets / 1024:.0f} KB"
    return f"{octets / 1024 / 1024:.1f} MB"


def row_of(message: ListedMessage, now: datetime, zone: tzinfo) -> Row:
    summary = message.summary
    local = message.internal_date.astimezone(zone)
    return Row(
        uid=message.uid,
        sender=summary.from_text if summary else "",
        sender_address=summary.from_address if summary else "",
        subject=summary.subject if summary else "",
        date=short_date(message.internal_date, now, zone),
        date_full=local.strftime("%Y-%m-%d %H:%M %Z"),
        size=human_size(message.size),
        unread=Flag.SEEN not in message.flags,
        flagged=Flag.FLAGGED in message.flags,
        answered=Flag.ANSWERED in message.flags,
        attachment=bool(summary and summary.has_attachments),
    )


def conversation_row(item: ConversationItem, now: datetime, zone: tzinfo) -> ConversationRow:
    head, stats = item.head, item.stats
    names = ", ".join(stats.participants)
    more = f" +{stats.more_participants}" if stats.more_participants else ""
    return ConversationRow(
        key=head.thread_key,
        uid=head.uid,
        participants=(names + more) if names else "",
        participants_full=names + (f" and {stats.more_participants} more" if more else ""),
        subject=item.subject,
        count=stats.count,
        date=short_date(head.internal_date, now, zone),
        date_full=head.internal_date.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        size=human_size(stats.size),
        unread=stats.unread > 0,
        flagged=stats.flagged,
        attachment=stats.attachment,
    )


def _numbers(texts: list[str], top: int, what: str) -> list[int]:
    found = []
    for text in texts:
        if not text.isdigit() or not 0 < int(text) <= top:
            raise PageError(400, f"{text[:20]!r} is not a {what} of this list.")
        found.append(int(text))
    return found


async def chosen_uids(page: MailRequest, messages: MailList, folder: str) -> list[int] | None:
    """The ticked UIDs and every message of the ticked conversations, or None for
    every message of the folder."""
    if page.form.get("all") == "yes":
        return None
    uids = _numbers(page.form.all("uid"), MAX_UID, "message")
    keys = _numbers(page.form.all("conversation"), MAX_THREAD_KEY, "conversation")
    if not uids and not keys:
        raise PageError(400, "Tick the messages first (or “all in this folder”).")
    if keys:
        uids += await messages.conversation_uids(page.session.account_id, folder, keys)
        if not uids:
            raise PageError(
                404, "The ticked conversations have no messages here any more (moved?)."
            )
    return sorted(set(uids))


def mailbox_routes(mail: Webmail, folders: MailFolders, messages: MailList) -> list[BaseRoute]:
    users = UserSettings(mail.web.store, mail.web.config.vacation)

    async def list_state(account_id: int) -> str:
        """The folders' state, and whether a folder is still being summarised (its
        end changes the token too, so a list waiting for it fills in)."""
        token = await folders.state(account_id)
        return token + ("-sorting" if messages.summarising(account_id) else "")

    async def home(page: MailRequest) -> Response:
        query = page.request.query_params
        found = await folders.folders(page.session.account_id)
        quota = await folders.quota(page.session.address)
        chosen = query.get("folder", "INBOX")
        current = next((f for f in found if f.name == chosen), None)
        if current is None:
            raise PageError(404, f"There is no folder {chosen!r}.")
        try:
            key = SortKey(query.get("sort", "date"))
        except ValueError:
            raise PageError(400, "Sort by date, sender, subject or size.") from None
        descending = query.get("order", "desc" if key in (SortKey.DATE, SortKey.SIZE) else "asc")
        if descending not in ("asc", "desc"):
            raise PageError(400, "The order is asc or desc.")
        threaded = (await users.get(page.session.address)).conversation_view
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()
        cursor = query.get("after") or None
        conversations: list[ConversationRow] = []
        rows: list[Row] = []
        if threaded:
            key, descending = SortKey.DATE, "desc"
            grouped = await messages.conversations(
                page.session.account_id, current.name, cursor=cursor
            )
            conversations = [conversation_row(c, now, zone) for c in grouped.conversations]
            next_cursor, total, waiting = grouped.next_cursor, grouped.total, grouped.waiting
        else:
            listing = await messages.page(
                page.session.account_id,
                current.name,
                key,
                descending=descending == "desc",
                cursor=cursor,
            )
            rows = [row_of(m, now, zone) for m in listing.messages]
            next_cursor, total, waiting = listing.next_cursor, listing.total, listing.waiting
        state = await list_state(page.session.account_id)
        base = {"folder": current.name, "sort": key.value, "order": descending}
        return mail.render(
            "mailbox.html",
            {
                "title": current.name,
                "folders": found,
                "current": current,
                "quota": quota,
                "done": DONE.get(query.get("done", ""), query.get("note", "")[:200]),
                "home": HOME,
                "rows": rows,
                "threaded": threaded,
                "conversations": conversations,
                "view_url": VIEW_URL,
                "total": total,
                "waiting": waiting,
                "sort": key.value,
                "order": descending,
                "first_url": f"{HOME}?{urlencode(base)}",
                "next_url": f"{HOME}?{urlencode({**base, 'after': next_cursor})}"
                if next_cursor
                else "",
                "paged": bool(query.get("after")),
                "sort_url": {
                    k.value: f"{HOME}?"
                    + urlencode(
                        {
                            "folder": current.name,
                            "sort": k.value,
                            "order": ("asc" if descending == "desc" else "desc")
                            if k is key
                            else ("desc" if k in (SortKey.DATE, SortKey.SIZE) else "asc"),
                        }
                    )
                    for k in SortKey
                },
                "emptiable": current.special_use in (SpecialUse.TRASH, SpecialUse.JUNK),
                "zone": str(zone),
                "state": state,
                "state_url": STATE_URL,
                "poll_ms": int(mail.settings.list_poll_s * 1000),
            },
            session=page.session,
        )

    async def state(page: MailRequest) -> Response:
        """The token of the user's folders: the list's script asks for it every
        `list_poll_s` and fetches the page again when it changed."""
        token = await list_state(page.session.account_id)
        return JSONResponse({"state": token}, headers={"Cache-Control": "no-store"})

    def back(folder: str, note: str) -> Response:
        return RedirectResponse(
            f"{HOME}?{urlencode({'folder': folder, 'note': note})}", status_code=303
        )

    async def action(page: MailRequest) -> Response:
        folder = page.form.get("folder")
        what = page.form.get("action")
        if what not in ACTIONS:
            raise PageError(400, f"Unknown action {what[:40]!r}.")
        uids = await chosen_uids(page, messages, folder)
        account = page.session.account_id
        match what:
            case "read" | "unread":
                count = await messages.set_flag(account, folder, uids, Flag.SEEN, what == "read")
                note = f"{count} marked as {what}."
            case "flag" | "unflag":
                count = await messages.set_flag(account, folder, uids, Flag.FLAGGED, what == "flag")
                note = f"{count} {'flagged' if what == 'flag' else 'unflagged'}."
            case "delete":
                note = (await messages.delete(account, folder, uids)) + "."
            case "junk":
                count = await messages.junk(account, folder, uids)
                note = f"{count} moved to Junk."
            case _:
                target = page.form.get("target")
                if not target:
                    raise PageError(400, "Choose the folder to move to.")
                count = await messages.move(account, folder, uids, target)
                note = f"{count} moved to {target}."
        return back(folder, note)

    async def view(page: MailRequest) -> Response:
        """List folders by message or by conversation (kept in the user's settings)."""
        folder = page.form.get("folder") or "INBOX"
        chosen = page.form.get("view")
        if chosen not in VIEWS:
            raise PageError(400, "Choose the list by message or by conversation.")
        try:
            await users.set_conversation_view(page.session.address, VIEWS[chosen])
        except SettingsRefused as exc:
            raise PageError(400, str(exc)) from None
        return RedirectResponse(f"{HOME}?{urlencode({'folder': folder})}", status_code=303)

    async def empty(page: MailRequest) -> Response:
        folder = page.form.get("folder")
        count = await messages.empty(page.session.account_id, folder)
        return back(folder, f"{count} deleted for good.")

    return [
        Route(HOME, mail.page(home), methods=["GET"]),
        Route(STATE_URL, mail.page(state), methods=["GET"]),
        Route("/mail/messages/action", mail.page(action), methods=["POST"]),
        Route("/mail/messages/empty", mail.page(empty), methods=["POST"]),
        Route(VIEW_URL, mail.page(view), methods=["POST"]),
    ]
