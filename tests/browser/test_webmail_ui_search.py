"""The webmail's search in chromium: "/" puts the cursor in the header's box, a
hyphenated token finds exactly the messages that hold it, a result opens in
its folder, and with the Indexing service stopped the page says so and its
scan still finds mail that came meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

from roost.control.directory import Actor
from roost.store.types import NewMessage
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"
BOUNDED_WAIT_S = 30.0


def _mail(subject: str, body: str) -> bytes:
    head = f"From: Bob <bob@example.net>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
    return f"{head}\r\n{body}\r\n".encode()


async def _setup(roost: Harness) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)


async def _deliver(roost: Harness, folder: str, *datas: bytes) -> list[int]:
    store = roost.roost.store
    account = await store.read(store.directory.account, USER)
    box = await store.read(store.mail.mailbox, account.id, folder)
    staged = [await store.blobs.stage(data) for data in datas]
    done = await store.write(store.mail.append, box.id, [NewMessage(b) for b in staged])
    return [d.uid for d in done]


async def _indexed(roost: Harness) -> None:
    """Bounded wait until the Indexing service holds every message."""
    store = roost.roost.store
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUNDED_WAIT_S
    while (await store.read(store.search.status)).pending:
        assert loop.time() < deadline, "the Indexing service did not catch up"
        await asyncio.sleep(0.05)


async def _sign_in(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/mail")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/mail")


async def test_a_hyphenated_token_finds_exactly_its_messages_and_opens_one(
    page: Any, roost: Harness
) -> None:
    await _setup(roost)
    await _deliver(
        roost,
        "INBOX",
        _mail("Split apart", "an x ray 42 here"),
        _mail("Next one", "see x-ray-43 instead"),
        _mail("Inbox hit", "the X-RAY-42 report"),
    )
    (archived,) = await _deliver(roost, "Archive", _mail("Archived hit", "old x-ray-42 film"))
    await _indexed(roost)
    await _sign_in(page, roost)
    # "/" puts the cursor in the header's search box.
    await page.keyboard.press("/")
    await expect(page.locator("#search-q")).to_be_focused()
    await page.keyboard.type("x-ray-42")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(roost.base + "/mail/search?q=x-ray-42")
    subjects = page.locator(".result-subject")
    await expect(subjects).to_have_count(2)
    assert sorted(await subjects.all_inner_texts()) == ["Archived hit", "Inbox hit"]
    await expect(page.locator(".index-note")).to_have_count(0)
    hit = page.locator(".result", has_text="Archived hit")
    await expect(hit.locator(".result-folder")).to_have_text("Archive")
    await expect(hit.locator(".snippet mark")).to_have_text("x-ray-42")
    await hit.locator(".result-subject").click()
    await expect(page).to_have_url(f"{roost.base}/mail/message?folder=Archive&uid={archived}")
    await expect(page.locator("h1#subject")).to_have_text("Archived hit")
    await expect(page.locator(".reader a", has_text="Archive").first).to_be_visible()


async def test_with_indexing_stopped_the_page_says_so_and_still_finds_new_mail(
    page: Any, roost: Harness
) -> None:
    await _setup(roost)
    await _deliver(roost, "INBOX", _mail("Indexed", "the capybara-7 memo"))
    await _indexed(roost)
    await roost.roost.supervisor.stop("indexing", "cli:test")
    (late,) = await _deliver(roost, "INBOX", _mail("Came later", "a capybara-7 update"))
    await _sign_in(page, roost)
    await page.fill("#search-q", "capybara-7")
    await page.click(".search-box button")
    await expect(page.locator(".index-note")).to_contain_text(
        "Indexing is stopped: results come from the index as it was and a slower scan "
        "of the 1 message it has not indexed."
    )
    subjects = page.locator(".result-subject")
    await expect(subjects).to_have_count(2)
    assert sorted(await subjects.all_inner_texts()) == ["Came later", "Indexed"]
    await page.locator(".result-subject", has_text="Came later").click()
    await expect(page).to_have_url(f"{roost.base}/mail/message?folder=INBOX&uid={late}")
    # Nothing found: said in words, with the note.
    await page.fill("#search-q", "no-such-thing")
    await page.keyboard.press("Enter")
    await expect(page.locator(".empty")).to_contain_text("No message matches “no-such-thing”")
    await expect(page.locator(".index-note")).to_contain_text("Indexing is stopped")
