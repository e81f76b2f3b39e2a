"""Events the POP3 core emits.

Events in `NEEDS_ANSWER` stop the core: it parses nothing further until
the service answers through the methods each event names. That keeps the
replies to pipelined commands in order (RFC 2449 §6.6) while the service
asks the directory or the store. The other events are notices.

What a service answers:

====================  ========================================================
event                 answer
====================  ========================================================
PasswordLogin         ``login_accepted(maildrop)`` or ``reject(reply)``
ScramKeysRequested    ``scram_keys(credentials or None)`` or ``reject(reply)``
Authenticated         ``login_accepted(maildrop)`` or ``reject(reply)``
StartTlsRequested     ``accept()``, the handshake, ``tls_established()``;
                      or ``reject(reply)``
Retrieve              ``begin_message()``, ``message_data(chunk)``…,
                      ``end_message()``; or ``reject(reply)``
Update                ``accept()`` once the marked messages are removed,
                      or ``reject(reply)``; the session ends either way
====================  ========================================================

No event shows a secret in its ``repr`` (DESIGN.md: never log passwords
or AUTH data), so events may be logged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from roost.proto.sasl import FailureReason, ScramAlgorithm

VIA_USER = "USER"
"""`PasswordLogin.via` and `Authenticated.via` for the USER and PASS commands."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """A message DELE marked, as `Update` reports it to the service."""

    number: int
    uid: str


# Events that need an answer.


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """Check a password and open the user's maildrop.

    From USER and PASS (RFC 1939 §7; ``via`` is ``"USER"``) or from a SASL
    mechanism that carries the password (``via`` is ``"PLAIN"``, RFC 4616).
    Answer `login_accepted` with the listing once the password is right
    and the maildrop is locked for this session, or `reject` with
    `replies.AUTH_FAILED`, `replies.IN_USE`, `replies.LOGIN_DELAY`,
    `replies.MAILDROP_UNAVAILABLE`….

    The user name and password are as the client sent them, UTF-8
    decoded and not normalised (RFC 6856 §2 leaves that to the directory).
    """

    user: str
    password: str = field(repr=False)
    via: str


@dataclass(frozen=True, slots=True)
class ScramKeysRequested:
    """A SCRAM exchange needs the user's stored keys (RFC 5802 §5.1).

    Answer `scram_keys` with them, or with None when the user is unknown
    (the exchange then plays on with fake keys, so that nobody can tell),
    or `reject` (e.g. `replies.TOO_MANY_FAILURES` while throttled,
    `replies.AUTH_TEMPORARY_FAILURE` when the directory is down).
    """

    user: str
    algorithm: ScramAlgorithm


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A SASL exchange proved the user without a password check (SCRAM).

    Open the maildrop and answer like `PasswordLogin`: `login_accepted`
    or `reject`.
    """

    user: str
    via: str


@dataclass(frozen=True, slots=True)
class StartTlsRequested:
    """STLS (RFC 2595 §4). Answer `accept` (the core queues ``+OK``; send it,
    do the handshake, call `tls_established`) or `reject`."""


@dataclass(frozen=True, slots=True)
class Retrieve:
    """RETR or TOP of a message that exists and is not marked (RFC 1939 §5, §7).

    ``top_lines`` is None for RETR, the body line count for TOP. Answer
    by streaming the stored message: `begin_message`, `message_data` per
    chunk while it returns True, `end_message`. If the message cannot be
    read, `reject` with `replies.MESSAGE_UNAVAILABLE` before beginning;
    once begun, a failure can only be answered by closing the connection.
    """

    number: int
    uid: str
    size_octets: int
    top_lines: int | None


@dataclass(frozen=True, slots=True)
class Update:
    """QUIT in the TRANSACTION state: the UPDATE state (RFC 1939 §6).

    Remove the messages in ``deleted`` from the store (an empty tuple
    means none), release the maildrop, then `accept`; if some could not
    be removed, `reject` with `replies.NOT_ALL_DELETED`. Either way the
    core then closes. A session that ends any other way never reaches
    this event and must remove nothing.
    """

    deleted: tuple[Deletion, ...]


# Notices.


@dataclass(frozen=True, slots=True)
class Quit:
    """QUIT in the AUTHORIZATION state (RFC 1939 §4): the core queued ``+OK``;
    send it and close."""


@dataclass(frozen=True, slots=True)
class Utf8Enabled:
    """UTF8 (RFC 6856 §2): the core replied ``+OK``; UTF-8 mode is on."""


@dataclass(frozen=True, slots=True)
class AuthFailed:
    """A login attempt ended without the service deciding: the core replied.

    A wrong SCRAM proof (``reason`` BAD_CREDENTIALS or UNKNOWN_USER —
    the same reply to the client, apart here for throttling), a malformed
    or cancelled exchange, a mechanism not offered, a password mechanism
    before TLS. ``user`` is the name the client gave, when it gave one.
    """

    via: str
    reason: FailureReason
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The client closed its side without QUIT: commit nothing (RFC 1939 §6)."""


class AbortReason(enum.Enum):
    """Why the core ended a session on its own."""

    TOO_MANY_ERRORS = "too-many-errors"
    """`Pop3Settings.max_errors` refused commands."""
    HTTP_REQUEST = "http-request"
    """A browser or proxy spoke HTTP to the POP3 port (cross-protocol)."""


@dataclass(frozen=True, slots=True)
class SessionAborted:
    """The core queued a last ``-ERR`` and closes: send `data_to_send`, then
    close. Like a dropped connection, it commits nothing."""

    reason: AbortReason


Event = (
    PasswordLogin
    | ScramKeysRequested
    | Authenticated
    | StartTlsRequested
    | Retrieve
    | Update
    | Quit
    | Utf8Enabled
    | AuthFailed
    | ConnectionLost
    | SessionAborted
)
"""Any event `Pop3ServerConnection.next_event` returns."""

NEEDS_ANSWER = (
    PasswordLogin,
    ScramKeysRequested,
    Authenticated,
    StartTlsRequested,
    Retrieve,
    Update,
)
"""The event types the service must answer before the core goes on."""

LOGIN_EVENTS = (PasswordLogin, Authenticated)
"""The events `login_accepted` answers."""
