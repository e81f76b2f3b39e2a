"""What every API module shares: authentication, JSON bodies, errors as JSON."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.control.directory import Actor
from roost.core.errors import AlreadyExists, NotFound, RoostError, UnknownService
from roost.store.settings import JsonValue
from roost.web.api_auth import authenticate
from roost.web.context import WebContext

Handler = Callable[[Request, Actor], Awaitable[JsonValue]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _status_of(exc: RoostError) -> int:
    match exc:
        case NotFound() | UnknownService():
            return 404
        case AlreadyExists():
            return 409
        case _:
            return 400


def endpoint(web: WebContext, handler: Handler, status: int = 200) -> Endpoint:
    """An authenticated JSON endpoint; a RoostError becomes a JSON error."""

    async def run(request: Request) -> Response:
        actor = await authenticate(request, web)
        try:
            body = await handler(request, actor)
        except RoostError as exc:
            return JSONResponse({"error": str(exc)}, status_code=_status_of(exc))
        return JSONResponse(body, status_code=status)

    return run


async def payload(web: WebContext, request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > web.config.web.max_body_bytes:
        raise HTTPException(413, "request body too large")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def text(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise HTTPException(400, f"{key!r} must be a non-empty string")
    return value


def must(data: dict[str, Any], key: str) -> str:
    value = text(data, key)
    assert value is not None
    return value


def whole_number(
    value: str | None, name: str, default: int, *, low: int = 0, high: int = 10**9
) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name!r} must be a whole number") from None
    if not low <= number <= high:
        raise HTTPException(400, f"{name!r} must be between {low} and {high}")
    return number
