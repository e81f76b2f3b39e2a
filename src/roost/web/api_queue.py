"""The queue under /api/v1/queue: list with filters and paging, one entry, actions, counts."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from roost.control.directory import Actor
from roost.control.queue_admin import QueueAction
from roost.control.views import queue_entry
from roost.store.settings import JsonValue
from roost.store.types import QueueState
from roost.web.api_common import endpoint, payload, whole_number
from roost.web.context import WebContext

MAX_PAGE = 1000


def queue_routes(web: WebContext) -> list[Route]:
    store = web.store

    async def list_entries(request: Request, actor: Actor) -> JsonValue:
        query = request.query_params
        states = None
        if "state" in query:
            try:
                states = [QueueState(s) for s in query["state"].split(",")]
            except ValueError:
                names = ", ".join(s.value for s in QueueState)
                raise HTTPException(400, f"'state' must be one of {names}") from None
        limit = whole_number(query.get("limit"), "limit", 100, low=1, high=MAX_PAGE)
        offset = whole_number(query.get("offset"), "offset", 0)
        total, entries = await store.read(
            store.queue.search,
            states=states,
            sender=query.get("sender"),
            domain=query.get("domain"),
            limit=limit,
            offset=offset,
        )
        now = store.clock.now()
        return {"total": total, "offset": offset, "entries": [queue_entry(e, now) for e in entries]}

    async def get_entry(request: Request, actor: Actor) -> JsonValue:
        entry_id = whole_number(request.path_params["id"], "id", 0)
        return queue_entry(await store.read(store.queue.entry, entry_id), store.clock.now())

    async def act(request: Request, actor: Actor) -> JsonValue:
        try:
            action = QueueAction(request.path_params["action"])
        except ValueError:
            names = ", ".join(a.value for a in QueueAction)
            raise HTTPException(
                404, f"no queue action {request.path_params['action']!r} ({names})"
            ) from None
        if "id" in request.path_params:
            ids = [whole_number(request.path_params["id"], "id", 0)]
        else:
            data = await payload(web, request)
            raw = data.get("ids")
            if not isinstance(raw, list) or not raw or not all(isinstance(i, int) for i in raw):
                raise HTTPException(400, "'ids' must be a non-empty list of entry ids")
            ids = raw
        for entry_id in ids:
            await web.queue.apply(actor, action, entry_id)
        return {"action": action.value, "ids": list[JsonValue](ids)}

    async def stats(request: Request, actor: Actor) -> JsonValue:
        counts = await store.read(store.queue.count)
        traffic: dict[str, JsonValue] = {
            kind: {
                "last_5_minutes": w.last_5_minutes,
                "last_24_hours": w.last_24_hours,
                "since_start": w.since_start,
            }
            for kind, w in web.stats.snapshot().items()
        }
        return {"queue": {state.value: n for state, n in counts.items()}, "traffic": traffic}

    v1 = "/api/v1/queue"
    return [
        Route(v1, endpoint(web, list_entries)),
        Route(f"{v1}/stats", endpoint(web, stats)),
        Route(f"{v1}/{{action}}", endpoint(web, act), methods=["POST"]),
        Route(f"{v1}/{{id}}", endpoint(web, get_entry)),
        Route(f"{v1}/{{id}}/{{action}}", endpoint(web, act), methods=["POST"]),
    ]
