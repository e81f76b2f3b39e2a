"""The full-text index under /api/v1/index: status and rebuild.

GET  /api/v1/index[?user=ADDRESS]   messages, indexed, failed, pending (of one
                                    user, or of all), the indexer's place in the
                                    change feed, the most recent failures,
                                    `items`: the same counts for groupware items
                                    (contacts, events, tasks, notes), and
                                    `searches`: whether searches use the index,
                                    or fall back to scanning and why
GET  /api/v1/index/accounts         per account: messages, indexed, failed,
                                    queued (waiting for the indexer, scanned by
                                    searches meanwhile), processing (the
                                    indexer is on one of its mailboxes now)
POST /api/v1/index/rebuild          {"user": ADDRESS} or {} for everything (202):
                                    the documents (of messages and of groupware
                                    items) are dropped and the Indexing service
                                    indexes them again; searches scan meanwhile,
                                    with the same answers

`account_index` (and `roost.control.index_admin.rebuild_index`) are what the
admin console's user page uses too, so that the page and the API (and the
CLI through it) do the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.routing import Route

from roost.control.directory import Actor
from roost.control.index_admin import rebuild_index
from roost.core.errors import UnknownService
from roost.store.db import Tx
from roost.store.search import ItemSearchStatus, SearchStatus
from roost.store.settings import JsonValue
from roost.web.api_common import endpoint, payload, text
from roost.web.context import WebContext

FAILURES_SHOWN = 20
SERVICE = "indexing"


def searches(web: WebContext, counts: SearchStatus, lag_changes: int) -> dict[str, JsonValue]:
    """How searches are served now: `index`, `index and scan` (the messages
    without a document are scanned) or `scan`, with the reason in words."""
    state = indexing_state(web)
    if not web.config.indexing.use_index:
        return {"mode": "scan", "detail": "[indexing] use_index is false: every search scans"}
    if counts.indexed == 0 and counts.messages:
        mode = "scan"
    elif counts.pending or counts.failed:
        mode = "index and scan"
    else:
        mode = "index"
    parts = []
    if state != "running":
        parts.append(f"Indexing is {state}")
    if counts.pending:
        parts.append(f"{counts.pending} messages not indexed yet are scanned by each search")
    if counts.failed:
        parts.append(f"{counts.failed} messages that could not be indexed are scanned")
    if lag_changes:
        parts.append(f"{lag_changes} changes behind")
    return {
        "mode": mode,
        "indexing": state,
        "detail": "; ".join(parts) or "every message is indexed",
    }


def indexing_state(web: WebContext) -> str:
    """The Indexing service's state (`running`, `stopped`, ...) or `absent`."""
    try:
        return web.supervisor.status(SERVICE).state.value
    except UnknownService:
        return "absent"


def _indexer_counter(web: WebContext, name: str) -> int:
    try:
        counters = dict(web.supervisor.status(SERVICE).service.counters)
    except UnknownService:
        return 0
    return counters.get(name, 0)


def _processing_mailbox(web: WebContext) -> int:
    return _indexer_counter(web, "processing_mailbox")


@dataclass(frozen=True, slots=True)
class AccountIndex:
    """One account's place in the index, for the admin console's user page."""

    messages: SearchStatus
    items: ItemSearchStatus
    processing: bool
    """The indexer is on one of the account's mailboxes or items right now."""
    indexing: str
    """The Indexing service's state."""
    lag_changes: int


async def account_index(web: WebContext, address: str) -> AccountIndex:
    """The index status of one account (`DirectoryRole.account` raises for an
    unknown address)."""
    store = web.store
    mailbox = _processing_mailbox(web)
    item_account = _indexer_counter(web, "processing_item_account")

    async def read(tx: Tx) -> AccountIndex:
        account = await store.directory.account(tx, address)
        busy = await store.search.account_of_mailbox(tx, mailbox) if mailbox else None
        lag = max(0, await store.changes.latest(tx) - await store.search.cursor(tx))
        return AccountIndex(
            messages=await store.search.status(tx, account.id),
            items=await store.search.item_status(tx, account.id),
            processing=account.id in (busy, item_account),
            indexing=indexing_state(web),
            lag_changes=lag,
        )

    return await store.read(read)


def _item_counts(counts: ItemSearchStatus) -> dict[str, JsonValue]:
    return {
        "items": counts.items,
        "indexed": counts.indexed,
        "failed": counts.failed,
        "pending": counts.pending,
    }


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
            items = await store.search.item_status(tx, owner)
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
                "items": _item_counts(items),
                "searches": searches(web, counts, max(0, latest - cursor)),
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

        dropped = await rebuild_index(store, actor, user)
        return {
            "user": user.lower() if user else None,
            "dropped": dropped.messages + dropped.items,
            "dropped_items": dropped.items,
        }

    async def by_account(request: Request, actor: Actor) -> JsonValue:
        mailbox = _processing_mailbox(web)
        item_account = _indexer_counter(web, "processing_item_account")

        async def read(tx: Tx) -> JsonValue:
            busy = await store.search.account_of_mailbox(tx, mailbox) if mailbox else None
            return {
                "accounts": [
                    {
                        "user": row.address,
                        "messages": row.status.messages,
                        "indexed": row.status.indexed,
                        "failed": row.status.failed,
                        "queued": row.status.pending,
                        "processing": row.account_id in (busy, item_account),
                    }
                    for row in await store.search.accounts(tx)
                ]
            }

        return await store.read(read)

    v1 = "/api/v1/index"
    return [
        Route(v1, endpoint(web, status)),
        Route(f"{v1}/accounts", endpoint(web, by_account)),
        Route(f"{v1}/rebuild", endpoint(web, rebuild, 202), methods=["POST"]),
    ]
