"""Events that a SASL exchange emits.

Each input to a `SaslExchange` yields exactly one of these. `Challenge`,
`NeedPassword` and `NeedScramKeys` ask for the next input; `Success` and
`Failure` end the exchange (RFC 4422 §3.6 "Authentication Outcome").

None of the events prints secrets in its ``repr``, so they may be logged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from roost.proto.sasl.credentials import ScramAlgorithm


@dataclass(frozen=True, slots=True)
class Challenge:
    """Server challenge to send to the client (RFC 4422 §3.5).

    ``data`` is raw: the protocol base64-encodes it (SMTP ``334``, IMAP
    ``+``, POP3 ``+``, XMPP ``<challenge/>``). It may be empty.
    """

    data: bytes


@dataclass(frozen=True, slots=True)
class NeedPassword:
    """Verify a clear-text password, then call `SaslExchange.password_result`.

    Emitted by PLAIN (RFC 4616 §2) and LOGIN. ``authzid`` is the identity the
    client asked to act as, empty when it asked for none. The password is as
    the client sent it, UTF-8 decoded and not normalised.
    """

    authzid: str
    authcid: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NeedScramKeys:
    """Look up the stored SCRAM keys, then call `SaslExchange.scram_keys`.

    ``authcid`` is the user name after SCRAM's escaping was undone and
    SASLprep applied (RFC 5802 §5.1 "n="). Answer ``None`` when the user
    does not exist or has no keys for ``algorithm``: the exchange then plays
    out a fake round so the client cannot tell (RFC 5802 §5.1 "e=").
    """

    algorithm: ScramAlgorithm
    authcid: str


@dataclass(frozen=True, slots=True)
class Success:
    """The client is authenticated (RFC 4422 §3.6).

    ``authzid`` is the identity the client asked to act as, empty when it
    asked for none; `identity` is the one to use. ``final_data`` is
    "additional data with success" (RFC 4422 §3.6) that the protocol must
    send with its success reply — XMPP's ``<success>`` body (RFC 6120
    §6.4.6). It is ``None`` when there is none, which is always the case
    for an exchange created with ``success_data_allowed=False``: it sends
    such data as a last `Challenge` instead (RFC 4954 §4 for SMTP).
    """

    authzid: str
    authcid: str
    final_data: bytes | None = None

    @property
    def identity(self) -> str:
        """The authorization identity the session acts as (RFC 4422 §2)."""
        return self.authzid or self.authcid


class FailureReason(enum.Enum):
    """Why an exchange failed, coarse enough for every protocol to map.

    `UNKNOWN_USER` and `BAD_CREDENTIALS` exist apart only for logs and
    throttling: a protocol MUST answer both the same way, or it tells an
    attacker which accounts exist.

    ========================  =========================  ====================
    reason                    SMTP (RFC 4954)            XMPP (RFC 6120 §6.5)
    ========================  =========================  ====================
    MALFORMED                 501 5.5.2                  malformed-request
    RESPONSE_TOO_LONG         500 5.5.6                  malformed-request
    BAD_CREDENTIALS           535 5.7.8                  not-authorized
    UNKNOWN_USER              535 5.7.8                  not-authorized
    AUTHZID_NOT_ALLOWED       535 5.7.8                  invalid-authzid
    CANCELLED                 501 5.0.0                  aborted
    MECHANISM_UNKNOWN         504 5.5.4                  invalid-mechanism
    ENCRYPTION_REQUIRED       538 5.7.11                 encryption-required
    TEMPORARY                 454 4.7.0                  temporary-auth-failure
    ========================  =========================  ====================
    """

    MALFORMED = "malformed"
    RESPONSE_TOO_LONG = "response-too-long"
    BAD_CREDENTIALS = "bad-credentials"
    UNKNOWN_USER = "unknown-user"
    AUTHZID_NOT_ALLOWED = "authzid-not-allowed"
    CANCELLED = "cancelled"
    MECHANISM_UNKNOWN = "mechanism-unknown"
    ENCRYPTION_REQUIRED = "encryption-required"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class Failure:
    """The exchange failed (RFC 4422 §3.6).

    ``detail`` is a short English phrase for the log. It never contains
    anything the client sent.
    """

    reason: FailureReason
    detail: str = ""


Event = Challenge | NeedPassword | NeedScramKeys | Success | Failure
"""Any event an exchange emits."""

Outcome = Success | Failure
"""An event that ends an exchange."""
