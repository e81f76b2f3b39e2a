"""`roost status`, `roost service start|stop|restart`, `roost events`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import click

from roost.cli.client import connect
from roost.cli.output import short_time, table
from roost.cli.state import State, run


def register(cli: click.Group) -> None:
    @cli.command("status")
    @click.option("--json", "as_json", is_flag=True, help="Print the full status as JSON.")
    @click.pass_obj
    def status(state: State, as_json: bool) -> None:
        """The Services page in a terminal. Exit code 1 when a service that
        should run is not running, or when Roost itself is not running."""

        async def work() -> int:
            async with connect(state.config, state.local_api, need_running=True) as api:
                services: list[dict[str, Any]] = await api.call("GET", "/services")
            if as_json:
                click.echo(json.dumps(services, indent=2))
            elif not services:
                click.echo("Roost is running. No services are built into this version yet.")
            else:
                show_services(services)
            down = [s for s in services if s["desired"] == "running" and s["state"] != "running"]
            return 1 if down else 0

        run(work())

    @cli.group("service")
    def service() -> None:
        """Start, stop or restart services (names as on the Services page, any case)."""

    for action in ("start", "stop", "restart"):
        service.add_command(_service_action(action))

    @cli.command("events")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--object", "obj", help="Only this object, e.g. service:smtp or user:a@b.c.")
    @click.option("--actor", help="Only actors containing this, e.g. admin:root or cli:.")
    @click.pass_obj
    def events(state: State, limit: int, obj: str | None, actor: str | None) -> None:
        """The event and audit log, newest first."""

        async def work() -> None:
            params = {"limit": limit, "object": obj, "actor": actor}
            query = "/events?" + urlencode({k: v for k, v in params.items() if v is not None})
            async with connect(state.config, state.local_api, need_running=False) as api:
                rows = await api.call("GET", query)
            table(
                ["TIME", "OBJECT", "ACTION", "CHANGE", "ACTOR", "FROM", "REASON"],
                [
                    [
                        short_time(e["at"]),
                        e["object"],
                        e["action"],
                        f"{e['old_state']} -> {e['new_state']}" if e["new_state"] else "",
                        e["actor"],
                        e["source_address"],
                        e["reason"],
                    ]
                    for e in rows
                ],
            )

        run(work())


def _service_action(action: str) -> click.Command:
    @click.argument("names", nargs=-1, required=True)
    @click.pass_obj
    def command(state: State, names: tuple[str, ...]) -> None:
        async def work() -> int:
            async with connect(state.config, state.local_api, need_running=True) as api:
                result = await api.call("POST", f"/services/{action}", {"names": list(names)})
            show_services(result)
            return 0 if all(s["state"] == s["desired"] for s in result) else 1

        run(work())

    command.__doc__ = f"{action.capitalize()} one or more services."
    return click.command(action)(command)


def show_services(services: list[dict[str, Any]]) -> None:
    rows = []
    for s in services:
        detail = s["reason"] or s["detail"]
        if s["next_retry_at"]:
            detail += f" (next try {short_time(s['next_retry_at'])})"
        probe = s["last_probe"]
        rows.append(
            [
                s["title"],
                s["state"] + ("" if s["state"] == s["desired"] else f" (wanted {s['desired']})"),
                short_time(s["since"]),
                s["sessions"],
                " ".join(s["listeners"]),
                ""
                if probe is None
                else ("ok" if probe["ok"] else "FAIL") + f" {probe['latency_ms']:.1f} ms",
                detail,
            ]
        )
    table(["SERVICE", "STATE", "SINCE", "SESSIONS", "LISTENERS", "PROBE", "DETAIL"], rows)
