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
and an empty result always says what was searched. A query that cannot be
run (an unclosed quote, a bad date, too long, too many words) is answered
with status 400 and what to change, on the same page with the box filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.search import MailSearch, QueryError, SearchHit, SearchPage, Segment, parse_query
from roost.web.api_index import indexing_state
from roost.web.webmail.messages import short_date, user_zone
from roost.web.webmail.pages import MailRequest, Webmail

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


def index_notes(found: SearchPage, state: str) -> list[str]:
    """What the page says about how complete the answer is, in words."""
    notes = []
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
    per_page = min(mail.settings.search_page_size, limits.search_max_per_page)

    def show(page: MailRequest, context: dict[str, object], status: int = 200) -> Response:
        return mail.render(
            "search.html",
            {"title": "Search", "error": "", "notes": [], "results": None, **context},
            session=page.session,
            status=status,
        )

    async def search(page: MailRequest) -> Response:
        params = page.request.query_params
        text = params.get("q", "")
        if not text.strip():
            return show(page, {"q": text})
        try:
            number = _page_number(params.get("page"))
            query = parse_query(text, limits)
            found = await searcher.search(
                page.session.account_id, query, page=number, per_page=per_page
            )
        except QueryError as exc:
            return show(page, {"q": text, "error": str(exc)}, 400)
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()

        def page_url(n: int) -> str:
            return f"{SEARCH_URL}?{urlencode({'q': text, 'page': n})}"

        last = max(1, -(-found.total // per_page))
        return show(
            page,
            {
                "q": text,
                "folder": query.folder,
                "results": [result_of(hit, now, zone) for hit in found.hits],
                "total": found.total,
                "page": number,
                "first": (number - 1) * per_page + 1,
                "last_shown": (number - 1) * per_page + len(found.hits),
                "pages": last,
                "prev_url": page_url(min(number - 1, last)) if number > 1 else "",
                "next_url": page_url(number + 1) if number < last else "",
                "notes": index_notes(found, indexing_state(mail.web)),
                "zone": str(zone),
            },
        )

    return [Route(SEARCH_URL, mail.page(search), methods=["GET"])]
