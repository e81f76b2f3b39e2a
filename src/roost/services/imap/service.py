"""The IMAP service: mailbox access over IMAP4rev2 and IMAP4rev1, two kinds of listener.

- IMAP (143): plaintext with STARTTLS (RFC 9051 §6.2.1); LOGIN and PLAIN
  only after STARTTLS (LOGINDISABLED before), except from loopback where
  the development profile allows it.
- IMAPS (993): implicit TLS (RFC 8314).

Sessions read and change mailboxes through the store's Mail role and hear
of other sessions' changes through its change feed (see
`roost.services.imap.session`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from roost.control.auth import Authenticator
from roost.core.clock import Clock
from roost.core.config import Config
from roost.net.connection import ConnectionOptions
from roost.net.interfaces import Connection, SessionHandler
from roost.net.listener import Listener, ListenerLimits
from roost.net.probe import open_probe, probe_target
from roost.net.server import Server
from roost.proto.sasl import SaslConfig
from roost.services.imap.cache import FetchCache
from roost.services.imap.context import SessionDeps
from roost.services.imap.session import ImapSession
from roost.services.imap.watch import ChangeWatcher
from roost.store.store import Store
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 10.0
TOO_MANY_CONNECTIONS = b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"


class ImapService:
    def __init__(
        self,
        config: Config,
        store: Store,
        auth: Authenticator,
        tls_context: ssl.SSLContext | None,
        sasl_secret: bytes,
        clock: Clock,
    ) -> None:
        self._config = config
        self._tls = tls_context
        self.counters: dict[str, int] = {}
        self._watcher = ChangeWatcher(store)
        self._deps = SessionDeps(
            config=config.imap,
            store=store,
            auth=auth,
            sasl=SaslConfig(
                server_secret=sasl_secret, fake_iterations=config.directory.scram_iterations
            ),
            tls_context=tls_context,
            clock=clock,
            counters=self.counters,
            watcher=self._watcher,
            fetch_cache=FetchCache(config.imap.fetch_cache_entries),
            use_index=config.indexing.use_index,
        )
        self._servers: list[Server] = []

    @property
    def name(self) -> str:
        return "imap"

    @property
    def title(self) -> str:
        return "IMAP"

    async def start(self, context: ServiceContext) -> None:
        imap = self._config.imap
        options = ConnectionOptions(
            idle_timeout_s=imap.idle_timeout_s,
            write_timeout_s=imap.write_timeout_s,
            handshake_timeout_s=self._config.tls.handshake_timeout_s,
            output_buffer_octets=imap.output_buffer_bytes,
            input_buffer_octets=imap.max_line_bytes,
        )
        limits = ListenerLimits(
            max_connections=imap.max_connections,
            max_per_address=imap.max_connections_per_address,
            refusal=TOO_MANY_CONNECTIONS,
        )
        plan = [("imap", imap.listen, None), ("imaps", imap.tls_listen, self._tls)]
        servers: list[Server] = []
        try:
            for name, addresses, implicit_tls in plan:
                if not addresses or (name == "imaps" and self._tls is None):
                    continue
                listener = Listener(
                    f"imap-{name}", addresses, limits=limits, options=options, tls=implicit_tls
                )
                server = Server(listener, self._handler())
                await server.start()
                servers.append(server)
        except BaseException:
            for server in servers:
                await server.stop(0)
            raise
        self._servers = servers
        self._watcher.start()

    def _handler(self) -> SessionHandler:
        async def handle(conn: Connection) -> None:
            self.counters["connections"] = self.counters.get("connections", 0) + 1
            await ImapSession(self._deps, conn).run()

        return handle

    async def stop(self, grace_s: float) -> None:
        servers, self._servers = self._servers, []
        await asyncio.gather(*(server.stop(grace_s) for server in servers))
        await self._watcher.stop()

    @property
    def addresses(self) -> dict[str, list[str]]:
        return {s.listener.name: [str(a) for a in s.addresses] for s in self._servers}

    def status(self) -> ServiceStatus:
        listeners = tuple(str(a) for s in self._servers for a in s.addresses)
        sessions = sum(s.active_sessions for s in self._servers)
        return ServiceStatus(
            listeners=listeners,
            sessions=sessions,
            counters=tuple(sorted(self.counters.items())),
        )

    async def probe(self) -> ProbeResult:
        """Greeting, CAPABILITY, LOGOUT (DESIGN: the IMAP probe)."""
        if not self._servers:
            return ProbeResult(False, "no listener is open")
        server = self._servers[0]
        address = probe_target(server)
        try:
            reader, writer = await open_probe(server, PROBE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"cannot connect to {address}: {exc}")
        try:
            greeting = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
            if not greeting.startswith(b"* OK"):
                return ProbeResult(False, f"greeting was {greeting[:60]!r}")
            for command, tag in ((b"p1 CAPABILITY\r\n", b"p1 "), (b"p2 LOGOUT\r\n", b"p2 ")):
                writer.write(command)
                while True:
                    line = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
                    if not line:
                        return ProbeResult(False, "the connection closed early")
                    if line.startswith(tag):
                        break
                if not line.startswith(tag + b"OK"):
                    return ProbeResult(False, f"{command[3:-2].decode()} answered {line[:60]!r}")
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"{address}: {exc}")
        finally:
            writer.close()
        return ProbeResult(True, f"greeting, CAPABILITY and LOGOUT on {address}")
