"""Routes that services serve on the web listener.

DESIGN.md: a service that also serves on the web listener (XMPP over
WebSocket, XEP-0156 host-meta, file upload) registers its routes here;
the web layer mounts `WebRoutes.routes()` and never imports a service.

Each service's routes sit behind its `RouteGate`. The service opens the
gate when it has started and closes it when it stops; while the gate is
closed an HTTP request gets ``503 Service Unavailable`` and a WebSocket
handshake is refused with the same status (the ASGI WebSocket denial
response; where the server lacks it, the socket is closed with code 1013,
"try again later", RFC 6455 §7.4.1 as registered by IANA). Closing the
gate does not end WebSockets already open: the service ends its own
sessions when it stops.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

__all__ = ["RouteGate", "WebRoutes"]

CLOSE_TRY_AGAIN_LATER = 1013
RETRY_AFTER_S = 30
"""What a 503 suggests to the client; the supervisor retries far sooner."""


class RouteGate:
    """Whether one service's web routes answer: open while it runs."""

    __slots__ = ("_open", "service", "title")

    def __init__(self, service: str, title: str) -> None:
        self.service = service
        self.title = title
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False


class _Gated:
    """An ASGI app that answers 503 while its gate is closed."""

    __slots__ = ("_app", "_gate")

    def __init__(self, gate: RouteGate, app: ASGIApp) -> None:
        self._gate = gate
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._gate.is_open:
            await self._app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": f"the {self._gate.title} service is stopped"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive, send)
            if "websocket.http.response" in scope.get("extensions", {}):
                await websocket.send_denial_response(response)
            else:
                await websocket.close(CLOSE_TRY_AGAIN_LATER)
            return
        await response(scope, receive, send)


class WebRoutes:
    """The registry the composition root hands to services and to the web app."""

    def __init__(self) -> None:
        self._routes: list[BaseRoute] = []
        self._gates: dict[str, RouteGate] = {}
        self.http_addresses: tuple[str, ...] = ()
        self.https_addresses: tuple[str, ...] = ()
        """The web listener's bound addresses (HOST:PORT), once it listens: for
        a service that names its own URLs outside a request (upload slots)."""

    def listening(self, http: Sequence[str], https: Sequence[str]) -> None:
        """Record where the web listener is bound (the composition root, after start)."""
        self.http_addresses = tuple(http)
        self.https_addresses = tuple(https)

    def register(
        self, service: str, title: str, routes: Sequence[Route | WebSocketRoute]
    ) -> RouteGate:
        """Add *service*'s routes (closed until the service opens its gate)."""
        if service in self._gates:
            raise ValueError(f"the {service} service has registered its web routes already")
        gate = self._gates[service] = RouteGate(service, title)
        for route in routes:
            if isinstance(route, WebSocketRoute):
                self._routes.append(
                    WebSocketRoute(route.path, _Gated(gate, route.app), name=route.name)
                )
            else:
                methods = sorted(route.methods - {"HEAD"}) if route.methods else None
                self._routes.append(
                    Route(route.path, _Gated(gate, route.app), methods=methods, name=route.name)
                )
        return gate

    def routes(self) -> list[BaseRoute]:
        """Every service's routes, each behind its gate, for the web app to mount."""
        return list(self._routes)

    def gate(self, service: str) -> RouteGate | None:
        return self._gates.get(service)
