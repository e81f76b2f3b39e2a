"""The webmail's chat panel in Debian's chromium: two browser users of one domain
(the domain roster on) chat with each other and with a slixmpp client; presence
goes both ways; moving across webmail pages never shows the user unavailable;
the archive shows what came while the browser was closed; HTML stays text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import slixmpp
import trustme

from roost.control.directory import Actor
from tests.browser_support import WAIT_MS, Harness, expect, running_roost
from tests.xmpp_support import TIMEOUT_S, certificate, next_of, signed_in, xmpp_of

DOMAIN = "example.org"
ALICE, ALICE_PASSWORD = "alice@example.org", "alice-password-1"
BOB, BOB_PASSWORD = "bob@example.org", "bob-password-1"
CAROL, CAROL_PASSWORD = "carol@example.org", "carol-password-1"
FLOOD_MS = 120_000
"""The bound for a flood to reach the page (slow on a loaded 2-core machine)."""
HOSTILE = "<b>x</b><script>document.title='owned'</script>"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def xmpp_roost(
    tmp_path: Path, ca: trustme.CA, webmail: dict[str, Any] | None = None
) -> AsyncIterator[Harness]:
    """A Roost with XMPP on a port of its own (its TLS certificate from `ca`), the
    `webmail` settings given, and ALICE, BOB and CAROL as users of DOMAIN."""
    cert, key = certificate(ca, tmp_path / "certs")
    extra: dict[str, dict[str, Any]] = {
        "tls": {"cert_file": str(cert), "key_file": str(key)},
        "xmpp": {"listen": ["127.0.0.1:0"], "tls_listen": []},
    }
    if webmail:
        extra["webmail"] = webmail
    async with running_roost(tmp_path, extra) as harness:
        directory = harness.roost.directory
        await directory.add_domain(Actor("test"), DOMAIN)
        for address, password in (
            (ALICE, ALICE_PASSWORD),
            (BOB, BOB_PASSWORD),
            (CAROL, CAROL_PASSWORD),
        ):
            await directory.add_user(Actor("test"), address, password)
        yield harness


@pytest.fixture
async def chat_roost(browser: Any, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Harness]:
    async with xmpp_roost(tmp_path, ca) as harness:
        yield harness


# Records the notifications a page shows (Playwright injects it outside the page's CSP).
RECORD_NOTIFICATIONS = """
window.shownNotifications = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.shownNotifications.push(title + ": " + ((options && options.body) || ""));
  }
};
"""


async def open_webmail(
    browser: Any, harness: Harness, address: str, password: str, *, notify: bool = False
) -> Any:
    """A browser of its own, signed in to the webmail, on the chat page once it is ready;
    *notify*: the user allowed notifications."""
    context = await browser.new_context(
        viewport={"width": 1400, "height": 900},
        permissions=["notifications"] if notify else [],
    )
    context.set_default_timeout(WAIT_MS)
    if notify:
        await context.add_init_script(RECORD_NOTIFICATIONS)
    page = await context.new_page()
    await page.goto(harness.base + "/mail")
    await page.fill("#address", address)
    await page.fill("#password", password)
    await page.click("form button.primary")
    await expect(page).to_have_url(harness.base + "/mail")
    await page.goto(harness.base + "/mail/chat")
    await ready(page)
    return page


async def ready(page: Any) -> None:
    await expect(page.locator("#chat-link")).to_have_attribute("data-state", "ready")


def contact(page: Any, address: str) -> Any:
    return page.locator(f'#chat-contacts li[data-jid="{address}"]')


async def choose(page: Any, address: str) -> None:
    await contact(page, address).locator("button").click()
    await expect(page.locator("#chat-with")).to_contain_text(address.split("@")[0])


async def say(page: Any, text: str) -> None:
    await page.fill("#chat-text", text)
    await page.press("#chat-text", "Enter")


def texts(page: Any) -> Any:
    return page.locator("#chat-log .chat-text")


async def test_browser_users_chat_with_each_other_and_an_xmpp_app(
    browser: Any, chat_roost: Harness, ca: trustme.CA
) -> None:
    port = int(xmpp_of(chat_roost.roost).addresses["xmpp-xmpp"][0].rpartition(":")[2])
    seen: list[tuple[str, str, str]] = []
    """Every presence of alice's that carol's client receives: (from, type, show)."""

    def record(client: Any) -> None:
        def note(presence: slixmpp.Presence) -> None:
            if str(presence["from"].bare) == ALICE:
                # slixmpp's "type" of an available presence is its show.
                kind = "unavailable" if presence["type"] == "unavailable" else "available"
                seen.append((str(presence["from"]), kind, presence["show"]))

        # slixmpp names the event of an available presence after its show.
        for kind in ("available", "unavailable", "away", "xa", "dnd", "chat"):
            client.add_event_handler(f"presence_{kind}", note)

    async with signed_in(chat_roost.roost, ca, CAROL, CAROL_PASSWORD, setup=record) as carol:
        assert carol.boundjid.domain == DOMAIN and port
        # While alice has no browser open, carol's phone-like client writes to her.
        carol.send_message(mto=ALICE, mbody="sent while you were away", mtype="chat")
        carol.send_message(mto=ALICE, mbody="and a second one", mtype="chat")

        alice = await open_webmail(browser, chat_roost, ALICE, ALICE_PASSWORD)
        bob = await open_webmail(browser, chat_roost, BOB, BOB_PASSWORD, notify=True)

        # The domain roster: both see everyone of the domain, under "Your domain".
        for page, others in ((alice, (BOB, CAROL)), (bob, (ALICE, CAROL))):
            for other in others:
                await expect(contact(page, other)).to_have_attribute("data-show", "available")
        # History: what carol sent while the browser was closed, once each.
        await expect(contact(alice, CAROL).locator(".chat-unread")).to_have_text("2")
        await choose(alice, CAROL)
        await expect(texts(alice)).to_have_text(["sent while you were away", "and a second one"])
        await expect(alice.locator("#chat-badge")).to_be_hidden()

        # Browser to browser.
        await choose(alice, BOB)
        await say(alice, "hello bob")
        await expect(contact(bob, ALICE).locator(".chat-unread")).to_have_text("1")
        await expect(bob.locator("#chat-badge")).to_have_text("1")
        await expect(bob.locator("#chat-notice")).to_contain_text("hello bob")
        shown = await bob.evaluate("window.shownNotifications")
        assert shown == [f"Chat: {ALICE}: hello bob"], shown
        await choose(bob, ALICE)
        await expect(texts(bob)).to_have_text(["hello bob"])
        await say(bob, "hello alice")
        await expect(texts(alice)).to_have_text(["hello bob", "hello alice"])

        # Browser and XMPP app, both ways; HTML from the app is text.
        await choose(alice, CAROL)
        await say(alice, "hello carol")
        got = await next_of(carol.messages, "alice's message")
        assert got["body"] == "hello carol" and str(got["from"].bare) == ALICE
        carol.send_message(mto=ALICE, mbody=HOSTILE, mtype="chat")
        await expect(texts(alice).last).to_have_text(HOSTILE)
        assert await alice.locator("#chat-log b, #chat-log script").count() == 0
        assert await alice.title() != "owned"

        # Presence both ways: alice goes away; carol goes away.
        await alice.select_option("#chat-show", "away")
        await until_true(lambda: seen and seen[-1][1:] == ("available", "away"), seen)
        carol.send_presence(pshow="away")
        await expect(contact(alice, CAROL)).to_have_attribute("data-show", "away")
        await expect(contact(bob, CAROL)).to_have_attribute("data-show", "away")
        await expect(contact(bob, ALICE)).to_have_attribute("data-show", "away")

        # Five webmail views, and a message from carol on the way.
        before = len(seen)
        views = [
            "/mail",
            "/mail/password",
            "/mail/no-such-page",
            "/mail?folder=INBOX",
            "/mail/chat",
        ]
        for n, view in enumerate(views):
            await alice.goto(chat_roost.base + view)
            await ready(alice)
            if n == 2:
                carol.send_message(mto=ALICE, mbody="while you moved", mtype="chat")
                await expect(alice.locator("#chat-notice")).to_contain_text("while you moved")
                await expect(alice.locator("#chat-badge")).to_have_text("1")
        await expect(contact(alice, CAROL).locator(".chat-unread")).to_have_text("1")
        await choose(alice, CAROL)
        await expect(texts(alice).last).to_have_text("while you moved")
        # Carol's client never saw alice leave, nor even change: she stayed away.
        assert all(kind != "unavailable" for _, kind, _ in seen), seen
        assert seen[before:] == [], seen[before:]
        await expect(alice.locator("#chat-show")).to_have_value("away")

        # Signing out ends the chat at once, not after the resumption timeout.
        await alice.click("form[action='/mail/sign-out'] button")
        await alice.wait_for_url("**/mail/sign-in**")
        await until_true(lambda: seen[-1][1] == "unavailable", seen)
        await expect(contact(bob, ALICE)).to_have_attribute("data-show", "offline")

        for page in (alice, bob):
            await page.context.close()


async def test_a_flood_and_a_long_message_stay_bounded(
    browser: Any, chat_roost: Harness, ca: trustme.CA
) -> None:
    rendered = chat_roost.roost.config.webmail.chat_rendered_messages
    shown = chat_roost.roost.config.webmail.chat_shown_chars
    async with signed_in(chat_roost.roost, ca, CAROL, CAROL_PASSWORD) as carol:
        alice = await open_webmail(browser, chat_roost, ALICE, ALICE_PASSWORD)
        await choose(alice, CAROL)
        carol.send_message(mto=ALICE, mbody="y" * (shown + 500), mtype="chat")
        await expect(alice.locator("#chat-log .chat-cut")).to_contain_text("500 more characters")
        total = rendered + 50
        for n in range(total):
            carol.send_message(mto=ALICE, mbody=f"flood {n}", mtype="chat")
        await expect(texts(alice).last).to_have_text(f"flood {total - 1}", timeout=FLOOD_MS)
        assert await texts(alice).count() == rendered
        # The archive pages back over what the cap took off the page.
        await expect(texts(alice).first).to_have_text(f"flood {total - rendered}")
        await alice.click("#chat-older")
        await expect(texts(alice).first).to_have_text(f"flood {total - rendered - 50}")
        assert await texts(alice).count() == rendered
        # A new message then brings the newest back, without a gap.
        carol.send_message(mto=ALICE, mbody="after paging", mtype="chat")
        await expect(texts(alice).last).to_have_text("after paging")
        await expect(texts(alice).nth(-2)).to_have_text(f"flood {total - 1}")
        # The page still answers at once.
        assert await alice.evaluate("1 + 1") == 2
        await say(alice, "still here")
        got = await next_of(carol.messages, "alice's answer")
        assert got["body"] == "still here"
        await alice.context.close()


async def until_true(check: Any, what: Any) -> None:
    """Wait (at most TIMEOUT_S) for `check()`; the failure names `what`."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {TIMEOUT_S} s: {what}") from None
