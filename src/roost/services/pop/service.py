"""The POP service: mailbox download over POP3 (RFC 1939), two kinds of listener.

- POP3 (110): plaintext with STLS (RFC 2595); passwords only after STLS,
  except from loopback where the development profile allows it.
- POP3S (995): implicit TLS (RFC 8314).

Every session downloads the user's INBOX under a lock kept in the store
(`roost.services.pop.maildrop`); deletions reach the store, and through its
change feed every IMAP session, only when the client QUITs.
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
from roost.proto.pop3 import replies
from roost.proto.sasl import SaslConfig
from roost.services.pop.session import PopSession, SessionDeps
from roost.store.store import Store
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 10.0
PROBE_LINE_OCTETS = 512
"""RFC 2449 §4: a response line is at most 512 octets."""

TOO_MANY_CONNECTIONS = replies.err(
    "Too many connections from your address", replies.ResponseCode.SYS_TEMP
)


class PopService:
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
        self._deps = SessionDeps(
            config=config.pop,
            store=store,
            auth=auth,
            sasl=SaslConfig(
                server_secret=sasl_secret, fake_iterations=config.directory.scram_iterations
            ),
            tls_context=tls_context,
            node=config.node,
            clock=clock,
            counters=self.counters,
        )
        self._servers: list[Server] = []

    @property
    def name(self) -> str:
        return "pop"

    @property
    def title(self) -> str:
        return "POP"

    async def start(self, context: ServiceContext) -> None:
        pop = self._config.pop
        options = ConnectionOptions(
            idle_timeout_s=pop.idle_timeout_s,
            handshake_timeout_s=self._config.tls.handshake_timeout_s,
        )
        limits = ListenerLimits(
            max_connections=pop.max_connections,
            max_per_address=pop.max_connections_per_address,
            refusal=TOO_MANY_CONNECTIONS.to_bytes(),
        )
        plan = [("pop3", pop.listen, None), ("pop3s", pop.tls_listen, self._tls)]
        servers: list[Server] = []
        try:
            for name, addresses, implicit_tls in plan:
                if not addresses or (name == "pop3s" and self._tls is None):
                    continue
                listener = Listener(
                    f"pop-{name}", addresses, limits=limits, options=options, tls=implicit_tls
                )
                server = Server(listener, self._handler())
                await server.start()
                servers.append(server)
        except BaseException:
            for server in servers:
                await server.stop(0)
            raise
        self._servers = servers

    def _handler(self) -> SessionHandler:
        async def handle(conn: Connection) -> None:
            self.counters["connections"] = self.counters.get("connections", 0) + 1
            await PopSession(self._deps, conn).run()

        return handle

    async def stop(self, grace_s: float) -> None:
        servers, self._servers = self._servers, []
        await asyncio.gather(*(server.stop(grace_s) for server in servers))

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
        """Connect, read the +OK greeting, QUIT (DESIGN: the POP probe)."""
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
            if not greeting.startswith(b"+OK"):
                return ProbeResult(False, f"greeting was {greeting[:60]!r}")
            writer.write(b"QUIT\r\n")
            answer = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
            if not answer.startswith(b"+OK"):
                return ProbeResult(False, f"QUIT answered {answer[:60]!r}")
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"{address}: {exc}")
        finally:
            writer.close()
        return ProbeResult(True, f"+OK greeting and QUIT on {address}")
