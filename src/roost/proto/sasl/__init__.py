"""Server-side SASL (RFC 4422) for every Roost protocol, sans-I/O.

SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051 §6.2.2), POP3 AUTH
(RFC 5034) and XMPP SASL (RFC 6120 §6) all run the same exchange: the
protocol decodes the client's base64, feeds raw bytes to a `SaslExchange`,
and acts on the events it returns. Mechanisms: SCRAM-SHA-256, SCRAM-SHA-1,
PLAIN and LOGIN. See `roost.proto.sasl.exchange` for the state machine.
"""

from roost.proto.sasl.config import MAX_RESPONSE_OCTETS, NonceSource, SaslConfig, random_nonce
from roost.proto.sasl.credentials import (
    DEFAULT_SCRAM_ITERATIONS,
    ScramAlgorithm,
    ScramCredentials,
    derive_all_scram_credentials,
    derive_scram_credentials,
)
from roost.proto.sasl.errors import SaslError, SaslStateError, ScramPasswordRejected
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
from roost.proto.sasl.exchange import ExchangeState, SaslExchange, authzid_allowed
from roost.proto.sasl.mechanisms import Mechanism, offered_mechanisms, password_mechanisms_allowed

__all__ = [
    "DEFAULT_SCRAM_ITERATIONS",
    "MAX_RESPONSE_OCTETS",
    "Challenge",
    "Event",
    "ExchangeState",
    "Failure",
    "FailureReason",
    "Mechanism",
    "NeedPassword",
    "NeedScramKeys",
    "NonceSource",
    "Outcome",
    "SaslConfig",
    "SaslError",
    "SaslExchange",
    "SaslStateError",
    "ScramAlgorithm",
    "ScramCredentials",
    "ScramPasswordRejected",
    "Success",
    "authzid_allowed",
    "derive_all_scram_credentials",
    "derive_scram_credentials",
    "offered_mechanisms",
    "password_mechanisms_allowed",
    "random_nonce",
]
