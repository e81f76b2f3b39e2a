"""`roost dkim`: DKIM keys of the mail domains, and the DNS records they need.

Keys are files in the data folder, so these commands work on them directly,
whether or not Roost runs; a running Roost picks up a change with its next
message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

from roost.cli.output import table
from roost.cli.state import State
from roost.control.mailauth import keys
from roost.core.errors import RoostError

T = TypeVar("T")


def _or_exit(work: Callable[[], T]) -> T:
    """Run `work`; a RoostError becomes one line on stderr and exit code 1."""
    try:
        return work()
    except RoostError as exc:
        click.echo(f"roost: {exc}", err=True)
        sys.exit(1)


def _print_records(records: tuple[keys.TxtRecord, ...]) -> None:
    for record in records:
        click.echo(f"{record.name}  TXT  {record.value}")


def _print_zone(records: tuple[keys.TxtRecord, ...]) -> None:
    for record in records:
        click.echo(record.zone_line())


def register(cli: click.Group) -> None:
    @cli.group("dkim")
    def dkim() -> None:
        """DKIM signing keys of the mail domains."""

    @dkim.command("generate")
    @click.argument("domain")
    @click.option("--selector", help="Selector name (default roost<year><letter>).")
    @click.pass_obj
    def generate(state: State, domain: str, selector: str | None) -> None:
        """Make an RSA and an Ed25519 key for DOMAIN and print the TXT records to publish."""
        data_dir = state.config.data_dir
        records = _or_exit(lambda: keys.generate(data_dir, domain, selector))
        shown = _or_exit(lambda: keys.show(data_dir, domain))
        name = records[0].selector
        active = shown.active is not None and shown.active.selector == name
        click.echo(f"DKIM keys for {shown.domain}, selector {name}.")
        if active:
            click.echo("Mail from this domain is signed with them from now on.")
        click.echo("Publish these TXT records:\n")
        _print_records(records)
        click.echo("\nAs zone-file lines:\n")
        _print_zone(records)
        if not active:
            click.echo(
                f"\nNot active yet: once the DNS serves the records, run "
                f"`roost dkim activate {shown.domain} {name}`."
            )

    @dkim.command("show")
    @click.argument("domain")
    @click.pass_obj
    def show(state: State, domain: str) -> None:
        """Show DOMAIN's selectors and the TXT records each needs."""
        shown = _or_exit(lambda: keys.show(state.config.data_dir, domain))
        for index, selector in enumerate(shown.selectors):
            if index:
                click.echo("")
            status = "active" if selector.active else "inactive"
            click.echo(f"{shown.domain}  selector {selector.selector}  ({status})")
            _print_records(selector.records)
            _print_zone(selector.records)

    @dkim.command("list")
    @click.pass_obj
    def list_(state: State) -> None:
        """List the domains that have DKIM keys."""
        domains = _or_exit(lambda: keys.list_domains(state.config.data_dir))
        table(
            ["DOMAIN", "ACTIVE", "SELECTORS", "ALGORITHMS"],
            [
                [
                    d.domain,
                    d.active.selector if d.active else "-",
                    ", ".join(s.selector for s in d.selectors),
                    ", ".join(r.algorithm for r in d.active.records) if d.active else "",
                ]
                for d in domains
            ],
        )

    @dkim.command("activate")
    @click.argument("domain")
    @click.argument("selector")
    @click.pass_obj
    def activate(state: State, domain: str, selector: str) -> None:
        """Sign DOMAIN's mail with SELECTOR from now on (publish its records first)."""
        _or_exit(lambda: keys.activate(state.config.data_dir, domain, selector))
        click.echo(f"{domain.lower()}: signing with selector {selector.lower()}")
