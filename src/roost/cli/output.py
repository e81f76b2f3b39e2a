"""Tables and values printed by the CLI."""

from __future__ import annotations

from collections.abc import Sequence

import click


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [
        ["" if v is None else str(v) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        click.echo(click.style(line, bold=True) if index == 0 else line)


def short_time(value: str | None) -> str:
    """`2026-11-27T02:20:01+00:00` as `2026-11-27 02:20:01`."""
    return value.replace("T", " ")[:19] if value else ""
