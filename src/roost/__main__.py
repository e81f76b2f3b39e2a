"""The `roost` command (`python -m roost`).

Only `serve` needs the composition root (`roost.app`, which imports every
service), and only the commands that work on the store while Roost is
stopped need the in-process API (`roost.local_api`: the store and the web
application); each is imported when such a command runs. A command that asks
the running server (`roost status`, `roost queue list`) starts without
either, in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from roost.cli.main import build_cli
from roost.core.config import Config

if TYPE_CHECKING:
    import httpx


async def _serve(config: Config) -> None:
    from roost.app import serve

    await serve(config)


@asynccontextmanager
async def _local_api(config: Config) -> AsyncIterator[httpx.AsyncClient]:
    from roost.local_api import local_api

    async with local_api(config) as client:
        yield client


def main() -> None:
    build_cli(_serve, _local_api)(prog_name="roost")


if __name__ == "__main__":
    main()
