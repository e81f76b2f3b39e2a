"""The full-text index under /api/v1/index: status and rebuild.

GET  /api/v1/index[?user=ADDRESS]   messages, indexed, failed, pending (of one
                                    user, or of all), the indexer's place in the
                                    change feed and the most recent failures
POST /api/v1/index/rebuild          {"user": ADDRESS} or {} for everything (202):
                                    the documents are dropped and the Indexing
                                    service indexes them again; searches scan
                                    meanwhile, with the same answers
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from roost.control.directory import Actor
from roost.store.db import Tx
from roost.store.settings import JsonValue
from roost.store.types import NewEvent
from roost.web.api_common import endpoint, payload, text
from roost.web.context import WebContext

FAILURES_SHOWN = 20


def index_routes(web: WebContext) -> list[Route]:
    store = web.store

    async def account_id(tx: Tx, user: str | None) -> int | None:
        if not user:
            return None
        return (await store.directory.account(tx, user)).id

    async def status(request: Request, actor: Actor) -> JsonValue:
        user = request.query_params.get("user")

        async def read(tx: Tx) -> JsonValue:
            owner = await account_id(tx, user)
            counts = await store.search.status(tx, owner)
            failures = await store.search.failures(tx, owner, FAILURES_SHOWN)
            cursor = await store.search.cursor(tx)
            latest = await store.changes.latest(tx)
            return {
                "user": user.lower() if user else None,
                "messages": counts.messages,
                "indexed": counts.indexed,
                "failed": counts.failed,
                "pending": counts.pending,
                "cursor": cursor,
                "latest_change": latest,
                "lag_changes": max(0, latest - cursor),
                "failures": [
                    {
                        "message_id": f.message_id,
                        "mailbox_id": f.mailbox_id,
                        "error": f.error,
                        "at": f.at.isoformat(),
                    }
                    for f in failures
                ],
            }

        return await store.read(read)

    async def rebuild(request: Request, actor: Actor) -> JsonValue:
        data = await payload(web, request)
        user = text(data, "user", required=False)

        async def work(tx: Tx) -> int:
            owner = await account_id(tx, user)
            dropped = await store.search.forget(tx, owner)
            await store.search.request_rescan(tx)
            await store.events.add(
                tx,
                NewEvent(
                    object=f"index:{user.lower() if user else '*'}",
                    action="rebuild",
                    actor=actor.name,
                    source_address=actor.source_address,
                    reason=f"{dropped} documents dropped",
                ),
            )
            return dropped

        dropped = await store.write(work)
        return {"user": user.lower() if user else None, "dropped": dropped}

    v1 = "/api/v1/index"
    return [
        Route(v1, endpoint(web, status)),
        Route(f"{v1}/rebuild", endpoint(web, rebuild, 202), methods=["POST"]),
    ]
