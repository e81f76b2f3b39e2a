"""An invitation in chromium, end to end: Ann makes an event with Bob in the
calendar form (the "Send invitations" box ticked as it comes); the REQUEST
reaches Bob through the queue and the Spool; Bob accepts it in the read pane;
Ann records his REPLY from her INBOX, and her event shows that he accepted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.control.directory import Actor
from roost.store.store import Store
from tests.browser_support import WAIT_MS, Harness, expect, running_roost

ANN = "ann@example.test"
BOB = "bob@example.test"
PASSWORD = "user-password-1"
ARRIVAL_S = 30.0
"""The bound on waiting for the Spool to deliver."""


@pytest.fixture
async def roost(browser: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_roost(tmp_path, {"spool": {"poll_interval_s": 0.1}}) as harness:
        directory = harness.roost.directory
        await directory.add_domain(Actor("test"), "example.test")
        for user in (ANN, BOB):
            await directory.add_user(Actor("test"), user, PASSWORD)
        yield harness


async def first_in_inbox(store: Store, user: str) -> int:
    owner = (await store.read(store.directory.account, user)).id
    deadline = asyncio.get_running_loop().time() + ARRIVAL_S
    while True:
        box = await store.read(store.mail.mailbox, owner, "INBOX")
        found = await store.read(store.mail.messages, box.id)
        if found or asyncio.get_running_loop().time() > deadline:
            assert found, f"a message reached {user}'s INBOX"
            return found[0].uid
        await asyncio.sleep(0.1)


async def sign_in(page: Any, user: str) -> None:
    await page.fill("#address", user)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")


async def test_ann_invites_bob_in_the_calendar_and_sees_his_answer(
    browser: Any, page: Any, roost: Harness
) -> None:
    store = roost.roost.store
    await page.goto(f"{roost.base}/mail/calendar/new?date=2026-03-10&time=14:00")
    await sign_in(page, ANN)
    await page.fill("#title", "Design review")
    await page.fill("#location", "Room 7")
    await page.fill("#attendees", BOB)
    await expect(page.locator("#send_invitations")).to_be_checked()
    await page.click("#save-event")
    await expect(page.locator("#itip-sent-1")).to_have_text(f"Invitations sent to {BOB}.")

    bob_context = await browser.new_context()
    bob_context.set_default_timeout(WAIT_MS)
    try:
        bob = await bob_context.new_page()
        uid = await first_in_inbox(store, BOB)
        await bob.goto(f"{roost.base}/mail/message?folder=INBOX&uid={uid}")
        await sign_in(bob, BOB)
        panel = bob.locator("#invitation")
        await expect(panel.locator(".title")).to_have_text("Design review")
        await expect(panel).to_contain_text("Room 7")
        await bob.click("#invitation-accept")
        await expect(bob.locator("#invitation-done")).to_contain_text("You accepted")
    finally:
        await bob_context.close()

    reply = await first_in_inbox(store, ANN)
    await page.goto(f"{roost.base}/mail/message?folder=INBOX&uid={reply}")
    await page.click("#invitation-record")
    await expect(page.locator("#invitation-done")).to_contain_text("recorded")
    await page.goto(f"{roost.base}/mail/calendar?view=week&date=2026-03-10")
    await page.click("a.ev:has-text('Design review')")
    await expect(page.locator("ul.attendees")).to_contain_text(f"{BOB} (accepted)")
