"""Search in the webmail: `/mail/search?q=QUERY&page=N`, the box in every page's header.

The query language is the Indexing service's (`roost.control.search`):
words, "phrases", from:, to:, subject:, has:attachment, in:, before:,
after:. Results come ranked across the user's folders, each with its
folder, sender, subject, date (in the user's time zone, as the list shows
it) and a snippet whose hits are marked. The snippet arrives as segments
of plain text; the template escapes each one and wraps the hits in
`<mark>`, so nothing of a message reaches the page as markup.

The page never pretends: when the Indexing service is not running, or is
behind, it says so and by how many messages (those were scanned, newest
first, up to `[indexing] search_max_scanned`; the rest were not searched),
and an empty result always says what was searched. When more messages
match than `[indexing] search_max_ranked`, the newest that many are ranked
and paged, and the page says so and suggests more words. A query that cannot be
run (an unclosed quote, a bad date, too long, too many words) is answered
with status 400 and what to change, on the same page with the box filled in.

The user's contacts, events, tasks and notes that hold the words
(`roost.control.item_search`, the same index and query language) come first
on the first page, up to `[webmail] search_items_shown`; `what=items` lists
them all, a page at a time. Each links to its page in the webmail (a calendar
journal entry, which the webmail has no page for, is shown without a link).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import quote, urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.item_search import ItemHit, ItemKind, ItemPage, ItemSearch
from roost.control.search import MailSearch, QueryError, SearchHit, SearchPage, Segment, parse_query
from roost.web.api_index import indexing_state
from roost.web.webmail import contacts, notes
from roost.web.webmail.calendar import CALENDAR
from roost.web.webmail.messages import short_date, user_zone
from roost.web.webmail.pages import MailRequest, Webmail
from roost.web.webmail.tasks import TASKS

SEARCH_URL = "/mail/search"
MAX_PAGE = 100_000
"""A page number past any real result list: a larger one is refused, not counted to."""
STATES = {
    "stopped": "stopped",
    "failed": "failed",
    "starting": "starting",
    "stopping": "stopping",
    "absent": "not part of this server",
}


@dataclass(frozen=True, slots=True)
class Result:
    folder: str
    uid: int
    sender: str
    subject: str
    date: str
    date_full: str
    snippet: tuple[Segment, ...]
    url: str


def result_of(hit: SearchHit, now: datetime, zone: tzinfo) -> Result:
    return Result(
        folder=hit.mailbox,
        uid=hit.uid,
        sender=hit.sender,
        subject=hit.subject,
        date=short_date(hit.internal_date, now, zone),
        date_full=hit.internal_date.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        snippet=hit.snippet,
        url="/mail/message?" + urlencode({"folder": hit.mailbox, "uid": hit.uid}),
    )


KIND_WORDS = {
    ItemKind.CONTACT: "Contact",
    ItemKind.EVENT: "Event",
    ItemKind.TASK: "Task",
    ItemKind.NOTE: "Note",
}
WHAT = ("", "items")
"""`what`: messages (with the first items above them), or the items alone."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    kind: str
    kind_word: str
    title: str
    url: str
    when: str
    snippet: tuple[Segment, ...]


def item_url(hit: ItemHit) -> str:
    """The item's page in the webmail; "" where it has none."""
    match hit.component.upper():
        case "VCARD":
            return f"{contacts.ONE}/{quote(hit.collection, safe='')}/{quote(hit.name, safe='')}"
        case "NOTE":
            return f"{notes.ONE}/{quote(hit.collection, safe='')}/{quote(hit.name, safe='')}"
        case "VEVENT":
            return f"{CALENDAR}/event?{urlencode({'cal': hit.collection, 'uid': hit.uid})}"
        case "VTODO":
            return f"{TASKS}/edit?{urlencode({'list': hit.collection, 'uid': hit.uid})}"
        case _:
            return ""


def item_result_of(hit: ItemHit, now: datetime, zone: tzinfo) -> ItemResult:
    if hit.kind is ItemKind.EVENT and hit.starts_at is not None:
        when = hit.starts_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M")
    else:
        when = "changed " + short_date(hit.updated_at, now, zone)
    return ItemResult(
        kind=hit.kind.value,
        kind_word=KIND_WORDS[hit.kind],
        title=hit.title,
        url=item_url(hit),
        when=when,
        snippet=hit.snippet,
    )


def item_notes(found: ItemPage) -> list[str]:
    count = found.unsearched
    if not count:
        return []
    return [
        f"{count:,} contact{_s(count)}, event{_s(count)}, task{_s(count)} or note{_s(count)} "
        f"not indexed yet {'was' if count == 1 else 'were'} not searched: results may be missing."
    ]


def index_notes(found: SearchPage, state: str) -> list[str]:
    """What the page says about how complete the answer is, in words."""
    notes = []
    if found.more:
        notes.append(
            f"More than {found.max_ranked:,} messages match: the newest {found.max_ranked:,} "
            "are ranked. Add words to narrow the search."
        )
    behind = found.unindexed
    if state != "running":
        said = STATES.get(state, state)
        if behind:
            notes.append(
                f"Indexing is {said}: results come from the index as it was and a slower "
                f"scan of the {behind:,} message{_s(behind)} it has not indexed."
            )
        else:
            notes.append(
                f"Indexing is {said}: results come from the index as it was; new mail "
                "is found by a slower scan."
            )
    elif behind:
        notes.append(
            f"Indexing is {behind:,} message{_s(behind)} behind: "
            f"{'it was' if behind == 1 else 'they were'} searched by a slower scan."
        )
    if found.unsearched:
        notes.append(
            f"The {found.unsearched:,} oldest message{_s(found.unsearched)} not indexed yet "
            f"{'was' if found.unsearched == 1 else 'were'} not searched: results may be missing."
        )
    return notes


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _page_number(text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise QueryError(f"the page is a number from 1 to {MAX_PAGE:,}, not {text[:20]!r}")
    return int(text)


def search_routes(mail: Webmail) -> list[BaseRoute]:
    limits = mail.web.config.indexing
    searcher = MailSearch(mail.web.store, limits)
    items = ItemSearch(mail.web.store, limits)
    per_page = min(mail.settings.search_page_size, limits.search_max_per_page)
    items_shown = min(mail.settings.search_items_shown, limits.search_max_per_page)

    def show(page: MailRequest, context: dict[str, object], status: int = 200) -> Response:
        return mail.render(
            "search.html",
            {
                "title": "Search",
                "error": "",
                "notes": [],
                "results": None,
                "items": [],
                "what": "",
                **context,
            },
            session=page.session,
            status=status,
        )

    async def search(page: MailRequest) -> Response:
        params = page.request.query_params
        text = params.get("q", "")
        if not text.strip():
            return show(page, {"q": text})
        what = params.get("what", "")
        account = page.session.account_id
        try:
            if what not in WHAT:
                raise QueryError(f"what= is empty or 'items', not {what[:20]!r}")
            number = _page_number(params.get("page"))
            query = parse_query(text, limits)
            if what == "items":
                return await items_page(page, text, number)
            found = await searcher.search(account, query, page=number, per_page=per_page)
            first_items = (
                await items.search(account, text, per_page=items_shown) if number == 1 else None
            )
        except QueryError as exc:
            return show(page, {"q": text, "what": what, "error": str(exc)}, 400)
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()

        def page_url(n: int) -> str:
            return f"{SEARCH_URL}?{urlencode({'q': text, 'page': n})}"

        shown_items = first_items.hits if first_items else ()

        last = max(1, -(-found.total // per_page))
        return show(
            page,
            {
                "q": text,
                "folder": query.folder,
                "results": [result_of(hit, now, zone) for hit in found.hits],
                "total": found.total,
                "more": found.more,
                "page": number,
                "first": (number - 1) * per_page + 1,
                "last_shown": (number - 1) * per_page + len(found.hits),
                "pages": last,
                "prev_url": page_url(min(number - 1, last)) if number > 1 else "",
                "next_url": page_url(number + 1) if number < last else "",
                "notes": index_notes(found, indexing_state(mail.web))
                + (item_notes(first_items) if first_items else []),
                "zone": str(zone),
                "items": [item_result_of(hit, now, zone) for hit in shown_items],
                "items_total": first_items.total if first_items else 0,
                "items_url": f"{SEARCH_URL}?{urlencode({'q': text, 'what': 'items'})}",
            },
        )

    async def items_page(page: MailRequest, text: str, number: int) -> Response:
        """The items alone, a page at a time."""
        found = await items.search(page.session.account_id, text, page=number, per_page=per_page)
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()

        def page_url(n: int) -> str:
            return f"{SEARCH_URL}?{urlencode({'q': text, 'what': 'items', 'page': n})}"

        last = max(1, -(-found.total // per_page))
        return show(
            page,
            {
                "q": text,
                "what": "items",
                "items": [item_result_of(hit, now, zone) for hit in found.hits],
                "items_total": found.total,
                "page": number,
                "first": (number - 1) * per_page + 1,
                "last_shown": (number - 1) * per_page + len(found.hits),
                "pages": last,
                "prev_url": page_url(min(number - 1, last)) if number > 1 else "",
                "next_url": page_url(number + 1) if number < last else "",
                "notes": item_notes(found),
                "zone": str(zone),
                "mail_url": f"{SEARCH_URL}?{urlencode({'q': text})}",
            },
        )

    return [Route(SEARCH_URL, mail.page(search), methods=["GET"])]
