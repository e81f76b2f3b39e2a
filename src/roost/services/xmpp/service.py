"""The XMPP service: client streams over TCP and over WebSocket.

- XMPP (5222): plaintext with STARTTLS (RFC 6120 §5), required before
  SASL except from loopback where the development profile allows
  passwords in the clear.
- XMPPS (5223): direct TLS (XEP-0368).
- XMPP over WebSocket (RFC 7395) at ``/xmpp-websocket`` on the web
  listener, announced by XEP-0156 host-meta; its routes answer 503 while
  the service is stopped, and a stop ends its WebSocket sessions too.

Rosters, subscriptions, offline messages, vCards, private XML and block
lists, the archive (MAM) and PEP nodes are kept in the store's XMPP
role. Stream management (XEP-0198) with resumption: see
`roost.services.xmpp.resumption`.
HTTP file upload (XEP-0363) at ``upload.<domain>``, its files on the web
listener: see `roost.services.xmpp.upload`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from roost.control.auth import Authenticator
from roost.control.chat_tokens import ChatChannel, ChatTokens
from roost.core.clock import Clock
from roost.core.config import Config
from roost.net.connection import ConnectionOptions
from roost.net.interfaces import Connection, SessionHandler
from roost.net.listener import Listener, ListenerLimits
from roost.net.probe import open_probe, probe_target
from roost.net.server import Server
from roost.net.web_routes import RouteGate, WebRoutes
from roost.proto.sasl import SaslConfig
from roost.services.xmpp import archive, pep
from roost.services.xmpp.blocking import Blocks
from roost.services.xmpp.caps import CapsCache
from roost.services.xmpp.directory import XmppDirectory
from roost.services.xmpp.iq import ServerIqs
from roost.services.xmpp.muc import LABEL as MUC_LABEL
from roost.services.xmpp.muc import MucComponent
from roost.services.xmpp.resumption import ParkingLot
from roost.services.xmpp.roster import Rosters
from roost.services.xmpp.router import Router
from roost.services.xmpp.session import SessionDeps, XmppSession
from roost.services.xmpp.sessions import ConflictPolicy, SessionManager
from roost.services.xmpp.upload import LABEL as UPLOAD_LABEL
from roost.services.xmpp.upload import Uploads
from roost.services.xmpp.upload_http import UploadRoutes
from roost.services.xmpp.websocket import WEBSOCKET_PATH, WebSocketSessions
from roost.store.store import Store
from roost.store.xmpp_upload import UploadFiles
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "uploads"
"""XEP-0363 uploads, under the data folder."""
PROBE_TIMEOUT_S = 10.0
PROBE_READ_OCTETS = 4096
PROBE_MAX_OCTETS = 65_536
"""Enough for a stream header and features; a probe reads no more."""

TRANSPORTS = {"xmpp": "starttls", "xmpps": "direct_tls"}
"""Listener kind to the transport name the Services page shows."""
WEBSOCKET = "websocket"


class XmppService:
    def __init__(
        self,
        config: Config,
        store: Store,
        auth: Authenticator,
        tls_context: ssl.SSLContext | None,
        sasl_secret: bytes,
        clock: Clock,
        web_routes: WebRoutes | None = None,
        chat_tokens: ChatTokens | None = None,
    ) -> None:
        """*web_routes*: where the WebSocket and host-meta routes go; without
        it (a test that builds the service alone) XMPP serves TCP only.
        *chat_tokens*: the webmail's chat sign-in (`roost.control.chat_tokens`)."""
        self._config = config
        self._tls = tls_context
        self.counters: dict[str, int] = {}
        xmpp = config.xmpp
        self.parking = ParkingLot()
        self.sessions = SessionManager(ConflictPolicy(xmpp.resource_conflict), xmpp.max_resources)
        self.directory = XmppDirectory(store, xmpp, config.node)
        self._store = store
        self._offline_waiting: int | None = None
        rosters = Rosters(store, self.directory)
        blocks = Blocks(store)
        iqs = ServerIqs(store, rosters, blocks, self.sessions, xmpp)
        self._archive = archive.Archive(store, xmpp, self.counters)
        if self._archive.enabled:
            iqs.add(archive.MAM, "query", "get", self._archive.form)
            iqs.add(archive.MAM, "query", "set", self._archive.query)
            iqs.advertise(account=archive.FEATURES)
        self._pruner: asyncio.Task[None] | None = None
        self.caps = CapsCache(xmpp.caps_cache_entries, self.counters)
        router = Router(
            self.sessions,
            self.directory,
            iqs,
            rosters,
            blocks,
            store,
            xmpp,
            self.counters,
            self._archive,
            self.caps,
        )
        events = pep.Pep(store, self.sessions, xmpp, router.watchers, self.counters)
        iqs.add(pep.PUBSUB, "pubsub", "set", events.set)
        iqs.add(pep.PUBSUB, "pubsub", "get", events.get)
        iqs.advertise(account=pep.FEATURES, account_identity=pep.IDENTITY)
        iqs.bookmarks = events
        self.caps.on_learned = events.learned
        self._deps = SessionDeps(
            config=xmpp,
            auth=auth,
            sasl=SaslConfig(
                server_secret=sasl_secret, fake_iterations=config.directory.scram_iterations
            ),
            tls_context=tls_context,
            directory=self.directory,
            sessions=self.sessions,
            router=router,
            clock=clock,
            counters=self.counters,
            parking=self.parking,
            features=(iqs.server_caps(),),
            chat_tokens=chat_tokens,
        )
        self._servers: list[Server] = []
        self._websockets = WebSocketSessions(xmpp, self._websocket_session)
        self.uploads: Uploads | None = None
        self._upload_pruner: asyncio.Task[None] | None = None
        routes = [*self._websockets.routes()]
        if xmpp.upload_enabled:
            files = UploadFiles(config.data_dir / UPLOAD_FOLDER)
            self.uploads = Uploads(store, xmpp, files, web_routes, self.counters)
            router.add_component(UPLOAD_LABEL, self.uploads)
            routes += UploadRoutes(store, self.uploads, self.counters).routes()
        self.muc: MucComponent | None = None
        if xmpp.muc:
            self.muc = MucComponent(
                store, self.sessions, self.directory, xmpp, self._archive, self.counters
            )
            router.add_component(MUC_LABEL, self.muc)
            router.on_departure(self.muc.departed)
        self._gate: RouteGate | None = None
        if web_routes is not None:
            self._gate = web_routes.register(self.name, self.title, routes)

    @property
    def name(self) -> str:
        return "xmpp"

    @property
    def title(self) -> str:
        return "XMPP"

    async def start(self, context: ServiceContext) -> None:
        xmpp = self._config.xmpp
        # Reads are bounded by the session's own timers (login, ping).
        options = ConnectionOptions(
            idle_timeout_s=xmpp.ping_after_s + xmpp.ping_timeout_s,
            handshake_timeout_s=self._config.tls.handshake_timeout_s,
            output_buffer_octets=xmpp.output_buffer_bytes,
        )
        limits = ListenerLimits(
            max_connections=xmpp.max_connections,
            max_per_address=xmpp.max_connections_per_address,
            refusal=b"",
        )
        plan = [("xmpp", xmpp.listen, None), ("xmpps", xmpp.tls_listen, self._tls)]
        if self.muc is not None:
            await self.muc.load()  # persistent rooms, before anyone can enter one
        servers: list[Server] = []
        try:
            for name, addresses, implicit_tls in plan:
                if not addresses or (name == "xmpps" and self._tls is None):
                    continue
                listener = Listener(
                    f"xmpp-{name}", addresses, limits=limits, options=options, tls=implicit_tls
                )
                server = Server(listener, self._handler(TRANSPORTS[name]))
                await server.start()
                servers.append(server)
        except BaseException:
            for server in servers:
                await server.stop(0)
            raise
        self._servers = servers
        if self._archive.enabled:
            self._pruner = asyncio.create_task(self._archive.prune_forever(), name="xmpp-prune")
        if self.uploads is not None:
            self._upload_pruner = asyncio.create_task(
                self.uploads.prune_forever(), name="xmpp-upload-prune"
            )
        self._websockets.start()
        if self._gate is not None:
            self._gate.open()

    async def _websocket_session(self, conn: Connection, channel: ChatChannel) -> None:
        self.counters["connections"] = self.counters.get("connections", 0) + 1
        await XmppSession(self._deps, conn, WEBSOCKET, channel).run()

    def _handler(self, transport: str) -> SessionHandler:
        async def handle(conn: Connection) -> None:
            self.counters["connections"] = self.counters.get("connections", 0) + 1
            await XmppSession(self._deps, conn, transport).run()

        return handle

    async def stop(self, grace_s: float) -> None:
        if self._gate is not None:
            self._gate.close()
        pruners = [p for p in (self._pruner, self._upload_pruner) if p is not None]
        self._pruner = self._upload_pruner = None
        for pruner in pruners:
            pruner.cancel()
        if pruners:
            await asyncio.wait(pruners)
        servers, self._servers = self._servers, []
        self.parking.expire_all()  # parked sessions end now, their stanzas kept or bounced
        await asyncio.gather(
            self._websockets.stop(grace_s), *(server.stop(grace_s) for server in servers)
        )
        await self._archive.flush()  # what the ended sessions exchanged

    @property
    def addresses(self) -> dict[str, list[str]]:
        return {s.listener.name: [str(a) for a in s.addresses] for s in self._servers}

    def status(self) -> ServiceStatus:
        listeners = tuple(str(a) for s in self._servers for a in s.addresses)
        if self._gate is not None and self._gate.is_open:
            listeners += (f"web listener {WEBSOCKET_PATH}",)
        by_transport = {
            f"sessions_{TRANSPORTS[s.listener.name.removeprefix('xmpp-')]}": s.active_sessions
            for s in self._servers
        }
        by_transport[f"sessions_{WEBSOCKET}"] = self._websockets.count
        sessions = sum(by_transport.values())
        bound = {f"bound_{name}": count for name, count in self.sessions.by_transport().items()}
        counters = {**self.counters, **by_transport, **bound}
        if self._offline_waiting is not None:
            counters["offline_waiting"] = self._offline_waiting
        if self.muc is not None:
            counters.update(self.muc.counts())
        if self.uploads is not None and self.uploads.usage is not None:
            counters["upload_files"] = self.uploads.usage.files
            counters["upload_bytes"] = self.uploads.usage.bytes
        return ServiceStatus(
            listeners=listeners,
            sessions=sessions,
            counters=tuple(sorted(counters.items())),
        )

    async def probe(self) -> ProbeResult:
        """Open a stream and read the features (DESIGN: the XMPP probe)."""
        if not self._servers:
            return ProbeResult(False, "no listener is open")
        server = self._servers[0]
        address = probe_target(server)
        try:
            domains = await self.directory.refresh()
            # The offline queue's size for the Services page, read as often as probed.
            self._offline_waiting = await self._store.read(self._store.xmpp.offline_count)
            if self.uploads is not None:
                await self.uploads.refresh_usage()
            reader, writer = await open_probe(server, PROBE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"cannot connect to {address}: {exc}")
        try:
            writer.write(
                b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' "
                b"to='" + domains[0].encode() + b"'>"
            )
            seen = b""
            while b"</stream:features>" not in seen and len(seen) < PROBE_MAX_OCTETS:
                chunk = await asyncio.wait_for(reader.read(PROBE_READ_OCTETS), PROBE_TIMEOUT_S)
                if not chunk:
                    return ProbeResult(False, f"stream closed before features: {seen[:80]!r}")
                seen += chunk
            if b"</stream:features>" not in seen:
                return ProbeResult(False, "no stream features")
            writer.write(b"</stream:stream>")
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"{address}: {exc}")
        finally:
            writer.close()
        return ProbeResult(True, f"stream features on {address}")
