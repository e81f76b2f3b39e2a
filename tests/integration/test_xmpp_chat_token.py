"""The web chat's sign-in: a chat token from the webmail works once, on the
WebSocket, from the web listener's own origin, and nowhere else."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import trustme
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from roost.app import Roost
from roost.control.auth import Authenticator
from roost.control.chat_tokens import ChatTokens
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock, SystemClock
from tests.web_support import csrf_of
from tests.webmail_support import sign_in
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    TIMEOUT_S,
    Client,
    signed_in,
    xmpp_port,
    xmpp_roost,
)

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
OPEN = f"<open xmlns='{FRAMING}' to='example.org' version='1.0'/>"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def own_origin(roost: Roost) -> str:
    return f"http://{roost.web.addresses[0]}"


@asynccontextmanager
async def webmail_of(roost: Roost, user: str = ALICE) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to the webmail as *user*."""
    async with httpx.AsyncClient(base_url=own_origin(roost), timeout=TIMEOUT_S) as client:
        signed = await sign_in(client, user, ALICE_PASSWORD if user == ALICE else "bob-password")
        assert signed.status_code == 303, signed.text
        yield client


async def chat_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/mail/chat")
    assert page.status_code == 200, page.text
    answer = await client.post(
        "/mail/chat/token",
        data={"csrf": csrf_of(page.text)},
        headers={"Accept": "application/json", "Origin": str(client.base_url).rstrip("/")},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["jid"] == ALICE and body["websocket"] == "/xmpp-websocket"
    token = body["token"]
    assert isinstance(token, str) and len(token) > 40
    return token


async def recv(ws: ClientConnection) -> str:
    message = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
    assert isinstance(message, str)
    return message


async def until(ws: ClientConnection, *needles: str) -> str:
    while True:
        message = await recv(ws)
        if any(needle in message for needle in needles):
            return message


async def sasl_over_websocket(
    roost: Roost, user: str, secret: str, *, origin: str | None
) -> tuple[str, ClientConnection]:
    """Open XMPP over WebSocket with *origin*, offer PLAIN with *secret*:
    the SASL outcome, and the socket (open) for more."""
    ws = await connect(
        f"ws://{roost.web.addresses[0]}/xmpp-websocket",
        subprotocols=[Subprotocol("xmpp")],
        origin=None if origin is None else Origin(origin),
        open_timeout=TIMEOUT_S,
    )
    await ws.send(OPEN)
    features = await until(ws, "features")
    assert "PLAIN" in features
    payload = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
    await ws.send(
        f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
    )
    return await until(ws, "<success", "<failure"), ws


async def bind(ws: ClientConnection) -> str:
    await ws.send(OPEN)
    await until(ws, "urn:ietf:params:xml:ns:xmpp-bind")
    await ws.send(
        "<iq xmlns='jabber:client' type='set' id='b1'>"
        "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>"
    )
    return await until(ws, "</iq>")


async def test_a_token_signs_in_once_on_the_websocket(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, webmail_of(roost) as browser:
        token = await chat_token(browser)
        outcome, ws = await sasl_over_websocket(roost, ALICE, token, origin=own_origin(roost))
        try:
            assert "<success" in outcome, outcome
            assert f"{ALICE}/web</jid>" in await bind(ws)
        finally:
            await ws.close()
        again, ws = await sasl_over_websocket(roost, ALICE, token, origin=own_origin(roost))
        await ws.close()
        assert "<failure" in again and "not-authorized" in again, again


async def test_a_token_is_refused_like_a_wrong_password(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, webmail_of(roost) as browser:
        # Another account's token, a made-up one, and a token from a page of another site.
        token = await chat_token(browser)
        outcome, ws = await sasl_over_websocket(roost, BOB, token, origin=own_origin(roost))
        await ws.close()
        assert "not-authorized" in outcome, outcome
        made_up = "roost-chat-" + "A" * 43
        outcome, ws = await sasl_over_websocket(roost, ALICE, made_up, origin=own_origin(roost))
        await ws.close()
        assert "not-authorized" in outcome, outcome
        for origin in ("http://evil.example", own_origin(roost).replace("http:", "https:"), None):
            token = await chat_token(browser)
            outcome, ws = await sasl_over_websocket(roost, ALICE, token, origin=origin)
            await ws.close()
            assert "<failure" in outcome and "not-authorized" in outcome, (origin, outcome)


async def test_a_token_is_refused_over_tcp(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, webmail_of(roost) as browser:
        token = await chat_token(browser)
        client = Client(ALICE, token, ca, "PLAIN")
        client.connect("127.0.0.1", xmpp_port(roost))
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await client.failed.wait()
            assert not client.started.is_set(), "a chat token signed in over TCP"
        finally:
            await asyncio.wait_for(client.disconnect(), TIMEOUT_S)
        # The same client with the password gets in: the refusal was the token's.
        async with signed_in(roost, ca, ALICE, ALICE_PASSWORD, "PLAIN") as client:
            assert client.mechanism == "PLAIN"


async def test_an_expired_token_is_refused(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, webmail_of(roost) as browser:
        await chat_token(browser)  # the browser's session exists
        store = roost.store
        account = await store.read(store.directory.find_account, ALICE)
        assert account is not None
        (session,) = await store.read(store.webmail_sessions.sessions_of, account.id)
        config = roost.config
        ttl_s = config.webmail.chat_token_ttl_s
        # A token issued one lifetime and a second ago has just expired.
        issued_at = SystemClock().now() - timedelta(seconds=ttl_s + 1)
        auth = Authenticator(
            store, Passwords(config.directory), config.auth, config.directory, SystemClock()
        )
        past = ChatTokens(store, auth, config.webmail, ManualClock(issued_at))
        stale = await past.issue(session)
        outcome, ws = await sasl_over_websocket(roost, ALICE, stale.token, origin=own_origin(roost))
        await ws.close()
        assert "not-authorized" in outcome, outcome
        # One issued just now by the same means signs in: only the time differs.
        fresh = await ChatTokens(store, auth, config.webmail, SystemClock()).issue(session)
        outcome, ws = await sasl_over_websocket(roost, ALICE, fresh.token, origin=own_origin(roost))
        await ws.close()
        assert "<success" in outcome, outcome


async def test_only_a_signed_in_page_of_this_origin_gets_a_token(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        json = {"Accept": "application/json"}
        async with httpx.AsyncClient(base_url=own_origin(roost), timeout=TIMEOUT_S) as stranger:
            answer = await stranger.post("/mail/chat/token", data={"csrf": "x"}, headers=json)
            assert answer.status_code == 401 and "token" not in answer.json()
        async with webmail_of(roost) as browser:
            page = await browser.get("/mail/chat")
            csrf = csrf_of(page.text)
            for data, origin in (
                ({"csrf": "wrong"}, own_origin(roost)),
                ({"csrf": csrf}, "http://evil.example"),
            ):
                answer = await browser.post(
                    "/mail/chat/token", data=data, headers={**json, "Origin": origin}
                )
                assert answer.status_code == 403 and "token" not in answer.json()
            # Signing out takes the unused tokens with it.
            token = await chat_token(browser)
            await browser.post("/mail/sign-out", data={"csrf": csrf})
        outcome, ws = await sasl_over_websocket(roost, ALICE, token, origin=own_origin(roost))
        await ws.close()
        assert "not-authorized" in outcome, outcome
