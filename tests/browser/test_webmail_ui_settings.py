"""The settings pages in a real browser against a running Roost: a vacation
reply set in the webmail answers a message that arrives over SMTP (once), and
an external account added on the settings page shows its status after
"Fetch now" against Debian's Dovecot."""

from __future__ import annotations

import asyncio
import email
import email.policy
from typing import Any

from roost.control.directory import Actor
from roost.store.store import Store
from roost.store.types import QueueEntry
from tests.browser_support import WAIT_MS, Harness, expect, send_messages
from tests.dovecot_peer import dovecot_peer
from tests.retrieval_support import REMOTE_PASSWORD, message, put_remote
from tests.webmail_support import PASSWORD, USER

BOUND_S = 30.0


async def _user(roost: Harness) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)


async def _sign_in(page: Any, roost: Harness, target: str) -> None:
    await page.goto(roost.base + target)
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await page.wait_for_url("**" + target + "**")


async def _replies(store: Store) -> list[QueueEntry]:
    return [e for e in await store.read(store.queue.entries) if e.source == "vacation"]


async def _wait_for(predicate: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_S
    while not await predicate():
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


async def test_a_vacation_set_in_the_webmail_answers_once(page: Any, roost: Harness) -> None:
    await _user(roost)
    await _sign_in(page, roost, "/mail/settings/vacation")
    await page.check("#enabled")
    await page.fill("#subject", "Out of office")
    await page.fill("#text", "<b>Away</b> until Monday.")
    await page.click("form.manage button.primary")
    await expect(page.locator("p.error")).to_contain_text("may not contain HTML")
    await page.fill("#text", "Away until Monday.")
    await page.click("form.manage button.primary")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    await expect(page.locator("#enabled")).to_be_checked()

    store = roost.roost.store
    await send_messages(roost, 2, sender="bob@example.net", to=USER, subject="Lunch")

    async def delivered_twice() -> bool:
        account = await store.read(store.directory.account, USER)
        box = await store.read(store.mail.mailbox, account.id, "INBOX")
        return len(await store.read(store.mail.messages, box.id)) == 2

    await _wait_for(delivered_twice)

    async def replied() -> bool:
        return len(await _replies(store)) >= 1

    await _wait_for(replied)
    (reply,) = await _replies(store)  # two messages, one reply
    assert reply.sender == "" and [r.address for r in reply.recipients] == ["bob@example.net"]
    parsed = email.message_from_bytes(
        await store.blobs.read(reply.blob_hash), policy=email.policy.default
    )
    assert parsed["Subject"] == "Out of office"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"].startswith("<m0.")
    assert "Away until Monday." in parsed.get_content()

    # Switched off in the webmail: the next sender hears nothing.
    await page.uncheck("#enabled")
    await page.click("form.manage button.primary")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    await send_messages(roost, 1, sender="dave@example.net", to=USER, subject="Hello")

    async def delivered_thrice() -> bool:
        account = await store.read(store.directory.account, USER)
        box = await store.read(store.mail.mailbox, account.id, "INBOX")
        return len(await store.read(store.mail.messages, box.id)) == 3

    await _wait_for(delivered_thrice)
    assert len(await _replies(store)) == 1


async def test_an_account_added_here_shows_its_status_after_fetch_now(
    page: Any, roost: Harness
) -> None:
    await _user(roost)
    with dovecot_peer(["remote"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote", [message(1), message(2)])
        await _sign_in(page, roost, "/mail/settings/accounts")
        await page.select_option("#protocol", "imap")
        await page.fill("#host", "127.0.0.1")
        await page.select_option("#tls", "none")
        await page.fill("#port", str(peer.imap_port))
        await page.fill("#username", "remote")
        await page.fill("#password", REMOTE_PASSWORD)
        await page.check('input[name="manual"]')
        await page.click('form[action="/mail/settings/accounts/add"] button.primary')
        await expect(page.locator("p.notice")).to_have_text("The account was added.")
        row = page.locator("tr[data-account]")
        await expect(row).to_contain_text("remote at 127.0.0.1")
        await expect(row.locator(".status")).to_have_text("not fetched yet")

        await row.locator("button.run").click()
        await expect(page.locator("p.notice")).to_contain_text("Asked to fetch now")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BOUND_S
        while (await row.locator(".status").text_content()) != "OK":
            assert loop.time() < deadline, await row.text_content()
            await asyncio.sleep(0.3)
            await page.reload()
        await expect(row).to_contain_text("2 new", timeout=WAIT_MS)
        await expect(row).to_contain_text("2 in all")
        await expect(row.locator(".last-error")).to_have_count(0)

        # A wrong password: the status says so, with the server's last error.
        await row.locator("a", has_text="Edit").click()
        await page.fill("#password", "wrong-password")
        await page.click("form.manage button.primary")
        await expect(page.locator("p.notice")).to_have_text("Saved.")
        await row.locator("button.run").click()
        deadline = loop.time() + BOUND_S
        while (await row.locator(".status").text_content()) != "failed":
            assert loop.time() < deadline, await row.text_content()
            await asyncio.sleep(0.3)
            await page.reload()
        await expect(row.locator(".last-error")).not_to_be_empty()
