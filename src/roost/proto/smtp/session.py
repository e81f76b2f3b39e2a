"""What the server knows about its client, and what that lets the client do.

RFC 5321 §4.1.4 orders a session: a hello, then transactions of one MAIL,
one or more RCPT and one DATA (or BDAT chunks, RFC 3030), with RSET,
NOOP, HELP, VRFY and QUIT allowed at any time. Extensions add their own
rules: STARTTLS restarts the session (RFC 3207 §4.2), AUTH happens at
most once and outside a transaction (RFC 4954 §4).

`Session` keeps that state and applies those rules. Each command method
returns either the reply that refuses the command or the event to emit;
it reads no input and writes no output — `roost.proto.smtp.connection`
does both — so the rules can be read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.smtp import replies
from roost.proto.smtp.addresses import hello_name_ok
from roost.proto.smtp.capabilities import Offer, ehlo_reply, helo_reply
from roost.proto.smtp.commands import (
    NOT_IMPLEMENTED,
    parse_auth,
    parse_bdat,
    parse_hello,
    parse_mail,
    parse_rcpt,
)
from roost.proto.smtp.events import (
    AuthRequested,
    Body,
    DataRequested,
    Event,
    Hello,
    MailFrom,
    MailParams,
    Quit,
    RcptTo,
    Reset,
    StartTlsRequested,
    Vrfy,
)
from roost.proto.smtp.replies import Reply, prefixed
from roost.proto.smtp.settings import SmtpSettings


class Transaction:
    """A mail transaction, from an accepted MAIL to its end (§3.3)."""

    __slots__ = ("bdat", "params", "rcpt_attempts", "recipients")

    def __init__(self, params: MailParams) -> None:
        self.params = params
        self.recipients = 0
        """RCPT commands the service accepted."""
        self.rcpt_attempts = 0
        """RCPT commands that got past the sequence checks."""
        self.bdat = False
        """A BDAT chunk was accepted: DATA and RCPT are closed now."""

    @property
    def binary(self) -> bool:
        """BODY=BINARYMIME: content is octets, not lines (RFC 3030 §3)."""
        return self.params.body is Body.BINARY_MIME


@dataclass(frozen=True, slots=True)
class BdatPlan:
    """What to do with a BDAT command's chunk (RFC 3030 §2).

    Whatever the plan, the chunk's octets are read: otherwise they would
    be parsed as commands.
    """

    size: int
    last: bool
    refusal: Reply | None = None
    """Read and drop the chunk, then send this."""
    ask: bool = False
    """The first chunk of a transaction: ask the service first."""
    failed_transaction: bool = False
    """The refusal ends a transaction the service knows about."""


@dataclass(frozen=True, slots=True)
class Said:
    """The core answers a command itself with ``reply``, then emits ``event``."""

    reply: Reply
    event: Event | None = None


Outcome = Reply | Event | BdatPlan | Said
"""What a command comes to: a refusal (a negative `Reply`), an event for
the service, a plan for a BDAT chunk, or the core's own answer."""


class Session:
    """The state of one session and the rules that depend on it."""

    __slots__ = ("authenticated", "extended", "hello", "offer", "refused", "settings", "tls", "txn")

    def __init__(self, settings: SmtpSettings, *, tls: bool) -> None:
        self.settings = settings
        self.tls = tls
        self.hello: str | None = None
        """The client's name from the accepted HELO/EHLO."""
        self.extended = False
        """The accepted hello was EHLO."""
        self.offer = Offer()
        """What that EHLO offered; nothing before it or after HELO."""
        self.authenticated = False
        self.txn: Transaction | None = None
        self.refused = False
        """The greeting was 554: refuse everything but QUIT (§3.1)."""

    def restart(self, settings: SmtpSettings, *, tls: bool) -> None:
        """Forget what the client said, as after STARTTLS (RFC 3207 §4.2)."""
        self.settings = settings
        self.tls = tls
        self.hello = None
        self.extended = False
        self.offer = Offer()
        self.authenticated = False
        self.txn = None

    def command(self, verb: str, argument: str) -> Outcome:
        """Run one command line; raises `PeerError` for bad arguments."""
        match verb:
            case "EHLO" | "HELO":
                return self.hello_command(argument, extended=verb == "EHLO")
            case "MAIL":
                return self.mail(argument)
            case "RCPT":
                return self.rcpt(argument)
            case "DATA":
                return self.data(argument)
            case "BDAT":
                return self.bdat(argument)
            case "STARTTLS":
                return self.starttls(argument)
            case "AUTH":
                return self.auth(argument)
            case "RSET" if argument:
                return replies.syntax_error("Syntax: RSET")
            case "RSET":
                self.txn = None
                return Said(replies.RESET_OK, Reset())
            case "NOOP":
                return Said(replies.OK)
            case "HELP":
                return Said(replies.HELP)
            case "VRFY" if not argument:
                return replies.syntax_error("Syntax: VRFY address")
            case "VRFY" if self.settings.vrfy_enabled:
                return Vrfy(argument)
            case "VRFY":
                return Said(replies.VRFY_CANNOT_VERIFY)
            case "QUIT":
                # An argument breaks the grammar; refusing a goodbye helps nobody.
                return Said(prefixed(replies.CLOSING, self.settings.hostname), Quit())
            case _ if verb in NOT_IMPLEMENTED:
                return replies.NOT_IMPLEMENTED
            case _:
                return replies.COMMAND_UNRECOGNIZED

    # HELO and EHLO (§4.1.1.1).

    def hello_command(self, argument: str, *, extended: bool) -> Hello:
        name = parse_hello(argument, "EHLO" if extended else "HELO")
        return Hello(name, extended=extended, syntax_ok=hello_name_ok(name))

    def accept_hello(self, event: Hello) -> Reply:
        """Record an accepted hello; return the reply to it.

        Any transaction ends, as if by RSET (§4.1.4).
        """
        self.hello = event.name
        self.extended = event.extended
        self.txn = None
        hostname = self.settings.hostname
        if not event.extended:
            self.offer = Offer()
            return helo_reply(hostname)
        self.offer = Offer.for_ehlo(self.settings, tls=self.tls)
        return ehlo_reply(hostname, self.offer)

    # The transaction (§4.1.1.2 to §4.1.1.4, RFC 3030).

    def mail(self, argument: str) -> Reply | MailFrom:
        settings = self.settings
        if self.hello is None:
            return replies.SEND_HELLO_FIRST
        if settings.tls_required and not self.tls:
            return replies.STARTTLS_FIRST
        if settings.auth_required and not self.authenticated:
            return replies.AUTH_REQUIRED
        if self.txn is not None:
            return replies.NESTED_MAIL
        address, params = parse_mail(argument, self.offer)
        limit = settings.max_message_octets
        if params.size is not None and limit and params.size > limit:
            return replies.MESSAGE_TOO_BIG
        return MailFrom(address, params)

    def rcpt(self, argument: str) -> Reply | RcptTo:
        txn = self.txn
        if txn is None:
            return replies.NEED_MAIL
        if txn.bdat:
            return replies.RCPT_AFTER_BDAT
        txn.rcpt_attempts += 1
        if txn.recipients >= self.settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        address, params = parse_rcpt(argument, self.offer, utf8=txn.params.smtputf8)
        return RcptTo(address, params)

    @staticmethod
    def _no_recipients(txn: Transaction) -> Reply:
        # RFC 5321 §3.3: after RCPTs that all failed, DATA gets 554.
        return replies.NO_VALID_RECIPIENTS if txn.rcpt_attempts else replies.NEED_RCPT

    def data(self, argument: str) -> Reply | DataRequested:
        txn = self.txn
        if argument:
            return replies.syntax_error("Syntax: DATA")
        if txn is None:
            return replies.NEED_MAIL
        if txn.bdat:
            return replies.DATA_AFTER_BDAT
        if txn.binary:
            return replies.BINARYMIME_NEEDS_BDAT
        if not txn.recipients:
            return self._no_recipients(txn)
        return DataRequested(chunking=False)

    def bdat(self, argument: str) -> BdatPlan:
        """Plan a BDAT; an unreadable size raises (and nothing can be skipped)."""
        size, last = parse_bdat(argument)
        txn = self.txn
        if not self.offer.chunking:
            refusal = replies.NOT_OFFERED if self.hello else replies.SEND_HELLO_FIRST
            return BdatPlan(size, last, refusal=refusal)
        if txn is None:
            return BdatPlan(size, last, refusal=replies.NEED_MAIL)
        if not txn.recipients:
            self.txn = None
            refusal = self._no_recipients(txn)
            return BdatPlan(size, last, refusal=refusal, failed_transaction=True)
        return BdatPlan(size, last, ask=not txn.bdat)

    # Extensions that change the session.

    def starttls(self, argument: str) -> Reply | StartTlsRequested:
        """RFC 3207 §4."""
        if argument:
            return replies.syntax_error("Syntax: STARTTLS")
        if self.tls:
            return replies.TLS_ALREADY_ACTIVE
        if self.hello is None:
            return replies.SEND_HELLO_FIRST
        if not self.offer.starttls:
            return replies.NOT_OFFERED
        return StartTlsRequested()

    def auth(self, argument: str) -> Reply | AuthRequested:
        """RFC 4954 §4 and §6."""
        settings = self.settings
        if self.hello is None:
            return replies.SEND_HELLO_FIRST
        if not settings.auth_mechanisms or not self.extended:
            return replies.NOT_OFFERED
        if self.authenticated:
            return replies.ALREADY_AUTHENTICATED
        if self.txn is not None:
            return replies.AUTH_IN_TRANSACTION
        if settings.tls_required and not self.tls:
            return replies.STARTTLS_FIRST
        if settings.tls_required_for_auth and not self.tls:
            return replies.AUTH_NEEDS_TLS
        mechanism, initial = parse_auth(argument)
        if mechanism not in self.offer.auth:
            return replies.AUTH_MECHANISM_UNKNOWN
        return AuthRequested(mechanism, initial)
