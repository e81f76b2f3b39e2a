"""The SMTP service: three kinds of listener, one session type.

- MX (25): mail from other servers; STARTTLS offered, never required.
- Submission (587): STARTTLS, then AUTH before MAIL.
- Submissions (465): implicit TLS, AUTH before MAIL.

Every accepted message enters the queue through the intake; while the Spool
is stopped, SMTP keeps accepting.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from pathlib import Path

from roost.control.auth import Authenticator
from roost.control.intake import Intake
from roost.control.mailauth import MailAuthenticator
from roost.control.mailauth.policy import Action, AuthPolicy
from roost.control.submission import SubmissionPolicy
from roost.core.clock import Clock
from roost.core.config import Config
from roost.net.connection import ConnectionOptions
from roost.net.interfaces import Connection, SessionHandler
from roost.net.listener import Listener, ListenerLimits
from roost.net.probe import open_probe, probe_target
from roost.net.server import Server
from roost.proto.sasl import SaslConfig
from roost.services.smtp.policy import ListenerKind, RelayPolicy
from roost.services.smtp.session import SessionDeps, SmtpSession
from roost.store.store import Store
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

SPOOL_FOLDER = Path("spool") / "incoming"
PROBE_TIMEOUT_S = 10.0
MAX_TRACKED_ADDRESSES = 100_000


class ConnectionRate:
    """New connections per client address in the last minute (a sliding window)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._limit = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        if not self._limit:
            return True
        now = self._clock.monotonic()
        window = self._seen.setdefault(address, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self._limit:
            return False
        window.append(now)
        if len(self._seen) > MAX_TRACKED_ADDRESSES:
            self._seen = {a: w for a, w in self._seen.items() if w and w[-1] > now - 60}
        return True


class SmtpService:
    def __init__(
        self,
        config: Config,
        store: Store,
        auth: Authenticator,
        intake: Intake,
        tls_context: ssl.SSLContext | None,
        sasl_secret: bytes,
        mailauth: MailAuthenticator,
        clock: Clock,
        submission: SubmissionPolicy | None = None,
    ) -> None:
        """`submission`: the policy the webmail shares (app.py); one of its own if none."""
        self._config = config
        smtp = config.smtp
        self._hostname = smtp.hostname or config.node
        self._tls = tls_context
        delimiter = config.directory.recipient_delimiter
        self.counters: dict[str, int] = {}
        self._deps = SessionDeps(
            config=smtp,
            hostname=self._hostname,
            intake=intake,
            auth=auth,
            submission=submission or SubmissionPolicy.of(config, store, clock),
            relay=RelayPolicy(store, smtp.trusted_networks, delimiter),
            sasl=SaslConfig(
                server_secret=sasl_secret, fake_iterations=config.directory.scram_iterations
            ),
            spool_dir=config.data_dir / SPOOL_FOLDER,
            tls_context=tls_context,
            clock=clock,
            counters=self.counters,
            mailauth=mailauth if config.mailauth.check_inbound else None,
            auth_policy=AuthPolicy(
                spf_fail=_action(config.mailauth.spf_fail_action),
                dmarc_reject=_action(config.mailauth.dmarc_reject_action),
                dmarc_quarantine=_action(config.mailauth.dmarc_quarantine_action),
            ),
        )
        self._mailauth = mailauth
        self._servers: list[Server] = []
        self._rate = ConnectionRate(smtp.connection_rate_per_minute, clock)

    @property
    def name(self) -> str:
        return "smtp"

    @property
    def title(self) -> str:
        return "SMTP"

    async def start(self, context: ServiceContext) -> None:
        smtp = self._config.smtp
        await asyncio.to_thread(self._deps.spool_dir.mkdir, parents=True, exist_ok=True)
        options = ConnectionOptions(
            idle_timeout_s=smtp.idle_timeout_s,
            handshake_timeout_s=self._config.tls.handshake_timeout_s,
        )
        limits = ListenerLimits(
            max_connections=smtp.max_connections,
            max_per_address=smtp.max_connections_per_address,
            refusal=b"421 4.7.0 Too many connections from your address\r\n",
        )
        plan = [
            (ListenerKind.MX, smtp.mx_listen, None),
            (ListenerKind.SUBMISSION, smtp.submission_listen, None),
            (ListenerKind.SUBMISSIONS, smtp.submissions_listen, self._tls),
        ]
        servers: list[Server] = []
        try:
            for kind, addresses, implicit_tls in plan:
                if not addresses or (kind is ListenerKind.SUBMISSIONS and self._tls is None):
                    continue
                listener = Listener(
                    f"smtp-{kind.value}",
                    addresses,
                    limits=limits,
                    options=options,
                    tls=implicit_tls,
                )
                server = Server(listener, self._handler(kind))
                await server.start()
                servers.append(server)
        except BaseException:
            for server in servers:
                await server.stop(0)
            raise
        self._servers = servers

    def _handler(self, kind: ListenerKind) -> SessionHandler:
        async def handle(conn: Connection) -> None:
            self.counters["connections"] = self.counters.get("connections", 0) + 1
            if not self._rate.allow(conn.peer[0]):
                self.counters["rate_limited"] = self.counters.get("rate_limited", 0) + 1
                conn.write(b"421 4.7.0 Too many connections from your address; slow down\r\n")
                await conn.drain()
                return
            await SmtpSession(self._deps, kind, conn).run()

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
        """Connect, read 220, EHLO, QUIT (DESIGN: the SMTP probe)."""
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
            if not greeting.startswith(b"220"):
                return ProbeResult(False, f"greeting was {greeting[:60]!r}")
            writer.write(b"EHLO probe.invalid\r\n")
            while True:
                line = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
                if not line.startswith(b"250"):
                    return ProbeResult(False, f"EHLO answered {line[:60]!r}")
                if line[3:4] == b" ":
                    break
            writer.write(b"QUIT\r\n")
            await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            return ProbeResult(False, f"{address}: {exc}")
        finally:
            writer.close()
        return ProbeResult(True, f"220, EHLO and QUIT on {address}")


def _action(value: str) -> Action:
    assert value in ("accept", "mark", "reject"), value
    return value  # type: ignore[return-value]
