"""The dashboard in chromium: /admin after sign-in, its figures follow the mail that arrives."""

from __future__ import annotations

from typing import Any

from roost.control.directory import Actor
from tests.browser_support import Harness, expect, send_messages

ACTOR = Actor("test")
LIVE_MS = 10_000
"""A bound on the dashboard's own updates (every second in these tests)."""


async def test_dashboard_numbers_move_after_twenty_messages(
    admin_page: Any, roost: Harness
) -> None:
    page = admin_page
    await roost.roost.directory.add_domain(ACTOR, "example.org")
    await roost.roost.directory.add_user(ACTOR, "alice@example.org", "alice-password-1")
    await page.click('nav[aria-label="Admin console"] >> text=Dashboard')
    await expect(page).to_have_url(roost.base + "/admin")
    await expect(page.locator("h1")).to_contain_text("Dashboard")
    received = page.locator('[data-dash="received_5m"]')
    await expect(received).to_have_text("0")
    await expect(page.locator('[data-dash="delivered_start"]')).to_have_text("0")
    await expect(page.locator('[data-dash="sessions_smtp"]')).to_have_text("0")
    await expect(page.locator('[data-dash="memory"]')).to_contain_text("MiB")
    await expect(page.locator('[data-strip="smtp"]')).to_contain_text("SMTP running")

    await send_messages(roost, 20)

    # No reload: the page's own updates bring the new figures.
    await expect(received).to_have_text("20", timeout=LIVE_MS)
    await expect(page.locator('[data-dash="received_24h"]')).to_have_text("20")
    await expect(page.locator('[data-dash="delivered_5m"]')).to_have_text("20", timeout=LIVE_MS)
    await expect(page.locator('[data-dash-plot="total-received"]')).to_have_text("20")
    await expect(page.locator('[data-dash="spool_total"]')).to_have_text("0", timeout=LIVE_MS)
    points = await page.locator("polyline.line-received").get_attribute("points")
    assert points and points.split()[-1] != "600.0,120.0", "the last minute's point rose"
    # The strip follows the services too, and links to their page.
    await roost.roost.supervisor.stop("pop", "cli:test")
    await expect(page.locator('[data-strip="pop"]')).to_contain_text("stopped", timeout=LIVE_MS)
    await page.locator('[data-strip="pop"] a').click()
    await expect(page).to_have_url(roost.base + "/admin/services")


async def test_sign_in_lands_on_the_dashboard(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/admin")
    await expect(page).to_have_url(roost.base + "/admin/sign-in?next=%2Fadmin&reason=signed-out")
    await page.fill("#name", "admin")
    await page.fill("#password", roost.password)
    await page.click("form button.primary")
    # The first sign-in changes the one-time password first.
    await page.fill("#current", roost.password)
    await page.fill("#new", "a-new-admin-password")
    await page.fill("#repeat", "a-new-admin-password")
    await page.click("form button.primary")
    roost.password = "a-new-admin-password"
    await page.click("text=Sign out")
    await page.goto(roost.base + "/admin/sign-in")
    await page.fill("#name", "admin")
    await page.fill("#password", roost.password)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/admin")
    await expect(page.locator("h1")).to_contain_text("Dashboard")
