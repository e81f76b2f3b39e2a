"""`roost retrieval add|edit|list|show|remove|run`: users' accounts on other servers.

The password of an external account is never taken on the command line:
`--password-stdin` reads one line from standard input; without it the
password is asked for without echo. It is stored encrypted and never shown
again.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from roost.cli.client import connect
from roost.cli.output import short_time, table
from roost.cli.state import State, run

RUN_WAIT_S = 60.0
"""How long `run --wait` waits for the fetch to be tried."""
RUN_POLL_S = 0.5


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: standard input held no password")
        return password
    value: str = click.prompt("Password of the external account", hide_input=True)
    return value


def _folder_map(entries: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in entries:
        remote, sep, local = entry.partition("=")
        if not sep or not remote or not local:
            raise click.BadParameter(f"{entry!r} is not REMOTE=LOCAL", param_hint="--map")
        pairs[remote] = local
    return pairs


def _status(r: dict[str, Any]) -> str:
    if not r["enabled"]:
        return "disabled"
    if r["last_error"]:
        return f"error: {r['last_error']}"
    return "ok" if r["last_success_at"] else "not fetched yet"


def _show(r: dict[str, Any]) -> None:
    for key in (
        "id",
        "protocol",
        "host",
        "port",
        "tls",
        "username",
        "folder",
        "remote_folders",
        "folder_layout",
        "folder_map",
        "enabled",
        "leave_on_server",
        "mark_seen",
        "delete_after_days",
        "apop",
        "manual",
        "interval_s",
        "last_attempt_at",
        "last_success_at",
        "last_fetched",
        "total_fetched",
        "failures",
        "last_error",
    ):
        value = r[key]
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{remote} -> {local}" for remote, local in value.items())
        click.echo(f"{key + ':':<17} {'' if value is None else value}")


def register(cli: click.Group) -> None:
    @cli.group("retrieval")
    def retrieval() -> None:
        """Users' mail fetched from their accounts on other IMAP and POP3 servers."""

    @retrieval.command("add")
    @click.argument("user")
    @click.option("--protocol", type=click.Choice(["imap", "pop3"]), required=True)
    @click.option("--host", required=True, help="The other server.")
    @click.option("--port", type=click.IntRange(1, 65535), help="Default: by protocol and TLS.")
    @click.option(
        "--tls",
        type=click.Choice(["implicit", "starttls", "none"]),
        default="implicit",
        show_default=True,
        help="`none` only to loopback, unless [retrieval] allow_plaintext.",
    )
    @click.option("--username", required=True, help="The user name on the other server.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.option("--folder", default="INBOX", show_default=True, help="The local folder.")
    @click.option(
        "--remote-folder",
        "remote_folders",
        multiple=True,
        help="IMAP: a folder to fetch (repeat it; `*` for all). Default: INBOX.",
    )
    @click.option(
        "--folder-layout",
        type=click.Choice(["merge", "mirror"]),
        default="merge",
        show_default=True,
        help="IMAP: `merge` puts every remote folder into --folder; `mirror` puts remote "
        "INBOX there and each other folder into a local folder of its name.",
    )
    @click.option(
        "--map",
        "folder_map",
        multiple=True,
        metavar="REMOTE=LOCAL",
        help="IMAP: the local folder for one remote folder (repeat it); wins over the layout.",
    )
    @click.option("--leave-on-server", is_flag=True, help="Keep the fetched mail there too.")
    @click.option(
        "--mark-seen", is_flag=True, help="IMAP, with --leave-on-server: flag fetched mail seen."
    )
    @click.option(
        "--delete-after-days",
        type=click.IntRange(1),
        help="POP3, with --leave-on-server: delete fetched mail there after this many days.",
    )
    @click.option("--interval", type=click.FloatRange(5), help="Seconds between fetches.")
    @click.option("--manual", is_flag=True, help="Fetch only when asked (`roost retrieval run`).")
    @click.option("--apop", is_flag=True, help="POP3: log in with APOP.")
    @click.option("--disabled", is_flag=True, help="Add it without fetching yet.")
    @click.pass_obj
    def add(
        state: State,
        user: str,
        protocol: str,
        host: str,
        port: int | None,
        tls: str,
        username: str,
        password_stdin: bool,
        folder: str,
        remote_folders: tuple[str, ...],
        folder_layout: str,
        folder_map: tuple[str, ...],
        leave_on_server: bool,
        mark_seen: bool,
        delete_after_days: int | None,
        interval: float | None,
        manual: bool,
        apop: bool,
        disabled: bool,
    ) -> None:
        """Add an external account for USER."""
        body: dict[str, Any] = {
            "protocol": protocol,
            "host": host,
            "tls": tls,
            "username": username,
            "password": _password(password_stdin),
            "folder": folder,
            "remote_folders": list(remote_folders or ("INBOX",)),
            "leave_on_server": leave_on_server,
            "enabled": not disabled,
            "folder_layout": folder_layout,
            "folder_map": _folder_map(folder_map),
            "mark_seen": mark_seen,
            "manual": manual,
            "apop": apop,
        }
        if delete_after_days is not None:
            body["delete_after_days"] = delete_after_days
        if port is not None:
            body["port"] = port
        if interval is not None:
            body["interval_s"] = interval

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                added = await api.call("POST", f"/retrieval/{user}", body)
            click.echo(f"external account {added['id']} added for {user.lower()}")

        run(work())

    @retrieval.command("edit")
    @click.argument("user")
    @click.argument("retrieval_id", type=int)
    @click.option("--host", help="The other server.")
    @click.option("--port", type=click.IntRange(1, 65535))
    @click.option(
        "--tls",
        type=click.Choice(["implicit", "starttls", "none"]),
        help="A default port follows the new mode unless --port is given.",
    )
    @click.option("--username", help="The user name on the other server.")
    @click.option(
        "--password-stdin", is_flag=True, help="Set a new password, read from standard input."
    )
    @click.option("--password", "ask_password", is_flag=True, help="Set a new password, asked for.")
    @click.option("--folder", help="The local folder.")
    @click.option(
        "--remote-folder",
        "remote_folders",
        multiple=True,
        help="IMAP: the folders to fetch (repeat it; replaces the list; `*` for all).",
    )
    @click.option("--folder-layout", type=click.Choice(["merge", "mirror"]))
    @click.option(
        "--map",
        "folder_map",
        multiple=True,
        metavar="REMOTE=LOCAL",
        help="IMAP: replaces the folder map (repeat it).",
    )
    @click.option("--clear-map", is_flag=True, help="IMAP: no folder map.")
    @click.option("--leave-on-server/--delete-on-server", "leave_on_server", default=None)
    @click.option("--mark-seen/--no-mark-seen", "mark_seen", default=None)
    @click.option("--delete-after-days", type=click.IntRange(1))
    @click.option("--keep-on-server", is_flag=True, help="POP3: no --delete-after-days.")
    @click.option("--interval", type=click.FloatRange(5), help="Seconds between fetches.")
    @click.option("--global-interval", is_flag=True, help="Use [retrieval] interval_s.")
    @click.option(
        "--manual/--scheduled",
        "manual",
        default=None,
        help="Fetch only when asked, or on the schedule.",
    )
    @click.option("--apop/--no-apop", "apop", default=None, help="POP3: log in with APOP.")
    @click.option("--enable/--disable", "enabled", default=None)
    @click.pass_obj
    def edit(
        state: State,
        user: str,
        retrieval_id: int,
        host: str | None,
        port: int | None,
        tls: str | None,
        username: str | None,
        password_stdin: bool,
        ask_password: bool,
        folder: str | None,
        remote_folders: tuple[str, ...],
        folder_layout: str | None,
        folder_map: tuple[str, ...],
        clear_map: bool,
        leave_on_server: bool | None,
        mark_seen: bool | None,
        delete_after_days: int | None,
        keep_on_server: bool,
        interval: float | None,
        global_interval: bool,
        manual: bool | None,
        apop: bool | None,
        enabled: bool | None,
    ) -> None:
        """Change an external account of USER: only the options given change."""
        pairs = (
            (folder_map and clear_map, "--map and --clear-map"),
            (
                delete_after_days is not None and keep_on_server,
                "--delete-after-days and --keep-on-server",
            ),
            (interval is not None and global_interval, "--interval and --global-interval"),
            (password_stdin and ask_password, "--password-stdin and --password"),
        )
        for clash, names in pairs:
            if clash:
                raise click.UsageError(f"{names} exclude each other")
        given: dict[str, Any] = {
            "host": host,
            "port": port,
            "tls": tls,
            "username": username,
            "folder": folder,
            "folder_layout": folder_layout,
            "leave_on_server": leave_on_server,
            "mark_seen": mark_seen,
            "delete_after_days": delete_after_days,
            "interval_s": interval,
            "manual": manual,
            "apop": apop,
            "enabled": enabled,
        }
        body = {key: value for key, value in given.items() if value is not None}
        if remote_folders:
            body["remote_folders"] = list(remote_folders)
        if folder_map or clear_map:
            body["folder_map"] = _folder_map(folder_map)
        if keep_on_server:
            body["delete_after_days"] = None
        if global_interval:
            body["interval_s"] = None
        if password_stdin or ask_password:
            body["password"] = _password(password_stdin)
        if not body:
            raise click.UsageError("nothing to change: give at least one option")

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                _show(await api.call("PATCH", f"/retrieval/{user}/{retrieval_id}", body))

        run(work())

    @retrieval.command("list")
    @click.argument("user", required=False)
    @click.pass_obj
    def list_(state: State, user: str | None) -> None:
        """External accounts (of USER, or of everyone) and how their last fetch went."""
        query = f"?user={user}" if user else ""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                found = await api.call("GET", f"/retrieval{query}")
            table(
                ["ID", "PROTOCOL", "SERVER", "USER", "FOLDER", "LAST ATTEMPT", "TOTAL", "STATUS"],
                [
                    [
                        r["id"],
                        r["protocol"],
                        f"{r['host']}:{r['port']}",
                        r["username"],
                        r["folder"],
                        short_time(r["last_attempt_at"]),
                        r["total_fetched"],
                        _status(r),
                    ]
                    for r in found
                ],
            )

        run(work())

    @retrieval.command("show")
    @click.argument("user")
    @click.argument("retrieval_id", type=int)
    @click.pass_obj
    def show(state: State, user: str, retrieval_id: int) -> None:
        """One external account with its status (never its password)."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                _show(await api.call("GET", f"/retrieval/{user}/{retrieval_id}"))

        run(work())

    @retrieval.command("remove")
    @click.argument("user")
    @click.argument("retrieval_id", type=int)
    @click.pass_obj
    def remove(state: State, user: str, retrieval_id: int) -> None:
        """Remove an external account (the mail fetched from it stays)."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                await api.call("DELETE", f"/retrieval/{user}/{retrieval_id}")
            click.echo(f"external account {retrieval_id} of {user.lower()} removed")

        run(work())

    @retrieval.command("run")
    @click.argument("user")
    @click.argument("retrieval_id", type=int)
    @click.option("--wait/--no-wait", default=True, help="Wait for the fetch and show it.")
    @click.pass_obj
    def run_now(state: State, user: str, retrieval_id: int, wait: bool) -> None:
        """Retrieve now: the running service fetches the account at its next tick."""

        async def work() -> int:
            path = f"/retrieval/{user}/{retrieval_id}"
            async with connect(state.config, state.local_api, need_running=False) as api:
                before = await api.call("GET", path)
                await api.call("POST", f"{path}/run")
                if not api.remote:
                    click.echo("Roost is not running: the account is fetched once it starts")
                    return 0
                if not wait:
                    click.echo(f"retrieval of account {retrieval_id} requested")
                    return 0
                for _ in range(int(RUN_WAIT_S / RUN_POLL_S)):
                    await asyncio.sleep(RUN_POLL_S)
                    now = await api.call("GET", path)
                    if now["last_attempt_at"] != before["last_attempt_at"]:
                        _show(now)
                        return 1 if now["last_error"] else 0
            click.echo(
                f"not tried within {RUN_WAIT_S:g} s (is the retrieval service running?)", err=True
            )
            return 1

        run(work())
