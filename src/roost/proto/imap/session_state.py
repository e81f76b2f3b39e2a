"""The connection states of RFC 9051 §3, which commands each accepts, and what is offered.

A session moves through four states (RFC 9051 §3, figure 1)::

    not authenticated ──LOGIN/AUTHENTICATE──► authenticated ──SELECT/EXAMINE──► selected
            │                                  ▲   │                              │
            │                                  │   └───────────────────────────── │ ─► logout
            └──────────────LOGOUT──────────────┼──────────────────────────────────┘
                                               └──CLOSE/UNSELECT/failed SELECT──┘

`accepts` says whether a command may be given in a state; the connection
answers any other with a tagged BAD (RFC 9051 §6: "a command given in the
wrong state is a protocol error"). `capabilities` is what the CAPABILITY
command and the greeting's response code list in a state: password
mechanisms only where a password may travel, STARTTLS only before TLS, and
LOGINDISABLED where LOGIN would be refused (RFC 9051 §6.2.3).

`ImapSettings` is what the service tells the core: its limits, whether TLS
can be started, whether plaintext passwords are allowed, the server's ID.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from roost.proto.imap.commands import Command
from roost.proto.imap.commands.anystate import AnyStateCommand
from roost.proto.imap.commands.auth import AuthenticatedCommand, Compress, Enable
from roost.proto.imap.commands.listing import ListingCommand
from roost.proto.imap.commands.nonauth import Login, NotAuthenticatedCommand, StartTls
from roost.proto.imap.commands.selected import SelectedCommand
from roost.proto.imap.errors import ImapUsageError
from roost.proto.imap.framing import MAX_LINE_OCTETS, MAX_LITERAL_OCTETS, FramingLimits
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.values import ImapData
from roost.proto.sasl import offered_mechanisms


class State(enum.Enum):
    """A connection state (RFC 9051 §3)."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Phase(enum.Enum):
    """How a connection reads input now (the table in
    `roost.proto.imap.connection`): commands, a SASL line, DONE, or nothing."""

    GREETING = enum.auto()
    COMMAND = enum.auto()
    AUTH = enum.auto()
    IDLE = enum.auto()
    TLS = enum.auto()
    CLOSED = enum.auto()


IMAP_MECHANISMS = ("SCRAM-SHA-256", "PLAIN")
"""SASL mechanisms offered to IMAP clients, strongest first: SCRAM never
shows the password; PLAIN only where a password may travel."""

EXTENSIONS = (
    "LITERAL+",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "SEARCHRES",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "STATUS=SIZE",
    "UTF8=ACCEPT",
    "BINARY",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "OBJECTID",
    "SAVEDATE",
    "COMPRESS=DEFLATE",
)
"""The extensions the service implements, in the order CAPABILITY lists them."""

ENABLEABLE = frozenset({"IMAP4REV2", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT"})
"""What ENABLE may switch on (RFC 5161 §4, RFC 9051 §6.3.1, RFC 7162 §3.1 and
§3.2.3, RFC 6855 §3)."""

IMPLIED: dict[str, tuple[str, ...]] = {"QRESYNC": ("CONDSTORE",)}
"""What enabling a capability switches on besides (RFC 7162 §3.2.3: QRESYNC
implies CONDSTORE); ENABLED names only what the client asked for."""

UTF8_SWITCHES = frozenset({"IMAP4REV2", "UTF8=ACCEPT"})
"""Either makes mailbox names UTF-8 and lets quoted strings carry UTF-8."""

MAX_BAD_COMMANDS = 20
"""BAD answers in a row after which the connection says BYE and closes: a
client that has lost its way (or is not an IMAP client) stops costing work."""

SERVER_ID: tuple[tuple[str, str], ...] = (("name", "Roost"), ("vendor", "Roost"))
"""What ``* ID`` says about the server (RFC 2971 §3.3); no version, which would
only help an attacker pick an exploit."""


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """What one connection offers and its named limits.

    ``plaintext_auth_allowed``: passwords may travel without TLS here (the
    development profile on loopback). ``append_limit_octets`` is both the
    largest literal (and so the largest APPEND, RFC 7889) and the number
    APPENDLIMIT announces. ``max_bad_commands`` BAD answers in a row end the
    connection.
    """

    starttls_available: bool = False
    plaintext_auth_allowed: bool = False
    mechanisms: tuple[str, ...] = IMAP_MECHANISMS
    line_octets: int = MAX_LINE_OCTETS
    append_limit_octets: int = MAX_LITERAL_OCTETS
    max_bad_commands: int = MAX_BAD_COMMANDS
    server_id: tuple[tuple[str, str], ...] = SERVER_ID

    def __post_init__(self) -> None:
        if self.append_limit_octets < 1:
            raise ImapUsageError("the APPEND limit must be positive")
        if self.max_bad_commands < 1:
            raise ImapUsageError("the limit on BAD commands must be positive")

    @property
    def framing(self) -> FramingLimits:
        """The framer's limits: a command holds one message and a few lines."""
        literal = self.append_limit_octets
        return FramingLimits(
            line_octets=self.line_octets,
            literal_octets=literal,
            command_octets=literal + 16 * self.line_octets,
        )


def password_allowed(settings: ImapSettings, *, tls: bool) -> bool:
    """Whether LOGIN and PLAIN may run: under TLS, or where plaintext is allowed."""
    return tls or settings.plaintext_auth_allowed


def capabilities(settings: ImapSettings, state: State, *, tls: bool) -> tuple[str, ...]:
    """The CAPABILITY list for a state (RFC 9051 §6.1.1, §7.2.2).

    Before authentication it names STARTTLS (when TLS can still start),
    LOGINDISABLED (when a password may not travel yet, RFC 9051 §6.2.3)
    and the SASL mechanisms that may run now with SASL-IR (RFC 4959);
    after it, neither.
    """
    caps = ["IMAP4rev1", "IMAP4rev2"]
    if state is State.NOT_AUTHENTICATED:
        if settings.starttls_available and not tls:
            caps.append("STARTTLS")
        if not password_allowed(settings, tls=tls):
            caps.append("LOGINDISABLED")
        offered = offered_mechanisms(tls=tls, allow_plaintext=settings.plaintext_auth_allowed)
        caps += [f"AUTH={name}" for name in settings.mechanisms if name in offered]
        caps.append("SASL-IR")
    caps += EXTENSIONS
    caps.append(f"APPENDLIMIT={settings.append_limit_octets}")
    return tuple(caps)


def enable(enabled: set[str], names: tuple[str, ...]) -> list[str]:
    """ENABLE (RFC 5161 §3.1): switch on what may be enabled and is not yet,
    with what that implies; the names ENABLED lists, spelled as CAPABILITY does."""
    newly = [name for name in names if name in ENABLEABLE and name not in enabled]
    enabled.update(newly)
    for name in newly:
        enabled.update(IMPLIED.get(name, ()))
    return [_SPELLED.get(name, name) for name in newly]


_SPELLED = {"IMAP4REV2": "IMAP4rev2"}


def id_data(settings: ImapSettings) -> tuple[ImapData, ...] | None:
    """The server's ``* ID`` field-value list (RFC 2971 §3.2), NIL for none."""
    pairs: list[ImapData] = []
    for name, value in settings.server_id:
        pairs += (name, value)
    return tuple(pairs) or None


PRIVACYREQUIRED = ResponseCode("PRIVACYREQUIRED")
"""RFC 9051 §7.1: the operation needs TLS first."""
COMPRESSIONACTIVE = ResponseCode("COMPRESSIONACTIVE")
"""RFC 4978 §3: COMPRESS again, on a connection compressed already."""
COMPRESSION_ALGORITHMS = ("DEFLATE",)
"""RFC 4978 §3: the only algorithm defined."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """How the connection answers a command it refuses by itself."""

    condition: Condition
    text: str
    code: ResponseCode | None = None


def refusal(
    command: Command, state: State, settings: ImapSettings, *, tls: bool, compressed: bool
) -> Refusal | None:
    """The answer to a command that cannot run here and now, or None.

    A command in the wrong state is BAD (RFC 9051 §6); so are STARTTLS under
    TLS or where TLS cannot start, and COMPRESS with an unknown algorithm;
    LOGIN where a password may not travel is NO [PRIVACYREQUIRED] (RFC 9051
    §6.2.3), COMPRESS on a compressed connection NO [COMPRESSIONACTIVE]
    (RFC 4978 §3).
    """
    if not accepts(state, command):
        return Refusal(Condition.BAD, f"{command.NAME} is not allowed in the {state.value} state")
    match command:
        case Compress(algorithm=name) if name not in COMPRESSION_ALGORITHMS:
            return Refusal(Condition.BAD, f"No compression algorithm {name[:32]} here")
        case Compress() if compressed:
            return Refusal(Condition.NO, "Compression is active already", COMPRESSIONACTIVE)
        case StartTls() if tls:
            return Refusal(Condition.BAD, "TLS is active already")
        case StartTls() if not settings.starttls_available:
            return Refusal(Condition.BAD, "STARTTLS is not available here")
        case Login() if not password_allowed(settings, tls=tls):
            return Refusal(Condition.NO, "LOGIN needs TLS first", PRIVACYREQUIRED)
    return None


def accepts(state: State, command: Command) -> bool:
    """Whether ``command`` may be given in ``state`` (RFC 9051 §6.1–§6.4)."""
    if state is State.LOGOUT:
        return False
    if isinstance(command, AnyStateCommand):
        return True
    if isinstance(command, NotAuthenticatedCommand):
        return state is State.NOT_AUTHENTICATED
    if isinstance(command, Enable):
        # RFC 9051 §6.3.1: only before any mailbox is selected.
        return state is State.AUTHENTICATED
    if isinstance(command, AuthenticatedCommand | ListingCommand):
        return state in (State.AUTHENTICATED, State.SELECTED)
    assert isinstance(command, SelectedCommand)
    return state is State.SELECTED
