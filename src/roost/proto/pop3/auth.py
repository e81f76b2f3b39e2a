"""POP3 AUTH (RFC 5034) over the shared SASL exchange of `roost.proto.sasl`.

RFC 5034 §4 frames SASL in POP3 like this::

    C: AUTH SCRAM-SHA-256 <base64 client-first>     (or no initial response:
    S: + <base64 server-first>                       the server then sends "+ ")
    C: <base64 client-final>
    S: + <base64 server-final>                       additional data with success
    C:                                               (an empty response)
    S: +OK Maildrop has 2 messages (320 octets)

An initial response of ``=`` is an empty one; a response of ``*`` cancels
(``-ERR``). POP3 cannot carry data in its ``+OK``, so SCRAM's
server-final message goes as a last challenge, which `SaslExchange` does
for us with ``success_data_allowed=False``.

`SaslLogin` runs one exchange and translates both ways: what the client
sends into exchange inputs, and each exchange event into a `Step` the
engine carries out — send a challenge, ask the service, log in, or
refuse with the reply `failure_reply` picks (RFC 3206 ``[AUTH]`` for
credentials, ``[SYS/TEMP]`` for a passing failure).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from roost.proto.pop3 import replies
from roost.proto.pop3.buffer import OVERLONG, Overlong
from roost.proto.pop3.commands import Auth, decode_base64
from roost.proto.pop3.errors import Base64Error, Pop3StateError
from roost.proto.pop3.events import Authenticated, AuthFailed, PasswordLogin, ScramKeysRequested
from roost.proto.pop3.replies import Reply
from roost.proto.pop3.settings import Pop3Settings
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

CANCEL = b"*"
"""RFC 5034 §4: the client's line that cancels the exchange."""


def challenge_line(data: bytes) -> bytes:
    """A server challenge on the wire: ``+``, a space, base64 (RFC 5034 §4)."""
    return b"+ " + base64.b64encode(data) + b"\r\n"


def failure_reply(reason: FailureReason) -> Reply:
    """The ``-ERR`` for a failed exchange; UNKNOWN_USER and BAD_CREDENTIALS
    read the same, or the reply would tell which accounts exist."""
    match reason:
        case FailureReason.BAD_CREDENTIALS | FailureReason.UNKNOWN_USER:
            return replies.AUTH_FAILED
        case FailureReason.AUTHZID_NOT_ALLOWED:
            return replies.AUTHZID_REFUSED
        case FailureReason.ENCRYPTION_REQUIRED:
            return replies.PLAINTEXT_REFUSED
        case FailureReason.TEMPORARY:
            return replies.AUTH_TEMPORARY_FAILURE
        case FailureReason.CANCELLED:
            return replies.AUTH_CANCELLED
        case FailureReason.MECHANISM_UNKNOWN:
            return replies.AUTH_MECHANISM_UNKNOWN
        case FailureReason.RESPONSE_TOO_LONG:
            return replies.AUTH_LINE_TOO_LONG
        case FailureReason.MALFORMED:
            return replies.AUTH_MALFORMED


# What the engine does next.


@dataclass(frozen=True, slots=True)
class SendChallenge:
    """Write ``wire`` and read the client's response line."""

    wire: bytes


@dataclass(frozen=True, slots=True)
class AskService:
    """Emit ``event`` and wait for the service's answer."""

    event: PasswordLogin | ScramKeysRequested | Authenticated


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The exchange succeeded and the service has opened the maildrop."""

    user: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The exchange failed: send ``reply`` and emit ``notice``."""

    reply: Reply
    notice: AuthFailed


Step = SendChallenge | AskService | Refused
"""What the engine does after an input to the exchange."""


def _refused(reason: FailureReason, via: str, user: str | None = None) -> Refused:
    return Refused(failure_reply(reason), AuthFailed(via=via, reason=reason, user=user))


class SaslLogin:
    """One AUTH exchange; create it with `start`."""

    __slots__ = ("_exchange", "_password_checked", "_user", "_via")

    def __init__(self, exchange: SaslExchange, via: str) -> None:
        """Internal: use `start`."""
        self._exchange = exchange
        self._via = via
        self._user: str | None = None
        self._password_checked = False

    @property
    def via(self) -> str:
        """The mechanism's name, for events and logs."""
        return self._via

    @classmethod
    def start(
        cls, command: Auth, *, settings: Pop3Settings, config: SaslConfig | None, tls: bool
    ) -> tuple[SaslLogin | None, Step]:
        """Begin the exchange AUTH asked for; None with a `Refused` when it
        cannot even begin."""
        name = command.mechanism
        assert name is not None
        found = Mechanism.from_name(name)
        if config is None or found is None or found.value not in settings.sasl_mechanisms:
            return None, _refused(FailureReason.MECHANISM_UNKNOWN, name)
        if found not in settings.mechanisms(tls=tls):
            return None, _refused(FailureReason.ENCRYPTION_REQUIRED, found.value)
        exchange, event = SaslExchange.start(
            found.value,
            command.initial_response,
            config=config,
            tls=tls,
            allow_plaintext=settings.plaintext_auth_allowed,
            success_data_allowed=False,
        )
        login = cls(exchange, found.value)
        step = login._step(event)
        return (None if isinstance(step, Refused) else login), step

    def respond(self, line: bytes | Overlong) -> Step:
        """Take the client's line answering a challenge (RFC 5034 §4)."""
        if line is OVERLONG:
            return _refused(FailureReason.RESPONSE_TOO_LONG, self._via, self._user)
        if line == CANCEL:
            return self._step(self._exchange.cancel())
        try:
            data = decode_base64(line)
        except Base64Error:
            self._exchange.cancel()
            return Refused(
                replies.AUTH_BAD_BASE64,
                AuthFailed(via=self._via, reason=FailureReason.MALFORMED, user=self._user),
            )
        return self._step(self._exchange.receive_response(data))

    def scram_keys(self, credentials: ScramCredentials | None) -> Step:
        """The service's answer to `ScramKeysRequested`."""
        return self._step(self._exchange.scram_keys(credentials))

    def password_accepted(self) -> LoggedIn:
        """The service checked the password of `PasswordLogin` and opened the
        maildrop: finish the exchange."""
        self._password_checked = True
        step = self._next(self._exchange.password_result(True))
        if not isinstance(step, LoggedIn):
            raise Pop3StateError(f"SASL exchange did not succeed after the password: {step}")
        return step

    def _step(self, event: SaslEvent) -> Step:
        step = self._next(event)
        if isinstance(step, LoggedIn):
            raise Pop3StateError("a password login finishes only through password_accepted")
        return step

    def _next(self, event: SaslEvent) -> Step | LoggedIn:
        via = self._via
        match event:
            case Challenge(data=data):
                return SendChallenge(challenge_line(data))
            case NeedPassword(authcid=user, password=password):
                self._user = user
                return AskService(PasswordLogin(user=user, password=password, via=via))
            case NeedScramKeys(authcid=user, algorithm=algorithm):
                self._user = user
                return AskService(ScramKeysRequested(user=user, algorithm=algorithm))
            case Success() if self._password_checked:
                return LoggedIn(event.identity)
            case Success():
                return AskService(Authenticated(user=event.identity, via=via))
            case Failure(reason=reason):
                return _refused(reason, via, self._user)
