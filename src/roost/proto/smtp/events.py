"""Events the SMTP core emits, and the envelope values they carry.

Events in `NEEDS_ANSWER` stop the core: it parses nothing further until the
service answers through `accept`/`reject` (or the AUTH methods). That is
how replies to a pipelined group stay in order (RFC 2920 §3) while the
service thinks. The other events are notices that need no answer.

None of the events shows a secret in its ``repr``: SASL data is hidden,
so the events may be logged (DESIGN.md: never log AUTH data). Message
bytes in `DataChunk` are hidden too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from roost.proto.smtp.errors import SmtpStateError
from roost.proto.smtp.replies import Reply


class Body(enum.StrEnum):
    """The BODY parameter of MAIL (RFC 6152 §2, RFC 3030 §3)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"
    BINARY_MIME = "BINARYMIME"


class Ret(enum.StrEnum):
    """The RET parameter of MAIL: what a DSN returns (RFC 3461 §4.3)."""

    FULL = "FULL"
    HDRS = "HDRS"


class Notify(enum.StrEnum):
    """One NOTIFY condition of RCPT (RFC 3461 §4.1)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"
    NEVER = "NEVER"


@dataclass(frozen=True, slots=True)
class MailParams:
    """What the MAIL parameters said; None or False where absent."""

    size: int | None = None
    """SIZE (RFC 1870 §4): the client's estimate of the message octets."""
    body: Body | None = None
    """BODY (RFC 6152); None means the client said nothing (7BIT)."""
    smtputf8: bool = False
    """SMTPUTF8 (RFC 6531 §3.4): paths and headers may hold UTF-8."""
    ret: Ret | None = None
    """RET (RFC 3461 §4.3)."""
    envid: str | None = None
    """ENVID (RFC 3461 §4.4), xtext-decoded."""
    auth: str | None = None
    """AUTH= (RFC 4954 §5), xtext-decoded: a mailbox, or ``"<>"`` for unknown."""
    requiretls: bool = False
    """REQUIRETLS (RFC 8689): relay only over verified TLS."""


@dataclass(frozen=True, slots=True)
class Orcpt:
    """The ORCPT parameter of RCPT (RFC 3461 §4.2): the original recipient."""

    addr_type: str
    """Lower-cased address type, ``rfc822`` or ``utf-8`` (RFC 6533)."""
    address: str
    """The address, xtext-decoded (and ``\\x{HEX}``-decoded for utf-8)."""


@dataclass(frozen=True, slots=True)
class RcptParams:
    """What the RCPT parameters said."""

    notify: frozenset[Notify] = frozenset()
    """NOTIFY (RFC 3461 §4.1); empty when absent, ``{NEVER}`` alone or a mix
    of the other three."""
    orcpt: Orcpt | None = None
    """ORCPT (RFC 3461 §4.2)."""


# Events that need an answer.


@dataclass(frozen=True, slots=True)
class Hello:
    """HELO or EHLO (RFC 5321 §4.1.1.1). Answer `accept` or `reject`.

    On accept the core replies itself (with the capability list for EHLO),
    and any open transaction is dropped as if by RSET (§4.1.4).
    ``syntax_ok`` says whether ``name`` is a domain or address literal;
    whether to refuse a bad one is policy, so the core only reports it.
    """

    name: str
    extended: bool
    syntax_ok: bool


@dataclass(frozen=True, slots=True)
class MailFrom:
    """MAIL FROM (RFC 5321 §4.1.1.2). Answer `accept` or `reject`.

    ``address`` is ``""`` for the null reverse-path ``<>``. A quoted local
    part is unquoted when it needs no quotes; source routes are dropped
    (§4.1.1.3 and appendix C).
    """

    address: str
    params: MailParams


@dataclass(frozen=True, slots=True)
class RcptTo:
    """RCPT TO (RFC 5321 §4.1.1.3). Answer `accept` or `reject`.

    ``address`` may be ``Postmaster`` without a domain (§4.1.1.3), spelt as
    the client spelt it.
    """

    address: str
    params: RcptParams


@dataclass(frozen=True, slots=True)
class DataRequested:
    """DATA, or the first BDAT of a transaction. Answer `accept` or `reject`.

    For DATA, accept sends 354 and `DataChunk` events follow. For BDAT
    (``chunking``), accept reads the chunk; reject reads and discards it,
    then sends the reply and ends the transaction (RFC 3030 §2).
    """

    chunking: bool


@dataclass(frozen=True, slots=True)
class DataEnd:
    """The message is complete. Answer `accept` (with the queue id) or `reject`.

    ``octets`` counts the message as the `DataChunk` events carried it.
    DESIGN.md: accept only once the bytes are on disk.
    """

    octets: int


@dataclass(frozen=True, slots=True)
class StartTlsRequested:
    """STARTTLS (RFC 3207 §4). Answer `accept` (then do the handshake and call
    `tls_established`) or `reject` (454 4.7.0)."""


@dataclass(frozen=True, slots=True)
class AuthRequested:
    """AUTH (RFC 4954 §4), for a mechanism that was offered.

    Answer with `auth_challenge`, `auth_succeeded` or `auth_failed`.
    ``initial_response`` is base64-decoded; ``b""`` for ``=``, None when absent.
    """

    mechanism: str
    initial_response: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """The client's answer to a challenge, base64-decoded (RFC 4954 §4).

    Answer like `AuthRequested`.
    """

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Vrfy:
    """VRFY (RFC 5321 §3.5.1), only when `SmtpSettings.vrfy_enabled`.

    Answer `accept` with a 250/251/252 reply, or `reject`.
    """

    argument: str


# Notices.


@dataclass(frozen=True, slots=True)
class DataChunk:
    """Message bytes, in order: dot-unstuffed, with CRLF line ends.

    Every chunk but a message's last holds exactly
    `SmtpSettings.data_chunk_octets`.
    """

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MessageRefused:
    """The core refused the message itself and sent ``reply``.

    Too big, a bare CR or LF, a line over the cap, or a failed BDAT
    chunk. Drop whatever the `DataChunk` events delivered; the
    transaction is over.
    """

    reply: Reply


@dataclass(frozen=True, slots=True)
class AuthCancelled:
    """The SASL exchange ended without the service: the core replied 501.

    ``malformed`` is False when the client sent ``*`` (RFC 4954 §4), True
    when its line was not base64 or too long.
    """

    malformed: bool


@dataclass(frozen=True, slots=True)
class Reset:
    """RSET (RFC 5321 §4.1.1.5): the core replied 250; drop the transaction."""


@dataclass(frozen=True, slots=True)
class Quit:
    """QUIT (RFC 5321 §4.1.1.10): the core queued 221; send it and close."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The client closed its side without QUIT; drop any transaction."""


class AbortReason(enum.Enum):
    """Why the core ended a session on its own."""

    TOO_MANY_ERRORS = "too-many-errors"
    """`SmtpSettings.max_errors` negative replies."""
    HTTP_REQUEST = "http-request"
    """A browser or proxy spoke HTTP to the SMTP port (cross-protocol)."""
    SERVICE_CLOSING = "service-closing"
    """The service answered with a 421, which closes the session (RFC 5321 §3.8)."""


@dataclass(frozen=True, slots=True)
class SessionAborted:
    """The core queued a last 421 and closes: send `data_to_send`, then close."""

    reason: AbortReason


Event = (
    Hello
    | MailFrom
    | RcptTo
    | DataRequested
    | DataEnd
    | StartTlsRequested
    | AuthRequested
    | AuthResponse
    | Vrfy
    | DataChunk
    | MessageRefused
    | AuthCancelled
    | Reset
    | Quit
    | ConnectionLost
    | SessionAborted
)
"""Any event `SmtpServerConnection.next_event` returns."""

NEEDS_ANSWER = (
    Hello,
    MailFrom,
    RcptTo,
    DataRequested,
    DataEnd,
    StartTlsRequested,
    AuthRequested,
    AuthResponse,
    Vrfy,
)
"""The event types the service must answer before the core goes on."""


def check_acceptance(event: Event, reply: Reply | None) -> None:
    """Raise `SmtpStateError` unless ``reply`` may accept ``event``.

    Hello and a BDAT's DataRequested take no reply (the core writes it);
    DATA takes a 354, STARTTLS a 220, the rest a 2xx; AUTH is answered
    with the auth_* methods instead.
    """
    match event:
        case AuthRequested() | AuthResponse():
            raise SmtpStateError("answer AUTH with auth_challenge/auth_succeeded/auth_failed")
        case Hello() | DataRequested(chunking=True) if reply is not None:
            raise SmtpStateError(f"accepting {type(event).__name__} takes no reply")
        case DataRequested() if reply is not None and reply.code != 354:
            raise SmtpStateError("DATA is accepted with 354 (RFC 5321 §4.1.1.4)")
        case StartTlsRequested() if reply is not None and reply.code != 220:
            raise SmtpStateError("STARTTLS is accepted with 220 (RFC 3207 §4)")
        case DataRequested() | StartTlsRequested():
            pass
        case _ if reply is not None and not reply.positive:
            raise SmtpStateError(f"cannot accept with a {reply.code} reply")
