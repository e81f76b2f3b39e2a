"""The webmail's message list follows its folder by itself: a message appended over
IMAP appears, and one moved away over IMAP leaves the list, within 10 s, while
ticked rows stay ticked."""

from __future__ import annotations

import asyncio
import imaplib
from typing import Any

from roost.control.directory import Actor
from roost.services.imap.service import ImapService
from roost.store.types import NewMessage
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"
UPDATE_MS = 10_000
"""The issue's bound: the list shows a change made over IMAP within 10 s."""


def _imap(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    client.login(USER, PASSWORD)
    return client


def _append(port: int, subject: str) -> None:
    client = _imap(port)
    try:
        message = f"From: Bob <bob@example.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\nhi\r\n"
        typ, _ = client.append("INBOX", "", None, message.encode())
        assert typ == "OK"
    finally:
        client.logout()


def _move(port: int, uid: int, target: str) -> None:
    client = _imap(port)
    try:
        client.select("INBOX")
        typ, _ = client.uid("MOVE", str(uid), target)
        assert typ == "OK"
    finally:
        client.logout()


async def test_the_list_shows_an_imap_append_and_loses_an_imap_move_within_10_s(
    page: Any, roost: Harness
) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)
    store = roost.roost.store
    account = await store.read(store.directory.account, USER)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(b"From: a@example.test\r\nSubject: kept\r\n\r\nhello\r\n")
    (kept,) = await store.write(store.mail.append, box.id, [NewMessage(blob)])
    [imap] = [s for s in roost.roost.services if isinstance(s, ImapService)]
    port = int(imap.addresses["imap-imap"][0].rsplit(":", 1)[1])

    await page.goto(roost.base + "/mail")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/mail")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.locator(f'tr[data-uid="{kept.uid}"] input[name="uid"]').check()

    await asyncio.to_thread(_append, port, "arrived over IMAP")
    arrived = page.locator("tbody tr", has_text="arrived over IMAP")
    await expect(arrived).to_have_count(1, timeout=UPDATE_MS)
    await expect(page.locator("p.counts")).to_have_text("2 messages, 2 unread")
    await expect(page.locator(".folders .current .unread")).to_have_text("2")
    # What was ticked before the list changed is still ticked.
    await expect(page.locator(f'tr[data-uid="{kept.uid}"] input[name="uid"]')).to_be_checked()
    uid = int(await arrived.get_attribute("data-uid") or "0")

    await asyncio.to_thread(_move, port, uid, "Archive")
    await expect(arrived).to_have_count(0, timeout=UPDATE_MS)
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("p.counts")).to_have_text("1 message, 1 unread")
    # The page stays the user's: the list still acts on what is shown.
    await page.click('button[value="read"]')
    await expect(page.locator(".notice")).to_have_text("1 marked as read.")
