"""The server side of one POP3 session, as a sans-I/O state machine.

Theory of operation
-------------------

`Pop3ServerConnection` never touches a socket. The service feeds it what
the client sent (`receive_data`), asks it for events (`next_event`),
answers the events that need an answer, and writes out what it produces
(`data_to_send`). The core answers alone whatever needs no outside
knowledge: syntax, sequence, limits, CAPA, NOOP, and — from the listing
the service hands it at login — STAT, LIST, UIDL, DELE and RSET
(`roost.proto.pop3.maildrop`). It asks the service the rest.

RFC 1939 §3 gives a session three states, and the core keeps them::

    state          commands                       leaves it
    ─────────────  ─────────────────────────────  ──────────────────────────────────
    AUTHORIZATION  USER PASS AUTH STLS UTF8       login_accepted() → TRANSACTION;
                   CAPA QUIT                      QUIT → closed (Quit)
    TRANSACTION    STAT LIST UIDL RETR TOP DELE   QUIT → UPDATE (Update)
                   RSET NOOP CAPA QUIT
    UPDATE         none: the service removes the  accept() or reject() → closed
                   marked messages

Across the states, the phase says how input is read::

    phase     reads                              leaves it
    ────────  ─────────────────────────────────  ──────────────────────────────────
    GREETING  nothing (buffers)                  greeting(): +OK → COMMAND; -ERR → CLOSED
    COMMAND   command lines                      AUTH challenge → SASL; STLS accepted →
                                                 TLS; QUIT, too many errors → CLOSED
    SASL      one base64 response line           next challenge, or the end → COMMAND
    TLS       nothing (input dropped)            tls_established() → COMMAND
    CLOSED    nothing                            —

One rule keeps pipelining (RFC 2449 §6.6) ordered without bookkeeping:
after an event in `NEEDS_ANSWER` the core parses nothing further until
the service has answered it, and every response, the core's own or the
service's, is appended to one output buffer in command order. Calling
`next_event` while an answer is owed raises `Pop3StateError`. The
service writes out `data_to_send` every time `next_event` returns None,
before it reads again; responses to a pipelined group leave in one write.

End of input (``receive_data(b"")``) ends any state with `ConnectionLost`
once the complete lines before it are used, so a client that pipelines
QUIT and closes still reaches the UPDATE state; one that just goes away
never does (RFC 1939 §6), and neither does one the core aborts. Errors
split as in h11 (`roost.proto.pop3.errors`): the client can make the core
refuse, count errors and hang up, never raise.
"""

from __future__ import annotations

import enum
from collections import deque

from roost.proto.pop3 import commands as cmd
from roost.proto.pop3 import replies
from roost.proto.pop3.auth import AskService, Refused, SaslLogin, SendChallenge, Step
from roost.proto.pop3.buffer import OVERLONG, ReceiveBuffer
from roost.proto.pop3.capabilities import capa_response
from roost.proto.pop3.encoder import EncodedMessage, MessageEncoder
from roost.proto.pop3.errors import (
    HttpRequestError,
    MessageDeletedError,
    NoSuchMessageError,
    NotAuthenticatedError,
    PeerError,
    Pop3StateError,
    UnknownCommandError,
)
from roost.proto.pop3.events import (
    LOGIN_EVENTS,
    NEEDS_ANSWER,
    VIA_USER,
    AbortReason,
    Authenticated,
    AuthFailed,
    ConnectionLost,
    Event,
    PasswordLogin,
    Quit,
    Retrieve,
    ScramKeysRequested,
    SessionAborted,
    StartTlsRequested,
    Update,
    Utf8Enabled,
)
from roost.proto.pop3.maildrop import Maildrop, MaildropSession
from roost.proto.pop3.replies import Reply
from roost.proto.pop3.settings import Pop3Settings
from roost.proto.sasl import FailureReason, SaslConfig, ScramCredentials


class State(enum.Enum):
    """The session's state (RFC 1939 §3)."""

    AUTHORIZATION = enum.auto()
    TRANSACTION = enum.auto()
    UPDATE = enum.auto()


class Phase(enum.Enum):
    """How the core reads input now; see the table in the module docstring."""

    GREETING = enum.auto()
    COMMAND = enum.auto()
    SASL = enum.auto()
    TLS = enum.auto()
    CLOSED = enum.auto()


# A correct client meets these too (a message it just marked), so they do
# not count towards `Pop3Settings.max_errors`.
_NOT_COUNTED = (NoSuchMessageError, MessageDeletedError)


class Pop3ServerConnection:
    """One POP3 server session (RFC 1939) with its extensions.

    ``sasl`` configures AUTH (RFC 5034); without it no mechanism is
    offered. ``tls`` is True for a connection that began with TLS (port
    995, RFC 8314 §3.3).
    """

    def __init__(
        self, settings: Pop3Settings, *, sasl: SaslConfig | None = None, tls: bool = False
    ) -> None:
        self._sasl_config = sasl
        self._settings = settings.runnable(sasl=sasl is not None)
        self._tls = tls
        self._buffer = ReceiveBuffer()
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._pending: Event | None = None
        self._state = State.AUTHORIZATION
        self._phase = Phase.GREETING
        self._eof = False
        self._errors = 0
        self._utf8 = False
        self._user_name: str | None = None
        self._user: str | None = None
        self._login: SaslLogin | None = None
        self._maildrop: MaildropSession | None = None
        self._encoder: MessageEncoder | None = None

    # State the service may look at.

    @property
    def settings(self) -> Pop3Settings:
        return self._settings

    @property
    def state(self) -> State:
        """The RFC 1939 §3 state; see the table in the module docstring."""
        return self._state

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def closing(self) -> bool:
        """True once the session is over: write `data_to_send`, then close."""
        return self._phase is Phase.CLOSED

    @property
    def tls(self) -> bool:
        return self._tls

    @property
    def utf8(self) -> bool:
        """UTF8 was accepted in this session (RFC 6856 §2)."""
        return self._utf8

    @property
    def user(self) -> str | None:
        """The user whose maildrop is open, from the TRANSACTION state on."""
        return self._user

    @property
    def maildrop(self) -> MaildropSession | None:
        """The listing and this session's deletion marks, once logged in."""
        return self._maildrop

    @property
    def awaiting(self) -> Event | None:
        """The event that waits for the service's answer, if any."""
        return self._pending

    # Bytes in and out.

    def receive_data(self, data: bytes) -> None:
        """Feed what the client sent; ``b""`` means it closed its side."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise Pop3StateError("receive_data after end of input")
        if self._phase in (Phase.TLS, Phase.CLOSED):
            return
        self._buffer.feed(data)

    def data_to_send(self) -> bytes:
        """Everything queued for the client since the last call."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event | None:
        """The next event, or None when the core needs more input.

        Raises `Pop3StateError` while an event waits for its answer, before
        `greeting`, between an accepted STLS and `tls_established`, and
        after the session closed (unless the client closed it: then
        `ConnectionLost` again).
        """
        if self._pending is not None:
            raise Pop3StateError(f"answer {type(self._pending).__name__} first")
        if self._phase is Phase.GREETING:
            raise Pop3StateError("call greeting() first")
        if self._phase is Phase.TLS:
            raise Pop3StateError("call tls_established() after the handshake first")
        while not self._events:
            if self._phase is Phase.CLOSED:
                if self._eof:
                    return ConnectionLost()
                raise Pop3StateError("the session is closed")
            if not self._step():
                if not self._eof:
                    return None
                self._close()
        event = self._events.popleft()
        if isinstance(event, NEEDS_ANSWER):
            self._pending = event
        return event

    # The service's side.

    def greeting(self, reply: Reply | None = None) -> None:
        """Queue the opening ``+OK`` (RFC 1939 §4), or a ``-ERR`` that refuses
        service (e.g. ``[SYS/TEMP]`` for too many connections) and closes."""
        if self._phase is not Phase.GREETING:
            raise Pop3StateError("greeting() was called already")
        if reply is None:
            reply = replies.ok(self._settings.greeting)
        self._send(reply)
        self._phase = Phase.COMMAND if reply.ok else Phase.CLOSED

    def login_accepted(self, maildrop: Maildrop) -> None:
        """Answer `PasswordLogin` or `Authenticated`: the user is who they say
        and ``maildrop`` is locked for this session. The core replies
        ``+OK`` and enters the TRANSACTION state (RFC 1939 §7)."""
        event = self._answering("login_accepted", LOGIN_EVENTS)
        self._pending = None
        assert isinstance(event, PasswordLogin | Authenticated)
        if isinstance(event, PasswordLogin) and event.via != VIA_USER:
            assert self._login is not None
            self._login.password_accepted()
        self._login = None
        self._phase = Phase.COMMAND
        self._state = State.TRANSACTION
        self._user = event.user
        self._maildrop = MaildropSession(maildrop)
        self._send(self._maildrop.summary())

    def scram_keys(self, credentials: ScramCredentials | None) -> None:
        """Answer `ScramKeysRequested`: the stored keys, or None for an
        unknown user (the exchange then fails at the proof, as for a
        wrong password)."""
        self._answering("scram_keys", (ScramKeysRequested,))
        self._pending = None
        assert self._login is not None
        self._carry_out(self._login.scram_keys(credentials))

    def accept(self) -> None:
        """Say yes to `StartTlsRequested` or `Update`."""
        event = self._answering("accept", (StartTlsRequested, Update))
        self._pending = None
        if isinstance(event, StartTlsRequested):
            self._send(replies.BEGIN_TLS)
            # RFC 2595 §4 and DESIGN.md: nothing the client sent before the
            # handshake may count as sent under TLS.
            self._buffer.clear()
            self._phase = Phase.TLS
        else:
            assert self._maildrop is not None
            self._send(replies.signing_off(self._maildrop.count))
            self._close()

    def reject(self, reply: Reply) -> None:
        """Say no to the waiting event with a ``-ERR`` ``reply``.

        After `Update` the session closes anyway (RFC 1939 §6); after a
        login event it stays in the AUTHORIZATION state.
        """
        event = self._answering("reject", NEEDS_ANSWER)
        if reply.ok:
            raise Pop3StateError("reject takes a -ERR reply")
        if self._encoder is not None:
            raise Pop3StateError("the message has begun: end it, or close the connection")
        self._pending = None
        self._login = None
        self._phase = Phase.COMMAND
        self._send(reply)
        if isinstance(event, Update):
            self._close()

    def tls_established(self, settings: Pop3Settings | None = None) -> None:
        """The handshake after STLS is done; go on in the AUTHORIZATION state.

        RFC 2595 §4: the client forgets the capabilities it learnt and asks
        again; the core forgets a USER given before. ``settings`` may
        replace the listener's, e.g. to allow USER now.
        """
        if self._phase is not Phase.TLS:
            raise Pop3StateError("tls_established without an accepted STLS")
        if settings is not None:
            self._settings = settings.runnable(sasl=self._sasl_config is not None)
        self._tls = True
        self._user_name = None
        self._buffer.clear()
        self._phase = Phase.COMMAND

    def begin_message(self) -> None:
        """Begin the answer to `Retrieve`: the ``+OK`` line (RFC 1939 §5, §7)."""
        event = self._answering("begin_message", (Retrieve,))
        assert isinstance(event, Retrieve)
        if self._encoder is not None:
            raise Pop3StateError("begin_message called twice")
        if event.top_lines is None:
            self._send(replies.message_follows(event.size_octets))
        else:
            self._send(replies.TOP_FOLLOWS)
        self._encoder = MessageEncoder(event.top_lines)

    def send_message(self, message: EncodedMessage) -> None:
        """Answer a RETR at once with the whole message, encoded beforehand
        (`encode_message`): the ``+OK`` line, the message, its end. TOP
        cuts the message as it goes, so it takes `begin_message`."""
        event = self._answering("send_message", (Retrieve,))
        assert isinstance(event, Retrieve)
        if event.top_lines is not None:
            raise Pop3StateError("TOP sends part of the message: use begin_message")
        if self._encoder is not None:
            raise Pop3StateError("the message has begun: end it")
        self._send(replies.message_follows(event.size_octets))
        self._out += message.wire
        self._pending = None

    def message_data(self, chunk: bytes) -> bool:
        """Queue the next chunk of the stored message, dot-stuffed.

        Returns False once TOP has what it sends: the service may stop
        reading and call `end_message`.
        """
        if self._encoder is None:
            raise Pop3StateError("message_data before begin_message")
        self._out += self._encoder.feed(chunk)
        return self._encoder.wants_more

    def end_message(self) -> None:
        """End the message: CRLF if needed, then ``.`` (RFC 1939 §3)."""
        if self._encoder is None:
            raise Pop3StateError("end_message before begin_message")
        self._out += self._encoder.finish()
        self._encoder = None
        self._pending = None

    # Reading input.

    def _step(self) -> bool:
        """Use one buffered line; False when none has arrived."""
        if self._phase is Phase.SASL:
            line = self._buffer.take_line(self._settings.max_sasl_line_octets)
            if line is None:
                return False
            assert self._login is not None
            self._carry_out(self._login.respond(line))
            return True
        line = self._buffer.take_line(self._settings.line_limit_octets)
        if line is None:
            return False
        if line is OVERLONG or self._settings.too_long(line):
            self._error(replies.LINE_TOO_LONG)
        else:
            self._command(line)
        return True

    def _command(self, line: bytes) -> None:
        # RFC 1939 §7: PASS only right after USER; anything else forgets it.
        user_name, self._user_name = self._user_name, None
        try:
            command = cmd.parse_command(line)
            if isinstance(command, cmd.Capa):
                authorized = self._state is not State.AUTHORIZATION
                self._out += capa_response(self._settings, authorized=authorized, tls=self._tls)
            elif self._state is State.AUTHORIZATION:
                self._authorization(command, user_name)
            else:
                assert self._maildrop is not None
                self._transaction(self._maildrop.answer(command))
        except HttpRequestError:
            self._abort(replies.HTTP_REFUSED, AbortReason.HTTP_REQUEST)
        except _NOT_COUNTED as exc:
            self._send(cmd.refusal(exc))
        except PeerError as exc:
            self._error(cmd.refusal(exc))

    def _authorization(self, command: cmd.Command, user_name: str | None) -> None:
        """RFC 1939 §4 and §7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4, RFC 6856 §2."""
        settings = self._settings
        match command:
            case cmd.Quit():
                self._send(replies.SIGNING_OFF)
                self._close()
                self._events.append(Quit())
            case cmd.User(name=name):
                refusal = settings.user_pass_refusal(tls=self._tls)
                if refusal is None:
                    self._user_name = name
                    self._send(replies.USER_OK)
                else:
                    self._send(refusal)
                    reason = FailureReason.ENCRYPTION_REQUIRED
                    self._events.append(AuthFailed(via=VIA_USER, reason=reason, user=name))
            case cmd.Pass(password=password):
                if user_name is None:
                    self._error(replies.NEED_USER)
                else:
                    self._events.append(PasswordLogin(user_name, password, VIA_USER))
            case cmd.Auth(mechanism=None):
                names = [m.value for m in settings.mechanisms(tls=self._tls)]
                self._out += replies.multiline(replies.AUTH_MECHANISMS_FOLLOW, names)
            case cmd.Auth():
                login, step = SaslLogin.start(
                    command, settings=settings, config=self._sasl_config, tls=self._tls
                )
                self._login = login
                self._carry_out(step)
            case cmd.Stls():
                if self._tls:
                    self._send(replies.TLS_ACTIVE)
                elif not settings.tls_available:
                    self._send(replies.TLS_NOT_AVAILABLE)
                else:
                    self._events.append(StartTlsRequested())
            case cmd.Utf8():
                if not settings.utf8:
                    raise UnknownCommandError("UTF8")
                self._send(replies.UTF8_ENABLED)
                if not self._utf8:
                    self._utf8 = True
                    self._events.append(Utf8Enabled())
            case _:
                raise NotAuthenticatedError(command)

    def _transaction(self, answer: bytes | Retrieve | Update) -> None:
        if isinstance(answer, bytes):
            self._out += answer
            return
        if isinstance(answer, Update):
            self._state = State.UPDATE
        self._events.append(answer)

    def _carry_out(self, step: Step) -> None:
        """Do what the SASL exchange asks (see `roost.proto.pop3.auth`)."""
        match step:
            case SendChallenge(wire=wire):
                self._out += wire
                self._phase = Phase.SASL
            case AskService(event=event):
                self._phase = Phase.COMMAND
                self._events.append(event)
            case Refused(reply=reply, notice=notice):
                self._login = None
                self._phase = Phase.COMMAND
                self._send(reply)
                self._events.append(notice)

    # Answers and output.

    def _answering(self, method: str, kinds: tuple[type, ...]) -> Event:
        event = self._pending
        if event is None or not isinstance(event, kinds):
            raise Pop3StateError(f"{method}() does not answer {type(event).__name__}")
        return event

    def _send(self, reply: Reply) -> None:
        self._out += reply.to_bytes()

    def _error(self, reply: Reply) -> None:
        """Refuse a command the client got wrong and count it; too many end
        the session."""
        self._send(reply)
        self._errors += 1
        limit = self._settings.max_errors
        if limit and self._errors >= limit and self._phase is not Phase.CLOSED:
            self._abort(replies.TOO_MANY_ERRORS, AbortReason.TOO_MANY_ERRORS)

    def _abort(self, reply: Reply, reason: AbortReason) -> None:
        self._send(reply)
        self._close()
        self._events.append(SessionAborted(reason))

    def _close(self) -> None:
        self._phase = Phase.CLOSED
        self._buffer.clear()
        self._login = None
        self._user_name = None
