"""Group rooms in the webmail's chat panel, in Debian's chromium: two browser
users and a slixmpp client in one room; messages all ways, the occupants with
their roles, the subject and the room's history; HTML stays text; unread marks;
moving across webmail pages never makes a browser user leave the room; a flood
stays bounded; creating and leaving a room; a fresh sign-in enters the
bookmarked rooms again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import slixmpp
import trustme

from tests.browser.test_webmail_ui_chat import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    CAROL,
    CAROL_PASSWORD,
    HOSTILE,
    open_webmail,
    ready,
    say,
    texts,
    until_true,
    xmpp_roost,
)
from tests.browser_support import Harness, expect
from tests.xmpp_support import TIMEOUT_S, next_of, signed_in

ROOM = "team@conference.example.org"
RENDERED = 50
SHOWN = 500
FLOOD_MS = 60_000
BOOKMARKS = "urn:xmpp:bookmarks:1"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def rooms_roost(browser: Any, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Harness]:
    webmail = {"chat_rendered_messages": RENDERED, "chat_shown_chars": SHOWN}
    async with xmpp_roost(tmp_path, ca, webmail) as harness:
        yield harness


def room_item(page: Any, room: str = ROOM) -> Any:
    return page.locator(f'#chat-rooms li[data-room="{room}"]')


def occupant(page: Any, nick: str) -> Any:
    return page.locator(f'#chat-occupants li[data-nick="{nick}"]')


async def join(page: Any, name: str) -> None:
    await page.fill("#chat-room-name", name)
    await page.click("#chat-room-join")
    await expect(page.locator("#chat-with")).to_contain_text("in the room")


async def test_browser_users_and_an_xmpp_app_share_a_room(
    browser: Any, rooms_roost: Harness, ca: trustme.CA
) -> None:
    from_alice: list[str] = []
    """The type of every presence of alice's occupant JID that carol's client gets."""

    def setup(client: Any) -> None:
        client.register_plugin("xep_0045")
        client.room_messages = asyncio.Queue()
        client.add_event_handler("groupchat_message", client.room_messages.put_nowait)

        def note(presence: slixmpp.Presence) -> None:
            if str(presence["from"]) == f"{ROOM}/alice":
                from_alice.append(str(presence["type"]))

        client.add_event_handler("groupchat_presence", note)

    roost = rooms_roost.roost
    async with signed_in(roost, ca, CAROL, CAROL_PASSWORD, setup=setup) as carol:
        # Carol's app makes the room (an instant room), sets its subject and says
        # something before the browsers come.
        muc = carol.plugin["xep_0045"]
        await muc.join_muc_wait(slixmpp.JID(ROOM), "carol", maxstanzas=0, timeout=TIMEOUT_S)
        form = carol.plugin["xep_0004"].make_form(ftype="submit")
        await muc.set_room_config(ROOM, form, timeout=TIMEOUT_S)
        carol.send_message(mto=ROOM, mtype="groupchat", msubject="Plans <b>Friday</b>")
        carol.send_message(mto=ROOM, mtype="groupchat", mbody="before you came")
        await next_of(carol.room_messages, "carol's own message")

        alice = await open_webmail(browser, rooms_roost, ALICE, ALICE_PASSWORD)
        bob = await open_webmail(browser, rooms_roost, BOB, BOB_PASSWORD)
        errors: list[str] = []
        for page in (alice, bob):
            page.on("pageerror", lambda error: errors.append(str(error)))
        for page in (alice, bob):
            await join(page, "team")
            await expect(page.locator("#chat-subject")).to_have_text("Plans <b>Friday</b>")
            await expect(texts(page)).to_have_text(["before you came"])
        # The occupants with their roles: the owner moderates.
        await expect(occupant(alice, "carol")).to_have_attribute("data-role", "moderator")
        for nick in ("alice", "bob"):
            await expect(occupant(alice, nick)).to_have_attribute("data-role", "participant")
        await expect(alice.locator("#chat-occupants li")).to_have_count(3)

        # Messages all ways: browser to browser and app, app to browsers.
        await say(alice, "hello room")
        await expect(texts(bob).last).to_have_text("hello room")
        await expect(bob.locator("#chat-log .chat-meta").last).to_contain_text("alice")
        got = await next_of(carol.room_messages, "alice's room message")
        assert got["body"] == "hello room" and got["mucnick"] == "alice", got
        await say(bob, "hi all")
        await expect(texts(alice).last).to_have_text("hi all")
        got = await next_of(carol.room_messages, "bob's room message")
        assert got["body"] == "hi all" and got["mucnick"] == "bob", got
        carol.send_message(mto=ROOM, mtype="groupchat", mbody=HOSTILE)
        for page in (alice, bob):
            await expect(texts(page).last).to_have_text(HOSTILE)
            assert await page.locator("#chat-log b, #chat-log script").count() == 0
            assert await page.title() != "owned"

        # Alice moves across three webmail pages while carol writes: she never
        # leaves the room, and the message waits as unread.
        for n, view in enumerate(("/mail", "/mail/password", "/mail/chat")):
            await alice.goto(rooms_roost.base + view)
            await ready(alice)
            if n == 1:
                carol.send_message(mto=ROOM, mtype="groupchat", mbody="while you moved")
                await expect(alice.locator("#chat-badge")).to_have_text("1")
        await expect(room_item(alice).locator(".chat-unread")).to_have_text("1")
        await room_item(alice).locator("button").click()
        await expect(texts(alice).last).to_have_text("while you moved")
        await expect(alice.locator("#chat-occupants li")).to_have_count(3)
        assert "unavailable" not in from_alice, from_alice

        # A flood and a long message from the room stay bounded.
        carol.send_message(mto=ROOM, mtype="groupchat", mbody="y" * (SHOWN + 300))
        await expect(alice.locator("#chat-log .chat-cut").last).to_contain_text("300 more")
        total = RENDERED + 20
        for n in range(total):
            carol.send_message(mto=ROOM, mtype="groupchat", mbody=f"flood {n}")
        await expect(texts(alice).last).to_have_text(f"flood {total - 1}", timeout=FLOOD_MS)
        assert await texts(alice).count() == RENDERED
        assert await alice.evaluate("1 + 1") == 2

        # Bad names: refused on the page, or by the server, in words.
        await alice.fill("#chat-room-name", "two words")
        await alice.click("#chat-room-join")
        await expect(alice.locator("#chat-room-error")).to_contain_text("no spaces")
        await alice.fill("#chat-room-name", "x" * 100)
        await alice.click("#chat-room-join")
        await expect(alice.locator("#chat-with")).to_contain_text("not acceptable")

        # A new name makes a new room, its creator its owner; leaving takes it off.
        await join(alice, "made-here")
        await expect(occupant(alice, "alice")).to_have_attribute("data-role", "moderator")
        await expect(alice.locator("#chat-occupants li")).to_have_count(1)
        await room_item(alice).locator("button").click()
        await alice.click("#chat-leave")
        await expect(room_item(alice)).to_have_count(0)
        await expect(room_item(alice, "made-here@conference.example.org")).to_have_count(1)
        await until_true(lambda: from_alice[-1:] == ["unavailable"], from_alice)
        await expect(occupant(bob, "alice")).to_have_count(0)
        # The rooms she is in are her bookmarks (XEP-0402), for her next sign-in.
        marks: list[str] = []

        async def bookmarks() -> list[str]:
            kept = await roost.store.read(roost.store.xmpp.pep_items, ALICE, BOOKMARKS)
            marks[:] = [item.item_id for item in kept]
            return marks

        async with asyncio.timeout(TIMEOUT_S):
            while await bookmarks() != ["made-here@conference.example.org"]:
                await asyncio.sleep(0.05)
        assert errors == [], errors

        # A fresh sign-in (a new browser: nothing in its tab) enters the
        # bookmarked rooms again.
        await bob.context.close()
        bob = await open_webmail(browser, rooms_roost, BOB, BOB_PASSWORD)
        await expect(room_item(bob)).to_have_attribute("data-joined", "true")
        for page in (alice, bob):
            await page.context.close()
