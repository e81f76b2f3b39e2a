"""Mail search under /api/v1/search (the query language: `roost.control.search`).

GET /api/v1/search?user=ADDRESS&q=QUERY[&page=N&per_page=N]

The answer: `hits` (folder, UID, score, date, size, subject, sender, and a
snippet as segments with `hit` marking the matched text, for the face to
escape and highlight), `total`, `page`, `per_page`, `more` (more messages
match than `[indexing] search_max_ranked`: `total` is that many, the newest,
ranked and paged), and `index`: how many
messages of the searched folders are not indexed yet (they are not
searched), how many changes the indexer is behind, and the Indexing
service's state, so that a page says when the answer may be incomplete.
A query that cannot be run is a 400 whose `error` says what to change.

GET /api/v1/search/items?user=ADDRESS&q=QUERY[&kind=contact,event,task,note][&page=N&per_page=N]

The user's groupware items (`roost.control.item_search`): `hits` (kind,
collection, name, title, score, updated, starts, snippet), `total`, `page`,
`per_page`, and `index` as for mail: items not indexed yet are scanned (up
to `[indexing] search_max_scanned`), and the note says how many were not.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from roost.control.directory import Actor
from roost.control.item_search import ItemKind, ItemSearch
from roost.control.search import MailSearch, QueryError, parse_query
from roost.store.settings import JsonValue
from roost.web.api_common import endpoint
from roost.web.api_index import SERVICE, indexing_state
from roost.web.context import WebContext


def _number(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw!r}") from None


def search_routes(web: WebContext) -> list[Route]:
    store = web.store
    limits = web.config.indexing
    searcher = MailSearch(store, limits)

    async def search(request: Request, actor: Actor) -> JsonValue:
        user = request.query_params.get("user")
        if not user:
            raise QueryError("user=ADDRESS is required")
        query = parse_query(request.query_params.get("q", ""), limits)
        account = await store.read(store.directory.account, user)
        page = await searcher.search(
            account.id,
            query,
            page=_number(request, "page", 1),
            per_page=_number(request, "per_page", 20),
        )
        state = indexing_state(web)
        complete = page.unindexed == 0 and state == "running"
        note = _index_note(
            "messages", page.unindexed, page.unsearched, state, page.max_ranked if page.more else 0
        )
        return {
            "total": page.total,
            "more": page.more,
            "page": page.page,
            "per_page": page.per_page,
            "index": {
                "complete": complete,
                "unindexed": page.unindexed,
                "lag_changes": page.lag_changes,
                "indexing": state,
                "note": note,
            },
            "hits": [
                {
                    "folder": hit.mailbox,
                    "uid": hit.uid,
                    "score": hit.score,
                    "date": hit.internal_date.isoformat(),
                    "size": hit.size,
                    "subject": hit.subject,
                    "from": hit.sender,
                    "snippet": [{"text": s.text, "hit": s.hit} for s in hit.snippet],
                }
                for hit in page.hits
            ],
        }

    items = ItemSearch(store, limits)

    async def search_items(request: Request, actor: Actor) -> JsonValue:
        user = request.query_params.get("user")
        if not user:
            raise QueryError("user=ADDRESS is required")
        kinds = _kinds(request.query_params.get("kind", ""))
        account = await store.read(store.directory.account, user)
        page = await items.search(
            account.id,
            request.query_params.get("q", ""),
            kinds=kinds,
            page=_number(request, "page", 1),
            per_page=_number(request, "per_page", 20),
        )
        state = indexing_state(web)
        note = _index_note("items", page.unindexed, page.unsearched, state)
        return {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "index": {
                "complete": page.unindexed == 0 and state == "running",
                "unindexed": page.unindexed,
                "unsearched": page.unsearched,
                "indexing": state,
                "note": note,
            },
            "hits": [
                {
                    "kind": hit.kind.value,
                    "collection": hit.collection,
                    "name": hit.name,
                    "title": hit.title,
                    "score": hit.score,
                    "updated": hit.updated_at.isoformat(),
                    "starts": hit.starts_at.isoformat() if hit.starts_at else None,
                    "snippet": [{"text": s.text, "hit": s.hit} for s in hit.snippet],
                }
                for hit in page.hits
            ],
        }

    return [
        Route("/api/v1/search", endpoint(web, search)),
        Route("/api/v1/search/items", endpoint(web, search_items)),
    ]


def _kinds(raw: str) -> list[ItemKind] | None:
    """`kind=contact,event`: the kinds asked for (None: every kind)."""
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if not names:
        return None
    known = {k.value for k in ItemKind}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise QueryError(f"kind={unknown[0]} is not known; kinds are {', '.join(sorted(known))}")
    return [ItemKind(n) for n in names]


def _index_note(what: str, unindexed: int, unsearched: int, state: str, ranked: int = 0) -> str:
    """Why an answer may be incomplete, in words ("" when it is not);
    `ranked`: more match than were ranked, the newest this many."""
    note = ""
    if unsearched:
        note = f"{unsearched} {what} are not indexed yet and were not searched"
    elif unindexed:
        note = f"{unindexed} {what} are not indexed yet and were scanned"
    if state != "running":
        note = f"{SERVICE.title()} is {state}" + (f"; {note}" if note else "")
    if ranked:
        more = (
            f"more than {ranked} {what} match: the newest {ranked} are ranked; add words to narrow"
        )
        note = f"{note}; {more}" if note else more[0].upper() + more[1:]
    return note
