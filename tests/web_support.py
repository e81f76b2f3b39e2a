"""What the admin console's and the webmail's in-process test harnesses share: the
client address, the CSRF token of a page's form, and an httpx client over the app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.types import ASGIApp

CLIENT = ("127.0.0.1", 4711)
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found[1]


async def page_csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def base_url(https: bool) -> str:
    return ("https" if https else "http") + "://roost.test"


@asynccontextmanager
async def app_client(app: ASGIApp, *, https: bool) -> AsyncIterator[httpx.AsyncClient]:
    """A browser at `base_url(https)` that keeps cookies, talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    async with httpx.AsyncClient(transport=transport, base_url=base_url(https)) as client:
        yield client
