"""The server side of one IMAP connection, as a sans-I/O state machine.

Theory of operation
-------------------

`ImapServerConnection` never touches a socket. The service feeds it what
the client sent (`receive_data`), asks it for events (`next_event`),
answers the events that need an answer, and writes out what it produces
(`data_to_send`), as with h11 and `roost.proto.smtp.connection`.

Input is split by `roost.proto.imap.framing.CommandFramer` and read by
`roost.proto.imap.parser.parse_command`. The connection answers on its own
what needs no store: syntax errors and commands given in the wrong state
(BAD, RFC 9051 §6), CAPABILITY, LOGOUT, ID, ENABLE, NOOP outside the
selected state, LOGIN while LOGINDISABLED (NO [PRIVACYREQUIRED]) and
STARTTLS where it cannot run. Everything else becomes `CommandIssued`.

One rule keeps pipelined commands (RFC 9051 §5.5) answered in order: after
an event in `NEEDS_ANSWER` nothing further is parsed until the service has
answered it, and every response goes to one output buffer in command order.
Calling `next_event` while an answer is owed raises `ImapUsageError`.

The phase decides how input is read::

    phase     reads                        leaves it
    ────────  ───────────────────────────  ──────────────────────────────────────
    GREETING  nothing (buffers)            greeting() → COMMAND
    COMMAND   commands with their literals auth_challenge() → AUTH; start_idle() →
                                           IDLE; start_tls() → TLS; LOGOUT → CLOSED
    AUTH      one SASL response line       AuthResponse (answered) / AuthCancelled
                                           → COMMAND
    IDLE      one line: DONE               IdleDone (answered) / IdleAborted → COMMAND
    TLS       nothing (input dropped)      tls_established() → COMMAND
    CLOSED    nothing                      —

A synchronising literal gets its ``+`` as soon as it is announced and fits
the limits (RFC 9051 §7.6); one over the limits is refused before the client
sends it (NO [TOOBIG]). STARTTLS drops every octet buffered behind it
(RFC 9051 §6.2.1: a man in the middle could have put them there).

The output buffer grows only by what the service queues; the service sends
it whenever `next_event` returns None and whenever `pending_output` passes
its flush threshold, and the net layer disconnects a client that stops
reading (its write timeout). End of input gives `ConnectionLost`.
"""

from __future__ import annotations

from collections import deque

from roost.proto.imap.commands import Command
from roost.proto.imap.commands.anystate import Capability, Id, Logout, Noop
from roost.proto.imap.commands.auth import Compress, Enable, Idle
from roost.proto.imap.commands.nonauth import Authenticate, Login, StartTls, parse_sasl_response
from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.events import (
    NEEDS_ANSWER,
    AuthCancelled,
    AuthResponse,
    CommandIssued,
    ConnectionLost,
    Event,
    IdleAborted,
    IdleDone,
    LoggedOut,
    TooManyErrors,
)
from roost.proto.imap.framing import (
    CommandFramer,
    CommandReceived,
    CommandRefused,
    ContinuationNeeded,
    InputClosed,
    LineReceived,
)
from roost.proto.imap.parser import is_done, parse_command
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.session_state import (
    UTF8_SWITCHES,
    ImapSettings,
    Phase,
    State,
    capabilities,
    enable,
    id_data,
    refusal,
)
from roost.proto.imap.values import Atom, ImapData

__all__ = ["ImapServerConnection", "Phase"]
from roost.proto.imap.writer import (
    challenge,
    continuation,
    rejection,
    tagged,
    untagged,
    untagged_status,
)


class ImapServerConnection:
    """One IMAP4rev2/IMAP4rev1 server connection (RFC 9051, RFC 3501).

    ``tls`` is True for a connection that began with TLS (port 993, RFC 8314).
    """

    def __init__(self, settings: ImapSettings, *, tls: bool = False) -> None:
        self._settings = settings
        self._tls = tls
        self._framer = CommandFramer(settings.framing)
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._pending: Event | None = None
        self._tag: str | None = None
        self._command: Command | None = None
        self._phase = Phase.GREETING
        self._state = State.NOT_AUTHENTICATED
        self._enabled: set[str] = set()
        self._eof = False
        self._bad_in_row = 0
        self._compressed = False

    # State the service may look at.

    @property
    def settings(self) -> ImapSettings:
        return self._settings

    @property
    def state(self) -> State:
        return self._state

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def tls(self) -> bool:
        return self._tls

    @property
    def enabled(self) -> frozenset[str]:
        """Capabilities the client switched on with ENABLE, upper-cased."""
        return frozenset(self._enabled)

    @property
    def utf8(self) -> bool:
        """UTF-8 mailbox names and quoted strings (UTF8=ACCEPT or IMAP4rev2)."""
        return bool(self._enabled & UTF8_SWITCHES)

    @property
    def compressed(self) -> bool:
        """COMPRESS DEFLATE was accepted (RFC 4978)."""
        return self._compressed

    @property
    def qresync(self) -> bool:
        """The client enabled QRESYNC (RFC 7162 §3.2.3): VANISHED replaces EXPUNGE."""
        return "QRESYNC" in self._enabled

    @property
    def rev2(self) -> bool:
        """The client enabled IMAP4rev2 (RFC 9051 §6.3.1)."""
        return "IMAP4REV2" in self._enabled

    @property
    def closing(self) -> bool:
        """True once the session is over: write `data_to_send`, then close."""
        return self._phase is Phase.CLOSED

    @property
    def awaiting(self) -> Event | None:
        """The event that waits for the service's answer, if any."""
        return self._pending

    @property
    def between_commands(self) -> bool:
        """No command is half read: a server stop may end the session now."""
        return self._phase in (Phase.COMMAND, Phase.IDLE) and not self._framer.in_command

    @property
    def pending_output(self) -> int:
        """Octets queued and not yet taken by `data_to_send`."""
        return len(self._out)

    def capabilities(self) -> tuple[str, ...]:
        """What CAPABILITY lists now."""
        return capabilities(self._settings, self._state, tls=self._tls)

    def enable(self, name: str) -> None:
        """Switch a capability on as ENABLE would; CONDSTORE is enabled by the
        first command that uses it (RFC 7162 §3.1)."""
        self._enabled.add(name.upper())

    # Bytes in and out.

    def receive_data(self, data: bytes) -> None:
        """Feed what the client sent; ``b""`` means it closed its side."""
        if not data:
            self._eof = True
            self._framer.receive_data(b"")
            return
        if self._eof:
            raise ImapUsageError("receive_data after end of input")
        if self._phase in (Phase.TLS, Phase.CLOSED):
            return
        self._framer.receive_data(data)

    def data_to_send(self) -> bytes:
        """Everything queued for the client since the last call."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event | None:
        """The next event, or None when more input is needed."""
        if self._pending is not None:
            raise ImapUsageError(f"answer {type(self._pending).__name__} first")
        if self._phase is Phase.GREETING:
            raise ImapUsageError("call greeting() first")
        if self._phase is Phase.TLS:
            raise ImapUsageError("call tls_established() after the handshake first")
        while not self._events:
            if self._phase is Phase.CLOSED:
                if self._eof:
                    return ConnectionLost()
                raise ImapUsageError("the session is closed")
            if not self._step():
                return None
        event = self._events.popleft()
        if isinstance(event, NEEDS_ANSWER):
            self._pending = event
        return event

    # The service's side.

    def greeting(self, text: str = "Roost IMAP ready") -> None:
        """``* OK [CAPABILITY ...] text`` (RFC 9051 §7.1.1)."""
        if self._phase is not Phase.GREETING:
            raise ImapUsageError("greeting() was called already")
        self._out += untagged_status(Condition.OK, text, self._capability_code())
        self._phase = Phase.COMMAND

    def untagged(self, *items: ImapData) -> None:
        """Queue ``* item item ...`` (EXISTS, FETCH, LIST ...)."""
        self._out += untagged(*items, utf8=self.utf8)

    def status(self, condition: Condition, text: str, code: ResponseCode | None = None) -> None:
        """Queue an untagged status response: ``* OK [UIDNEXT 5] ...``."""
        self._out += untagged_status(condition, text, code, utf8=self.utf8)

    def send(self, raw: bytes) -> None:
        """Queue bytes the service built with the writer (a FETCH streamed in pieces)."""
        self._out += raw

    def finish(
        self,
        condition: Condition = Condition.OK,
        text: str | None = None,
        code: ResponseCode | None = None,
    ) -> None:
        """Complete the waiting command with its tagged response."""
        event = self._answering("finish", (CommandIssued, AuthResponse, IdleDone))
        if isinstance(event, AuthResponse) and condition is Condition.OK:
            raise ImapUsageError("an AUTHENTICATE succeeds with authenticated()")
        self._complete(condition, text, code)

    def authenticated(self, text: str = "Logged in") -> None:
        """LOGIN or AUTHENTICATE succeeded: OK with the new capabilities (RFC 9051 §6.2.2)."""
        event = self._answering("authenticated", (CommandIssued, AuthResponse))
        if isinstance(event, CommandIssued) and not isinstance(event.command, Login | Authenticate):
            raise ImapUsageError("authenticated() answers LOGIN or AUTHENTICATE")
        self._state = State.AUTHENTICATED
        self._complete(Condition.OK, text, self._capability_code())

    def auth_challenge(self, data: bytes) -> None:
        """Send a SASL challenge ``+ base64`` and read the client's answer."""
        event = self._answering("auth_challenge", (CommandIssued, AuthResponse))
        if isinstance(event, CommandIssued) and not isinstance(event.command, Authenticate):
            raise ImapUsageError("auth_challenge() answers AUTHENTICATE")
        self._pending = None
        self._out += challenge(data)
        self._phase = Phase.AUTH

    def selected(self) -> None:
        """The waiting SELECT or EXAMINE opened a mailbox (finish it next)."""
        self._answering("selected", (CommandIssued,))
        self._state = State.SELECTED

    def unselected(self) -> None:
        """No mailbox is selected any more: CLOSE, UNSELECT, a failed SELECT."""
        if self._state is State.SELECTED:
            self._state = State.AUTHENTICATED

    def start_tls(self) -> None:
        """Accept STARTTLS: OK, then nothing more is read until `tls_established`."""
        event = self._answering("start_tls", (CommandIssued,))
        assert isinstance(event, CommandIssued)
        if not isinstance(event.command, StartTls):
            raise ImapUsageError("start_tls() answers STARTTLS")
        self._complete(Condition.OK, "Begin TLS negotiation now")
        # RFC 9051 §6.2.1: whatever came behind STARTTLS was sent in the clear.
        self._framer.clear()
        self._phase = Phase.TLS

    def tls_established(self, settings: ImapSettings | None = None) -> None:
        """The handshake is done; ``settings`` may offer more now (PLAIN, LOGIN)."""
        if self._phase is not Phase.TLS:
            raise ImapUsageError("tls_established without an accepted STARTTLS")
        if settings is not None:
            self._settings = settings
        self._tls = True
        self._framer.clear()
        self._phase = Phase.COMMAND

    def start_compression(self) -> None:
        """Accept COMPRESS (RFC 4978 §3): OK, sent uncompressed; everything after
        it, both ways, is compressed. Input buffered behind the command was
        sent before the client saw the OK and is dropped, as after STARTTLS."""
        event = self._answering("start_compression", (CommandIssued,))
        assert isinstance(event, CommandIssued)
        if not isinstance(event.command, Compress):
            raise ImapUsageError("start_compression() answers COMPRESS")
        self._complete(Condition.OK, "DEFLATE active")
        self._framer.clear()
        self._compressed = True

    def start_idle(self, text: str = "idling") -> None:
        """Accept IDLE (RFC 2177 §3): ``+ idling``; updates may follow until DONE."""
        event = self._answering("start_idle", (CommandIssued,))
        assert isinstance(event, CommandIssued)
        if not isinstance(event.command, Idle):
            raise ImapUsageError("start_idle() answers IDLE")
        self._pending = None
        self._out += continuation(text)
        self._phase = Phase.IDLE

    def bye(self, text: str) -> None:
        """``* BYE text`` and close: server shutdown, idle timeout, mailbox gone."""
        if self._phase is Phase.CLOSED:
            return
        self._pending = None
        self._out += untagged_status(Condition.BYE, text)
        self._close()

    # Reading input.

    def _step(self) -> bool:
        """Use buffered input; False when more is needed to get anywhere."""
        match self._phase:
            case Phase.COMMAND:
                return self._step_command()
            case Phase.AUTH:
                return self._step_auth()
            case Phase.IDLE:
                return self._step_idle()
        return False

    def _step_command(self) -> bool:
        event = self._framer.next_event()
        match event:
            case None:
                return False
            case CommandReceived(raw):
                try:
                    command = parse_command(raw, utf8=self.utf8)
                except ParseError as error:
                    self._out += rejection(error)
                    self._counted(error.condition)
                else:
                    self._command_received(command)
            case ContinuationNeeded():
                self._out += continuation()
            case CommandRefused(error):
                self._out += rejection(error)
                self._counted(error.condition)
            case InputClosed():
                self._lost()
        return True

    def _step_auth(self) -> bool:
        line = self._framer.next_line()
        match line:
            case None:
                return False
            case InputClosed():
                self._lost()
            case CommandRefused():
                self._phase = Phase.COMMAND
                self._complete(Condition.BAD, "AUTHENTICATE response too long")
                self._events.append(AuthCancelled(malformed=True))
            case LineReceived(data):
                self._phase = Phase.COMMAND
                try:
                    answer = parse_sasl_response(data)
                except ParseError:
                    self._complete(Condition.BAD, "AUTHENTICATE response is not base64")
                    self._events.append(AuthCancelled(malformed=True))
                    return True
                if answer is None:
                    self._complete(Condition.BAD, "AUTHENTICATE cancelled")
                    self._events.append(AuthCancelled())
                else:
                    self._events.append(AuthResponse(answer))
        return True

    def _step_idle(self) -> bool:
        line = self._framer.next_line()
        match line:
            case None:
                return False
            case InputClosed():
                self._lost()
            case LineReceived(data) if is_done(data):
                self._phase = Phase.COMMAND
                self._events.append(IdleDone())
            case _:
                self._phase = Phase.COMMAND
                self._complete(Condition.BAD, "IDLE ends with DONE (RFC 2177)")
                self._events.append(IdleAborted())
        return True

    def _command_received(self, command: Command) -> None:
        self._tag = command.tag
        self._command = command
        refused = refusal(
            command, self._state, self._settings, tls=self._tls, compressed=self._compressed
        )
        if refused is not None:
            self._complete(refused.condition, refused.text, refused.code)
            return
        match command:
            case Capability():
                self._out += untagged(Atom("CAPABILITY"), *map(Atom, self.capabilities()))
                self._complete(Condition.OK)
            case Logout():
                self._out += untagged_status(Condition.BYE, "Logging out")
                self._complete(Condition.OK)
                self._close()
                self._events.append(LoggedOut())
            case Id():
                self._out += untagged(Atom("ID"), id_data(self._settings))
                self._complete(Condition.OK)
            case Enable(capabilities=names):
                # RFC 5161 §3.1: ENABLED lists what this command switched on.
                newly = enable(self._enabled, names)
                self._out += untagged(Atom("ENABLED"), *map(Atom, newly))
                self._complete(Condition.OK)
            case Noop() if self._state is not State.SELECTED:
                self._complete(Condition.OK)
            case _:
                self._events.append(CommandIssued(command))

    # Answers and output.

    def _answering(self, method: str, kinds: tuple[type, ...]) -> Event:
        event = self._pending
        if event is None or not isinstance(event, kinds):
            raise ImapUsageError(f"{method}() does not answer {type(event).__name__}")
        return event

    def _complete(
        self, condition: Condition, text: str | None = None, code: ResponseCode | None = None
    ) -> None:
        """The tagged response of the current command; the next may be parsed."""
        self._pending = None
        tag, command = self._tag, self._command
        if tag is None or command is None:
            raise ImapUsageError("no command to complete")
        if text is None:
            text = f"{command.NAME} completed"
        self._out += tagged(tag, condition, text, code, utf8=self.utf8)
        self._counted(condition)

    def _counted(self, condition: Condition) -> None:
        """Count BAD answers in a row; at the limit, BYE and close."""
        if condition is not Condition.BAD:
            self._bad_in_row = 0
            return
        self._bad_in_row += 1
        if self._bad_in_row >= self._settings.max_bad_commands and self._phase is not Phase.CLOSED:
            self._out += untagged_status(Condition.BYE, "Too many invalid commands")
            self._close()
            self._events.append(TooManyErrors())

    def _capability_code(self) -> ResponseCode:
        return ResponseCode("CAPABILITY", tuple(Atom(name) for name in self.capabilities()))

    def _lost(self) -> None:
        self._close()
        self._events.append(ConnectionLost())

    def _close(self) -> None:
        self._phase = Phase.CLOSED
        self._state = State.LOGOUT
        self._framer.clear()
