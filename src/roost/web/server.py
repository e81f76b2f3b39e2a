"""The web listener: uvicorn inside Roost's own event loop.

Roost binds the sockets itself (so port 0 works and a port in use is one
clear error), hands uvicorn the SSL context for the TLS listeners, and keeps
the signals: uvicorn's own handlers are switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator, Sequence

import uvicorn
from starlette.applications import Starlette

from roost.core.errors import StartupError
from roost.core.settings import parse_listen

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(address: str) -> socket.socket:
    host, port = parse_listen(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets
    # only when their proto says TCP, and without it a reused (keep-alive)
    # connection waits 40 ms on Nagle and delayed ACKs at every request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {address}: {exc.strerror or exc}") from None
    return sock


def bound_address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class WebServer:
    def __init__(
        self,
        app: Starlette,
        plain: Sequence[str],
        tls: Sequence[str],
        ssl_context: ssl.SSLContext | None,
        *,
        timeout_s: float,
        ws_max_bytes: int = 1024 * 1024,
    ) -> None:
        self._app = app
        self._ws_max_bytes = ws_max_bytes
        self._plain = list(plain)
        self._tls = list(tls) if ssl_context is not None else []
        self._ssl_context = ssl_context
        self._timeout_s = timeout_s
        self._servers: list[tuple[_QuietServer, asyncio.Task[None]]] = []
        self.addresses: list[str] = []
        self.tls_addresses: list[str] = []

    async def start(self) -> None:
        plain_socks = [bind(a) for a in self._plain]
        try:
            tls_socks = [bind(a) for a in self._tls]
        except StartupError:
            for sock in plain_socks:
                sock.close()
            raise
        self.addresses = [bound_address(s) for s in plain_socks]
        self.tls_addresses = [bound_address(s) for s in tls_socks]
        if plain_socks:
            await self._serve(plain_socks, None)
        if tls_socks:
            await self._serve(tls_socks, self._ssl_context)
        for address in self.addresses:
            log.info("web listening on http://%s", address)
        for address in self.tls_addresses:
            log.info("web listening on https://%s", address)

    async def _serve(self, socks: list[socket.socket], context: ssl.SSLContext | None) -> None:
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
            server_header=False,
            proxy_headers=False,
            h11_max_incomplete_event_size=64 * 1024,
            # WebSocket messages: the largest any route takes (XMPP's stanza limit).
            ws_max_size=self._ws_max_bytes,
        )
        config.load()
        config.ssl = context
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(sockets=socks), name="web")
        self._servers.append((server, task))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        while not server.started:
            if task.done():
                task.result()
                raise StartupError("the web server stopped while starting")
            if loop.time() > deadline:
                raise StartupError("the web server did not start in time")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, task in self._servers:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_S + 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self._servers.clear()
