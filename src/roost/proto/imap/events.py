"""What the IMAP connection tells the service (`ImapServerConnection.next_event`).

An event in `NEEDS_ANSWER` stops the connection until the service answers
it with one of the connection's methods (`finish`, `authenticated`,
`auth_challenge`, `start_tls`, `start_idle`); the others only inform. The
connection answers on its own whatever needs no store or directory:
CAPABILITY, LOGOUT, ID, ENABLE, syntax and state errors, and NOOP outside
the selected state.

None of the events shows a password or a message in its ``repr``: the
commands they carry hide them (`Login`, `Authenticate`, `Append`).
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.imap.commands import Command


@dataclass(frozen=True, slots=True)
class CommandIssued:
    """A command for the service to carry out, in a state that accepts it.

    Answer with untagged responses (`untagged`, `send`) and then `finish`,
    or for the commands that change the connection: LOGIN and AUTHENTICATE
    with `authenticated`, `auth_challenge` or `finish`; STARTTLS with
    `start_tls`; IDLE with `start_idle`.
    """

    command: Command


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """The client's answer to an AUTHENTICATE challenge, base64 undone."""

    data: bytes

    def __repr__(self) -> str:
        return f"AuthResponse(<{len(self.data)} octets>)"


@dataclass(frozen=True, slots=True)
class AuthCancelled:
    """The client ended AUTHENTICATE with ``*`` (or sent a line that is not
    base64); the connection has answered BAD (RFC 9051 §6.2.2)."""

    malformed: bool = False


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The client sent DONE (RFC 2177 §3): answer with `finish`."""


@dataclass(frozen=True, slots=True)
class IdleAborted:
    """The client sent something other than DONE while idling; the
    connection answered BAD and IDLE is over."""


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """LOGOUT was answered (BYE, then OK); write the output and close."""


@dataclass(frozen=True, slots=True)
class TooManyErrors:
    """The client's last commands were all refused with BAD, as many as
    `ImapSettings.max_bad_commands`: the connection said BYE and closed."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The client closed its side; whatever it had begun is dropped."""


Event = (
    CommandIssued
    | AuthResponse
    | AuthCancelled
    | IdleDone
    | IdleAborted
    | LoggedOut
    | TooManyErrors
    | ConnectionLost
)

NEEDS_ANSWER = (CommandIssued, AuthResponse, IdleDone)
"""Events after which the connection waits for the service."""
