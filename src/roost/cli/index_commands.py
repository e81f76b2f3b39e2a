"""`roost index status|rebuild [ACCOUNT]`: the full-text index behind IMAP SEARCH.

`rebuild` drops the documents (of one account, or all: messages and groupware
items) and lets the Indexing service index them again; with a running Roost
it shows a progress bar until every message and item has a document again
(`--no-wait` returns at once). Searches scan meanwhile, with the same answers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from roost.cli.client import Api, connect
from roost.cli.output import short_time, table
from roost.cli.state import State, run

POLL_S = 0.5
STALL_S = 120.0
"""`rebuild` stops waiting when nothing moved for this long (is Indexing stopped?)."""


def _query(account: str | None) -> str:
    return f"?user={account}" if account else ""


def _show(status: dict[str, Any]) -> None:
    scope = status["user"] or "all accounts"
    click.echo(f"{'scope:':<14} {scope}")
    for key in ("messages", "indexed", "failed", "pending", "lag_changes"):
        click.echo(f"{key + ':':<14} {status[key]}")
    items = status.get("items")
    if items:
        click.echo(
            f"{'items:':<14} {items['items']} (contacts, events, tasks, notes): "
            f"{items['indexed']} indexed, {items['failed']} failed, {items['pending']} pending"
        )
    searches = status.get("searches")
    if searches:
        click.echo(f"{'searches:':<14} {searches['mode']} ({searches['detail']})")
    if status["failures"]:
        click.echo("recent failures:")
        table(
            ["MESSAGE", "MAILBOX", "AT", "ERROR"],
            [
                [f["message_id"], f["mailbox_id"], short_time(f["at"]), f["error"]]
                for f in status["failures"]
            ],
        )


def _waiting(status: dict[str, Any]) -> int:
    """Messages and groupware items without a document yet."""
    return int(status["pending"]) + int(status.get("items", {}).get("pending", 0))


async def _follow(api: Api, account: str | None) -> dict[str, Any]:
    """Show a progress bar until no message or item waits; return the last status."""
    status: dict[str, Any] = await api.call("GET", f"/index{_query(account)}")
    total = max(1, int(status["messages"]) + int(status.get("items", {}).get("items", 0)))
    loop = asyncio.get_running_loop()
    last_change = loop.time()
    with click.progressbar(length=total, label="indexing", show_pos=True) as bar:
        shown = 0
        while True:
            done = total - _waiting(status)
            if done > shown:
                bar.update(done - shown)
                shown = done
                last_change = loop.time()
            if _waiting(status) <= 0:
                return status
            if loop.time() - last_change > STALL_S:
                raise click.ClickException(
                    f"indexing made no progress for {STALL_S:.0f} s: is the indexing "
                    "service running? (`roost status`)"
                )
            await asyncio.sleep(POLL_S)
            status = await api.call("GET", f"/index{_query(account)}")


def register(cli: click.Group) -> None:
    @cli.group("index")
    def index() -> None:
        """The full-text index of messages (IMAP SEARCH uses it) and groupware items."""

    @index.command("status")
    @click.argument("account", required=False)
    @click.pass_obj
    def status(state: State, account: str | None) -> None:
        """Messages indexed, failed and waiting (of ACCOUNT, or of all)."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                _show(await api.call("GET", f"/index{_query(account)}"))

        run(work())

    @index.command("rebuild")
    @click.argument("account", required=False)
    @click.option("--wait/--no-wait", default=True, help="Show progress until it is done.")
    @click.pass_obj
    def rebuild(state: State, account: str | None, wait: bool) -> None:
        """Index the messages of ACCOUNT (or of everyone) again."""
        body = {"user": account} if account else {}

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                result = await api.call("POST", "/index/rebuild", body)
                click.echo(f"{result['dropped']} documents dropped for {account or 'all accounts'}")
                if not wait:
                    return
                if not api.remote:
                    click.echo("Roost is not running: the index is rebuilt when it starts")
                    return
                final = await _follow(api, account)
                click.echo(f"{final['indexed']} indexed, {final['failed']} failed")
                items = final.get("items")
                if items and items["items"]:
                    click.echo(
                        f"groupware items: {items['indexed']} indexed, {items['failed']} failed"
                    )

        run(work())
