"""How the CLI reaches Roost: the running instance's API, or the store directly.

While Roost runs, every command goes through its API with the token it left
in the data folder, so the server's caches and the event log see the change.
While it does not, commands that only touch the directory run the same API
in-process over the store (`local_api`, given by the composition root).
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from roost.core.config import Config
from roost.core.errors import RoostError
from roost.core.runtime import read_runtime

REQUEST_TIMEOUT_S = 60.0
CLI_USER_HEADER = "X-Roost-User"

LocalApi = Callable[[Config], AbstractAsyncContextManager[httpx.AsyncClient]]


class NotRunning(RoostError):
    """The command needs a running Roost."""


class ApiError(RoostError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Api:
    def __init__(self, client: httpx.AsyncClient, *, remote: bool) -> None:
        self._client = client
        self.remote = remote

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._client.request(method, "/api/v1" + path, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach Roost's API: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            raise ApiError(
                response.status_code, f"unexpected answer ({response.status_code})"
            ) from None
        if response.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise ApiError(response.status_code, str(message or response.reason_phrase))
        return data


@asynccontextmanager
async def connect(config: Config, local_api: LocalApi, *, need_running: bool) -> AsyncIterator[Api]:
    info = read_runtime(config.data_dir)
    if info is not None:
        verify: Any = info.cafile if info.cafile else True
        headers = {"Authorization": f"Bearer {info.token}", CLI_USER_HEADER: _user()}
        async with httpx.AsyncClient(
            base_url=info.url, headers=headers, timeout=REQUEST_TIMEOUT_S, verify=verify
        ) as client:
            try:
                await client.get("/healthz")
            except httpx.HTTPError:
                pass  # a stale file: fall through to the store
            else:
                yield Api(client, remote=True)
                return
    if need_running:
        raise NotRunning(
            f"Roost is not running (no API found through {config.data_dir}/run/api.json); "
            "start it with `roost serve`"
        )
    async with local_api(config) as client:
        client.headers[CLI_USER_HEADER] = _user()
        yield Api(client, remote=False)
