"""The mailbox page (folders on the side, a folder's messages) and the list's actions.

The list is paged by keyset (`?after=` is an opaque link the list made) and
sorted by date, sender, subject or size. Dates are shown in the user's time
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
from roost.control.mail_list import MailList
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


def chosen_uids(page: MailRequest) -> list[int] | None:
    """The ticked UIDs, or None for every message of the folder."""
    if page.form.get("all") == "yes":
        return None
    uids = []
    for text in page.form.all("uid"):
        if not text.isdigit() or not 0 < int(text) <= MAX_UID:
            raise PageError(400, f"{text[:20]!r} is not a message of this list.")
        uids.append(int(text))
    if not uids:
        raise PageError(400, "Tick the messages first (or “all in this folder”).")
    return uids


def mailbox_routes(mail: Webmail, folders: MailFolders, messages: MailList) -> list[BaseRoute]:
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
        listing = await messages.page(
            page.session.account_id,
            current.name,
            key,
            descending=descending == "desc",
            cursor=query.get("after") or None,
        )
        state = await list_state(page.session.account_id)
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()
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
                "rows": [row_of(m, now, zone) for m in listing.messages],
                "total": listing.total,
                "waiting": listing.waiting,
                "sort": key.value,
                "order": descending,
                "first_url": f"{HOME}?{urlencode(base)}",
                "next_url": f"{HOME}?{urlencode({**base, 'after': listing.next_cursor})}"
                if listing.next_cursor
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
        uids = chosen_uids(page)
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

    async def empty(page: MailRequest) -> Response:
        folder = page.form.get("folder")
        count = await messages.empty(page.session.account_id, folder)
        return back(folder, f"{count} deleted for good.")

    return [
        Route(HOME, mail.page(home), methods=["GET"]),
        Route(STATE_URL, mail.page(state), methods=["GET"]),
        Route("/mail/messages/action", mail.page(action), methods=["POST"]),
        Route("/mail/messages/empty", mail.page(empty), methods=["POST"]),
    ]
