"""`roost dkim`: keys made, shown, listed and activated on the files, no server needed."""

from __future__ import annotations

import stat
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import click
import httpx
from click.testing import CliRunner, Result

from roost.cli import dkim_commands
from roost.cli.state import State
from roost.core.config import Config


def _no_api(config: Config) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    raise AssertionError("roost dkim must not need the API")


def invoke(config: Path, *args: str) -> Result:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = State(str(config), _no_api)

    dkim_commands.register(cli)
    return CliRunner().invoke(cli, list(args))


def test_generate_show_list_activate(tmp_path: Path) -> None:
    config = tmp_path / "roost.toml"
    config.write_text('[roost]\ndata_dir = "data"\n')
    made = invoke(config, "dkim", "generate", "example.com", "--selector", "first")
    assert made.exit_code == 0, made.output
    assert "Mail from this domain is signed with them from now on." in made.output
    assert "first-rsa._domainkey.example.com  TXT  v=DKIM1; k=rsa; p=MII" in made.output
    assert "first-ed25519._domainkey.example.com  TXT  v=DKIM1; k=ed25519; p=" in made.output
    assert 'first-rsa._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; p=' in made.output
    key = tmp_path / "data" / "dkim" / "example.com" / "first.rsa.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    second = invoke(config, "dkim", "generate", "example.com", "--selector", "second")
    assert second.exit_code == 0, second.output
    assert "run `roost dkim activate example.com second`" in second.output

    listed = invoke(config, "dkim", "list")
    assert listed.exit_code == 0
    assert listed.output.splitlines()[1].split() == [
        "example.com",
        "first",
        "first,",
        "second",
        "rsa,",
        "ed25519",
    ]

    activated = invoke(config, "dkim", "activate", "example.com", "second")
    assert activated.exit_code == 0 and "signing with selector second" in activated.output
    shown = invoke(config, "dkim", "show", "example.com")
    assert shown.exit_code == 0
    assert "example.com  selector first  (inactive)" in shown.output
    assert "example.com  selector second  (active)" in shown.output
    assert shown.output.count(" IN TXT ") == 4


def test_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "roost.toml"
    config.write_text('[roost]\ndata_dir = "data"\n')
    missing = invoke(config, "dkim", "show", "example.com")
    assert missing.exit_code == 1
    assert missing.output.strip().startswith("roost: example.com has no DKIM key")
    bad = invoke(config, "dkim", "generate", "../etc")
    assert bad.exit_code == 1 and "is not a domain name" in bad.output
    empty = invoke(config, "dkim", "list")
    assert empty.exit_code == 0 and empty.output.split() == [
        "DOMAIN",
        "ACTIVE",
        "SELECTORS",
        "ALGORITHMS",
    ]
