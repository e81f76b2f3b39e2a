"""The webmail in chromium: signing in and out, the cookie, and its separation from the
admin console's session."""

from __future__ import annotations

from typing import Any

from roost.control.directory import Actor
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"


async def _add_user(roost: Harness) -> None:
    await roost.roost.directory.add_domain(Actor("test"), "example.test")
    await roost.roost.directory.add_user(Actor("test"), USER, PASSWORD, quota_mb=50)


async def _sign_in(page: Any, roost: Harness, password: str = PASSWORD) -> None:
    await page.fill("#address", USER)
    await page.fill("#password", password)
    await page.click("form button.primary")


async def test_a_mail_user_signs_in_sees_the_folders_and_signs_out(
    page: Any, roost: Harness
) -> None:
    await _add_user(roost)
    await page.goto(roost.base + "/mail")
    await expect(page).to_have_url(roost.base + "/mail/sign-in?next=%2Fmail&reason=signed-out")
    await _sign_in(page, roost, "not-the-password")
    await expect(page.locator("main .error")).to_have_text("Wrong address or password.")
    await _sign_in(page, roost)
    await expect(page).to_have_url(roost.base + "/mail")
    await expect(page.locator(".who")).to_have_text(USER)
    labels = page.locator(".folders .label")
    await expect(labels).to_have_text(["INBOX", "Drafts", "Sent", "Archive", "Junk", "Trash"])
    cookie = next(c for c in await page.context.cookies() if c["name"] == "roost_mail")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # A folder made here is a mailbox IMAP sees.
    await page.click(".manage summary")
    await page.fill("#new-name", "Receipts")
    await page.click('form[action="/mail/folders/create"] button')
    await expect(page.locator(".content h1")).to_have_text("Receipts")
    account = await roost.roost.store.read(roost.roost.store.directory.account, USER)
    names = [
        b.name for b in await roost.roost.store.read(roost.roost.store.mail.mailboxes, account.id)
    ]
    assert "Receipts" in names
    await page.click(".top nav button")
    await expect(page).to_have_url(roost.base + "/mail/sign-in?reason=bye")
    await page.goto(roost.base + "/mail")
    await expect(page.locator("h1")).to_have_text("Sign in to your mail")


async def test_the_admin_session_does_not_open_the_webmail_nor_the_reverse(
    admin_page: Any, roost: Harness
) -> None:
    await _add_user(roost)
    page = admin_page
    await page.goto(roost.base + "/mail")
    await expect(page.locator("h1")).to_have_text("Sign in to your mail")
    await _sign_in(page, roost)
    await expect(page).to_have_url(roost.base + "/mail")
    # Both sessions live in one browser, each under its own cookie.
    names = {c["name"] for c in await page.context.cookies()}
    assert {"roost_admin", "roost_mail"} <= names
    await page.context.clear_cookies()
    await page.goto(roost.base + "/mail")
    await _sign_in(page, roost)
    await expect(page).to_have_url(roost.base + "/mail")
    await page.goto(roost.base + "/admin/services")
    await expect(page).to_have_url(
        roost.base + "/admin/sign-in?next=%2Fadmin%2Fservices&reason=signed-out"
    )
