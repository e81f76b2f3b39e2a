"""XMPP over WebSocket (RFC 7395) on the web listener, with a raw `websockets`
client whose every frame declares its own namespaces, and XEP-0156 discovery."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import trustme
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from roost.app import Roost
from roost.services.xmpp.websocket import ALT_CONNECTION_WEBSOCKET
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    RawClient,
    xmpp_of,
    xmpp_port,
    xmpp_roost,
)

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
OPEN = f"<open xmlns='{FRAMING}' to='example.org' version='1.0'/>"
CLOSE = f"<close xmlns='{FRAMING}'/>"
XRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def web_base(roost: Roost) -> str:
    return f"http://{roost.web.addresses[0]}"


def ws_url(roost: Roost) -> str:
    return f"ws://{roost.web.addresses[0]}/xmpp-websocket"


class WsClient:
    """One RFC 7395 stream: every message sent and read is a whole element."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv(self) -> str:
        message = await asyncio.wait_for(self.ws.recv(), TIMEOUT_S)
        assert isinstance(message, str), "RFC 7395 §3.2: text frames"
        return message

    async def until(self, needle: str) -> list[str]:
        """Messages up to and including the first that holds *needle*."""
        seen: list[str] = []
        while True:
            message = await self.recv()
            seen.append(message)
            if needle in message:
                return seen

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def sign_in(self, user: str, password: str, resource: str) -> None:
        await self.send(OPEN)
        opened = await self.recv()
        assert opened.startswith("<open ") and f"xmlns='{FRAMING}'" in opened, opened
        features = await self.until("features")
        assert "PLAIN" in features[-1]
        assert "starttls" not in features[-1], "RFC 7395 §3.5: no STARTTLS on a WebSocket"
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        await self.send(
            f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
        )
        assert "<success" in (await self.until("success"))[-1]
        await self.send(OPEN)  # RFC 7395 §3.6.3: the restart is a new <open/>
        await self.until("urn:ietf:params:xml:ns:xmpp-bind")
        await self.send(
            "<iq xmlns='jabber:client' type='set' id='b1'>"
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            f"<resource>{resource}</resource></bind></iq>"
        )
        bound = (await self.until("</iq>"))[-1]
        assert f"/{resource}</jid>" in bound, bound


def xmpp_ws() -> dict[str, object]:
    return {"subprotocols": ["xmpp"], "open_timeout": TIMEOUT_S}


async def test_host_meta_announces_the_websocket(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, httpx.AsyncClient() as http:
        xml = await http.get(f"{web_base(roost)}/.well-known/host-meta")
        assert xml.status_code == 200
        assert xml.headers["content-type"].startswith("application/xrd+xml")
        (link,) = ElementTree.fromstring(xml.text).iter(f"{{{XRD}}}Link")
        assert link.attrib == {"rel": ALT_CONNECTION_WEBSOCKET, "href": ws_url(roost)}
        assert xml.headers["access-control-allow-origin"] == "*"
        doc = await http.get(f"{web_base(roost)}/.well-known/host-meta.json")
        assert json.loads(doc.text) == {
            "links": [{"rel": ALT_CONNECTION_WEBSOCKET, "href": ws_url(roost)}]
        }


async def test_configured_websocket_url_is_announced(tmp_path: Path, ca: trustme.CA) -> None:
    url = "wss://chat.example.org/xmpp-websocket"
    async with (
        xmpp_roost(tmp_path, ca, xmpp={"websocket_url": url}) as roost,
        httpx.AsyncClient() as http,
    ):
        doc = await http.get(f"{web_base(roost)}/.well-known/host-meta.json")
        assert doc.json()["links"][0]["href"] == url


async def test_chat_over_websocket_with_a_tcp_client(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        bob = await RawClient.bound(xmpp_port(roost), BOB, BOB_PASSWORD, "tcp")
        bob.send("<presence/>")
        async with connect(ws_url(roost), **xmpp_ws()) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == "xmpp"
            alice = WsClient(ws)
            await alice.sign_in(ALICE, ALICE_PASSWORD, "web")
            status = xmpp_of(roost).status()
            assert dict(status.counters)["sessions_websocket"] == 1
            assert dict(status.counters)["bound_websocket"] == 1
            await alice.send("<presence xmlns='jabber:client'/>")
            await alice.send(
                f"<message xmlns='jabber:client' to='{BOB}/tcp' type='chat' id='m1'>"
                "<body>over a WebSocket</body></message>"
            )
            got = await bob.expect(b"over a WebSocket")
            assert f'from="{ALICE}/web"'.encode() in got or f"from='{ALICE}/web'".encode() in got
            bob.send(
                f"<message to='{ALICE}/web' type='chat' id='r1'><body>and back</body></message>"
            )
            answer = (await alice.until("and back"))[-1]
            # Each message is a document of its own, declaring its namespace.
            assert answer.startswith("<message ") and "xmlns='jabber:client'" in answer, answer
            # RFC 7395 §3.6.1: <close/> is answered with <close/>, then the socket closes.
            await alice.send(CLOSE)
            assert (await alice.until("close"))[-1].startswith(f"<close xmlns='{FRAMING}'")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        bob.close()


async def test_the_xmpp_subprotocol_is_required(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(roost), open_timeout=TIMEOUT_S):
                pass
        assert refused.value.response.status_code == 400


async def test_a_stanza_before_open_is_a_stream_error(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        connect(ws_url(roost), **xmpp_ws()) as ws,  # type: ignore[arg-type]
    ):
        client = WsClient(ws)
        await client.send("<message xmlns='jabber:client'><body>hi</body></message>")
        seen = await client.until("close")
        assert any("urn:ietf:params:xml:ns:xmpp-streams" in m for m in seen), seen


async def test_stopped_xmpp_answers_503_and_stop_ends_websockets(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with xmpp_roost(tmp_path, ca) as roost, httpx.AsyncClient() as http:
        async with connect(ws_url(roost), **xmpp_ws()) as ws:  # type: ignore[arg-type]
            alice = WsClient(ws)
            await alice.sign_in(ALICE, ALICE_PASSWORD, "web")
            await roost.supervisor.stop("xmpp", "test")
            # The open session gets system-shutdown and <close/>, then the socket closes.
            seen = await alice.until("close")
            assert any("system-shutdown" in m for m in seen), seen
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        assert xmpp_of(roost).status().counters
        meta = await http.get(f"{web_base(roost)}/.well-known/host-meta")
        assert meta.status_code == 503
        assert "XMPP" in meta.json()["error"]
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(roost), **xmpp_ws()):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 503
        # Started again, the routes answer again.
        await roost.supervisor.start("xmpp", "test")
        assert (await http.get(f"{web_base(roost)}/.well-known/host-meta")).status_code == 200
        async with connect(ws_url(roost), **xmpp_ws()) as ws:  # type: ignore[arg-type]
            await WsClient(ws).sign_in(ALICE, ALICE_PASSWORD, "again")
