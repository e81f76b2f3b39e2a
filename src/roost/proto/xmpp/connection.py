"""The server side of one client-to-server XMPP stream, sans-I/O.

Theory of operation
-------------------

`XmppServerConnection` never touches a socket. The service feeds it what
the client sent (`receive_data`, or `receive_message` for one WebSocket
message), asks it for events (`next_event`), answers the events that need
an answer, and writes out what it produces (`data_to_send`, or
`messages_to_send` over WebSocket). The core answers alone whatever needs
no outside knowledge — XML, stream headers and features, the SASL
mechanics, stanza checks, stream errors — and asks the service the rest:
passwords and SCRAM keys, which account a user is, which resource to bind.

A stream is negotiated in stages (RFC 6120 §4.3), each a new stream over
the same connection, and the state records how far it got::

    state          top-level elements the client may send     leaves it
    ─────────────  ─────────────────────────────────────────  ───────────────────────────
    CONNECTED      <starttls/>, <auth/>, <response/>,         login_accepted() →
                   <abort/>; a stanza is not-authorized       AUTHENTICATED (restart)
    AUTHENTICATED  the bind IQ; nonzas; other stanzas are     bind_accepted() → BOUND
                   not-authorized
    BOUND          stanzas (checked and stamped), nonzas      —

The phase says how input is read now::

    phase     reads                                  leaves it
    ────────  ─────────────────────────────────────  ─────────────────────────────────
    HEADER    the client's stream header             header → STREAM (our header and
                                                     features); a bad one → CLOSING
    STREAM    top-level elements                     STARTTLS accepted → TLS; SASL
                                                     success → HEADER (restart); the
                                                     client's close → CLOSED; a stream
                                                     error → CLOSING (CLOSED if the
                                                     XML broke: nothing more to read)
    TLS       nothing (input dropped)                tls_established() → HEADER
    CLOSING   up to the client's closing tag         its close or EOF → CLOSED
    CLOSED    nothing                                —

Stream restarts (after TLS and after SASL) start a new parser: after TLS
on an empty buffer, since nothing sent before the handshake may count
(RFC 6120 §5.4.3.3); after SASL on the bytes that followed ``</auth>`` or
``</response>``. Over WebSocket each message is parsed alone and a
restart is the client's next ``<open/>`` (RFC 7395).

One rule keeps answers in order without bookkeeping: after an event in
`NEEDS_ANSWER` the core reads nothing further until the service has
answered, and every element, the core's own or the service's, is queued
in order. Calling `next_event` while an answer is owed raises
`XmppStateError`. The service writes out what the core queued every time
`next_event` returns None, before it reads again.

Errors split as in h11 (`roost.proto.xmpp.errors`): the client can make
the core send a stream error and close, never raise.
"""

from __future__ import annotations

import enum
from collections import deque

from roost.proto.sasl import SaslConfig, ScramCredentials
from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp import sm
from roost.proto.xmpp.auth import AskService, Refuse, SaslStage, SendChallenge, Step
from roost.proto.xmpp.binding import BindAsk, bind_result, classify
from roost.proto.xmpp.conditions import (
    SaslCondition,
    StanzaErrorCondition,
    StreamErrorCondition,
    condition_of,
)
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import JidMalformed, XmppStateError
from roost.proto.xmpp.events import (
    LOGIN_EVENTS,
    NEEDS_ANSWER,
    SASL_EVENTS,
    BindRequested,
    ConnectionLost,
    Event,
    Nonza,
    ScramKeysRequested,
    SmEnableRequested,
    SmResumeRequested,
    StartTlsRequested,
    StreamClosed,
    StreamFailed,
)
from roost.proto.xmpp.features import starttls_offered, stream_features
from roost.proto.xmpp.framing import StreamWriter
from roost.proto.xmpp.header import HeaderRefused, StreamHeader, peer_address, resolve_domain
from roost.proto.xmpp.jid import Jid
from roost.proto.xmpp.parser import (
    ParsedElement,
    ParserItem,
    StreamEnded,
    StreamFault,
    StreamOpened,
)
from roost.proto.xmpp.reader import StreamReader
from roost.proto.xmpp.settings import XmppSettings
from roost.proto.xmpp.sm import SM, SmSnapshot, StreamManagement, parse_h
from roost.proto.xmpp.stanzas import Accepted, Answered, Violation, error_reply, is_stanza


class State(enum.Enum):
    """How far the stream got; see the table in the module docstring."""

    CONNECTED = enum.auto()
    AUTHENTICATED = enum.auto()
    BOUND = enum.auto()


class Phase(enum.Enum):
    """How the core reads input now; see the table in the module docstring."""

    HEADER = enum.auto()
    STREAM = enum.auto()
    TLS = enum.auto()
    CLOSING = enum.auto()
    CLOSED = enum.auto()


class XmppServerConnection:
    """One client-to-server XMPP stream (RFC 6120), over TCP or WebSocket.

    ``tls`` is True for a connection that began with TLS (port 5223, or a
    ``wss:`` WebSocket); ``websocket`` selects RFC 7395 framing.
    """

    def __init__(
        self,
        settings: XmppSettings,
        *,
        sasl: SaslConfig,
        tls: bool = False,
        websocket: bool = False,
    ) -> None:
        self._settings = settings
        self._tls = tls
        self._writer = StreamWriter(settings, websocket=websocket)
        self._reader = StreamReader(settings, websocket=websocket)
        self._events: deque[Event] = deque()
        self._pending: Event | None = None
        self._phase = Phase.HEADER
        self._state = State.CONNECTED
        self._eof = False
        self._domain: str | None = None
        self._sasl = SaslStage(settings, sasl, websocket=websocket)
        self._user_jid: Jid | None = None
        self._jid: Jid | None = None
        self._bind_iq: Element | None = None
        self._sm = StreamManagement(settings.max_unacked_stanzas)

    # State the service may look at.

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def state(self) -> State:
        return self._state

    @property
    def closing(self) -> bool:
        """True once the stream is over or the core closed its side: write
        the last output, then close the connection."""
        return self._phase in (Phase.CLOSING, Phase.CLOSED)

    @property
    def tls(self) -> bool:
        return self._tls

    @property
    def websocket(self) -> bool:
        return self._writer.websocket

    @property
    def domain(self) -> str | None:
        """The hosted domain the client's stream header named."""
        return self._domain

    @property
    def stream_id(self) -> str | None:
        """The id of the server's current stream header (RFC 6120 §4.7.3)."""
        return self._writer.stream_id

    @property
    def user_jid(self) -> Jid | None:
        """The account's bare JID, once authenticated."""
        return self._user_jid

    @property
    def jid(self) -> Jid | None:
        """The full JID, once a resource is bound (RFC 6120 §7)."""
        return self._jid

    @property
    def stream_managed(self) -> bool:
        """Has XEP-0198 stream management been enabled (or resumed)?"""
        return self._sm.enabled

    def sm_snapshot(self) -> SmSnapshot | None:
        """The state a new stream may resume from (XEP-0198 §5), if the
        client enabled resumption; take it once the connection is gone."""
        return self._sm.snapshot()

    def sm_unacked(self) -> tuple[Element, ...]:
        """Stanzas sent that the client has not acknowledged: when the
        session ends for good, the service stores or bounces them
        (XEP-0198 §5 "the server SHOULD treat unacknowledged stanzas…")."""
        return tuple(self._sm.unacked)

    @property
    def awaiting(self) -> Event | None:
        """The event that waits for the service's answer, if any."""
        return self._pending

    # Bytes in and out.

    def receive_data(self, data: bytes) -> None:
        """Feed TCP bytes the client sent; ``b""`` means it closed its side
        (over WebSocket too: the connection went away)."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise XmppStateError("input after the end of input")
        if self._phase is not Phase.CLOSED:
            self._reader.feed(data)

    def receive_message(self, message: bytes) -> None:
        """Feed one WebSocket text message (RFC 7395: one element each)."""
        if self._eof:
            raise XmppStateError("input after the end of input")
        if self._phase is not Phase.CLOSED:
            self._reader.feed_message(message)

    def rest(self) -> bool:
        """The client has gone quiet: let the XML parser's state go until
        it speaks again (between stanzas of an open TCP stream only; see
        `XmlStreamParser.rest`). True if it was let go."""
        if self._events or self._pending is not None or self._phase is not Phase.STREAM:
            return False
        return self._reader.rest()

    def data_to_send(self) -> bytes:
        """Everything queued for a TCP client since the last call."""
        self._request_acks()
        return self._writer.take_bytes()

    def messages_to_send(self) -> list[bytes]:
        """The WebSocket messages queued since the last call, in order."""
        self._request_acks()
        return self._writer.take_messages()

    def next_event(self) -> Event | None:
        """The next event, or None when the core needs more input.

        Raises `XmppStateError` while an event waits for its answer,
        between an accepted STARTTLS and `tls_established`, and once the
        stream is closed (unless the client went away: then
        `ConnectionLost` again).
        """
        if self._pending is not None:
            raise XmppStateError(f"answer {type(self._pending).__name__} first")
        if self._phase is Phase.TLS:
            raise XmppStateError("call tls_established() after the handshake first")
        while not self._events:
            if self._phase is Phase.CLOSED:
                if self._eof:
                    return ConnectionLost()
                raise XmppStateError("the stream is closed")
            item = self._reader.next_item()
            if item is None:
                if not self._eof:
                    return None
                self._phase = Phase.CLOSED
                self._events.append(ConnectionLost())
                continue
            self._dispatch(item)
        event = self._events.popleft()
        if isinstance(event, NEEDS_ANSWER):
            self._pending = event
        return event

    # The service's answers.

    def accept(self) -> None:
        """Say yes to `StartTlsRequested`: queue ``<proceed/>`` and drop the
        rest of the plaintext input (RFC 6120 §5.4.2.3)."""
        self._answering("accept", (StartTlsRequested,))
        self._writer.element(Element("proceed", ns.TLS))
        self._reader.pause_for_tls()
        self._phase = Phase.TLS

    def tls_established(self) -> None:
        """The handshake after ``<proceed/>`` is done: the client opens a new
        stream over TLS (RFC 6120 §5.4.3.3)."""
        if self._phase is not Phase.TLS:
            raise XmppStateError("tls_established without an accepted STARTTLS")
        self._tls = True
        self._reader.resume_after_tls()
        self._restart()

    def login_accepted(self, jid: Jid) -> None:
        """The service accepted `PasswordLogin` or `Authenticated` as the
        account ``jid`` (bare, in the stream's domain): ``<success/>``, and
        the client restarts the stream (RFC 6120 §6.4.6)."""
        self._answering("login_accepted", LOGIN_EVENTS)
        if jid.local is None or not jid.is_bare or jid.domain != self._domain:
            raise XmppStateError("login_accepted needs a bare JID with a localpart in the domain")
        self._writer.element(self._sasl.accepted().element)
        self._state = State.AUTHENTICATED
        self._user_jid = jid
        self._reader.restart()
        self._restart()

    def scram_keys(self, credentials: ScramCredentials | None) -> None:
        """Answer `ScramKeysRequested`: the user's keys, or None if unknown."""
        self._answering("scram_keys", (ScramKeysRequested,))
        self._carry_out(self._sasl.scram_keys(credentials))

    def reject(self, condition: SaslCondition = SaslCondition.NOT_AUTHORIZED) -> None:
        """Say no to a login event (a SASL ``<failure/>`` with ``condition``,
        RFC 6120 §6.5) or to `StartTlsRequested` (``<failure/>`` of the TLS
        namespace and the stream closes, §5.4.2.2)."""
        event = self._answering("reject", (StartTlsRequested, *SASL_EVENTS))
        if isinstance(event, StartTlsRequested):
            self._writer.element(Element("failure", ns.TLS))
            self._close_stream()
            return
        self._carry_out(self._sasl.reject(condition))

    def bind_accepted(self, resource: str) -> None:
        """Bind ``resource`` (RFC 6120 §7.6.1): the result carries the full JID."""
        self._answering("bind_accepted", (BindRequested,))
        assert self._user_jid is not None and self._bind_iq is not None
        try:
            jid = self._user_jid.with_resource(resource)
        except JidMalformed as e:
            raise XmppStateError(f"bind_accepted with an invalid resource: {e}") from e
        self._writer.element(bind_result(self._bind_iq, jid))
        self._bind_iq = None
        self._jid, self._state = jid, State.BOUND

    def bind_refused(self, condition: StanzaErrorCondition, text: str | None = None) -> None:
        """Refuse `BindRequested` with an IQ error: ``conflict``,
        ``not-allowed``, ``resource-constraint`` (RFC 6120 §7.6.2, §7.7.2)."""
        self._answering("bind_refused", (BindRequested,))
        assert self._bind_iq is not None
        self._writer.element(error_reply(self._bind_iq, condition, text=text))
        self._bind_iq = None

    def sm_enabled(self, resume_id: str | None, max_s: int | None = None) -> None:
        """Answer `SmEnableRequested`: ``<enabled/>``, with ``resume_id`` and
        ``max_s`` if the session may be resumed (XEP-0198 §3)."""
        self._answering("sm_enabled", (SmEnableRequested,))
        self._writer.element(sm.enabled(resume_id, max_s))
        self._sm.enable(resume_id)

    def sm_refused(self) -> None:
        """Answer `SmEnableRequested` with ``<failed/>`` (XEP-0198 §3)."""
        self._answering("sm_refused", (SmEnableRequested,))
        self._writer.element(sm.failed("feature-not-implemented"))

    def sm_resumed(self, jid: Jid, snapshot: SmSnapshot) -> bool:
        """Answer `SmResumeRequested`: this stream continues the parked
        session ``jid`` (XEP-0198 §5): ``<resumed/>``, then the stanzas the
        client's ``h`` says it lacks, again. False (and ``<failed/>`` with
        ``handled-count-too-high``) if its ``h`` counts stanzas never sent."""
        event = self._pending
        if not isinstance(event, SmResumeRequested):
            raise XmppStateError(f"sm_resumed() does not answer {type(event).__name__}")
        if jid.is_bare or jid.bare != self._user_jid or snapshot.id != event.previd:
            raise XmppStateError("sm_resumed needs a session of the authenticated account")
        self._pending = None
        again = self._sm.resume(snapshot, event.h)
        if again is None:
            too_high = Element("handled-count-too-high", SM)
            self._writer.element(sm.failed("undefined-condition", snapshot.inbound, extra=too_high))
            return False
        self._jid, self._state = jid, State.BOUND
        self._writer.element(sm.resumed(snapshot.id, snapshot.inbound))
        for stanza in again:
            self._emit_stanza(stanza)
        return True

    def sm_resume_failed(self) -> None:
        """Answer `SmResumeRequested` with ``<failed><item-not-found/>``: no
        such session (any more); the client binds a new one (§5)."""
        self._answering("sm_resume_failed", (SmResumeRequested,))
        self._writer.element(sm.failed("item-not-found"))

    def send(self, element: Element) -> bool:
        """Queue a stanza (once bound) or a nonza (once authenticated) for
        the client. False if the stream is closing: nothing was queued."""
        if self.closing:
            return False
        needed = State.BOUND if is_stanza(element) else State.AUTHENTICATED
        if self._state is State.CONNECTED or (needed is State.BOUND and self._jid is None):
            raise XmppStateError(f"cannot send <{element.name}> before {needed.name}")
        if self._phase is not Phase.STREAM:
            raise XmppStateError("cannot send while the stream restarts")
        if needed is State.BOUND:
            self._emit_stanza(element)
        else:
            self._writer.element(element)
        return True

    def close(self, condition: StreamErrorCondition | None = None, text: str | None = None) -> None:
        """Close the stream, with a stream error if ``condition`` is given
        (``connection-timeout``, ``system-shutdown``, ``conflict`` for a
        replaced resource, ``not-authorized`` for a disabled account…)."""
        if self.closing:
            return
        self._pending = None
        self._sasl.drop()
        if self._phase is Phase.TLS:
            self._phase = Phase.CLOSED
        elif condition is not None:
            self._writer.error(condition, text, self._domain)
            self._phase = Phase.CLOSING
        else:
            self._close_stream()

    # Reading input.

    def _dispatch(self, item: ParserItem) -> None:
        match item, self._phase:
            case StreamFault(), Phase.CLOSING:
                self._phase = Phase.CLOSED
                self._events.append(StreamClosed())
            case StreamFault(condition=condition, detail=detail), _:
                self._fail(condition, detail)
                if not self.websocket:
                    self._phase = Phase.CLOSED  # the parser can read no further
            case StreamEnded(), _:
                self._client_closed(None)
            case _, Phase.CLOSING:
                pass  # RFC 6120 §4.4: nothing more is processed after our close
            case StreamOpened(header=header), Phase.HEADER:
                self._open(header)
            case StreamOpened(), _:
                self._fail(StreamErrorCondition.BAD_FORMAT, "the stream is open already")
            case ParsedElement(), Phase.HEADER:
                self._fail(StreamErrorCondition.BAD_FORMAT, "expected <open/>")
            case ParsedElement(element=element), _:
                self._element(element)

    def _open(self, header: StreamHeader) -> None:
        """The client's stream header (RFC 6120 §4.7): answer with ours and
        the features, or with ``host-unknown``."""
        try:
            hosted = self._settings.domains
            self._domain = resolve_domain(header.to, hosted=hosted, previous=self._domain)
        except HeaderRefused as refused:
            self._fail(refused.condition, refused.detail)
            return
        self._writer.header(self._domain, peer_address(header.from_))
        features = stream_features(
            self._settings,
            tls=self._tls,
            websocket=self.websocket,
            authenticated=self._state is not State.CONNECTED,
        )
        self._writer.element(features)
        self._phase = Phase.STREAM

    def _element(self, element: Element) -> None:
        connected = self._state is State.CONNECTED
        match element.namespace, element.name:
            case ns.TLS, "starttls":
                self._starttls()
            case ns.SASL, "auth" if connected:
                assert self._domain is not None
                self._carry_out(self._sasl.auth(element, tls=self._tls, domain=self._domain))
            case ns.SASL, "response" if connected:
                self._carry_out(self._sasl.respond(element))
            case ns.SASL, "abort" if connected:
                self._carry_out(self._sasl.abort())
            case ns.STREAM, "error":
                self._client_closed(condition_of(element, ns.STREAMS))
            case ns.CLIENT, "message" | "presence" | "iq":
                self._stanza(element)
            case sm.SM, name if not connected and self._settings.stream_management:
                self._stream_management(name, element)
            case namespace, _ if not connected and namespace in self._settings.nonza_namespaces:
                self._events.append(Nonza(element))
            case _:
                self._fail(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE, "unknown element")

    def _starttls(self) -> None:
        offered = starttls_offered(self._settings, tls=self._tls, websocket=self.websocket)
        if self._state is not State.CONNECTED or not offered:
            self._writer.element(Element("failure", ns.TLS))
            self._close_stream()
            self._events.append(StreamFailed(None, "STARTTLS is not offered on this stream"))
            return
        self._events.append(StartTlsRequested())

    def _carry_out(self, step: Step) -> None:
        match step:
            case SendChallenge(element=element):
                self._writer.element(element)
            case AskService(event=event):
                self._events.append(event)
            case Refuse(element=element, notice=notice):
                self._writer.element(element)
                if notice is not None:
                    self._events.append(notice)
                if self._sasl.exhausted:
                    self._fail(StreamErrorCondition.POLICY_VIOLATION, "too many failed logins")
            case _:
                raise XmppStateError(f"unexpected SASL step {type(step).__name__}")

    def _stream_management(self, name: str, element: Element) -> None:
        """XEP-0198 nonzas: ``<r/>`` and ``<a/>`` are the core's; ``<enable/>``
        and ``<resume/>`` the service's (§3, §4, §5)."""
        bound = self._state is State.BOUND
        match name:
            case "enable" if bound and not self._sm.enabled:
                resume = element.get("resume") in ("true", "1")
                max_s = parse_h(element.get("max"))
                self._events.append(SmEnableRequested(resume, max_s))
            case "resume" if not bound and not self._sm.enabled:
                previd, h = element.get("previd"), parse_h(element.get("h"))
                if not previd or h is None:
                    self._writer.element(sm.failed("bad-request"))
                    return
                self._events.append(SmResumeRequested(previd, h))
            case "enable" | "resume":
                self._writer.element(sm.failed("unexpected-request"))
            case "r" if self._sm.enabled:
                self._writer.element(sm.answer(self._sm.inbound))
            case "a" if self._sm.enabled:
                h = parse_h(element.get("h"))
                if h is None:
                    self._fail(StreamErrorCondition.BAD_FORMAT, "<a/> without a valid h")
                elif not self._sm.ack(h):
                    # XEP-0198 §4: a count of stanzas never sent.
                    self._fail(StreamErrorCondition.UNDEFINED_CONDITION, "handled-count-too-high")
            case "r" | "a":
                self._writer.element(sm.failed("unexpected-request"))
            case _:
                self._fail(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE, "unknown element")

    def _emit_stanza(self, stanza: Element) -> None:
        """Queue a stanza for the client, and count it (XEP-0198 §4)."""
        self._writer.element(stanza)
        if not self._sm.sent(stanza):
            self._fail(StreamErrorCondition.RESOURCE_CONSTRAINT, "too many unacknowledged stanzas")

    def _request_acks(self) -> None:
        if self._phase is Phase.STREAM and self._sm.request_due():
            self._writer.element(sm.request())

    def _stanza(self, stanza: Element) -> None:
        self._sm.received()  # XEP-0198 §4: every stanza counts, answered here or not
        authenticated = self._state is not State.CONNECTED
        match classify(stanza, authenticated=authenticated, full_jid=self._jid):
            case Accepted(event=event):
                self._events.append(event)
            case BindAsk(iq=iq, resource=resource):
                self._bind_iq = iq
                self._events.append(BindRequested(resource))
            case Answered(reply=reply):
                self._emit_stanza(reply)
            case Violation(condition=condition, detail=detail):
                self._fail(condition, detail)
            case _:
                pass  # Dropped: an error stanza is never answered (RFC 6120 §8.3.1)

    # Output and endings.

    def _answering(self, method: str, kinds: tuple[type[Event], ...]) -> Event:
        event = self._pending
        if event is None or not isinstance(event, kinds):
            raise XmppStateError(f"{method}() does not answer {type(event).__name__}")
        self._pending = None
        return event

    def _restart(self) -> None:
        """RFC 6120 §4.3.3: the client opens a new stream; so will we."""
        self._phase = Phase.HEADER
        self._writer.new_stream()

    def _close_stream(self) -> None:
        self._writer.close(self._domain)
        self._phase = Phase.CLOSING
        self._sasl.drop()

    def _fail(self, condition: StreamErrorCondition, detail: str) -> None:
        """The client broke the protocol: a stream error (RFC 6120 §4.9)."""
        self._writer.error(condition, detail, self._domain)
        self._phase = Phase.CLOSING
        self._sasl.drop()
        self._events.append(StreamFailed(condition, detail))

    def _client_closed(self, error: str | None) -> None:
        """RFC 6120 §4.4: answer the client's closing tag with ours."""
        if self._phase is not Phase.CLOSING:
            self._writer.close(self._domain)
        self._phase = Phase.CLOSED
        self._sasl.drop()
        self._events.append(StreamClosed(error))
