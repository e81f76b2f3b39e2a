"""The `roost` command line.

Every command takes `--config FILE` (default `./roost.toml`, or the
ROOST_CONFIG environment variable). Errors are one line on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import click

from roost.cli import (
    directory_commands,
    dkim_commands,
    index_commands,
    queue_commands,
    retrieval_commands,
    service_commands,
)
from roost.cli.client import LocalApi
from roost.cli.state import State, run
from roost.core import config as config_mod
from roost.core.config import Config
from roost.core.configdoc import render_toml

DEFAULT_CONFIG = "roost.toml"

Serve = Callable[[Config], Awaitable[None]]


class _ConfigAnywhere(click.Group):
    """Takes `--config FILE` before or after the command (`roost init --config F`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        front: list[str] = []
        rest: list[str] = []
        items = iter(args)
        for arg in items:
            if arg == "--":
                rest.append(arg)
                rest.extend(items)
                break
            if arg == "--config":
                front += [arg, next(items, "")]
            elif arg.startswith("--config="):
                front.append(arg)
            else:
                rest.append(arg)
        return super().parse_args(ctx, front + rest)


def build_cli(serve: Serve, local_api: LocalApi) -> click.Group:
    @click.group(cls=_ConfigAnywhere, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--config",
        "config_path",
        envvar="ROOST_CONFIG",
        default=DEFAULT_CONFIG,
        show_default=True,
        help="The config file.",
    )
    @click.pass_context
    def cli(ctx: click.Context, config_path: str) -> None:
        """Roost: an all-in-one mail and chat server."""
        ctx.obj = State(config_path, local_api)

    @cli.command("serve")
    @click.pass_obj
    def serve_command(state: State) -> None:
        """Run Roost in the foreground until interrupted."""
        run(_serve(serve, state.config))

    @cli.command("init")
    @click.option("--data", "data_dir", default="data", show_default=True, help="The data folder.")
    @click.option(
        "--profile",
        type=click.Choice(config_mod.PROFILES),
        default="development",
        show_default=True,
    )
    @click.pass_obj
    def init_command(state: State, data_dir: str, profile: str) -> None:
        """Write a starting config file (it refuses to overwrite one)."""
        path = state.config_path
        if path.exists():
            click.echo(f"roost: {path} exists already; not overwriting it", err=True)
            sys.exit(1)
        path.write_text(render_toml(profile, data_dir), encoding="utf-8")
        config_mod.load(path)
        click.echo(f"wrote {path} (profile {profile}, data in {data_dir})")

    service_commands.register(cli)
    directory_commands.register(cli)
    queue_commands.register(cli)
    dkim_commands.register(cli)
    retrieval_commands.register(cli)
    index_commands.register(cli)
    return cli


async def _serve(serve: Serve, config: Config) -> None:
    await serve(config)
