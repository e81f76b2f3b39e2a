"""SMTP replies: the value type, its wire form, and the replies Roost sends.

A reply is a three-digit code (RFC 5321 §4.2), an optional enhanced status
code (RFC 3463, class.subject.detail) and one or more lines of text. The
enhanced code reaches the wire only once the client has negotiated
ENHANCEDSTATUSCODES with EHLO, and never on the greeting or on the reply to
HELO or EHLO (RFC 2034 §3). 1xx and 3xx replies carry none: RFC 3463 §2
defines the classes 2, 4 and 5 only.

Each constant below is named after what it says; the core uses them, and
a service may pass them (or its own `Reply`) to the answer methods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.proto.smtp.errors import SmtpStateError

MAX_REPLY_LINE_OCTETS = 512
"""RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with code and CRLF."""

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
_TEXT = re.compile(r"[\t\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply, maybe multi-line (RFC 5321 §4.2).

    ``text`` is one line, or a tuple of lines for a multi-line reply
    (§4.2.1). Text is printable ASCII (§4.2 ``textstring``); anything else
    raises `SmtpStateError`, since only a bug in Roost would build it.
    """

    code: int
    enhanced: str | None
    text: str | tuple[str, ...]

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise SmtpStateError(f"reply code {self.code} is not 2xx to 5xx")
        if self.enhanced is not None:
            found = _ENHANCED.fullmatch(self.enhanced)
            if found is None or found.group(1) != str(self.code)[0]:
                raise SmtpStateError(
                    f"enhanced code {self.enhanced!r} does not fit reply {self.code}"
                )
        lines = self.lines
        if not lines:
            raise SmtpStateError("a reply needs at least one line of text")
        prefix = 4 + (len(self.enhanced) + 1 if self.enhanced else 0)
        for line in lines:
            if _TEXT.fullmatch(line) is None:
                raise SmtpStateError(f"reply text {line!r} is not printable ASCII")
            if prefix + len(line) + 2 > MAX_REPLY_LINE_OCTETS:
                raise SmtpStateError("reply line longer than 512 octets (RFC 5321 §4.5.3.1.5)")

    @property
    def lines(self) -> tuple[str, ...]:
        """The text as a tuple of lines."""
        return (self.text,) if isinstance(self.text, str) else self.text

    @property
    def positive(self) -> bool:
        """2xx: the command succeeded (RFC 5321 §4.2.1)."""
        return self.code < 300

    @property
    def intermediate(self) -> bool:
        """3xx: go on with the data or the exchange."""
        return 300 <= self.code < 400

    @property
    def negative(self) -> bool:
        """4xx or 5xx: the command failed, transiently or permanently."""
        return self.code >= 400

    def to_bytes(self, *, enhanced: bool) -> bytes:
        """The wire form; ``enhanced`` says whether to show the RFC 3463 code.

        Every line but the last has a hyphen after the code (RFC 5321
        §4.2.1), and every line repeats the enhanced code (RFC 2034).
        """
        code = str(self.code)
        status = f"{self.enhanced} " if enhanced and self.enhanced else ""
        lines = self.lines
        last = len(lines) - 1
        out = [
            f"{code}{' ' if i == last else '-'}{status}{line}".rstrip(" ") + "\r\n"
            for i, line in enumerate(lines)
        ]
        return "".join(out).encode("ascii")


def prefixed(reply: Reply, hostname: str) -> Reply:
    """``reply`` with our host name in front of its first line.

    RFC 5321 §4.2 shows 220, 221 and 421 replies starting with the domain
    of the server; clients log it to tell which host they talked to.
    """
    first, *rest = reply.lines
    return Reply(reply.code, reply.enhanced, (f"{hostname} {first}", *rest))


# Positive completion.
OK = Reply(250, "2.0.0", "Ok")
SENDER_OK = Reply(250, "2.1.0", "Sender ok")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient ok")
MESSAGE_ACCEPTED = Reply(250, "2.0.0", "Ok: message accepted")
RESET_OK = Reply(250, "2.0.0", "Reset state")
VRFY_CANNOT_VERIFY = Reply(
    252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"
)
"""RFC 5321 §3.5.3: the answer when VRFY is disabled."""
HELP = Reply(
    214,
    "2.0.0",
    (
        "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT",
        "VRFY HELP STARTTLS AUTH; see RFC 5321",
    ),
)
CLOSING = Reply(221, "2.0.0", "Service closing transmission channel")
READY_TO_START_TLS = Reply(220, "2.0.0", "Ready to start TLS")
AUTH_SUCCEEDED = Reply(235, "2.7.0", "Authentication successful")

# Positive intermediate.
START_MAIL_INPUT = Reply(354, None, "End data with <CR><LF>.<CR><LF>")

# Closing the connection (RFC 5321 §3.8): always a 421.
TIMEOUT = Reply(421, "4.4.2", "Idle timeout, closing connection")
SHUTTING_DOWN = Reply(421, "4.3.2", "Service shutting down, closing connection")
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors, closing connection")
HTTP_REFUSED = Reply(421, "4.7.0", "HTTP is not spoken here, closing connection")
"""A web page posting to port 25 (cross-protocol attack) gets this and a close."""

# Transient negative.
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
"""RFC 5321 §4.5.3.1.10; the client sends the rest in another transaction."""
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to temporary reason")
AUTH_TEMPORARY_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")

# Syntax and sequence (RFC 5321 §4.2.4, RFC 3463 §3.6).
COMMAND_UNRECOGNIZED = Reply(500, "5.5.2", "Command not recognized")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
LINE_NOT_CRLF = Reply(500, "5.5.2", "Command lines must end with <CR><LF>")
INVALID_CHARACTERS = Reply(500, "5.5.2", "Invalid characters in command")
AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication exchange line is too long")
"""RFC 4954 §4."""
AUTH_CANCELLED = Reply(501, "5.0.0", "Authentication cancelled")
"""RFC 4954 §4: the client answered a challenge with ``*``."""
AUTH_BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode the BASE64 response")
BAD_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")
BAD_PARAMETER = Reply(501, "5.5.4", "Invalid parameter or value")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
NOT_OFFERED = Reply(502, "5.5.1", "Command not available in this session")
SEND_HELLO_FIRST = Reply(503, "5.5.1", "Send EHLO or HELO first")
NESTED_MAIL = Reply(503, "5.5.1", "Sender already specified")
NEED_MAIL = Reply(503, "5.5.1", "Need MAIL command first")
NEED_RCPT = Reply(503, "5.5.1", "Need RCPT command first")
DATA_AFTER_BDAT = Reply(503, "5.5.1", "DATA and BDAT cannot share a transaction")
RCPT_AFTER_BDAT = Reply(503, "5.5.1", "No RCPT once BDAT has begun")
BINARYMIME_NEEDS_BDAT = Reply(503, "5.5.1", "BODY=BINARYMIME needs BDAT, not DATA")
TLS_ALREADY_ACTIVE = Reply(503, "5.5.1", "TLS already active")
ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")
AUTH_IN_TRANSACTION = Reply(503, "5.5.1", "AUTH not allowed during a mail transaction")
SERVICE_REFUSED = Reply(503, "5.5.1", "No SMTP service here; send QUIT")
"""RFC 5321 §3.1: every command but QUIT after a 554 greeting."""
AUTH_MECHANISM_UNKNOWN = Reply(504, "5.5.4", "Unrecognized authentication type")
"""RFC 4954 §4."""

# Security and policy (RFC 3207 §4, RFC 4954 §6).
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
AUTH_TOO_WEAK = Reply(534, "5.7.9", "Authentication mechanism is too weak")
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
AUTH_NEEDS_TLS = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")

# The message itself.
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
"""RFC 1870 §6: the declared SIZE, or the size found while receiving."""
NON_ASCII_ADDRESS = Reply(553, "5.6.7", "Non-ASCII addresses need the SMTPUTF8 parameter")
"""RFC 6531: X.6.7, "Non-ASCII addresses not permitted for that sender/recipient"."""
BARE_LINE_END = Reply(
    554, "5.6.0", "Message refused: bare CR or LF found; lines must end with <CR><LF>"
)
"""RFC 5321 §2.3.8; see `roost.proto.smtp.body` on SMTP smuggling."""
DATA_LINE_TOO_LONG = Reply(554, "5.6.0", "Message refused: a line is too long")
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
"""RFC 5321 §3.3: DATA after every RCPT failed."""
UNKNOWN_PARAMETER = Reply(555, "5.5.4", "Parameter not recognized or not implemented")
"""RFC 5321 §4.1.1.11."""


def chunk_received(octets: int) -> Reply:
    """The core's own 250 for a BDAT chunk that is not the last (RFC 3030 §2)."""
    return Reply(250, "2.0.0", f"{octets} octets received")


def syntax_error(usage: str) -> Reply:
    """501 5.5.4 with the command's syntax, e.g. ``Syntax: HELO hostname``."""
    return Reply(501, "5.5.4", usage)
