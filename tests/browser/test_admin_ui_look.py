"""The look in chromium: keyboard use, escaping, a phone's width, and the screenshots.

Set ROOST_SCREENSHOTS to a folder (docs/screenshots) to keep the Services
page screenshots there; otherwise they go to the test's own folder.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from tests.browser_support import Harness, expect, row, sign_in

HOSTILE = '<img src=x onerror="window.pwned=1">'


async def test_keyboard_alone_reaches_every_action(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await page.focus("#pick-smtp")
    await page.keyboard.press("Space")
    await expect(page.locator("#pick-smtp")).to_be_checked()
    summary = row(page, "smtp").locator("summary")
    await summary.focus()
    await page.keyboard.press("Enter")
    await expect(row(page, "smtp").locator("details")).to_have_attribute("open", "")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Start SMTP", exact=True)).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Stop SMTP", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await expect(page.locator("#confirm-cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.locator("#confirm-dialog")).to_be_hidden()
    await expect(summary).to_be_focused()
    await expect(row(page, "smtp").locator('[data-field="state"]')).to_have_text("running")
    # States are words and symbols, not colour alone.
    await expect(row(page, "smtp").locator(".badge")).to_have_text("● running")


async def test_html_in_any_field_is_shown_as_text(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/admin/sign-in")
    await page.fill("#name", HOSTILE)
    await page.fill("#password", "whatever-it-is")
    await page.click("form button.primary")
    await expect(page.locator("#form-error")).to_have_text("Wrong name or password.")
    await expect(page.locator("#name")).to_have_value(HOSTILE)
    await sign_in(page, roost)
    await page.goto(roost.base + "/admin/events?object=admin%3A%3Cimg&actor=" + "%3Cscript%3E")
    await expect(page.locator("#f-actor")).to_have_value("<script>")
    await page.fill("#f-actor", "")
    await page.click(".filters button")
    failed = page.locator("tbody tr", has_text="sign-in-failed")
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text(f"admin:{HOSTILE}"[:70])
    await expect(page.locator("tbody img")).to_have_count(0)
    assert await page.evaluate("window.pwned") is None


async def test_readable_on_a_phone(browser: Any, roost: Harness) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = await context.new_page()
        await sign_in(page, roost)
        width = await page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390
        await expect(row(page, "smtp").locator(".badge")).to_be_visible()
        await expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    finally:
        await context.close()


async def test_services_page_screenshots(
    admin_page: Any, roost: Harness, browser: Any, tmp_path: Path
) -> None:
    folder = Path(os.environ.get("ROOST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page = admin_page
    await roost.roost.supervisor.stop("pop", "cli:alice")
    await roost.roost.supervisor.stop("smtp", "admin:admin")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", roost.smtp_port))
    squatter.listen(1)
    try:
        await roost.roost.supervisor.start("smtp", "admin:admin")
        await page.goto(roost.base + "/admin/services")
        await expect(row(page, "smtp").locator('[data-field="state"]')).to_have_text("failed")
        await expect(row(page, "pop").locator('[data-field="state"]')).to_have_text("stopped")
        await expect(page.locator("#banner")).to_be_visible()
        await page.check("#pick-smtp")
        await page.mouse.move(0, 0)
        await page.screenshot(path=str(folder / "services.png"), full_page=True)
        phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        try:
            small = await phone.new_page()
            await phone.add_cookies(await page.context.cookies())
            await small.goto(roost.base + "/admin/services")
            await expect(small.locator("#banner")).to_be_visible()
            await small.screenshot(path=str(folder / "services-phone.png"))
        finally:
            await phone.close()
    finally:
        squatter.close()
    assert (folder / "services.png").stat().st_size > 10_000
