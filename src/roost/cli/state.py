"""What every command shares: the loaded config, and running a coroutine."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from roost.cli.client import LocalApi
from roost.core import config as config_mod
from roost.core.config import Config
from roost.core.errors import RoostError


def run(coro: Coroutine[Any, Any, int | None]) -> None:
    """Run a command's coroutine; a RoostError becomes one line and exit code 1."""
    try:
        code = asyncio.run(coro)
    except RoostError as exc:
        click.echo(f"roost: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    if code:
        sys.exit(code)


class State:
    def __init__(self, config_path: str, local_api: LocalApi) -> None:
        self.config_path = Path(config_path)
        self.local_api = local_api
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = config_mod.load(self.config_path)
            except RoostError as exc:
                click.echo(f"roost: {exc}", err=True)
                sys.exit(2)
        return self._config
