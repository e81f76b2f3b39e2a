"""XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156), on the web listener.

The routes are registered with `roost.net.web_routes.WebRoutes`, behind
the service's gate: while XMPP is stopped they answer 503. Each accepted
WebSocket becomes a `WebSocketConnection` and runs the same
`XmppSession` as a TCP client, with RFC 7395 framing (one element per
message, ``<open/>`` and ``<close/>``; no STARTTLS: TLS is the web
listener's). `WebSocketSessions.stop` ends them all when XMPP stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from roost.control.chat_tokens import WEBSOCKET, ChatChannel
from roost.core.config import XmppServiceSettings
from roost.net.websocket import CLOSE_GOING_AWAY, WebSocketConnection, WebSocketOptions

log = logging.getLogger(__name__)

WEBSOCKET_PATH = "/xmpp-websocket"
SUBPROTOCOL = "xmpp"
"""RFC 7395 §3.1: the WebSocket subprotocol a client must offer."""
ALT_CONNECTION_WEBSOCKET = "urn:xmpp:alt-connections:websocket"
"""XEP-0156 §3 (and RFC 7395 §4): the link relation of the WebSocket endpoint."""
XRD_NAMESPACE = "http://docs.oasis-open.org/ns/xri/xrd-1.0"
_CANCEL_WAIT_S = 5.0

SessionRunner = Callable[[WebSocketConnection, ChatChannel], Awaitable[None]]
"""Runs one session; the channel carries the handshake's Origin and Host, by
which `roost.control.chat_tokens` decides whether a chat token may sign in."""


class WebSocketSessions:
    """The XMPP sessions open over WebSocket, so that a stop can end them."""

    def __init__(self, config: XmppServiceSettings, run: SessionRunner) -> None:
        self._config = config
        self._run = run
        self._open: dict[WebSocketConnection, asyncio.Task[object] | None] = {}
        self._accepting = False

    @property
    def count(self) -> int:
        return len(self._open)

    def start(self) -> None:
        self._accepting = True

    def routes(self) -> list[Route | WebSocketRoute]:
        return [
            WebSocketRoute(WEBSOCKET_PATH, self._endpoint),
            Route("/.well-known/host-meta", self._host_meta, methods=["GET"]),
            Route("/.well-known/host-meta.json", self._host_meta_json, methods=["GET"]),
        ]

    async def stop(self, grace_s: float) -> None:
        """Ask every session to end (`system-shutdown`), wait up to *grace_s*,
        then close what is left."""
        self._accepting = False
        for conn in list(self._open):
            conn.request_shutdown()
        tasks = {task for task in self._open.values() if task is not None}
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            if pending:
                log.info("%d WebSocket sessions did not end within the grace time", len(pending))
                for conn in list(self._open):
                    conn.close(CLOSE_GOING_AWAY)
                await asyncio.wait(pending, timeout=_CANCEL_WAIT_S)

    async def _endpoint(self, websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        if SUBPROTOCOL not in offered:
            await _refuse(websocket, 400, "XMPP over WebSocket needs the subprotocol 'xmpp'")
            return
        if not self._accepting:
            await _refuse(websocket, 503, "the XMPP service is stopping")
            return
        if len(self._open) >= self._config.max_connections:
            await _refuse(websocket, 503, "too many XMPP connections")
            return
        await websocket.accept(subprotocol=SUBPROTOCOL)
        options = WebSocketOptions(
            idle_timeout_s=self._config.ping_after_s + self._config.ping_timeout_s
        )
        conn = WebSocketConnection(websocket, options, label="xmpp-ws")
        channel = ChatChannel(
            WEBSOCKET,
            origin=websocket.headers.get("origin"),
            host=websocket.headers.get("host"),
            tls=conn.is_tls,
        )
        self._open[conn] = asyncio.current_task()
        try:
            await self._run(conn, channel)
        finally:
            del self._open[conn]
            conn.close()
            await conn.wait_closed(options.write_timeout_s)

    def _url(self, request: Request) -> str:
        if self._config.websocket_url:
            return self._config.websocket_url
        scheme = "wss" if request.url.scheme == "https" else "ws"
        return f"{scheme}://{request.url.netloc}{WEBSOCKET_PATH}"

    async def _host_meta(self, request: Request) -> Response:
        """XEP-0156 §3.1: the XRD document of RFC 6415."""
        body = (
            "<?xml version='1.0' encoding='utf-8'?>\n"
            f"<XRD xmlns='{XRD_NAMESPACE}'>\n"
            f"  <Link rel='{ALT_CONNECTION_WEBSOCKET}' href={quoteattr(self._url(request))}/>\n"
            "</XRD>\n"
        )
        return Response(body, media_type="application/xrd+xml", headers=_CORS)

    async def _host_meta_json(self, request: Request) -> Response:
        """XEP-0156 §3.1: the JSON form (JRD, RFC 6415 appendix A)."""
        body = {"links": [{"rel": ALT_CONNECTION_WEBSOCKET, "href": self._url(request)}]}
        return JSONResponse(body, headers=_CORS)


_CORS = {"Access-Control-Allow-Origin": "*"}
"""XEP-0156 §3.1: web clients of other origins read host-meta (CORS)."""


async def _refuse(websocket: WebSocket, status: int, reason: str) -> None:
    response = JSONResponse({"error": reason}, status_code=status)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(1008 if status == 400 else 1013, reason)
