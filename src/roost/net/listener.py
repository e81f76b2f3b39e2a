"""Listening sockets with connection limits.

A `Listener` binds one or more ``HOST:PORT`` addresses, accepts connections
as `TcpConnection`s and enforces two limits before any byte is read: the
total number of connections and the number per client address. A connection
beyond a limit is accepted and closed at once, after an optional one-line
refusal the protocol provides (``421 4.7.0 Too many connections``); a TLS
listener sends none, since the client expects a ServerHello.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from roost.core.errors import StartupError
from roost.net.connection import ConnectionOptions, TcpConnection

__all__ = ["ListenAddress", "Listener", "ListenerLimits", "parse_address"]

_log = logging.getLogger(__name__)

_CLOSE_WAIT_S = 5.0
_RESOLVE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """A host and port; host "" means every address of the machine."""

    host: str
    port: int

    def __str__(self) -> str:
        host = self.host or "*"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def parse_address(text: str) -> ListenAddress:
    """Parse ``HOST:PORT``, ``[IPV6]:PORT`` or ``*:PORT`` / ``:PORT`` (all addresses)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [::1]:PORT")
    if host == "*":
        host = ""
    return ListenAddress(host, int(port_text))


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """Connection limits of one listener."""

    max_connections: int = 10_000
    max_per_address: int = 100
    refusal: bytes = b""
    """One line sent to a refused client on a plaintext listener."""
    backlog: int = 511


class Listener:
    """Bound sockets of one service, and the connections they accepted."""

    def __init__(
        self,
        name: str,
        addresses: Sequence[ListenAddress | str],
        *,
        limits: ListenerLimits | None = None,
        options: ConnectionOptions | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.addresses = tuple(
            a if isinstance(a, ListenAddress) else parse_address(a) for a in addresses
        )
        self.limits = limits or ListenerLimits()
        self.options = options or ConnectionOptions()
        self.tls = tls
        """Implicit TLS (the handshake starts at once) when set."""
        self._servers: list[asyncio.Server] = []
        self._bound: tuple[ListenAddress, ...] = ()
        self._connections: set[TcpConnection] = set()
        self._per_address: dict[str, int] = {}
        self._accepting = False
        self._on_connection: Callable[[TcpConnection], None] | None = None

    @property
    def bound(self) -> tuple[ListenAddress, ...]:
        """The addresses actually bound (port 0 resolved)."""
        return self._bound

    @property
    def active(self) -> int:
        """Connections open now (refused ones are not counted)."""
        return len(self._connections)

    @property
    def connections(self) -> tuple[TcpConnection, ...]:
        return tuple(self._connections)

    @property
    def accepting(self) -> bool:
        return self._accepting

    async def start(self, on_connection: Callable[[TcpConnection], None]) -> None:
        """Bind every address and start accepting.

        Raises `StartupError` naming the address and the OS reason when one
        cannot be bound; then none stays bound.
        """
        if self._servers:
            raise RuntimeError(f"listener {self.name} is already started")
        loop = asyncio.get_running_loop()
        sockets: list[socket.socket] = []
        try:
            for address in self.addresses:
                sockets.extend(await self._bind(loop, address))
            self._on_connection = on_connection
            for sock in sockets:
                server = await loop.create_server(
                    self._new_connection, sock=sock, backlog=self.limits.backlog
                )
                self._servers.append(server)
        except BaseException:
            for server in self._servers:
                server.close()
            self._servers.clear()
            for sock in sockets:
                sock.close()
            raise
        self._bound = tuple(_bound_address(s) for s in sockets)
        self._accepting = True
        _log.info("[%s] listening on %s", self.name, ", ".join(map(str, self._bound)))

    def stop_accepting(self) -> None:
        """Close the listening sockets; open connections are not touched."""
        self._accepting = False
        for server in self._servers:
            server.close()

    async def close(self) -> None:
        """Stop accepting and release the sockets (connections: see `Server.stop`)."""
        self.stop_accepting()
        servers, self._servers = self._servers, []
        for server in servers:
            try:
                async with asyncio.timeout(_CLOSE_WAIT_S):
                    await server.wait_closed()
            except TimeoutError:
                _log.warning("[%s] listening socket still busy after close", self.name)
        self._bound = ()

    # -- ConnectionOwner -------------------------------------------------------

    def connection_opened(self, conn: TcpConnection) -> bool:
        host = conn.peer[0]
        limits = self.limits
        from_host = self._per_address.get(host, 0)
        if not self._accepting:
            reason = "the listener is stopping"
        elif len(self._connections) >= limits.max_connections:
            reason = f"{len(self._connections)} connections open (limit {limits.max_connections})"
        elif from_host >= limits.max_per_address:
            reason = f"{from_host} connections from that address (limit {limits.max_per_address})"
        else:
            self._connections.add(conn)
            self._per_address[host] = from_host + 1
            _log.info("[%s] connection from %s:%d to %s", conn.session_id, *conn.peer, self.name)
            assert self._on_connection is not None
            self._on_connection(conn)
            return True
        _log.info("[%s] refused %s:%d: %s", conn.session_id, *conn.peer, reason)
        if self.limits.refusal and self.tls is None:
            conn.write(self.limits.refusal)
        conn.close()
        return False

    def connection_closed(self, conn: TcpConnection) -> None:
        if conn not in self._connections:
            return
        self._connections.discard(conn)
        host = conn.peer[0]
        left = self._per_address.get(host, 1) - 1
        if left > 0:
            self._per_address[host] = left
        else:
            self._per_address.pop(host, None)

    # -- internals ---------------------------------------------------------------

    def _new_connection(self) -> TcpConnection:
        return TcpConnection(self.options, server_side=True, label=self.name, owner=self)

    async def _bind(
        self, loop: asyncio.AbstractEventLoop, address: ListenAddress
    ) -> list[socket.socket]:
        try:
            async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
                infos = await loop.getaddrinfo(
                    address.host or None,
                    address.port,
                    type=socket.SOCK_STREAM,
                    flags=socket.AI_PASSIVE,
                )
        except socket.gaierror as exc:
            raise StartupError(f"cannot listen on {address}: {exc.strerror}") from exc
        except TimeoutError as exc:
            raise StartupError(f"cannot listen on {address}: name lookup timed out") from exc
        sockets: list[socket.socket] = []
        seen: set[tuple[int, str]] = set()
        for family, kind, proto, _name, sockaddr in infos:
            key = (family, str(sockaddr[0]))
            if key in seen:
                continue
            seen.add(key)
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    # Bind IPv4 and IPv6 separately, as both come from getaddrinfo.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(sockaddr)
                sock.listen(self.limits.backlog)
                sock.setblocking(False)
            except OSError as exc:
                for s in sockets:
                    s.close()
                reason = exc.strerror or str(exc)
                raise StartupError(f"cannot listen on {address}: {reason}") from exc
        return sockets


def _bound_address(sock: socket.socket) -> ListenAddress:
    name = sock.getsockname()
    return ListenAddress(str(name[0]), int(name[1]))
