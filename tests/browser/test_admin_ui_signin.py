"""The admin console in chromium: signing in and out, sessions, CSRF, framing, two-step codes."""

from __future__ import annotations

import time
from typing import Any

from roost.control import totp
from tests.browser_support import NEW_PASSWORD, Harness, expect, row


async def test_first_sign_in_forces_a_new_password(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/admin/services")
    await expect(page).to_have_url(
        f"{roost.base}/admin/sign-in?next=%2Fadmin%2Fservices&reason=signed-out"
    )
    await page.fill("#name", "admin")
    await page.fill("#password", "not-the-password")
    await page.click("form button.primary")
    await expect(page.locator("#form-error")).to_have_text("Wrong name or password.")
    await page.fill("#password", roost.password)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/admin/password")
    await expect(page.locator(".notice")).to_contain_text("one-time password")
    # Every other page waits until the password is changed.
    await page.goto(roost.base + "/admin/events")
    await expect(page).to_have_url(roost.base + "/admin/password")
    await page.fill("#current", roost.password)
    await page.fill("#new", NEW_PASSWORD)
    await page.fill("#repeat", "something-else")
    await page.click("form button.primary")
    await expect(page.locator("main .error")).to_have_text("The two new passwords differ.")
    await page.fill("#current", roost.password)
    await page.fill("#new", NEW_PASSWORD)
    await page.fill("#repeat", NEW_PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/admin/services?done=password")
    await expect(page.locator("h1")).to_contain_text("Services")
    await expect(row(page, "smtp").locator('[data-field="state"]')).to_have_text("running")
    # The one-time password is gone.
    await page.context.clear_cookies()
    await page.goto(roost.base + "/admin/sign-in")
    await page.fill("#name", "admin")
    await page.fill("#password", roost.password)
    await page.click("form button.primary")
    await expect(page.locator("#form-error")).to_have_text("Wrong name or password.")


async def test_sign_out_ends_the_session_everywhere(
    admin_page: Any, roost: Harness, browser: Any
) -> None:
    page = admin_page
    before = {c["name"]: c["value"] for c in await page.context.cookies()}
    assert "roost_admin" in before
    cookie = next(c for c in await page.context.cookies() if c["name"] == "roost_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await page.click(".sign-out button")
    await expect(page).to_have_url(roost.base + "/admin/sign-in?reason=bye")
    await expect(page.locator(".notice")).to_have_text("You have signed out.")
    # A signed-out browser is sent to the sign-in page.
    await page.goto(roost.base + "/admin/events")
    await expect(page).to_have_url(
        f"{roost.base}/admin/sign-in?next=%2Fadmin%2Fevents&reason=signed-out"
    )
    # The session id from before the sign-out no longer works, in any browser.
    other = await browser.new_context()
    try:
        await other.add_cookies(
            [{"name": "roost_admin", "value": before["roost_admin"], "url": roost.base}]
        )
        stale = await other.new_page()
        await stale.goto(roost.base + "/admin/services")
        await expect(stale.locator("h1")).to_have_text("Sign in to Roost")
        answer = await stale.request.get(
            roost.base + "/admin/services/status", headers={"Accept": "application/json"}
        )
        assert answer.status == 401
    finally:
        await other.close()


async def test_a_wrong_csrf_token_is_refused(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await page.evaluate(
        "document.querySelector('#services-form input[name=csrf]').value = 'forged-token'"
    )
    await row(page, "smtp").locator("summary").click()
    await row(page, "smtp").get_by_role("button", name="Stop SMTP").click()
    await page.click("#confirm-ok")
    await expect(page.locator("#results-list")).to_contain_text("CSRF token does not match")
    await expect(row(page, "smtp").locator('[data-field="state"]')).to_have_text("running")
    # The same without the script: a form post with a forged token gets 403 and says why.
    answer = await page.request.post(
        roost.base + "/admin/services/action",
        form={"csrf": "forged-token", "action": "stop", "service": "smtp"},
    )
    assert answer.status == 403
    assert "CSRF token does not match" in await answer.text()
    assert roost.roost.supervisor.status("smtp").state.value == "running"


async def test_the_console_cannot_be_framed(page: Any, roost: Harness) -> None:
    response = await page.goto(roost.base + "/admin/sign-in")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    # A page elsewhere that frames the console gets nothing in the frame.
    await page.goto("about:blank")
    await page.set_content(f'<iframe id="f" src="{roost.base}/admin/sign-in"></iframe>')
    framed = page.frame_locator("#f")
    await expect(framed.locator("h1")).not_to_have_text("Sign in to Roost")
    inner = [f for f in page.frames if f is not page.main_frame]
    assert len(inner) == 1 and inner[0].url.startswith("chrome-error://")
    assert "Sign in to Roost" not in await inner[0].content()


async def test_two_step_sign_in(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await page.click("nav >> text=Account")
    await expect(page.locator("#totp-state")).to_contain_text("Off.")
    await page.click("text=Set up two-step sign-in")
    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    uri = await page.locator("#totp-uri").inner_text()
    assert uri.startswith("otpauth://totp/Roost%3Aadmin?secret=" + secret)
    assert (await page.locator(".qr img").get_attribute("src")).startswith("data:image/svg+xml")
    await page.fill(
        "#confirm-code", "000000" if totp.code_at(secret, time.time()) != "000000" else "111111"
    )
    await page.click("text=Turn two-step sign-in on")
    await expect(page.locator("main .error")).to_contain_text("does not match")
    await page.fill("#confirm-code", totp.code_at(secret, time.time()))
    await page.click("text=Turn two-step sign-in on")
    await expect(page.locator("#totp-state")).to_contain_text("On.")
    await page.click(".sign-out button")
    # Now the password alone is not enough.
    await page.fill("#name", "admin")
    await page.fill("#password", roost.password)
    await page.click("form button.primary")
    await expect(page.locator("#form-error")).to_have_text("Wrong or already used two-step code.")
    await page.fill("#password", roost.password)
    await page.fill("#code", totp.code_at(secret, time.time() + totp.STEP_S))
    await page.click("form button.primary")
    # A sign-in lands on the dashboard.
    await expect(page).to_have_url(roost.base + "/admin")
