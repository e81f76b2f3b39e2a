"""One server-side SASL authentication attempt, as a sans-I/O state machine.

Theory of operation
-------------------

RFC 4422 §3 describes every SASL exchange alike: the client names a
mechanism, perhaps with an initial response; the server answers with
challenges, the client with responses, until the server reports success or
failure. Roost adds one twist: where the server needs the directory (is
this password right? what are this user's SCRAM keys?) the exchange stops
and says so with an event, and the service answers later with a method
call. No I/O and no waiting happen in here.

`SaslExchange.start` returns the exchange and its first event. Each later
input returns exactly one event, and the event alone decides the state::

    event           state after it          inputs accepted in that state
    ─────────────   ─────────────────────   ─────────────────────────────────
    Challenge       AWAITING_RESPONSE       receive_response, cancel
    NeedPassword    AWAITING_PASSWORD       password_result, service_failed
    NeedScramKeys   AWAITING_SCRAM_KEYS     scram_keys, service_failed
    Success         SUCCEEDED               —
    Failure         FAILED                  —

Client inputs (`receive_response`, `cancel`) never raise: in a state that
does not expect them they fail the exchange, or, once it is over, return a
`Failure` and leave the outcome as it was. Service inputs in a state that
does not expect them raise `SaslStateError`, since only a bug sends them.

Protocols differ in how SCRAM's server-final message reaches the client
(RFC 4422 §5 item 4(d)): XMPP carries it in ``<success>`` (RFC 6120
§6.4.6), SMTP cannot (RFC 4954 §4) and sends it as a last challenge that
the client answers empty. ``success_data_allowed`` chooses; this module
does the conversion so mechanisms need not know.
"""

from __future__ import annotations

import enum

from roost.proto.sasl.config import SaslConfig
from roost.proto.sasl.credentials import ScramCredentials
from roost.proto.sasl.errors import SaslStateError
from roost.proto.sasl.events import (
    Challenge,
    Event,
    Failure,
    FailureReason,
    NeedPassword,
    NeedScramKeys,
    Outcome,
    Success,
)
from roost.proto.sasl.login import LoginEngine
from roost.proto.sasl.mechanisms import Mechanism, password_mechanisms_allowed
from roost.proto.sasl.plain import PlainEngine
from roost.proto.sasl.scram import ScramEngine


class ExchangeState(enum.Enum):
    """Where an exchange stands; see the table in the module docstring."""

    AWAITING_RESPONSE = enum.auto()
    AWAITING_PASSWORD = enum.auto()
    AWAITING_SCRAM_KEYS = enum.auto()
    SUCCEEDED = enum.auto()
    FAILED = enum.auto()

    @property
    def finished(self) -> bool:
        """True once success or failure was reported."""
        return self in (ExchangeState.SUCCEEDED, ExchangeState.FAILED)


def authzid_allowed(authzid: str, authcid: str) -> bool:
    """May `authcid` act as `authzid`? (RFC 4422 §3.4.1)

    Roost has no proxy authorization yet: only an empty authzid, or one
    equal to the authentication identity, is accepted.
    """
    return authzid in ("", authcid)


_Engine = PlainEngine | LoginEngine | ScramEngine


def _state_after(event: Event) -> ExchangeState:
    match event:
        case Challenge():
            return ExchangeState.AWAITING_RESPONSE
        case NeedPassword():
            return ExchangeState.AWAITING_PASSWORD
        case NeedScramKeys():
            return ExchangeState.AWAITING_SCRAM_KEYS
        case Success():
            return ExchangeState.SUCCEEDED
        case Failure():
            return ExchangeState.FAILED


class SaslExchange:
    """A SASL authentication attempt; create it with `SaslExchange.start`."""

    def __init__(
        self,
        mechanism: Mechanism | None,
        engine: _Engine | None,
        *,
        config: SaslConfig,
        success_data_allowed: bool,
    ) -> None:
        """Internal: use `start`, which also gives the first event."""
        self._mechanism = mechanism
        self._engine = engine
        self._config = config
        self._success_data_allowed = success_data_allowed
        self._state = ExchangeState.FAILED
        self._outcome: Outcome | None = None
        self._need_password: NeedPassword | None = None
        self._success_after_ack: Success | None = None

    @classmethod
    def start(
        cls,
        mechanism: str,
        initial_response: bytes | None = None,
        *,
        config: SaslConfig,
        tls: bool,
        allow_plaintext: bool,
        success_data_allowed: bool = False,
    ) -> tuple[SaslExchange, Event]:
        """Begin an exchange the client asked for (RFC 4422 §3.2, §3.3).

        Args:
            mechanism: the name the client sent, in any case.
            initial_response: the decoded initial response; ``None`` when
                the client sent none, ``b""`` when it sent an empty one
                (RFC 4422 §5 item 2(c): SMTP and IMAP write ``=``).
            config: the service's settings.
            tls: the connection is TLS-protected.
            allow_plaintext: the administrator allows password mechanisms
                without TLS here.
            success_data_allowed: the protocol can send data with its
                success reply (XMPP); otherwise such data comes as a last
                challenge (SMTP, IMAP, POP3).
        """
        found = Mechanism.from_name(mechanism)
        engine: _Engine | None
        match found:
            case Mechanism.PLAIN:
                engine = PlainEngine()
            case Mechanism.LOGIN:
                engine = LoginEngine()
            case Mechanism.SCRAM_SHA_1 | Mechanism.SCRAM_SHA_256:
                algorithm = found.scram_algorithm
                assert algorithm is not None
                engine = ScramEngine(algorithm, config)
            case None:
                engine = None
        exchange = cls(found, engine, config=config, success_data_allowed=success_data_allowed)
        return exchange, exchange._begin(initial_response, tls=tls, allow_plaintext=allow_plaintext)

    @property
    def mechanism(self) -> Mechanism | None:
        """The mechanism running, or None if the client named an unknown one."""
        return self._mechanism

    @property
    def state(self) -> ExchangeState:
        """What the exchange waits for next."""
        return self._state

    @property
    def outcome(self) -> Outcome | None:
        """The `Success` or `Failure` that ended the exchange, if it has ended."""
        return self._outcome

    # Client inputs: never raise.

    def receive_response(self, data: bytes) -> Event:
        """Take a client response, already base64-decoded by the protocol."""
        if self._state.finished:
            return Failure(FailureReason.MALFORMED, "response after the exchange ended")
        if self._state is not ExchangeState.AWAITING_RESPONSE:
            return self._emit(Failure(FailureReason.MALFORMED, "response while no challenge open"))
        if len(data) > self._config.max_response_octets:
            return self._emit(Failure(FailureReason.RESPONSE_TOO_LONG, "response too long"))
        if self._success_after_ack is not None:
            if data:
                return self._emit(Failure(FailureReason.MALFORMED, "final challenge answered"))
            return self._emit(self._success_after_ack)
        assert self._engine is not None
        return self._emit(self._engine.respond(data))

    def cancel(self) -> Event:
        """The client aborted (RFC 4422 §3.5; SMTP and IMAP ``*``, XMPP ``<abort/>``)."""
        if self._state.finished:
            return Failure(FailureReason.MALFORMED, "cancel after the exchange ended")
        return self._emit(Failure(FailureReason.CANCELLED, "client cancelled"))

    # Service inputs: raise SaslStateError when unasked.

    def password_result(self, ok: bool) -> Event:
        """Answer a `NeedPassword`: was the password right for the authcid?"""
        self._expect(ExchangeState.AWAITING_PASSWORD, "password_result")
        asked = self._need_password
        assert asked is not None
        if not ok:
            return self._emit(Failure(FailureReason.BAD_CREDENTIALS, "password wrong"))
        return self._emit(Success(authzid=asked.authzid, authcid=asked.authcid))

    def scram_keys(self, credentials: ScramCredentials | None) -> Event:
        """Answer a `NeedScramKeys` with the user's keys, or None if unknown."""
        self._expect(ExchangeState.AWAITING_SCRAM_KEYS, "scram_keys")
        assert isinstance(self._engine, ScramEngine)
        return self._emit(self._engine.keys(credentials))

    def service_failed(self) -> Event:
        """The directory could not answer: fail as temporary (RFC 4954 §4 454)."""
        if self._state not in (ExchangeState.AWAITING_PASSWORD, ExchangeState.AWAITING_SCRAM_KEYS):
            raise SaslStateError(f"service_failed called in state {self._state.name}")
        return self._emit(Failure(FailureReason.TEMPORARY, "directory unavailable"))

    # Internals.

    def _begin(self, initial_response: bytes | None, *, tls: bool, allow_plaintext: bool) -> Event:
        if self._mechanism is None or self._engine is None:
            return self._emit(Failure(FailureReason.MECHANISM_UNKNOWN, "mechanism unknown"))
        if self._mechanism.reveals_password and not password_mechanisms_allowed(
            tls=tls, allow_plaintext=allow_plaintext
        ):
            return self._emit(Failure(FailureReason.ENCRYPTION_REQUIRED, "password needs TLS"))
        if (
            initial_response is not None
            and len(initial_response) > self._config.max_response_octets
        ):
            return self._emit(Failure(FailureReason.RESPONSE_TOO_LONG, "initial response too long"))
        return self._emit(self._engine.start(initial_response))

    def _expect(self, state: ExchangeState, method: str) -> None:
        if self._state is not state:
            raise SaslStateError(f"{method} called in state {self._state.name}")

    def _emit(self, event: Event) -> Event:
        """Apply the policy every mechanism shares, then move to the next state."""
        match event:
            case NeedPassword(authzid=authzid, authcid=authcid) if not authzid_allowed(
                authzid, authcid
            ):
                event = Failure(FailureReason.AUTHZID_NOT_ALLOWED, "authzid not allowed")
            case NeedPassword():
                self._need_password = event
            case Success(final_data=bytes() as final) if not self._success_data_allowed:
                self._success_after_ack = Success(authzid=event.authzid, authcid=event.authcid)
                event = Challenge(final)
            case _:
                pass
        self._state = _state_after(event)
        if isinstance(event, Success | Failure):
            self._outcome = event
        return event
