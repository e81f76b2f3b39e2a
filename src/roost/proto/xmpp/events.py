"""Events the XMPP core emits.

Events in `NEEDS_ANSWER` stop the core: it reads nothing further until
the service answers through the methods each event names. The other
events are notices.

What a service answers:

====================  ==========================================================
event                 answer
====================  ==========================================================
StartTlsRequested     ``accept()``, write, the handshake, ``tls_established()``;
                      or ``reject()`` (``<failure/>`` and the stream closes)
PasswordLogin         ``login_accepted(bare_jid)`` or ``reject(condition)``
ScramKeysRequested    ``scram_keys(credentials or None)`` or ``reject(condition)``
Authenticated         ``login_accepted(bare_jid)`` or ``reject(condition)``
BindRequested         ``bind_accepted(resource)`` or ``bind_refused(condition)``
SmEnableRequested     ``sm_enabled(resume_id or None, max_s)`` or ``sm_refused()``
SmResumeRequested     ``sm_resumed(jid, snapshot)`` or ``sm_resume_failed()``
====================  ==========================================================

No event shows a secret or a stanza's content in its ``repr`` (DESIGN.md:
never log passwords, AUTH data or message bodies), so events may be
logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.proto.sasl import FailureReason, ScramAlgorithm
from roost.proto.xmpp.conditions import StreamErrorCondition
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.jid import Jid

# Events that need an answer.


@dataclass(frozen=True, slots=True)
class StartTlsRequested:
    """``<starttls/>`` (RFC 6120 §5.4.2.1). Answer `accept`: the core
    queues ``<proceed/>`` and drops whatever the client sent after its
    request; write it, run the TLS handshake on the socket — every byte
    read from now on is TLS — and call `tls_established`."""


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """PLAIN (RFC 4616) gave a user name and password: check them and map
    the user to an account (RFC 6120 §6.3.7: ``user`` is usually the
    localpart of ``domain``).

    Answer `login_accepted` with the account's bare JID, which must be in
    ``domain``; or `reject` with ``not-authorized``, ``account-disabled``,
    ``credentials-expired``, ``temporary-auth-failure``….
    """

    user: str
    password: str = field(repr=False)
    domain: str
    via: str = "PLAIN"


@dataclass(frozen=True, slots=True)
class ScramKeysRequested:
    """A SCRAM exchange needs ``user``'s stored keys (RFC 5802 §5.1).

    Answer `scram_keys` with them, or with None when the user is unknown
    (the exchange then plays on with fake keys, so nobody can tell); or
    `reject`, e.g. with ``temporary-auth-failure`` when the directory is
    down.
    """

    user: str
    algorithm: ScramAlgorithm
    domain: str


@dataclass(frozen=True, slots=True)
class Authenticated:
    """SCRAM proved ``user`` without a password check. Answer like
    `PasswordLogin`: `login_accepted` or `reject` (a disabled account)."""

    user: str
    via: str
    domain: str


@dataclass(frozen=True, slots=True)
class BindRequested:
    """The client asks for a resource (RFC 6120 §7.6, §7.7); ``resource`` is its
    wish, prepared (RFC 7622 §3.4), or None for one the server picks.

    The conflict policy is the service's: answer `bind_accepted` with the
    resource to bind — the wish, a fresh one (`random_resource`), or the
    wish after closing the session that holds it with a ``conflict``
    stream error (RFC 6120 §7.7.2.2) — or `bind_refused` with
    ``conflict``, ``not-allowed`` or ``resource-constraint``.
    """

    resource: str | None


@dataclass(frozen=True, slots=True)
class SmEnableRequested:
    """XEP-0198 §3 ``<enable/>`` on a bound stream; ``resume`` if the client
    asks to be able to resume, ``max_s`` its preferred resumption time.
    Answer `sm_enabled` (with a resumption id, or None for counting and
    acks only) or `sm_refused`."""

    resume: bool
    max_s: int | None


@dataclass(frozen=True, slots=True)
class SmResumeRequested:
    """XEP-0198 §5 ``<resume/>`` on an authenticated, unbound stream: the
    client handled ``h`` stanzas of the session ``previd``. Answer
    `sm_resumed` with the parked session's full JID and `SmSnapshot`, or
    `sm_resume_failed` (``item-not-found``: the client may bind anew)."""

    previd: str
    h: int


# Notices.


@dataclass(frozen=True, slots=True)
class AuthFailed:
    """A SASL attempt ended without the service deciding: a wrong SCRAM
    proof (``reason`` BAD_CREDENTIALS or UNKNOWN_USER — one reply to the
    client, apart here for throttling), a malformed or aborted exchange,
    a mechanism not offered. ``user`` is the name given, if any."""

    via: str
    reason: FailureReason
    user: str | None = None


@dataclass(frozen=True, slots=True, repr=False)
class Message:
    """A ``<message/>`` from the bound client (RFC 6120 §8.2.1), its
    ``from`` stamped with the full JID (§8.1.2.1). ``to`` is the
    prepared address, None when the client named none (its own account)."""

    stanza: Element
    to: Jid | None

    def __repr__(self) -> str:
        return f"Message(to={self.to}, type={self.stanza.get('type')})"


@dataclass(frozen=True, slots=True, repr=False)
class Presence:
    """A ``<presence/>`` from the bound client (RFC 6120 §8.2.2), stamped
    with the full JID, or the bare JID for subscription requests and
    answers (RFC 6121 §3.1.2)."""

    stanza: Element
    to: Jid | None

    def __repr__(self) -> str:
        return f"Presence(to={self.to}, type={self.stanza.get('type')})"


@dataclass(frozen=True, slots=True, repr=False)
class Iq:
    """A valid ``<iq/>`` from the bound client (RFC 6120 §8.2.3), stamped.

    ``payload`` is the one child of a get or set, the child of a result
    if any, or None. Every get and set needs an answer (a result or an
    error, `roost.proto.xmpp.stanzas.error_reply`), or the client waits.
    """

    stanza: Element
    to: Jid | None
    id: str
    type: str
    payload: Element | None

    def __repr__(self) -> str:
        payload = self.payload
        what = f"{{{payload.namespace}}}{payload.name}" if payload is not None else None
        return f"Iq(to={self.to}, type={self.type}, payload={what})"


@dataclass(frozen=True, slots=True, repr=False)
class Nonza:
    """A top-level element other than a stanza, in one of
    `XmppSettings.nonza_namespaces`, on an authenticated stream (XEP-0198
    stream management, XEP-0352 client state). The core does not answer
    it; the service may, with `send`."""

    element: Element

    def __repr__(self) -> str:
        return f"Nonza({{{self.element.namespace}}}{self.element.name})"


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The client closed its stream (RFC 6120 §4.4; RFC 7395 ``<close/>``); the
    core answered with its own closing tag unless it had sent one. Write
    `data_to_send`, then close. ``error`` is the condition of a stream
    error the client sent, if it sent one."""

    error: str | None = None


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The client broke the protocol: the core queued a stream error and
    its closing tag (RFC 6120 §4.9). Write `data_to_send`, then close; in
    `Phase.CLOSING` the core can still read up to the client's closing
    tag, if the service wants to wait for it (§4.4).

    ``condition`` is None when the core refused a ``<starttls/>`` it had
    not offered: RFC 6120 §5.4.2.2 answers that with the TLS namespace's
    ``<failure/>`` and a closing tag, not a stream error.
    """

    condition: StreamErrorCondition | None
    detail: str


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The client went away without closing its stream."""


Event = (
    StartTlsRequested
    | PasswordLogin
    | ScramKeysRequested
    | Authenticated
    | BindRequested
    | SmEnableRequested
    | SmResumeRequested
    | AuthFailed
    | Message
    | Presence
    | Iq
    | Nonza
    | StreamClosed
    | StreamFailed
    | ConnectionLost
)
"""Any event `XmppServerConnection.next_event` returns."""

NEEDS_ANSWER = (
    StartTlsRequested,
    PasswordLogin,
    ScramKeysRequested,
    Authenticated,
    BindRequested,
    SmEnableRequested,
    SmResumeRequested,
)
"""The event types the service must answer before the core goes on."""

LOGIN_EVENTS = (PasswordLogin, Authenticated)
"""The events `login_accepted` answers."""

SASL_EVENTS = (PasswordLogin, ScramKeysRequested, Authenticated)
"""The events `reject` answers with a SASL failure."""
