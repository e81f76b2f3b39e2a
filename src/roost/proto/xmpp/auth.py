"""SASL in XMPP (RFC 6120 §6) over the shared exchange of `roost.proto.sasl`.

RFC 6120 §6.4 frames SASL in elements of the ``xmpp-sasl`` namespace::

    C: <auth mechanism='SCRAM-SHA-1'>base64 client-first</auth>
    S: <challenge>base64 server-first</challenge>
    C: <response>base64 client-final</response>
    S: <success>base64 server-final</success>        additional data with success

An ``<auth/>`` without text has no initial response, and one holding
``=`` an empty one (§6.4.2); an empty ``<response/>`` (or ``=``) is an
empty response. ``<abort/>`` cancels (§6.4.4). Base64 that does not
decode earns ``incorrect-encoding`` (§6.5.5).

`SaslNegotiation` runs one exchange and translates both ways: elements
into exchange inputs, and each exchange event into a `Step` the
connection carries out — send a challenge, ask the service, succeed, or
refuse with the ``<failure/>`` that `failure_condition` picks.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from roost.proto.sasl import (
    Challenge,
    Failure,
    FailureReason,
    Mechanism,
    NeedPassword,
    NeedScramKeys,
    SaslConfig,
    SaslExchange,
    ScramCredentials,
    Success,
)
from roost.proto.sasl import Event as SaslEvent
from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import SaslCondition, sasl_failure
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import XmppStateError
from roost.proto.xmpp.events import Authenticated, AuthFailed, PasswordLogin, ScramKeysRequested
from roost.proto.xmpp.features import tls_required_first
from roost.proto.xmpp.settings import XmppSettings

_WHITESPACE = " \t\r\n"
_EMPTY = "="


def failure_condition(reason: FailureReason) -> SaslCondition:
    """The RFC 6120 §6.5 condition for a failed exchange; UNKNOWN_USER and
    BAD_CREDENTIALS read the same, or the reply would tell which accounts
    exist."""
    match reason:
        case FailureReason.BAD_CREDENTIALS | FailureReason.UNKNOWN_USER:
            return SaslCondition.NOT_AUTHORIZED
        case FailureReason.AUTHZID_NOT_ALLOWED:
            return SaslCondition.INVALID_AUTHZID
        case FailureReason.CANCELLED:
            return SaslCondition.ABORTED
        case FailureReason.MECHANISM_UNKNOWN:
            return SaslCondition.INVALID_MECHANISM
        case FailureReason.ENCRYPTION_REQUIRED:
            return SaslCondition.ENCRYPTION_REQUIRED
        case FailureReason.TEMPORARY:
            return SaslCondition.TEMPORARY_AUTH_FAILURE
        case FailureReason.MALFORMED | FailureReason.RESPONSE_TOO_LONG:
            return SaslCondition.MALFORMED_REQUEST


def decode_payload(text: str, *, initial: bool) -> bytes | None:
    """The bytes of an ``<auth/>`` or ``<response/>`` (RFC 6120 §6.4.2).

    None for an ``<auth/>`` without text (no initial response).

    Raises:
        ValueError: the text is not base64.
    """
    text = text.strip(_WHITESPACE)
    if not text:
        return None if initial else b""
    if text == _EMPTY:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise ValueError("not base64") from e


def challenge_element(data: bytes) -> Element:
    """``<challenge/>`` carrying ``data`` (RFC 6120 §6.4.3)."""
    return Element.of("challenge", ns.SASL, children=[base64.b64encode(data).decode("ascii")])


def success_element(data: bytes | None) -> Element:
    """``<success/>``, with additional data if any (RFC 6120 §6.4.6)."""
    text = [] if not data else [base64.b64encode(data).decode("ascii")]
    return Element.of("success", ns.SASL, children=text)


# What the connection does next.


@dataclass(frozen=True, slots=True)
class SendChallenge:
    """Send ``element`` and wait for ``<response/>`` or ``<abort/>``."""

    element: Element


@dataclass(frozen=True, slots=True)
class AskService:
    """Emit ``event`` and wait for the service's answer."""

    event: PasswordLogin | ScramKeysRequested | Authenticated


@dataclass(frozen=True, slots=True)
class Succeed:
    """Send ``element`` (``<success/>``), then restart the stream."""

    element: Element


@dataclass(frozen=True, slots=True)
class Refuse:
    """Send ``element`` (``<failure/>``); emit ``notice`` if there is one.
    ``counts`` says whether the attempt counts against
    `XmppSettings.max_auth_failures` (an abort does not)."""

    element: Element
    notice: AuthFailed | None
    counts: bool


Step = SendChallenge | AskService | Succeed | Refuse


def refuse(condition: SaslCondition, notice: AuthFailed | None = None) -> Refuse:
    """A failure with ``condition``."""
    return Refuse(sasl_failure(condition), notice, condition is not SaslCondition.ABORTED)


class SaslNegotiation:
    """One SASL exchange; create it with `start`."""

    __slots__ = ("_domain", "_exchange", "_final", "_user", "_via")

    def __init__(self, exchange: SaslExchange, via: str, domain: str) -> None:
        """Internal: use `start`."""
        self._exchange = exchange
        self._via = via
        self._domain = domain
        self._user: str | None = None
        self._final: bytes | None = None

    @classmethod
    def start(
        cls,
        auth: Element,
        *,
        settings: XmppSettings,
        config: SaslConfig,
        tls: bool,
        domain: str,
    ) -> tuple[SaslNegotiation | None, Step]:
        """Begin the exchange ``<auth/>`` asks for (RFC 6120 §6.4.2); None
        with a `Refuse` when it cannot even begin."""
        name = auth.get("mechanism") or ""
        found = Mechanism.from_name(name)
        if found is None or found.value not in settings.sasl_mechanisms:
            notice = AuthFailed(via=name[:20], reason=FailureReason.MECHANISM_UNKNOWN)
            return None, refuse(SaslCondition.INVALID_MECHANISM, notice)
        try:
            initial = decode_payload(auth.text, initial=True)
        except ValueError:
            notice = AuthFailed(via=found.value, reason=FailureReason.MALFORMED)
            return None, refuse(SaslCondition.INCORRECT_ENCODING, notice)
        exchange, event = SaslExchange.start(
            found.value,
            initial,
            config=config,
            tls=tls,
            allow_plaintext=settings.plaintext_auth_allowed,
            success_data_allowed=True,
        )
        negotiation = cls(exchange, found.value, domain)
        step = negotiation._step(event)
        return (None if isinstance(step, Refuse) else negotiation), step

    @property
    def via(self) -> str:
        return self._via

    def respond(self, response: Element) -> Step:
        """Take ``<response/>`` (RFC 6120 §6.4.3)."""
        try:
            data = decode_payload(response.text, initial=False)
        except ValueError:
            self._exchange.cancel()
            return refuse(SaslCondition.INCORRECT_ENCODING, self._notice(FailureReason.MALFORMED))
        assert data is not None
        return self._step(self._exchange.receive_response(data))

    def abort(self) -> Step:
        """Take ``<abort/>`` (RFC 6120 §6.4.4)."""
        return self._step(self._exchange.cancel())

    def scram_keys(self, credentials: ScramCredentials | None) -> Step:
        """The service's answer to `ScramKeysRequested`."""
        return self._step(self._exchange.scram_keys(credentials))

    def accepted(self) -> Succeed:
        """The service accepted the login asked for by `PasswordLogin` or
        `Authenticated`: the ``<success/>`` to send."""
        if self._final is not None:
            return Succeed(success_element(self._final))
        event = self._exchange.password_result(True)
        if not isinstance(event, Success):
            raise XmppStateError(f"SASL exchange did not succeed after the password: {event}")
        return Succeed(success_element(event.final_data))

    def _notice(self, reason: FailureReason) -> AuthFailed:
        return AuthFailed(via=self._via, reason=reason, user=self._user)

    def _step(self, event: SaslEvent) -> Step:
        match event:
            case Challenge(data=data):
                return SendChallenge(challenge_element(data))
            case NeedPassword(authcid=user, password=password):
                self._user = user
                return AskService(PasswordLogin(user, password, self._domain, self._via))
            case NeedScramKeys(authcid=user, algorithm=algorithm):
                self._user = user
                return AskService(ScramKeysRequested(user, algorithm, self._domain))
            case Success(final_data=final):
                self._final = final or b""
                return AskService(Authenticated(event.identity, self._via, self._domain))
            case Failure(reason=reason):
                return refuse(failure_condition(reason), self._notice(reason))


class SaslStage:
    """The SASL stage of one connection: one negotiation at a time, and the
    failed attempts counted against `XmppSettings.max_auth_failures`."""

    __slots__ = ("_config", "_failures", "_negotiation", "_settings", "_websocket")

    def __init__(self, settings: XmppSettings, config: SaslConfig, *, websocket: bool) -> None:
        self._settings = settings
        self._config = config
        self._websocket = websocket
        self._negotiation: SaslNegotiation | None = None
        self._failures = 0

    @property
    def exhausted(self) -> bool:
        """Have the failed attempts reached the limit (RFC 6120 §6.4.5)?"""
        return self._failures >= self._settings.max_auth_failures

    def auth(self, auth: Element, *, tls: bool, domain: str) -> Step:
        """``<auth/>``: begin a negotiation (RFC 6120 §6.4.2); refused
        while STARTTLS must come first (§5.3.1)."""
        if tls_required_first(self._settings, tls=tls, websocket=self._websocket):
            return self._outcome(refuse(SaslCondition.ENCRYPTION_REQUIRED))
        if self._negotiation is not None:
            return self._outcome(refuse(SaslCondition.MALFORMED_REQUEST))
        self._negotiation, step = SaslNegotiation.start(
            auth, settings=self._settings, config=self._config, tls=tls, domain=domain
        )
        return self._outcome(step)

    def respond(self, response: Element) -> Step:
        """``<response/>`` (RFC 6120 §6.4.3)."""
        if self._negotiation is None:
            return self._outcome(refuse(SaslCondition.MALFORMED_REQUEST))
        return self._outcome(self._negotiation.respond(response))

    def abort(self) -> Step:
        """``<abort/>`` (RFC 6120 §6.4.4)."""
        if self._negotiation is None:
            return self._outcome(refuse(SaslCondition.ABORTED))
        return self._outcome(self._negotiation.abort())

    def scram_keys(self, credentials: ScramCredentials | None) -> Step:
        """The service's answer to `ScramKeysRequested`."""
        return self._outcome(self._running().scram_keys(credentials))

    def reject(self, condition: SaslCondition) -> Step:
        """The service refused a login event."""
        self._running()
        return self._outcome(refuse(condition))

    def accepted(self) -> Succeed:
        """The service accepted a login event: the ``<success/>`` to send."""
        succeed = self._running().accepted()
        self._negotiation = None
        return succeed

    def drop(self) -> None:
        """The stream is over: forget the negotiation in progress."""
        self._negotiation = None

    def _running(self) -> SaslNegotiation:
        if self._negotiation is None:
            raise XmppStateError("no SASL negotiation is running")
        return self._negotiation

    def _outcome(self, step: Step) -> Step:
        if isinstance(step, Refuse):
            self._negotiation = None
            self._failures += step.counts
        return step
