"""The web chat ends with its webmail session, on the server: signing out,
or the session timing out, ends the XMPP sessions its chat tokens signed
in — a live stream and one parked for resumption alike — and no other."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
import trustme
from websockets.asyncio.client import ClientConnection

from roost.app import Roost
from roost.store.schema import webmail_sessions
from tests.integration.test_xmpp_chat_token import (
    OPEN,
    chat_token,
    own_origin,
    recv,
    sasl_over_websocket,
    until,
    webmail_of,
)
from tests.web_support import csrf_of
from tests.xmpp_support import ALICE, TIMEOUT_S, xmpp_roost

SM = "urn:xmpp:sm:3"


async def chat_of(
    roost: Roost, browser: httpx.AsyncClient, resource: str, *, resumable: bool = False
) -> ClientConnection:
    """An XMPP stream over WebSocket signed in with *browser*'s chat token, bound."""
    token = await chat_token(browser)
    outcome, ws = await sasl_over_websocket(roost, ALICE, token, origin=own_origin(roost))
    assert "<success" in outcome, outcome
    await ws.send(OPEN)
    await until(ws, "urn:ietf:params:xml:ns:xmpp-bind")
    await ws.send(
        "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:"
        f"xmpp-bind'><resource>{resource}</resource></bind></iq>"
    )
    assert f"/{resource}</jid>" in await until(ws, "</iq>")
    if resumable:
        await ws.send(f"<enable xmlns='{SM}' resume='true'/>")
        assert "resume='true'" in (await until(ws, "enabled")).replace('"', "'")
    await ws.send("<presence xmlns='jabber:client'/>")
    return ws


async def ended(ws: ClientConnection) -> str:
    """What the server says until it closes the stream."""
    said = ""
    while "</stream:error>" not in said and "<close" not in said:
        said += await recv(ws)
    return said


async def still_served(ws: ClientConnection) -> None:
    await ws.send("<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "result" in await until(ws, "id='p1'", 'id="p1"')


def xmpp_sessions(roost: Roost) -> int:
    registry = roost.directory.sessions
    assert registry is not None
    return sum(1 for s in registry.sessions(ALICE) if s.service == "xmpp")


async def until_sessions(roost: Roost, count: int) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        while xmpp_sessions(roost) != count:
            await asyncio.sleep(0.02)


async def test_the_chat_ends_with_its_webmail_session(tmp_path: Path) -> None:
    ca = trustme.CA()
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        webmail_of(roost) as first,
        webmail_of(roost) as second,
    ):
        one = await chat_of(roost, first, "one")
        two = await chat_of(roost, second, "two")
        await until_sessions(roost, 2)
        # Signing out in the first browser ends its chat, and only its chat.
        page = await first.get("/mail")
        await first.post("/mail/sign-out", data={"csrf": csrf_of(page.text)})
        said = await ended(one)
        assert "not-authorized" in said and "webmail session ended" in said, said
        await one.close()
        await still_served(two)
        await until_sessions(roost, 1)

        # A page that went away leaves its session parked; when the webmail
        # session times out, housekeeping ends the parked session too.
        await two.close()  # this one said goodbye: it ends at once
        await until_sessions(roost, 0)
        parked = await chat_of(roost, second, "parked", resumable=True)
        await until_sessions(roost, 1)
        parked.transport.abort()  # no <close/>: the page navigated away
        await asyncio.sleep(0.2)
        await roost.maintenance.run_once()
        assert xmpp_sessions(roost) == 1, "a live webmail session's parked chat ended"
        idle = timedelta(seconds=roost.config.webmail.session_idle_s + 60)
        long_ago = roost.store.clock.now() - idle
        await roost.store.write(
            lambda tx: tx.execute(webmail_sessions.update().values(last_seen_at=long_ago))
        )
        await roost.maintenance.run_once()
        await until_sessions(roost, 0)
        assert (await second.get("/mail/chat")).status_code == 303
        count = await roost.store.read(
            lambda tx: tx.execute(sa.select(sa.func.count()).select_from(webmail_sessions))
        )
        assert count.scalar_one() == 0
