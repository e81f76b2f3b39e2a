"""The server side of one SMTP session, as a sans-I/O state machine.

Theory of operation
-------------------

`SmtpServerConnection` never touches a socket. The service feeds it what
the client sent (`receive_data`), asks it for events (`next_event`),
answers the events that need an answer, and writes out what it produces
(`data_to_send`). The core answers on its own whatever needs no outside
knowledge — syntax, sequence, limits, NOOP, HELP, RSET, QUIT — and asks
the service about the rest: who may send, who may receive, whether the
message is safely stored.

One rule keeps pipelining (RFC 2920) ordered without any bookkeeping:
after an event in `NEEDS_ANSWER` the core parses nothing further until
the service has answered it, and every reply, the core's own or the
service's, is appended to one output buffer in command order. Calling
`next_event` while an answer is owed raises `SmtpStateError`: the net
driver reads the socket whenever a core returns None, so a None here
would leave the client waiting for a reply that is never written.

The phase decides how input is read::

    phase     reads                     leaves it
    ────────  ────────────────────────  ─────────────────────────────────────────
    GREETING  nothing (buffers)         greeting(): 220 → COMMAND; 554 → COMMAND,
                                        refusing all but QUIT (§3.1); 421 → CLOSED
    COMMAND   CRLF-terminated lines     DataRequested accepted → DATA (354) or BDAT;
                                        auth_challenge → AUTH; StartTls accepted →
                                        TLS; QUIT, too many errors → CLOSED
    DATA      message up to CRLF.CRLF   DataEnd or MessageRefused → COMMAND
    BDAT      exactly n octets          ack, DataEnd or refusal → COMMAND
    AUTH      one SASL response line    AuthResponse / AuthCancelled → COMMAND
    TLS       nothing (input dropped)   tls_established() → COMMAND, session reset
    CLOSED    nothing                   —

The core answers many commands by itself, so the service must write out
`data_to_send` every time `next_event` returns None, before it reads
again; replies to a pipelined group then leave in one write.

End of input (``receive_data(b"")``) ends any phase with `ConnectionLost`,
which `next_event` then returns on every call. After QUIT, a timeout or
an abort, `closing` is true and the service writes the last reply and
closes. Errors split as in h11 (see `roost.proto.smtp.errors`): the
client can make the core refuse, count errors and hang up, never raise.
"""

from __future__ import annotations

import base64
import enum
from collections import deque

from roost.proto.smtp import replies
from roost.proto.smtp.buffer import OVERLONG, ReceiveBuffer
from roost.proto.smtp.capabilities import Offer
from roost.proto.smtp.commands import HTTP_VERBS, auth_response, refusal, split_line
from roost.proto.smtp.errors import PeerError, SmtpStateError
from roost.proto.smtp.events import (
    NEEDS_ANSWER,
    AbortReason,
    AuthCancelled,
    AuthRequested,
    AuthResponse,
    ConnectionLost,
    DataEnd,
    DataRequested,
    Event,
    Hello,
    MailFrom,
    MessageRefused,
    Quit,
    RcptTo,
    Reset,
    SessionAborted,
    StartTlsRequested,
    Vrfy,
    check_acceptance,
)
from roost.proto.smtp.replies import Reply, prefixed
from roost.proto.smtp.session import BdatPlan, Outcome, Said, Session, Transaction
from roost.proto.smtp.settings import SmtpSettings
from roost.proto.smtp.transfer import Transfer


class Phase(enum.Enum):
    """How the core reads input now; see the table in the module docstring."""

    GREETING = enum.auto()
    COMMAND = enum.auto()
    DATA = enum.auto()
    BDAT = enum.auto()
    AUTH = enum.auto()
    TLS = enum.auto()
    CLOSED = enum.auto()


class SmtpServerConnection:
    """One SMTP server session (RFC 5321) with its ESMTP extensions.

    ``tls`` is True for a connection that began with TLS (port 465,
    RFC 8314 §3.3).
    """

    def __init__(self, settings: SmtpSettings, *, tls: bool = False) -> None:
        self._session = Session(settings, tls=tls)
        self._buffer = ReceiveBuffer()
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._pending: Event | None = None
        self._phase = Phase.GREETING
        self._eof = False
        self._errors = 0
        self._transfer: Transfer | None = None
        self._plan: BdatPlan | None = None
        self._skipping: Transfer | None = None

    # State the service may look at.

    @property
    def settings(self) -> SmtpSettings:
        return self._session.settings

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def closing(self) -> bool:
        """True once the session is over: write `data_to_send`, then close."""
        return self._phase is Phase.CLOSED

    @property
    def tls(self) -> bool:
        return self._session.tls

    @property
    def authenticated(self) -> bool:
        """An AUTH exchange succeeded in this session (RFC 4954 §4)."""
        return self._session.authenticated

    @property
    def client_name(self) -> str | None:
        """The name from the accepted HELO/EHLO, if any."""
        return self._session.hello

    @property
    def offer(self) -> Offer:
        """What the accepted EHLO offered (nothing after HELO or before hello)."""
        return self._session.offer

    @property
    def in_transaction(self) -> bool:
        """MAIL was accepted and the transaction has not ended."""
        return self._session.txn is not None

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
            raise SmtpStateError("receive_data after end of input")
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

        Raises `SmtpStateError` while an event waits for its answer, before
        `greeting`, between an accepted STARTTLS and `tls_established`, and
        after the session closed (unless the client closed it: then
        `ConnectionLost` again).
        """
        if self._pending is not None:
            raise SmtpStateError(f"answer {type(self._pending).__name__} first")
        if self._phase is Phase.GREETING:
            raise SmtpStateError("call greeting() first")
        if self._phase is Phase.TLS:
            raise SmtpStateError("call tls_established() after the handshake first")
        while not self._events:
            if self._phase is Phase.CLOSED:
                if self._eof:
                    return ConnectionLost()
                raise SmtpStateError("the session is closed")
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
        """Queue the opening reply (RFC 5321 §3.1, §4.3.1).

        220 by default; 554 refuses service politely (every command but
        QUIT then gets 503); 421 closes at once.
        """
        if self._phase is not Phase.GREETING:
            raise SmtpStateError("greeting() was called already")
        settings = self.settings
        if reply is None:
            reply = Reply(220, None, f"{settings.hostname} {settings.banner}".rstrip())
        if reply.code not in (220, 421, 554):
            raise SmtpStateError(f"a greeting is 220, 421 or 554, not {reply.code}")
        self._out += reply.to_bytes(enhanced=False)
        self._phase = Phase.CLOSED if reply.code == 421 else Phase.COMMAND
        self._session.refused = reply.code == 554

    def accept(self, reply: Reply | None = None) -> None:
        """Say yes to the waiting event, with ``reply`` or the usual one."""
        event = self._answering("accept")
        check_acceptance(event, reply)
        self._pending = None
        session = self._session
        match event:
            case Hello():
                self._transfer = None
                self._send(session.accept_hello(event), enhanced=False)
            case MailFrom(params=params):
                session.txn = Transaction(params)
                self._send(reply or replies.SENDER_OK)
            case RcptTo():
                assert session.txn is not None
                session.txn.recipients += 1
                self._send(reply or replies.RECIPIENT_OK)
            case DataRequested(chunking=False):
                self._send(reply or replies.START_MAIL_INPUT)
                self._transfer = Transfer.for_message(self.settings, binary=False)
                self._phase = Phase.DATA
            case DataRequested(chunking=True):
                assert session.txn is not None and self._plan is not None
                binary = session.txn.binary
                self._transfer = Transfer.for_message(self.settings, binary=binary)
                self._begin_chunk(self._plan)
            case DataEnd():
                self._send(reply or replies.MESSAGE_ACCEPTED)
                self._end_transaction()
            case StartTlsRequested():
                self._send(reply or replies.READY_TO_START_TLS)
                # RFC 3207 §4.2: nothing the client sent before the
                # handshake may count as sent under TLS.
                self._buffer.clear()
                self._phase = Phase.TLS
            case Vrfy():
                self._send(reply or replies.VRFY_CANNOT_VERIFY)

    def reject(self, reply: Reply) -> None:
        """Say no to the waiting event with a 4xx or 5xx ``reply``."""
        if isinstance(self._pending, AuthRequested | AuthResponse):
            self.auth_failed(reply)
            return
        event = self._answering("reject")
        if not reply.negative:
            raise SmtpStateError(f"cannot reject with a {reply.code} reply")
        self._pending = None
        match event:
            case Hello():
                self._error(reply, enhanced=False)
            case DataRequested(chunking=True):
                # RFC 3030 §2: read the chunk, then refuse it; the
                # transaction has failed.
                assert self._plan is not None
                self._session.txn = None
                self._skip_chunk(self._plan, reply)
            case DataEnd():
                self._end_transaction()
                self._error(reply)
            case _:
                self._error(reply)

    def auth_challenge(self, data: bytes) -> None:
        """Send a SASL challenge, ``334 <base64>`` (RFC 4954 §4)."""
        self._answering("auth_challenge", auth=True)
        self._pending = None
        self._out += b"334 " + base64.b64encode(data) + b"\r\n"
        self._phase = Phase.AUTH

    def auth_succeeded(self, reply: Reply | None = None) -> None:
        """The exchange succeeded: 235 2.7.0 (RFC 4954 §6)."""
        self._answering("auth_succeeded", auth=True)
        if reply is not None and not reply.positive:
            raise SmtpStateError(f"AUTH cannot succeed with {reply.code}")
        self._pending = None
        self._session.authenticated = True
        self._send(reply or replies.AUTH_SUCCEEDED)

    def auth_failed(self, reply: Reply = replies.AUTH_FAILED) -> None:
        """The exchange failed: 535 5.7.8 by default; 454 4.7.0, 534 5.7.9 …"""
        self._answering("auth_failed", auth=True)
        if not reply.negative:
            raise SmtpStateError(f"AUTH cannot fail with {reply.code}")
        self._pending = None
        self._error(reply)

    def tls_established(self, settings: SmtpSettings | None = None) -> None:
        """The handshake after STARTTLS is done: start the session afresh.

        RFC 3207 §4.2: the server forgets everything it learnt from the
        client, who must send EHLO again. ``settings`` may replace the
        listener's, e.g. to offer password mechanisms now.
        """
        if self._phase is not Phase.TLS:
            raise SmtpStateError("tls_established without an accepted STARTTLS")
        self._session.restart(settings or self.settings, tls=True)
        self._buffer.clear()
        self._transfer = None
        self._phase = Phase.COMMAND

    def timeout(self) -> None:
        """The client was idle too long: 421 4.4.2 and close (RFC 5321 §4.5.3.2)."""
        self._shut(replies.TIMEOUT)

    def shutdown(self) -> None:
        """The server is stopping: 421 4.3.2 and close (RFC 5321 §3.8)."""
        self._shut(replies.SHUTTING_DOWN)

    def end(self, text: str) -> None:
        """The session was ended from outside (its account disabled): 421 4.7.0 and close."""
        self._shut(replies.Reply(421, "4.7.0", f"{text}, closing connection"))

    # Reading input.

    def _step(self) -> bool:
        """Use buffered input; False when more is needed to get anywhere."""
        if self._phase is Phase.COMMAND:
            return self._step_command()
        if self._phase is Phase.AUTH:
            return self._step_auth()
        return self._step_content()

    def _step_command(self) -> bool:
        line = self._buffer.take_line(self.settings.line_limit_octets)
        if line is None:
            return False
        if line is OVERLONG:
            self._error(replies.LINE_TOO_LONG)
        elif not line.endswith(b"\r\n"):
            self._error(replies.LINE_NOT_CRLF)
        else:
            self._command(line[:-2])
        return True

    def _command(self, raw: bytes) -> None:
        try:
            command = split_line(raw)
        except PeerError as exc:
            self._error(refusal(exc, ""))
            return
        verb = command.verb
        if verb != "AUTH" and len(raw) + 2 > self.settings.max_command_octets:
            self._error(replies.LINE_TOO_LONG)
        elif verb in HTTP_VERBS:
            self._abort(replies.HTTP_REFUSED, AbortReason.HTTP_REQUEST)
        elif self._session.refused and verb != "QUIT":
            self._error(replies.SERVICE_REFUSED)
        else:
            try:
                outcome = self._session.command(verb, command.argument)
            except PeerError as exc:
                outcome = refusal(exc, verb)
            self._carry_out(outcome)

    def _carry_out(self, outcome: Outcome) -> None:
        match outcome:
            case Reply():
                self._error(outcome)
            case BdatPlan():
                self._bdat(outcome)
            case Said(reply=reply, event=event):
                self._send(reply)
                if isinstance(event, Quit):
                    self._close()
                elif isinstance(event, Reset):
                    self._end_transaction()
                if event is not None:
                    self._events.append(event)
            case _:
                self._events.append(outcome)

    def _step_auth(self) -> bool:
        line = self._buffer.take_line(self.settings.max_auth_line_octets)
        if line is None:
            return False
        self._phase = Phase.COMMAND
        answer = auth_response(line)
        if isinstance(answer, Reply):
            self._events.append(AuthCancelled(malformed=answer is not replies.AUTH_CANCELLED))
            self._error(answer)
        else:
            self._events.append(answer)
        return True

    # Message content: DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030 §2).

    def _step_content(self) -> bool:
        transfer = self._skipping or self._transfer
        assert transfer is not None
        if not transfer.read(self._buffer, self._events):
            return False
        if transfer.done:
            self._phase = Phase.COMMAND
            self._skipping = None
            reply, over = transfer.finish(self._events)
            if over:
                self._transfer = None
                if reply is not None:
                    self._session.txn = None
            if reply is not None and reply.positive:
                self._send(reply)
            elif reply is not None:
                self._error(reply)
        return True

    def _bdat(self, plan: BdatPlan) -> None:
        if plan.refusal is not None:
            if plan.failed_transaction:
                self._events.append(MessageRefused(plan.refusal))
            self._skip_chunk(plan, plan.refusal)
        elif plan.ask:
            self._plan = plan
            self._events.append(DataRequested(chunking=True))
        else:
            self._begin_chunk(plan)

    def _begin_chunk(self, plan: BdatPlan) -> None:
        assert self._session.txn is not None and self._transfer is not None
        self._session.txn.bdat = True
        self._transfer.start_chunk(plan)
        self._phase = Phase.BDAT

    def _skip_chunk(self, plan: BdatPlan, reply: Reply) -> None:
        """Read and drop the chunk, then send ``reply``."""
        refused = BdatPlan(plan.size, plan.last, refusal=reply)
        self._skipping = Transfer.skipping(self.settings, refused)
        self._phase = Phase.BDAT

    def _end_transaction(self) -> None:
        self._session.txn = None
        self._transfer = None

    # Answers and output.

    def _answering(self, method: str, *, auth: bool = False) -> Event:
        event = self._pending
        if event is None or auth != isinstance(event, AuthRequested | AuthResponse):
            raise SmtpStateError(f"{method}() does not answer {type(event).__name__}")
        return event

    def _send(self, reply: Reply, *, enhanced: bool = True) -> None:
        show = enhanced and self._session.offer.enhanced_status_codes
        self._out += reply.to_bytes(enhanced=show)

    def _error(self, reply: Reply, *, enhanced: bool = True) -> None:
        """Send a negative reply and count it; too many end the session, as
        does a 421 (§3.8). A 452 for too many recipients does not count:
        the client does what §4.5.3.1.10 tells it to."""
        self._send(reply, enhanced=enhanced)
        if reply.code == 421 and self._phase is not Phase.CLOSED:
            self._close()
            self._events.append(SessionAborted(AbortReason.SERVICE_CLOSING))
        if reply is replies.TOO_MANY_RECIPIENTS or self._phase is Phase.CLOSED:
            return
        self._errors += 1
        limit = self.settings.max_errors
        if limit and self._errors >= limit:
            self._abort(replies.TOO_MANY_ERRORS, AbortReason.TOO_MANY_ERRORS)

    def _abort(self, reply: Reply, reason: AbortReason) -> None:
        self._send(prefixed(reply, self.settings.hostname))
        self._close()
        self._events.append(SessionAborted(reason))

    def _shut(self, reply: Reply) -> None:
        if self._phase is Phase.CLOSED:
            return
        self._pending = None
        self._send(prefixed(reply, self.settings.hostname))
        self._close()

    def _close(self) -> None:
        self._phase = Phase.CLOSED
        self._buffer.clear()
        self._skipping = None
        self._end_transaction()
