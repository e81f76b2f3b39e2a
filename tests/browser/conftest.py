"""Fixtures of the browser tests: a running Roost, chromium, a page signed in or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import (
    CHROMIUM,
    LAUNCH_ARGS,
    WAIT_MS,
    Harness,
    require_browser,
    running_roost,
    sign_in,
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def roost(browser: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_roost(tmp_path) as harness:
        yield harness


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


@pytest.fixture
async def admin_page(page: Any, roost: Harness) -> Any:
    """A page signed in as `admin` (the first sign-in and its password change done)."""
    await sign_in(page, roost)
    return page
