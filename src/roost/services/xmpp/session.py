"""One XMPP client stream: drives the core over a connection.

Two tasks share the connection. The reader feeds the client's bytes to
the core (`roost.proto.xmpp.XmppServerConnection`) and answers its
events: STARTTLS, SASL through the shared `Authenticator` (and its
throttling), resource binding through the `SessionManager`, stanzas to
the `Router`. The writer sends what other sessions deliver.

Delivery (`deliver`) never waits: it appends to a bounded outbound queue
(``[xmpp] outbound_queue_stanzas``). A client that lets the queue fill
has stopped reading; it is disconnected at once, so that neither the
router nor the sender ever waits on it.

XEP-0352 client state: while the client says it is inactive, presence,
chat states and PEP events wait (up to ``[xmpp] csi_queue_stanzas``) as
Prosody's mod_csi_simple holds them; anything important (a message with a
body, an IQ, a subscription) sends them first, in order, then itself.

XEP-0198 stream management: the core counts and acknowledges; a session
that enabled resumption and lost its connection parks for ``[xmpp]
resume_timeout_s`` (`roost.services.xmpp.resumption`), still bound and
still receiving, until a new stream resumes it or the time is up; then
what the client never acknowledged goes to offline storage or back to
its senders (`Router.unacknowledged`).

Timers: before binding, a client has ``login_timeout_s``; afterwards a
client silent for ``ping_after_s`` is pinged (XEP-0199 §4.2) and closed
with ``connection-timeout`` if it then stays silent for
``ping_timeout_s`` — any input counts as an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections import deque
from dataclasses import dataclass

from roost.control.auth import Authenticator
from roost.control.chat_tokens import ChatChannel, ChatTokens, is_token
from roost.control.sessions import OpenSession
from roost.core.clock import Clock
from roost.core.config import XmppServiceSettings
from roost.core.errors import AuthenticationFailed, RoostError, Throttled
from roost.core.flag import Flag
from roost.net.errors import IdleTimeout, NetError, SessionEnded, ShuttingDown
from roost.net.interfaces import Connection
from roost.net.websocket import WebSocketConnection
from roost.proto.sasl import FailureReason, SaslConfig, ScramAlgorithm
from roost.proto.xmpp import (
    Authenticated,
    AuthFailed,
    BindRequested,
    ConnectionLost,
    Element,
    Event,
    Iq,
    Jid,
    JidMalformed,
    Message,
    Nonza,
    PasswordLogin,
    Presence,
    SaslCondition,
    ScramKeysRequested,
    SmEnableRequested,
    SmResumeRequested,
    SmSnapshot,
    StanzaErrorCondition,
    StartTlsRequested,
    StreamClosed,
    StreamErrorCondition,
    StreamFailed,
    TlsPolicy,
    XmppServerConnection,
    XmppSettings,
    error_reply,
)
from roost.services.xmpp.directory import XmppDirectory
from roost.services.xmpp.iq import ping
from roost.services.xmpp.resumption import ParkingLot
from roost.services.xmpp.router import Router
from roost.services.xmpp.sessions import Bound, ChatState, SessionManager

log = logging.getLogger(__name__)

READ_OCTETS = 64 * 1024
TAKEOVER_WAIT_S = 10.0
"""A ``<resume/>`` for a session whose old connection still looks alive
aborts that connection and waits this long for the session to park."""

_CREDENTIAL_FAILURES = frozenset(
    {FailureReason.BAD_CREDENTIALS, FailureReason.UNKNOWN_USER, FailureReason.AUTHZID_NOT_ALLOWED}
)
_ENDINGS = (StreamClosed, StreamFailed, ConnectionLost)
_STANZAS = (Message, Presence, Iq)
_ping_ids = itertools.count(1)

CSI = "urn:xmpp:csi:0"
STREAM_FEATURES = (
    Element("ver", "urn:xmpp:features:rosterver"),  # RFC 6121 §2.6.1
    Element("sub", "urn:xmpp:features:pre-approval"),  # RFC 6121 §3.4.1
    Element("csi", CSI),  # XEP-0352 §3
)


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every session of the service shares."""

    config: XmppServiceSettings
    auth: Authenticator
    sasl: SaslConfig
    tls_context: ssl.SSLContext | None
    directory: XmppDirectory
    sessions: SessionManager
    router: Router
    clock: Clock
    counters: dict[str, int]
    parking: ParkingLot
    features: tuple[Element, ...] = ()
    """Stream features of the service beside those of the session
    (the server's own XEP-0115 caps)."""
    chat_tokens: ChatTokens | None = None
    """The webmail's chat tokens, accepted as PLAIN passwords where
    `roost.control.chat_tokens` allows (the WebSocket from our own origin)."""


class XmppSession:
    def __init__(
        self,
        deps: SessionDeps,
        conn: Connection,
        transport: str,
        channel: ChatChannel | None = None,
    ) -> None:
        self._deps = deps
        self._conn = conn
        self._client = conn.peer[0]
        self._transport = transport
        self._channel = channel or ChatChannel(transport)
        # Over WebSocket (RFC 7395) input and output are whole messages.
        self._ws = conn if isinstance(conn, WebSocketConnection) else None
        self._core: XmppServerConnection | None = None
        self._queue: deque[Element] = deque()
        self._held: list[Element] = []
        """XEP-0352: what waits while the client is inactive."""
        self._wake = Flag()
        self._write_lock = asyncio.Lock()
        self._kick: StreamErrorCondition | None = None
        self._closed = False
        self._signed_in: OpenSession | None = None
        self._ping_sent = False
        self._available = False
        self._priority = 0
        self._presence: Element | None = None
        self._chat = ChatState()
        self._deadline = 0.0
        # XEP-0198 resumption (see the module docstring).
        self._resume_id: str | None = None
        self._lost = False
        self._parked = Flag()
        self._wakeup = Flag()
        self._adopted = False
        self._snapshot: SmSnapshot | None = None

    # --- what the router sees (`roost.services.xmpp.sessions.Outlet`)

    @property
    def jid(self) -> Jid | None:
        return None if self._core is None else self._core.jid

    @property
    def transport(self) -> str:
        return self._transport

    @property
    def available(self) -> bool:
        return self._available

    @property
    def chat(self) -> ChatState:
        return self._chat

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def presence(self) -> Element | None:
        return self._presence

    def presence_changed(self, presence: Element | None) -> None:
        self._presence = presence
        self._available = presence is not None
        self._priority = 0
        child = None if presence is None else presence.find("priority", presence.namespace)
        if child is not None:
            try:
                self._priority = max(-128, min(127, int(child.text.strip())))  # RFC 6121 §4.7.2.3
            except ValueError:
                self._priority = 0

    def deliver(self, stanza: Element) -> bool:
        if self._closed or self._kick is not None:
            return False
        if self._chat.inactive:
            if not _important(stanza):
                self._held.append(stanza)
                if len(self._held) < self._deps.config.csi_queue_stanzas:
                    self._count("csi_held")
                    return True
                stanza = self._held.pop()
            # mod_csi_simple: what was held goes first, in order.
            held, self._held = self._held, []
            for earlier in held:
                if not self._enqueue(earlier):
                    return False
        return self._enqueue(stanza)

    def _client_state(self, element: Element) -> None:
        """XEP-0352 §4: ``<active/>`` sends what was held."""
        if element.name == "inactive":
            self._chat.inactive = True
        elif element.name == "active":
            self._chat.inactive = False
            held, self._held = self._held, []
            for stanza in held:
                if not self._enqueue(stanza):
                    return

    def _enqueue(self, stanza: Element) -> bool:
        if len(self._queue) >= self._deps.config.outbound_queue_stanzas:
            self._count("stalled_closed")
            log.info("%s: %s stopped reading; disconnected", self._conn.session_id, self.jid)
            self._closed = True
            self._queue.clear()
            self._conn.abort()
            self._wakeup.set()  # a parked session ends too
            return False
        self._queue.append(stanza)
        self._wake.set()
        return True

    def reply(self, stanza: Element) -> None:
        if self._core is not None and not self._closed:
            self._core.send(stanza)

    def replaced(self) -> None:
        self._kick = StreamErrorCondition.CONFLICT
        self._wake.set()
        self._wakeup.set()

    def expire(self) -> None:
        """Stop waiting to be resumed (`roost.services.xmpp.resumption`)."""
        self._wakeup.set()

    # --- the loop

    def _count(self, name: str) -> None:
        counters = self._deps.counters
        counters[name] = counters.get(name, 0) + 1

    async def run(self) -> None:
        deps = self._deps
        try:
            domains = await deps.directory.refresh()
        except (RoostError, OSError) as exc:
            log.error("%s: cannot read the hosted domains: %s", self._conn.session_id, exc)
            return
        self._core = XmppServerConnection(
            self._settings(domains),
            sasl=deps.sasl,
            tls=self._conn.is_tls,
            websocket=self._ws is not None,
        )
        self._deadline = deps.clock.monotonic() + deps.config.login_timeout_s
        writer = asyncio.create_task(self._write_loop(), name=f"xmpp-out-{self._conn.session_id}")
        core = self._core
        try:
            await self._read_loop(core)
            writer.cancel()
            await asyncio.wait([writer])
            await self._park(core)
        finally:
            self._closed = True
            deps.parking.remove(self._resume_id, self)
            deps.auth.sessions.close(self._signed_in)
            writer.cancel()
            await asyncio.wait([writer])
            self._conn.close()
            if not self._adopted:
                await self._end(core)
            log.info(
                "%s: XMPP session from %s jid=%s transport=%s ended",
                self._conn.session_id,
                self._client,
                self.jid or "-",
                self._transport,
            )

    async def _park(self, core: XmppServerConnection) -> None:
        """XEP-0198 §5: a session that may be resumed and lost its
        connection waits for a new stream to adopt it, or for its time."""
        snapshot = core.sm_snapshot()
        if snapshot is None or not self._lost or self._closed or self._kick is not None:
            return
        self._conn.close()
        self._snapshot = snapshot
        self._parked.set()
        self._count("sessions_parked")
        log.info("%s: %s parked for resumption", self._conn.session_id, self.jid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._deps.config.resume_timeout_s)
        if not self._adopted:
            self._count("sessions_expired")

    async def _end(self, core: XmppServerConnection) -> None:
        """The session is over for good: unbind, hand on what the client
        never acknowledged, and tell whoever saw it that it left."""
        deps = self._deps
        deps.sessions.remove(self)
        pending = [*core.sm_unacked(), *self._queue] if core.stream_managed else []
        self._queue.clear()
        try:
            if pending:
                await deps.router.unacknowledged(self, pending)
            await deps.router.departed(self)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot announce the departure: %s", self._conn.session_id, exc)

    def _settings(self, domains: tuple[str, ...]) -> XmppSettings:
        config = self._deps.config
        plaintext = self._deps.auth.plaintext_allowed(tls=False, client=self._client)
        if self._deps.tls_context is None:
            policy = TlsPolicy.DISABLED
        else:
            policy = TlsPolicy.OFFERED if plaintext else TlsPolicy.REQUIRED
        return XmppSettings(
            domains,
            starttls=policy,
            plaintext_auth_allowed=plaintext,
            max_stanza_octets=config.max_stanza_bytes,
            max_depth=config.max_depth,
            max_auth_failures=config.max_auth_failures,
            features_after_auth=(*STREAM_FEATURES, *self._deps.features),
            nonza_namespaces=frozenset({CSI}),
            stream_management=True,
            max_unacked_stanzas=config.max_unacked_stanzas,
        )

    async def _read_loop(self, core: XmppServerConnection) -> None:
        while True:
            event = core.next_event()
            if event is None:
                if not await self._flush_and_read(core):
                    return
                continue
            await self._handle(core, event)
            if isinstance(event, ConnectionLost):
                self._lost = True
            if isinstance(event, _ENDINGS) or core.closing:
                await self._flush(core)
                return
            if isinstance(event, _STANZAS):
                # A read may hold many stanzas and need not wait: let the
                # writers of the sessions they went to run between them.
                await asyncio.sleep(0)

    async def _flush(self, core: XmppServerConnection) -> None:
        async with self._write_lock:
            if self._write_out(core) and not self._closed:
                await self._conn.drain()

    def _write_out(self, core: XmppServerConnection) -> bool:
        """Hand what the core queued to the connection; False if nothing was."""
        if self._ws is not None:
            messages = core.messages_to_send()
            if not self._closed:
                for message in messages:
                    self._ws.write(message)
            return bool(messages)
        out = core.data_to_send()
        if out and not self._closed:
            self._conn.write(out)
        return bool(out)

    async def _flush_and_read(self, core: XmppServerConnection) -> bool:
        """Send what the core queued, then read; False when the session is over."""
        try:
            await self._flush(core)
            if core.closing:
                return False
            timeout_s = self._read_timeout(core)
            if self._ws is not None:
                data = await self._ws.read_message(timeout_s=timeout_s, between_commands=True)
            else:
                data = await self._read_resting(core, timeout_s)
        except IdleTimeout:
            return await self._silent(core)
        except SessionEnded as ended:
            core.close(StreamErrorCondition.NOT_AUTHORIZED, str(ended))
            await self._final_flush(core)
            return False
        except ShuttingDown:
            core.close(StreamErrorCondition.SYSTEM_SHUTDOWN)
            await self._final_flush(core)
            return False
        except NetError:
            self._lost = True
            return False
        self._ping_sent = False
        if self._ws is not None and data:
            core.receive_message(data)
        else:
            core.receive_data(data)
        return True

    async def _read_resting(self, core: XmppServerConnection, timeout_s: float) -> bytes:
        """Read TCP input; a client silent for `parser_rest_s` meanwhile lets
        go of its parser's state (`XmppServerConnection.rest`)."""
        rest_s = self._deps.config.parser_rest_s
        if 0 < rest_s < timeout_s:
            try:
                return await self._conn.read(READ_OCTETS, timeout_s=rest_s, between_commands=True)
            except IdleTimeout:
                if core.rest():
                    self._count("parsers_rested")
                timeout_s -= rest_s
        return await self._conn.read(READ_OCTETS, timeout_s=timeout_s, between_commands=True)

    def _read_timeout(self, core: XmppServerConnection) -> float:
        config = self._deps.config
        if core.jid is None:
            return max(self._deadline - self._deps.clock.monotonic(), 0.0)
        return config.ping_timeout_s if self._ping_sent else config.ping_after_s

    async def _silent(self, core: XmppServerConnection) -> bool:
        """The read timed out: ping once, then give up (XEP-0199 §4.2)."""
        jid = core.jid
        if jid is None or self._ping_sent:
            self._count("timeouts")
            log.info("%s: %s silent; closing", self._conn.session_id, jid or "client")
            core.close(StreamErrorCondition.CONNECTION_TIMEOUT)
            await self._final_flush(core)
            return False
        self._ping_sent = True
        self._count("pings_sent")
        self.deliver(ping(jid, jid.domain, f"roost-ping-{next(_ping_ids)}"))
        return True

    async def _final_flush(self, core: XmppServerConnection) -> None:
        with contextlib.suppress(NetError):  # the client is gone: nothing more to say
            await self._flush(core)

    async def _write_loop(self) -> None:
        core = self._core
        assert core is not None
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._kick is not None:
                    core.close(self._kick, "another stream bound this resource")
                    await self._flush(core)
                    self._conn.close()
                    return
                while self._queue and not self._closed:
                    async with self._write_lock:
                        if not core.send(self._queue.popleft()):
                            self._queue.clear()
                            return
                        self._write_out(core)
                        if core.closing:  # too many unacknowledged (XEP-0198)
                            self._closed = True
                            self._conn.close()
                            return
                        await self._conn.drain()
            except NetError:
                self._conn.abort()
                return

    # --- events

    async def _handle(self, core: XmppServerConnection, event: Event) -> None:
        match event:
            case StartTlsRequested():
                await self._starttls(core)
            case PasswordLogin(user=user, password=password, domain=domain):
                await self._password_login(core, _address(user, domain), password)
            case ScramKeysRequested(user=user, algorithm=algorithm, domain=domain):
                await self._scram_keys(core, _address(user, domain), algorithm)
            case Authenticated(user=user, domain=domain):
                await self._authenticated(core, _address(user, domain))
            case AuthFailed(reason=reason, user=user):
                self._auth_failed(reason, user)
            case BindRequested(resource=resource):
                await self._bind(core, resource)
            case SmEnableRequested(resume=resume):
                self._enable_sm(core, resume=resume)
            case SmResumeRequested(previd=previd):
                await self._resume(core, previd)
            case Message() | Presence() | Iq():
                await self._route(event)
            case Nonza(element=element) if element.namespace == CSI and core.jid is not None:
                self._client_state(element)
            case StreamFailed(condition=condition, detail=detail):
                self._count("stream_errors")
                log.info("%s: stream error %s: %s", self._conn.session_id, condition, detail)
            case _:
                pass

    async def _route(self, event: Message | Presence | Iq) -> None:
        router = self._deps.router
        try:
            match event:
                case Message():
                    await router.message(self, event)
                case Presence():
                    await router.presence(self, event)
                case Iq():
                    await router.iq(self, event)
        except (RoostError, OSError) as exc:
            # The store failed: the stanza is answered, the session lives on.
            log.error("%s: cannot route a stanza: %s", self._conn.session_id, exc)
            self._count("internal_errors")
            if event.stanza.get("type") != "error":
                self.reply(error_reply(event.stanza, StanzaErrorCondition.INTERNAL_SERVER_ERROR))

    async def _starttls(self, core: XmppServerConnection) -> None:
        context = self._deps.tls_context
        if context is None:
            core.reject()
            return
        core.accept()
        await self._flush(core)
        await self._conn.start_tls(context)
        core.tls_established()

    async def _password_login(self, core: XmppServerConnection, address: str, pw: str) -> None:
        tokens = self._deps.chat_tokens
        web_session = None
        try:
            if tokens is not None and is_token(pw):
                chat = await tokens.sign_in(address, pw, self._channel, client=self._client)
                signed_in, web_session = chat.address, chat.web_session
            else:
                account = await self._deps.auth.authenticate(address, pw, client=self._client)
                signed_in = account.address
        except Throttled:
            self._count("auth_throttled")
            core.reject(SaslCondition.TEMPORARY_AUTH_FAILURE)
            return
        except AuthenticationFailed:
            self._count("auth_failures")
            core.reject(SaslCondition.NOT_AUTHORIZED)
            return
        except (RoostError, OSError) as exc:
            log.error("%s: cannot check a password: %s", self._conn.session_id, exc)
            core.reject(SaslCondition.TEMPORARY_AUTH_FAILURE)
            return
        self._login(core, signed_in, web_session)

    async def _scram_keys(
        self, core: XmppServerConnection, address: str, algorithm: ScramAlgorithm
    ) -> None:
        auth = self._deps.auth
        verdict = auth.throttle.check(self._client, address)
        if verdict.locked_for_s > 0:
            self._count("auth_throttled")
            core.reject(SaslCondition.TEMPORARY_AUTH_FAILURE)
            return
        if verdict.delay_s:
            await asyncio.sleep(verdict.delay_s)
        try:
            found = await auth.scram_credentials(address, algorithm)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot read SCRAM keys: %s", self._conn.session_id, exc)
            core.reject(SaslCondition.TEMPORARY_AUTH_FAILURE)
            return
        core.scram_keys(None if found is None else found[1])

    async def _authenticated(self, core: XmppServerConnection, address: str) -> None:
        try:
            found = await self._deps.auth.account_for(address)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot look up an account: %s", self._conn.session_id, exc)
            core.reject(SaslCondition.TEMPORARY_AUTH_FAILURE)
            return
        if found is None:
            self._count("auth_failures")
            core.reject(SaslCondition.NOT_AUTHORIZED)
            return
        self._deps.auth.throttle.succeeded(self._client, found)
        self._login(core, found)

    def _login(
        self, core: XmppServerConnection, address: str, web_session: str | None = None
    ) -> None:
        try:
            jid = Jid.parse(address)
        except JidMalformed:
            jid = None
        if jid is None or jid.domain != core.domain:
            core.reject(SaslCondition.NOT_AUTHORIZED)  # an account of another domain
            return
        self._count("logins")
        self._signed_in = self._deps.auth.sessions.open(
            "xmpp", address, self._end_requested, web_session=web_session
        )
        core.login_accepted(jid)

    def _end_requested(self, reason: str) -> None:
        """The registry ends this session (account disabled, webmail session
        over…): a live stream gets its error, a parked one stops waiting."""
        self._conn.request_end(reason)
        if self._parked.is_set():
            self._wakeup.set()

    def _auth_failed(self, reason: FailureReason, user: str | None) -> None:
        if reason in _CREDENTIAL_FAILURES:
            self._count("auth_failures")
            self._deps.auth.throttle.failed(self._client, (user or "").strip().lower())
            log.info("%s: authentication failed from %s", self._conn.session_id, self._client)

    async def _bind(self, core: XmppServerConnection, resource: str | None) -> None:
        user = core.user_jid
        assert user is not None
        outcome = self._deps.sessions.bind(user, resource, self)
        if not isinstance(outcome, Bound):
            core.bind_refused(outcome.condition, outcome.text)
            return
        if outcome.replaced is not None:
            self._count("resources_replaced")
            await self._deps.router.departed(outcome.replaced)
            outcome.replaced.replaced()
        core.bind_accepted(outcome.resource)
        log.info("%s: bound %s", self._conn.session_id, core.jid)

    def _enable_sm(self, core: XmppServerConnection, *, resume: bool) -> None:
        timeout_s = self._deps.config.resume_timeout_s
        if resume and timeout_s > 0 and self._resume_id is None:
            self._resume_id = self._deps.parking.add(self)
            core.sm_enabled(self._resume_id, int(timeout_s))
        else:
            core.sm_enabled(None)
        self._count("sm_enabled")

    async def _resume(self, core: XmppServerConnection, previd: str) -> None:
        """XEP-0198 §5: adopt the parked session ``previd`` of this account."""
        found = self._deps.parking.get(previd, core.user_jid)
        old = found if isinstance(found, XmppSession) else None
        if old is not None and not old._parked.is_set() and not old._closed:
            # The client knows its old connection is dead before we do.
            old._conn.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(old._parked.wait(), TAKEOVER_WAIT_S)
        usable = old is not None and old._parked.is_set() and not old._wakeup.is_set()
        if old is None or not usable or old._snapshot is None or old.jid is None:
            self._count("resume_failed")
            core.sm_resume_failed()
            return
        if not core.sm_resumed(old.jid, old._snapshot):
            self._count("resume_failed")
            return
        self._adopt(old)
        self._count("sessions_resumed")
        log.info("%s: resumed %s", self._conn.session_id, core.jid)

    def _adopt(self, old: XmppSession) -> None:
        self._presence, self._available, self._priority = (
            old._presence,
            old._available,
            old._priority,
        )
        self._chat, self._held = old._chat, old._held
        self._queue.extend(old._queue)
        old._queue.clear()
        self._resume_id, old._resume_id = old._resume_id, None
        self._deps.sessions.adopt(old, self)
        if self._resume_id is not None:
            self._deps.parking.move(self._resume_id, self)
        old._adopted = True
        old._wakeup.set()
        if self._queue:
            self._wake.set()


_STATE_CHILDREN = frozenset({"active", "inactive", "gone", "composing", "paused"})
CHAT_STATES = "http://jabber.org/protocol/chatstates"
PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"


def _important(stanza: Element) -> bool:
    """Must this go to an inactive client at once (XEP-0352 §5, as
    Prosody's mod_csi_simple judges)? Everything but available and
    unavailable presence, chat states without a body, and PEP events is;
    a message with a body (a carbon copy's too) always is."""
    if stanza.name == "presence":
        return stanza.get("type") not in (None, "unavailable")
    if stanza.name != "message":
        return True
    if _has_body(stanza):
        return True
    if stanza.find("event", PUBSUB_EVENT) is not None:
        return False
    return not any(
        child.namespace == CHAT_STATES and child.name in _STATE_CHILDREN
        for child in stanza.elements()
    )


def _has_body(message: Element) -> bool:
    """A body in the message or in a message it forwards (XEP-0280 copies)."""
    if message.find("body", message.namespace) is not None:
        return True
    return any(
        _has_body(inner)
        for wrapper in message.elements()
        for forwarded in wrapper.elements()
        for inner in forwarded.elements()
        if inner.name == "message"
    )


def _address(user: str, domain: str) -> str:
    """The account a SASL user names: a localpart of the stream's domain,
    or a whole address (RFC 6120 §6.3.7)."""
    user = user.strip().lower()
    return user if "@" in user else f"{user}@{domain}"
