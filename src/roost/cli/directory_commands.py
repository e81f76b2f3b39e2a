"""`roost domain`, `user`, `alias`, `admin` and `token`: the directory.

Passwords are never taken on the command line: `--password-stdin` reads one
line from standard input; without it a password is generated and printed once.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from roost.cli.client import Api, connect
from roost.cli.output import short_time, table
from roost.cli.state import State, run


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin: standard input held no password")
    return password


def _show_generated(body: dict[str, Any], what: str) -> None:
    generated = body.get("generated_password")
    if generated:
        click.echo(f"Password for {what} (shown only this once): {generated}")


def _call(state: State, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    """Run one call and print what it says, for the simple commands."""

    async def work() -> None:
        async with connect(state.config, state.local_api, need_running=False) as api:
            await api.call(method, path, body)

    run(work())


async def _get(state: State, path: str) -> Any:
    async with connect(state.config, state.local_api, need_running=False) as api:
        return await api.call("GET", path)


def register(cli: click.Group) -> None:
    _domains(cli)
    _users(cli)
    _aliases(cli)
    _admins(cli)
    _tokens(cli)


def _domains(cli: click.Group) -> None:
    @cli.group("domain")
    def domain() -> None:
        """Mail domains, their aliases and catch-all addresses."""

    @domain.command("add")
    @click.argument("name")
    @click.pass_obj
    def add(state: State, name: str) -> None:
        """Add a domain."""
        _call(state, "POST", "/domains", {"name": name})
        click.echo(f"added domain {name.lower()}")

    @domain.command("list")
    @click.pass_obj
    def list_(state: State) -> None:
        """List domains."""

        async def work() -> None:
            rows = await _get(state, "/domains")
            table(
                ["DOMAIN", "CATCH-ALL", "CREATED"],
                [[d["name"], d["catch_all"], short_time(d["created_at"])] for d in rows],
            )

        run(work())

    @domain.command("remove")
    @click.argument("name")
    @click.pass_obj
    def remove(state: State, name: str) -> None:
        """Remove a domain that has no accounts left."""
        _call(state, "DELETE", f"/domains/{name}")
        click.echo(f"removed domain {name.lower()}")

    @domain.command("catch-all")
    @click.argument("name")
    @click.argument("target", required=False)
    @click.pass_obj
    def catch_all(state: State, name: str, target: str | None) -> None:
        """Send mail for unknown addresses of NAME to TARGET (no TARGET: turn it off)."""
        _call(state, "PUT", f"/domains/{name}/catch-all", {"target": target})
        click.echo(f"catch-all of {name.lower()}: {target or 'off'}")

    @domain.group("alias")
    def alias() -> None:
        """Domain aliases: mail to user@ALIAS goes to user@DOMAIN."""

    @alias.command("add")
    @click.argument("alias_name")
    @click.argument("domain_name")
    @click.pass_obj
    def alias_add(state: State, alias_name: str, domain_name: str) -> None:
        """Make ALIAS_NAME an alias of DOMAIN_NAME."""
        _call(state, "POST", "/domain-aliases", {"name": alias_name, "domain": domain_name})
        click.echo(f"{alias_name.lower()} is now an alias of {domain_name.lower()}")

    @alias.command("list")
    @click.pass_obj
    def alias_list(state: State) -> None:
        """List domain aliases."""

        async def work() -> None:
            rows = await _get(state, "/domain-aliases")
            table(
                ["ALIAS", "DOMAIN", "CREATED"],
                [[a["name"], a["domain"], short_time(a["created_at"])] for a in rows],
            )

        run(work())

    @alias.command("remove")
    @click.argument("alias_name")
    @click.pass_obj
    def alias_remove(state: State, alias_name: str) -> None:
        """Remove a domain alias."""
        _call(state, "DELETE", f"/domain-aliases/{alias_name}")
        click.echo(f"removed domain alias {alias_name.lower()}")


def _users(cli: click.Group) -> None:
    @cli.group("user")
    def user() -> None:
        """Mail accounts."""

    @user.command("add")
    @click.argument("address")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.option("--name", "display_name", default="", help="Display name.")
    @click.option("--quota-mb", type=click.IntRange(0), help="Storage quota in MiB (0: unlimited).")
    @click.pass_obj
    def add(
        state: State, address: str, password_stdin: bool, display_name: str, quota_mb: int | None
    ) -> None:
        """Add an account with the standard folders."""
        password = _read_password(password_stdin)

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                body = await api.call(
                    "POST",
                    "/accounts",
                    {
                        "address": address,
                        "password": password,
                        "display_name": display_name,
                        "quota_mb": quota_mb,
                    },
                )
            click.echo(f"added {body['address']}")
            _show_generated(body, body["address"])

        run(work())

    @user.command("passwd")
    @click.argument("address")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.pass_obj
    def passwd(state: State, address: str, password_stdin: bool) -> None:
        """Set an account's password (generated and printed once without --password-stdin)."""
        password = _read_password(password_stdin)

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                body = await api.call(
                    "POST", f"/accounts/{address}/password", {"password": password}
                )
            click.echo(f"password of {address.lower()} changed")
            _show_generated(body, address.lower())

        run(work())

    @user.command("list")
    @click.option("--domain", help="Only this domain.")
    @click.pass_obj
    def list_(state: State, domain: str | None) -> None:
        """List accounts."""

        async def work() -> None:
            rows = await _get(state, "/accounts" + (f"?domain={domain}" if domain else ""))
            table(
                ["ADDRESS", "NAME", "ENABLED", "USED", "QUOTA", "MESSAGES"],
                [
                    [
                        a["address"],
                        a["display_name"],
                        "yes" if a["enabled"] else "no",
                        _size(a["used_bytes"]),
                        _size(a["quota_bytes"]) if a["quota_bytes"] else "unlimited",
                        a["used_messages"],
                    ]
                    for a in rows
                ],
            )

        run(work())

    @user.command("show")
    @click.argument("address")
    @click.pass_obj
    def show(state: State, address: str) -> None:
        """Show one account."""

        async def work() -> None:
            a = await _get(state, f"/accounts/{address}")
            for key in (
                "address",
                "display_name",
                "enabled",
                "used_bytes",
                "used_messages",
                "quota_bytes",
                "created_at",
            ):
                click.echo(f"{key + ':':<15} {a[key]}")

        run(work())

    @user.command("remove")
    @click.argument("address")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.pass_obj
    def remove(state: State, address: str, yes: bool) -> None:
        """Remove an account with all its mail."""
        if not yes:
            click.confirm(f"Remove {address} and all its mail?", abort=True)
        _call(state, "DELETE", f"/accounts/{address}")
        click.echo(f"removed {address.lower()}")

    for action in ("disable", "enable"):
        user.add_command(_toggle(action))


def _toggle(action: str) -> click.Command:
    @click.argument("address")
    @click.pass_obj
    def command(state: State, address: str) -> None:
        _call(state, "POST", f"/accounts/{address}/{action}")
        click.echo(f"{address.lower()} {action}d")

    command.__doc__ = f"{action.capitalize()} an account (a disabled account cannot sign in)."
    return click.command(action)(command)


def _aliases(cli: click.Group) -> None:
    @cli.group("alias")
    def alias() -> None:
        """Addresses that deliver to one or more other addresses."""

    @alias.command("add")
    @click.argument("address")
    @click.argument("targets", nargs=-1, required=True)
    @click.pass_obj
    def add(state: State, address: str, targets: tuple[str, ...]) -> None:
        """Add an alias ADDRESS delivering to TARGETS."""
        _call(state, "POST", "/aliases", {"address": address, "targets": list(targets)})
        click.echo(f"added alias {address.lower()} -> {', '.join(t.lower() for t in targets)}")

    @alias.command("list")
    @click.option("--domain", help="Only this domain.")
    @click.pass_obj
    def list_(state: State, domain: str | None) -> None:
        """List aliases."""

        async def work() -> None:
            rows = await _get(state, "/aliases" + (f"?domain={domain}" if domain else ""))
            table(["ALIAS", "TARGETS"], [[a["address"], ", ".join(a["targets"])] for a in rows])

        run(work())

    @alias.command("remove")
    @click.argument("address")
    @click.pass_obj
    def remove(state: State, address: str) -> None:
        """Remove an alias."""
        _call(state, "DELETE", f"/aliases/{address}")
        click.echo(f"removed alias {address.lower()}")


def _admins(cli: click.Group) -> None:
    @cli.group("admin")
    def admin() -> None:
        """Administrators of the console and the API (separate from mail accounts)."""

    @admin.command("add")
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.pass_obj
    def add(state: State, name: str, password_stdin: bool) -> None:
        """Add an admin (a generated password must be changed at first sign-in)."""
        password = _read_password(password_stdin)

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                body = await api.call("POST", "/admins", {"name": name, "password": password})
            click.echo(f"added admin {body['name']}")
            _show_generated(body, body["name"])

        run(work())

    @admin.command("list")
    @click.pass_obj
    def list_(state: State) -> None:
        """List admins."""

        async def work() -> None:
            rows = await _get(state, "/admins")
            table(
                ["ADMIN", "MUST CHANGE PASSWORD", "CREATED"],
                [
                    [
                        a["name"],
                        "yes" if a["must_change_password"] else "no",
                        short_time(a["created_at"]),
                    ]
                    for a in rows
                ],
            )

        run(work())

    @admin.command("remove")
    @click.argument("name")
    @click.pass_obj
    def remove(state: State, name: str) -> None:
        """Remove an admin and their API tokens."""
        _call(state, "DELETE", f"/admins/{name}")
        click.echo(f"removed admin {name.lower()}")

    @admin.command("passwd")
    @click.argument("name")
    @click.option(
        "--password-stdin",
        is_flag=True,
        required=True,
        help="Read the password from standard input.",
    )
    @click.pass_obj
    def passwd(state: State, name: str, password_stdin: bool) -> None:
        """Set an admin's password."""
        password = _read_password(password_stdin)
        _call(state, "POST", f"/admins/{name}/password", {"password": password})
        click.echo(f"password of admin {name.lower()} changed")


async def _only_admin(api: Api, admin: str | None) -> str:
    if admin:
        return admin
    admins = await api.call("GET", "/admins")
    if len(admins) != 1:
        raise click.UsageError("there are several admins: name one with --admin")
    return str(admins[0]["name"])


def _tokens(cli: click.Group) -> None:
    @cli.group("token")
    def token() -> None:
        """API tokens; each belongs to an admin."""

    @token.command("add")
    @click.argument("name")
    @click.option("--admin", help="The admin it belongs to (needed when there are several).")
    @click.pass_obj
    def add(state: State, name: str, admin: str | None) -> None:
        """Make a token; it is printed once and stored only as a hash."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                owner = await _only_admin(api, admin)
                body = await api.call("POST", "/tokens", {"admin": owner, "name": name})
            click.echo(f"token {body['name']} of {body['admin']} (shown only this once):")
            click.echo(body["token"])

        run(work())

    @token.command("list")
    @click.pass_obj
    def list_(state: State) -> None:
        """List tokens."""

        async def work() -> None:
            rows = await _get(state, "/tokens")
            table(
                ["ADMIN", "TOKEN", "CREATED", "LAST USED"],
                [
                    [
                        t["admin"],
                        t["name"],
                        short_time(t["created_at"]),
                        short_time(t["last_used_at"]),
                    ]
                    for t in rows
                ],
            )

        run(work())

    @token.command("revoke")
    @click.argument("name")
    @click.option("--admin", help="The admin it belongs to (needed when there are several).")
    @click.pass_obj
    def revoke(state: State, name: str, admin: str | None) -> None:
        """Revoke a token."""

        async def work() -> None:
            async with connect(state.config, state.local_api, need_running=False) as api:
                owner = await _only_admin(api, admin)
                await api.call("DELETE", f"/tokens/{owner}/{name}")
            click.echo(f"revoked token {name}")

        run(work())


def _size(octets: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if octets < 1024 or unit == "GiB":
            return f"{octets:.0f} {unit}" if unit == "B" else f"{octets:.1f} {unit}"
        octets /= 1024  # type: ignore[assignment]
    return str(octets)
