"""Events and audit (`/admin/events`): every state change and admin action, newest first.

Filters: the actor (any part of it, without regard to case: `admin:root`,
`cli:`, `supervisor`), the object (its start: `service:` for every service,
`service:smtp` for one, `admin:` for sign-ins) and a time range in UTC.
Paging goes back by event id (`before`), so new events never shift a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.web.admin.console import AdminRequest, Console
from roost.web.admin.service_info import clock_time
from roost.web.forms import PageError

MAX_FILTER_CHARS = 200
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_time(value: str, name: str) -> datetime | None:
    """A time from the filter form (as `<input type=datetime-local>` sends it), in UTC."""
    value = value.strip()
    if not value:
        return None
    for layout in TIME_FORMATS:
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise PageError(400, f"{name} must be a date and time like 2026-01-31T14:05 (UTC).")


def events_routes(console: Console) -> list[BaseRoute]:
    store = console.web.store
    page_size = console.settings.events_page_size

    async def show(page: AdminRequest) -> Response:
        query = page.request.query_params
        filters = {
            key: query.get(key, "")[:MAX_FILTER_CHARS]
            for key in ("actor", "object", "since", "until")
        }
        message = ""
        status = 200
        try:
            since = parse_time(filters["since"], "From")
            until = parse_time(filters["until"], "Until")
            before_text = query.get("before", "")
            before = int(before_text) if before_text else None
            if before_text and (not before_text.isdigit() or before is None or before < 1):
                raise ValueError
        except PageError as exc:
            since = until = before = None
            message, status = exc.message, exc.status
        except ValueError:
            since = until = before = None
            message, status = "'before' must be an event number.", 400
        events = []
        if not message:
            events = await store.read(
                store.events.list,
                limit=page_size,
                before_id=before,
                since=since,
                until=until,
                object_prefix=filters["object"].strip() or None,
                actor_contains=filters["actor"].strip() or None,
            )
        older = None
        if len(events) == page_size:
            older = "?" + urlencode({**filters, "before": events[-1].id})
        rows = [
            {
                "id": e.id,
                "at": clock_time(e.at),
                "iso": e.at.isoformat(timespec="seconds"),
                "node": e.node,
                "object": e.object,
                "action": e.action,
                "change": f"{e.old_state or '–'} → {e.new_state}" if e.new_state else "",
                "actor": e.actor,
                "source": e.source_address or "",
                "reason": e.reason or "",
            }
            for e in events
        ]
        return console.render(
            page.request,
            "events.html",
            {
                "events": rows,
                "filters": filters,
                "older": older,
                "paged": before is not None,
                "message": message,
                "retention_days": console.settings.events_retention_days,
            },
            session=page.session,
            status=status,
        )

    return [Route("/admin/events", console.page(show), methods=["GET"])]
