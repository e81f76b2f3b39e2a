"""What one SMTP listener offers and how far it trusts a client.

The service builds one `SmtpSettings` per listener (MX, submission) and may
pass a second one to `SmtpServerConnection.tls_established` when TLS
changes what it offers (for example PLAIN and LOGIN only under TLS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.proto.smtp.errors import SmtpSettingsError

COMMAND_LINE_OCTETS = 512
"""RFC 5321 §4.5.3.1.4: a command line, verb and CRLF included."""

MAX_COMMAND_OCTETS = (
    COMMAND_LINE_OCTETS
    + 26  # RFC 1870 §3 (5): " SIZE=" and up to 20 digits
    + 100  # RFC 3461 §4: RET= and ENVID= (an ENVID alone may be 100 characters)
    + 500  # RFC 4954 §5: AUTH=<mailbox> as xtext
    + 10  # RFC 6531 §3.1 item 5: " SMTPUTF8"
    + len(" BODY=BINARYMIME")  # RFC 6152, RFC 3030: no allowance stated; the value's length
    + len(" REQUIRETLS")  # RFC 8689: likewise
)
"""The longest MAIL line the offered extensions allow: 512 + 26 + 100 + 500
+ 10 + 16 + 11 = 1175 octets. RCPT needs less, 512 + 500 for NOTIFY and
ORCPT (RFC 3461 §4). Extension parameters never share a line across
commands, so the MAIL figure bounds every command but AUTH."""

MAX_AUTH_LINE_OCTETS = 12_288
"""RFC 4954 §4: an AUTH command or a SASL response line, CRLF included."""

RFC_DATA_LINE_OCTETS = 1000
"""RFC 5321 §4.5.3.1.6: a text line is 998 octets plus CRLF, not counting a
stuffed dot."""

MAX_DATA_LINE_OCTETS = 1024 * 1024
"""What Roost accepts, CRLF included: far more than 1000, because HTML
generators and some mail clients write whole paragraphs on one line and
refusing them loses real mail. The core keeps only a counter per line, so
the cap costs no memory; it exists so a message of one endless line is
refused rather than handed to MIME parsers and IMAP clients."""

DEFAULT_MAX_MESSAGE_OCTETS = 50 * 1024 * 1024
"""50 MiB, announced with SIZE (RFC 1870 §4)."""

MIN_RECIPIENTS = 100
"""RFC 5321 §4.5.3.1.8: a server MUST accept at least 100 recipients."""

DATA_CHUNK_OCTETS = 64 * 1024
"""Message bytes per `DataChunk` event: a message is never held whole."""

DEFAULT_MAX_ERRORS = 20
"""Failed commands before 421 and close, as Postfix's smtpd_hard_error_limit."""

_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[!-Z^-~]+\]")
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_BANNER = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """One listener's offer (RFC 5321 §4.1.1.1 EHLO keywords) and limits.

    Every extension flag says whether to *offer* the extension; the core
    then accepts its commands and parameters only in sessions that were
    offered it. Raises `SmtpSettingsError` for values no client could use.
    """

    hostname: str
    """Our name in the greeting, EHLO reply and 221/421 replies."""
    banner: str = "ESMTP ready"
    """Text after the host name in the 220 greeting."""
    max_message_octets: int = DEFAULT_MAX_MESSAGE_OCTETS
    """SIZE (RFC 1870); 0 announces no limit and enforces none."""
    max_recipients: int = MIN_RECIPIENTS
    """Accepted RCPTs per transaction; more get 452 4.5.3 (§4.5.3.1.10)."""
    max_command_octets: int = MAX_COMMAND_OCTETS
    """Longest command line but AUTH, CRLF included."""
    max_auth_line_octets: int = MAX_AUTH_LINE_OCTETS
    """Longest AUTH command or SASL response line, CRLF included."""
    max_data_line_octets: int = MAX_DATA_LINE_OCTETS
    """Longest message line, CRLF included; longer ones refuse the message."""
    data_chunk_octets: int = DATA_CHUNK_OCTETS
    """Size of every `DataChunk` but the last of a message."""
    max_errors: int = DEFAULT_MAX_ERRORS
    """Negative replies before 421 4.7.0 and close; 0 never closes."""
    pipelining: bool = True
    """Offer PIPELINING (RFC 2920). The core keeps replies in order either way."""
    starttls_available: bool = False
    """Offer STARTTLS (RFC 3207) while the connection is not yet TLS."""
    tls_required: bool = False
    """MAIL and AUTH before TLS get 530 5.7.0 (RFC 3207 §4)."""
    auth_mechanisms: tuple[str, ...] = ()
    """SASL mechanisms to offer with AUTH (RFC 4954), upper case."""
    auth_required: bool = False
    """Submission: MAIL before AUTH gets 530 5.7.0 (RFC 4954 §6)."""
    tls_required_for_auth: bool = True
    """AUTH is not offered before TLS, and gets 538 5.7.11 there (RFC 4954 §6)."""
    chunking: bool = True
    """Offer CHUNKING, the BDAT command (RFC 3030)."""
    binarymime: bool = False
    """Offer BINARYMIME (RFC 3030 §3); needs `chunking`."""
    dsn: bool = True
    """Offer DSN: RET, ENVID, NOTIFY, ORCPT (RFC 3461)."""
    smtputf8: bool = True
    """Offer SMTPUTF8 (RFC 6531)."""
    eight_bit_mime: bool = True
    """Offer 8BITMIME (RFC 6152)."""
    requiretls: bool = False
    """Offer REQUIRETLS (RFC 8689), only ever on a TLS connection."""
    enhanced_status_codes: bool = True
    """Offer ENHANCEDSTATUSCODES (RFC 2034)."""
    vrfy_enabled: bool = False
    """Pass VRFY to the service; otherwise the core answers 252 2.5.0."""

    def __post_init__(self) -> None:
        if len(self.hostname) > 255 or _HOSTNAME.fullmatch(self.hostname) is None:
            raise SmtpSettingsError(f"SMTP hostname {self.hostname!r} is not a domain")
        if _BANNER.fullmatch(self.banner) is None or len(self.banner) > 200:
            raise SmtpSettingsError("SMTP banner must be printable ASCII, at most 200")
        if self.max_message_octets < 0:
            raise SmtpSettingsError("SMTP max_message_octets must be 0 (none) or more")
        if self.max_recipients < 1:
            raise SmtpSettingsError("SMTP max_recipients must be positive")
        if self.max_command_octets < COMMAND_LINE_OCTETS:
            raise SmtpSettingsError(f"SMTP max_command_octets must be {COMMAND_LINE_OCTETS}+")
        if self.max_auth_line_octets < COMMAND_LINE_OCTETS:
            raise SmtpSettingsError(f"SMTP max_auth_line_octets must be {COMMAND_LINE_OCTETS}+")
        if self.max_data_line_octets < RFC_DATA_LINE_OCTETS:
            raise SmtpSettingsError(
                f"SMTP max_data_line_octets must be {RFC_DATA_LINE_OCTETS}+ (RFC 5321)"
            )
        if self.data_chunk_octets < 1:
            raise SmtpSettingsError("SMTP data_chunk_octets must be positive")
        if self.max_errors < 0:
            raise SmtpSettingsError("SMTP max_errors must be 0 (unlimited) or more")
        for name in self.auth_mechanisms:
            if _MECHANISM.fullmatch(name) is None:
                raise SmtpSettingsError(f"SASL mechanism name {name!r} is invalid (RFC 4422)")
        if self.binarymime and not self.chunking:
            raise SmtpSettingsError("BINARYMIME needs CHUNKING (RFC 3030 §3)")

    @property
    def line_limit_octets(self) -> int:
        """The longest line the core buffers in the command phase."""
        return max(self.max_command_octets, self.max_auth_line_octets)
