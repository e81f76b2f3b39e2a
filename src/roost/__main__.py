"""The `roost` command (`python -m roost`).

Only `serve` and the commands that work on the store while Roost is stopped
need the composition root (`roost.app`, which imports every service, the web
application and the store); they import it when they run. A command that
asks the running server (`roost status`, `roost queue list`) starts without
it, in a fraction of the time.
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
    from roost.app import local_api

    async with local_api(config) as client:
        yield client


def main() -> None:
    build_cli(_serve, _local_api)(prog_name="roost")


if __name__ == "__main__":
    main()
