"""Manage → Services: one row per service, live updates, and start, stop, restart.

`/admin/services` renders the rows; `/admin/services/status` gives the same
rows as JSON, which the page's script asks for every `[admin] refresh_s`
and puts into the rows in place (selection and focus stay where they are).

An action names one or several services. Without the script, the toolbar
and the per-row menus post to `/admin/services/confirm`, a page that names
the effect of each; its button posts to `/admin/services/action`. With the
script, a dialog names the same effects and posts the action itself. Every
name is checked before anything is done (an unknown one changes nothing,
404); the result is reported per service; an action that would change
nothing (stop a stopped service) says so, with 409 when that is all there
was to do.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.views import when
from roost.core.errors import UnknownService
from roost.store.settings import JsonValue
from roost.supervisor.service import ServiceState
from roost.supervisor.supervisor import Supervisor, UnitStatus
from roost.web.admin import service_info
from roost.web.admin.console import AdminRequest, Console
from roost.web.forms import PageError, wants_json

RECENT_EVENTS = 10
"""Service events listed under the table (the full log is /admin/events)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    title: str
    ok: bool
    changed: bool
    message: str
    state: str

    def json(self) -> dict[str, JsonValue]:
        return {
            "service": self.name,
            "title": self.title,
            "ok": self.ok,
            "changed": self.changed,
            "message": self.message,
            "state": self.state,
        }


def requested(page: AdminRequest, supervisor: Supervisor) -> tuple[str, list[str]]:
    """The action and the services a form names: a row's menu, or the toolbar and ticks."""
    row = page.form.get("row")
    if row:
        name, _, action = row.rpartition(":")
        names = [name]
    else:
        action = page.form.get("action")
        names = page.form.all("service")
    if action not in service_info.ACTIONS:
        raise PageError(400, f"Unknown action {action!r}: choose Start, Stop or Restart.")
    if not names:
        raise PageError(400, "Choose at least one service (tick its row) first.")
    resolved = []
    for name in names:
        try:
            resolved.append(supervisor.resolve(name))
        except UnknownService as exc:
            raise PageError(404, f"{exc}. Nothing was changed.") from None
    return action, list(dict.fromkeys(resolved))


def services_routes(console: Console) -> list[BaseRoute]:
    web = console.web
    supervisor = web.supervisor
    store = web.store

    def statuses() -> list[UnitStatus]:
        """Every service, by its title (as on the Services page of any mail server)."""
        return sorted(supervisor.statuses(), key=lambda s: (s.title.lower(), s.node))

    def rows() -> list[service_info.ServiceRow]:
        now = store.clock.now()
        return [service_info.row(s, web.config, now) for s in statuses()]

    async def recent() -> list[dict[str, str]]:
        events = await store.read(store.events.list, limit=RECENT_EVENTS, object_prefix="service:")
        return [
            {
                "at": service_info.clock_time(e.at),
                "text": f"{e.object.removeprefix('service:')}: {e.old_state} → {e.new_state}"
                f" by {e.actor}" + (f" ({e.reason})" if e.reason else ""),
            }
            for e in events
        ]

    def show(
        page: AdminRequest,
        *,
        results: list[Outcome] | None = None,
        message: str = "",
        status: int = 200,
        recent_events: list[dict[str, str]],
    ) -> Response:
        return console.render(
            page.request,
            "services.html",
            {
                "rows": rows(),
                "results": results or [],
                "message": message,
                "recent": recent_events,
                "notice": "Your password is changed."
                if page.request.query_params.get("done") == "password"
                else "",
            },
            session=page.session,
            status=status,
        )

    async def page_view(page: AdminRequest) -> Response:
        return show(page, recent_events=await recent())

    async def status_view(page: AdminRequest) -> Response:
        now = store.clock.now()
        current = statuses()
        body: dict[str, JsonValue] = {
            "now": when(now),
            "updated": service_info.clock_time(now),
            "node": supervisor.node,
            "services": [service_info.row(s, web.config, now).json() for s in current],
            "banner": list[JsonValue](service_info.banner(current)),
            "recent": [dict[str, JsonValue](e) for e in await recent()],
        }
        return JSONResponse(body)

    async def confirm(page: AdminRequest) -> Response:
        action, names = requested(page, supervisor)
        chosen = [supervisor.status(n) for n in names]
        return console.render(
            page.request,
            "confirm.html",
            {
                "action": action,
                "names": names,
                "effects": [service_info.effects(s, web.config)[action] for s in chosen],
            },
            session=page.session,
        )

    async def act(page: AdminRequest) -> Response:
        try:
            action, names = requested(page, supervisor)
        except PageError as exc:
            if wants_json(page.request):
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            return show(page, message=exc.message, status=exc.status, recent_events=await recent())
        outcomes = await asyncio.gather(*(run(page, action, name) for name in names))
        status = 200 if any(o.changed for o in outcomes) else 409
        if wants_json(page.request):
            return JSONResponse(
                {"action": action, "results": [o.json() for o in outcomes]}, status_code=status
            )
        return show(page, results=list(outcomes), status=status, recent_events=await recent())

    async def run(page: AdminRequest, action: str, name: str) -> Outcome:
        before = supervisor.status(name)
        if action == "stop" and before.state is ServiceState.STOPPED:
            return _unchanged(before, "was already stopped; nothing changed")
        if action == "start" and before.state is ServiceState.RUNNING:
            return _unchanged(before, "was already running; nothing changed")
        actor = page.actor
        operation = {"start": supervisor.start, "stop": supervisor.stop}.get(
            action, supervisor.restart
        )
        after = await operation(name, actor.name, actor.source_address)
        wanted = ServiceState.STOPPED if action == "stop" else ServiceState.RUNNING
        ok = after.state is wanted
        done = {"start": "started", "stop": "stopped", "restart": "restarted"}[action]
        message = done if ok else f"is {after.state.value}: {after.reason or 'see its row'}"
        return Outcome(after.name, after.title, ok, True, message, after.state.value)

    return [
        Route("/admin/services", console.page(page_view), methods=["GET"]),
        Route("/admin/services/status", console.page(status_view), methods=["GET"]),
        Route("/admin/services/confirm", console.page(confirm), methods=["POST"]),
        Route("/admin/services/action", console.page(act), methods=["POST"]),
    ]


def _unchanged(status: UnitStatus, message: str) -> Outcome:
    return Outcome(status.name, status.title, True, False, message, status.state.value)
