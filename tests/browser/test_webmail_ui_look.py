"""The webmail's look in chromium: the keyboard shortcuts, a phone's width, the
conversation in the read pane, and the screenshots of the main views.

Set ROOST_SCREENSHOTS to a folder (docs/screenshots) to keep the screenshots
there; otherwise they go to the test's own folder.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from roost.control.directory import Actor
from roost.store.types import Flag, NewMessage
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"
MESSAGES = [
    ("Bob Martin <bob@example.test>", "Lunch on Friday?", "a@x", "", Flag.SEEN),
    ("Carol Diaz <carol@example.test>", "Re: Lunch on Friday?", "b@x", "<a@x>", Flag(0)),
    ("Bob Martin <bob@example.test>", "Re: Lunch on Friday?", "c@x", "<a@x> <b@x>", Flag(0)),
    ("Billing <billing@shop.example>", "Your invoice for November", "d@x", "", Flag.FLAGGED),
    ("Dana Lee <dana@example.test>", "Slides for Monday", "e@x", "", Flag.SEEN),
    ("Ops <ops@example.test>", "Backup finished: 0 errors", "f@x", "", Flag.SEEN),
]


def message(sender: str, subject: str, message_id: str, refs: str, when: datetime) -> bytes:
    head = f"From: {sender}\r\nTo: Ann <{USER}>\r\nSubject: {subject}\r\n"
    head += f"Message-ID: <{message_id}>\r\nDate: {format_datetime(when)}\r\n"
    if refs:
        head += f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n"
    body = (
        "Hi Ann,\r\n\r\nHow about the place on the corner at half past twelve?\r\n\r\n"
        "See you,\r\n" + sender.split()[0] + "\r\n"
    )
    return (
        head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    ).encode()


async def _setup(roost: Harness) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD, display_name="Ann", quota_mb=500)
    store = roost.roost.store
    account = await store.read(store.directory.account, USER)
    for name in ("Projects", "Projects/Roost", "Receipts"):
        await store.write(store.mail.create_mailbox, account.id, name)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    start = datetime.now(UTC) - timedelta(hours=len(MESSAGES))
    for n, (sender, subject, message_id, refs, flags) in enumerate(MESSAGES):
        when = start + timedelta(hours=n)
        blob = await store.blobs.stage(message(sender, subject, message_id, refs, when))
        item = NewMessage(blob, flags=flags, internal_date=when)
        await store.write(store.mail.append, box.id, [item])


async def _sign_in(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/mail")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/mail")


async def test_the_keyboard_moves_ticks_and_opens(page: Any, roost: Harness) -> None:
    await _setup(roost)
    await _sign_in(page, roost)
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(len(MESSAGES))
    current = re.compile(r"\bcurrent-row\b")
    await page.keyboard.press("j")
    await expect(rows.nth(0)).to_have_class(current)
    await page.keyboard.press("j")
    await expect(rows.nth(1)).to_have_class(current)
    await page.keyboard.press("k")
    await expect(rows.nth(0)).to_have_class(current)
    await page.keyboard.press("x")
    await expect(rows.nth(0).locator('input[name="uid"]')).to_be_checked()
    await page.keyboard.press("u")
    await expect(page.locator(".notice")).to_have_text("1 marked as unread.")
    await expect(rows.nth(0)).to_have_class(re.compile(r"\bunread\b"))
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await page.keyboard.press("o")
    await expect(page.locator("h1#subject")).to_have_text(MESSAGES[-2][1])


async def test_the_read_pane_shows_the_conversation(page: Any, roost: Harness) -> None:
    await _setup(roost)
    await _sign_in(page, roost)
    await page.click("td.subject a >> text=Re: Lunch on Friday? >> nth=0")
    items = page.locator(".conversation li")
    await expect(items).to_have_count(3)
    await expect(page.locator('.conversation li[aria-current="true"]')).to_have_count(1)
    await page.locator(".conversation li a").first.click()
    await expect(page.locator("h1#subject")).to_have_text("Lunch on Friday?")


async def test_readable_on_a_phone(browser: Any, roost: Harness) -> None:
    await _setup(roost)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = await context.new_page()
        await _sign_in(page, roost)
        assert await page.evaluate("document.scrollingElement.scrollWidth") <= 390
        await expect(page.locator("td.subject").first).to_be_visible()
    finally:
        await context.close()


async def test_webmail_screenshots(page: Any, roost: Harness, tmp_path: Path) -> None:
    folder = Path(os.environ.get("ROOST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await _setup(roost)
    await page.set_viewport_size({"width": 1280, "height": 760})
    await page.goto(roost.base + "/mail")
    await expect(page.locator("h1")).to_have_text("Sign in to your mail")
    await page.fill("#address", USER)
    await page.screenshot(path=str(folder / "webmail-sign-in.png"))
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page.locator("tbody tr")).to_have_count(len(MESSAGES))
    await page.screenshot(path=str(folder / "webmail-list.png"))
    await page.click("td.subject a >> text=Re: Lunch on Friday? >> nth=0")
    await expect(page.locator(".conversation li")).to_have_count(3)
    await page.screenshot(path=str(folder / "webmail-read.png"))
    await page.goto(roost.base + "/mail?folder=Projects%2FRoost")
    await page.click(".manage summary")
    await expect(page.locator("#new-name")).to_be_visible()
    await page.screenshot(path=str(folder / "webmail-folders.png"))
    for name in ("sign-in", "list", "read", "folders"):
        assert (folder / f"webmail-{name}.png").stat().st_size > 10_000
