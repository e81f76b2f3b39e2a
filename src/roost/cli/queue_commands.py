"""`roost queue list|show|stats|retry|reset|hold|release|delete|bounce`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import click

from roost.cli.client import connect
from roost.cli.output import short_time, table
from roost.cli.state import State, run

ACTIONS = {
    "retry": "Try these entries again now.",
    "reset": "Try again now, counting attempts from zero.",
    "hold": "Hold entries: nothing is delivered until they are released.",
    "release": "Release held entries; they are tried at once.",
    "delete": "Delete entries without telling the sender.",
    "bounce": "Fail every pending recipient now; the sender gets a failure notice.",
}


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def register(cli: click.Group) -> None:
    @cli.group("queue")
    def queue() -> None:
        """The spool: what waits to be delivered, and why."""

    @queue.command("list")
    @click.option("--state", help="queued, deferred or held (comma-separated).")
    @click.option("--sender", help="Part of the sender address.")
    @click.option("--domain", help="A recipient domain.")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--offset", default=0, type=click.IntRange(0))
    @click.pass_obj
    def list_(
        state_: State,
        state: str | None,
        sender: str | None,
        domain: str | None,
        limit: int,
        offset: int,
    ) -> None:
        """List queue entries, oldest first."""
        query = {k: v for k, v in {"state": state, "sender": sender, "domain": domain}.items() if v}
        query.update(limit=str(limit), offset=str(offset))

        async def work() -> None:
            async with connect(state_.config, state_.local_api, need_running=False) as api:
                page: dict[str, Any] = await api.call("GET", "/queue?" + urlencode(query))
            table(
                ["ID", "SENDER", "IN SPOOL", "ATTEMPTS", "NEXT ATTEMPT", "DELIVERED", "STATE"],
                [
                    [
                        e["id"],
                        e["sender"] or "<>",
                        _age(e["seconds_in_spool"]),
                        e["attempts"],
                        short_time(e["next_attempt_at"]),
                        f"{e['recipients_delivered']}/{e['recipients_total']}",
                        e["state"],
                    ]
                    for e in page["entries"]
                ],
            )
            shown = len(page["entries"])
            click.echo(
                f"{page['offset'] + 1 if shown else 0}-{page['offset'] + shown} of {page['total']}"
            )

        run(work())

    @queue.command("show")
    @click.argument("entry_id", type=int)
    @click.pass_obj
    def show(state: State, entry_id: int) -> None:
        """One entry with each recipient's last answer."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                e = await api.call("GET", f"/queue/{entry_id}")
            for key in (
                "id",
                "sender",
                "state",
                "size",
                "source",
                "received_at",
                "attempts",
                "next_attempt_at",
            ):
                click.echo(f"{key + ':':<17} {e[key]}")
            table(
                ["RECIPIENT", "STATE", "ATTEMPTS", "LAST ATTEMPT", "LAST ANSWER"],
                [
                    [
                        r["address"],
                        r["state"],
                        r["attempts"],
                        short_time(r["last_attempt_at"]),
                        r["last_reply"],
                    ]
                    for r in e["recipients"]
                ],
            )

        run(work())

    @queue.command("stats")
    @click.pass_obj
    def stats(state: State) -> None:
        """What is in the queue, and the traffic of the last 5 minutes, 24 hours and since start."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                s = await api.call("GET", "/queue/stats")
            click.echo("  ".join(f"{k}: {v}" for k, v in s["queue"].items()))
            table(
                ["", "5 MIN", "24 H", "SINCE START"],
                [
                    [k, w["last_5_minutes"], w["last_24_hours"], w["since_start"]]
                    for k, w in s["traffic"].items()
                ],
            )

        run(work())

    for action, help_text in ACTIONS.items():
        queue.add_command(_action(action, help_text))


def _action(action: str, help_text: str) -> click.Command:
    @click.argument("entry_ids", nargs=-1, required=True, type=int)
    @click.pass_obj
    def command(state: State, entry_ids: tuple[int, ...]) -> None:
        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                await api.call("POST", f"/queue/{action}", {"ids": list(entry_ids)})
            click.echo(f"{action}: {', '.join(map(str, entry_ids))}")

        run(work())

    command.__doc__ = help_text
    return click.command(action)(command)
