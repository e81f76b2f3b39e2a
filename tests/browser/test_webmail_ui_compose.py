"""Writing mail in chromium, checked over IMAP: a message with an attachment reaches its
recipient's INBOX (and its Bcc recipient's) byte for byte and without a Bcc field, the
Sent copy keeps Bcc; a reply threads and answers; autosave leaves one draft."""

from __future__ import annotations

import asyncio
import email
import imaplib
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from roost.control.directory import Actor
from roost.services.imap.service import ImapService
from roost.store.types import NewMessage
from tests.browser_support import Harness, expect, running_roost

ANN = "ann@example.test"
BOB = "bob@example.test"
CAROL = "carol@example.test"
PASSWORD = "user-password-1"
ARRIVAL_S = 30.0
"""The bound on waiting for the Spool to deliver (it is woken at once)."""


@pytest.fixture
async def roost(browser: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    extra = {"webmail": {"compose_autosave_s": 1.0}}
    async with running_roost(tmp_path, extra) as harness:
        directory = harness.roost.directory
        await directory.add_domain(Actor("test"), "example.test")
        for user in (ANN, BOB, CAROL):
            await directory.add_user(Actor("test"), user, PASSWORD)
        yield harness


def imap_port(roost: Harness) -> int:
    [imap] = [s for s in roost.roost.services if isinstance(s, ImapService)]
    return int(imap.addresses["imap-imap"][0].rsplit(":", 1)[1])


def fetch_all(port: int, user: str, folder: str) -> list[tuple[bytes, bytes]]:
    """Every message of a folder: (its FLAGS item, its bytes), over imaplib."""
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        client.login(user, PASSWORD)
        client.select(f'"{folder}"', readonly=True)
        _, found = client.uid("SEARCH", "ALL")
        out = []
        for uid in found[0].split():
            _, data = client.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
            item = data[0]
            assert isinstance(item, tuple)
            out.append((item[0], item[1]))
        return out
    finally:
        client.logout()


async def arrived(port: int, user: str, folder: str = "INBOX", count: int = 1) -> list[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ARRIVAL_S
    while True:
        found = await asyncio.to_thread(fetch_all, port, user, folder)
        if len(found) >= count or loop.time() > deadline:
            assert len(found) == count, f"{user}'s {folder} has {len(found)} messages"
            return [data for _, data in found]
        await asyncio.sleep(0.2)


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


async def sign_in(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/mail")
    await page.fill("#address", ANN)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/mail")


async def test_send_with_attachment_arrives_intact_without_bcc_and_sent_keeps_it(
    page: Any, roost: Harness
) -> None:
    port = imap_port(roost)
    payload = bytes(range(256)) * 300 + b"\x00end"
    await sign_in(page, roost)
    await page.click("#compose-link")
    await expect(page).to_have_url(roost.base + "/mail/compose")
    await page.fill("#to", "bo")
    completion = page.locator("button.completion", has_text=BOB)
    await completion.click()
    await expect(page.locator("#to")).to_have_value(f"{BOB}, ")
    await page.fill("#bcc", CAROL)
    await page.fill("#subject", "Figures for Q3")
    await page.fill("#text", "The figures are attached.")
    await page.set_input_files(
        "#files",
        files=[{"name": "figures.bin", "mimeType": "application/octet-stream", "buffer": payload}],
    )
    await expect(page.locator("#uploads li .name")).to_have_text("figures.bin")
    await page.click("#send")
    await expect(page.locator(".notice")).to_contain_text("Your message is sent to 2 recipients")

    (delivered,) = await arrived(port, BOB)
    msg = parsed(delivered)
    assert msg["Bcc"] is None and b"carol@" not in delivered
    assert msg["Subject"] == "Figures for Q3"
    (attached,) = list(msg.iter_attachments())
    assert attached.get_filename() == "figures.bin"
    assert attached.get_content() == payload
    (blind,) = await arrived(port, CAROL)
    assert parsed(blind)["Bcc"] is None
    assert parsed(blind)["Message-ID"] == msg["Message-ID"]
    (copy,) = await arrived(port, ANN, "Sent")
    assert parsed(copy)["Bcc"] == CAROL


async def test_reply_threads_and_answers_the_original(page: Any, roost: Harness) -> None:
    port = imap_port(roost)
    store = roost.roost.store
    account = await store.read(store.directory.account, ANN)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    original = (
        f"From: Bob <{BOB}>\r\nTo: {ANN}\r\nSubject: Lunch?\r\n"
        "Message-ID: <lunch-2@example.test>\r\nReferences: <lunch-1@example.test>\r\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\nLunch on Friday?\r\n"
    ).encode()
    blob = await store.blobs.stage(original)
    (done,) = await store.write(store.mail.append, box.id, [NewMessage(blob)])
    await sign_in(page, roost)
    await page.goto(f"{roost.base}/mail/message?folder=INBOX&uid={done.uid}")
    await page.click("#reply")
    await expect(page.locator("#subject")).to_have_value("Re: Lunch?")
    await expect(page.locator("#to")).to_have_value(f"Bob <{BOB}>")
    await page.locator("#text").press("Control+Home")
    await page.locator("#text").type("Yes, gladly.")
    await page.click("#send")
    await expect(page.locator(".notice")).to_contain_text("Your message is sent")

    (reply,) = await arrived(port, BOB)
    msg = parsed(reply)
    assert msg["In-Reply-To"] == "<lunch-2@example.test>"
    assert msg["References"] == "<lunch-1@example.test> <lunch-2@example.test>"
    assert "Yes, gladly." in msg.get_content()
    assert "> Lunch on Friday?" in msg.get_content()
    ((flags, _),) = await asyncio.to_thread(fetch_all, port, ANN, "INBOX")
    assert b"\\Answered" in flags


async def test_a_draft_autosaved_three_times_leaves_one_draft(page: Any, roost: Harness) -> None:
    port = imap_port(roost)
    await sign_in(page, roost)
    await page.goto(roost.base + "/mail/compose")
    state = page.locator("#save-state")
    for n in range(1, 4):
        await page.locator("#text").type(f" version {n}")
        await expect(state).to_have_text(f"Draft saved ({n}).")
    drafts = await asyncio.to_thread(fetch_all, port, ANN, "Drafts")
    assert len(drafts) == 1
    ((flags, data),) = drafts
    assert b"\\Draft" in flags
    assert "version 3" in parsed(data).get_content()
    # Reopened from Drafts, it is the same message, and saving it again still leaves one.
    uid = await page.locator('input[name="draft_uid"]').input_value()
    await page.goto(f"{roost.base}/mail/compose?draft={uid}")
    await expect(page.locator("#text")).to_have_value(" version 1 version 2 version 3\n")
    await page.click("#save")
    await expect(page.locator("#text")).to_have_value(" version 1 version 2 version 3\n")
    assert len(await asyncio.to_thread(fetch_all, port, ANN, "Drafts")) == 1
