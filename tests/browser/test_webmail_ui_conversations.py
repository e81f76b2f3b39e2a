"""The message list by conversation in a real browser: the toggle, a conversation of
three with one unread shown bold with its count, opening it shows the thread, and
moving the ticked conversation moves all three."""

from __future__ import annotations

from typing import Any

from roost.control.directory import Actor
from roost.store.types import Flag, NewMessage
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"


def mail(subject: str, own: str, refs: str = "", sender: str = "Bob <bob@example.test>") -> bytes:
    head = f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{own}>\r\n"
    if refs:
        head += f"References: {refs}\r\n"
    return (head + "\r\nhello\r\n").encode()


async def test_a_conversation_is_one_bold_row_that_opens_and_moves_whole(
    page: Any, roost: Harness
) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)
    store = roost.roost.store
    account = await store.read(store.directory.account, USER)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    datas = [
        (mail("Picnic", "p1@x"), Flag.SEEN),
        (mail("Hello", "h1@x", sender="Carol <carol@example.test>"), Flag.SEEN),
        (mail("Re: Picnic", "p2@x", "<p1@x>", sender="Dan <dan@example.test>"), Flag.SEEN),
        (mail("Re: Picnic", "p3@x", "<p1@x> <p2@x>"), Flag(0)),
    ]
    blobs = await store.blobs.stage_many([d for d, _ in datas])
    await store.write(
        store.mail.append,
        box.id,
        [NewMessage(b, flags=f) for b, (_, f) in zip(blobs, datas, strict=True)],
    )

    await page.goto(roost.base + "/mail")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page.locator("tbody tr")).to_have_count(4)
    await page.click("#view-conversations")
    await expect(page.locator("#view-conversations")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("tbody tr")).to_have_count(2)
    picnic = page.locator("tbody tr", has_text="Picnic")
    await expect(picnic).to_have_class("unread")
    await expect(picnic.locator("td.subject")).to_have_css("font-weight", "700")
    await expect(picnic.locator(".thread-count")).to_have_text("(3)")
    await expect(picnic.locator("td.from")).to_contain_text("Bob, Dan")
    await expect(page.locator("tbody tr", has_text="Hello")).to_have_class("read")

    await picnic.locator("td.subject a").click()
    await expect(page.locator("section.conversation h2")).to_have_text(
        "Conversation (3 messages in INBOX)"
    )
    await page.go_back()

    await page.locator("tbody tr", has_text="Picnic").locator('input[name="conversation"]').check()
    await page.select_option('select[name="target"]', "Archive")
    await page.click('button[value="move"]')
    await expect(page.locator("p.notice")).to_have_text("3 moved to Archive.")
    await expect(page.locator("tbody tr")).to_have_count(1)
    archive = await store.read(store.mail.mailbox, account.id, "Archive")
    assert archive.message_count == 3
