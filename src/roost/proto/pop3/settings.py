"""What one POP3 listener offers, its limits, and how far it trusts a client.

The service builds one `Pop3Settings` per listener (110 with STLS, 995
with implicit TLS) and may pass a second one to
`Pop3ServerConnection.tls_established` when TLS changes the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from roost.proto.pop3 import replies
from roost.proto.pop3.errors import Pop3SettingsError
from roost.proto.pop3.replies import MAX_RESPONSE_LINE_OCTETS, Reply
from roost.proto.sasl import Mechanism

MAX_COMMAND_OCTETS = 255
"""RFC 2449 §4: a command line is at most 255 octets, CRLF included (RFC
1939 allowed 4 + 1 + 40 + 2 = 47). Roost enforces it for every command but
AUTH; USER and PASS fit, since a 40-character argument was the old bound."""

MAX_AUTH_COMMAND_OCTETS = 1024
"""An AUTH command line with its initial response, CRLF included. RFC 5034
§4 keeps AUTH within the 255 octets of RFC 2449 §4 and tells clients to
leave out an initial response that would not fit; some clients do not
check, so Roost takes four times as much rather than fail their login."""

MAX_SASL_LINE_OCTETS = 12_288
"""A line answering a ``+`` challenge, CRLF included. RFC 5034 sets no
bound; this is the 12288 of RFC 4954 §4 (SMTP), and SCRAM's longest
message is a few hundred octets."""

DEFAULT_MAX_ERRORS = 20
"""Refused commands before ``-ERR`` and close, as in the SMTP core."""

DEFAULT_GREETING = "Roost POP3 server ready"
DEFAULT_IMPLEMENTATION = "Roost"

MAX_EXPIRE_DAYS = 36_500
"""A hundred years: RFC 2449 §6.7 puts no bound, this keeps the line short."""

DEFAULT_SASL_MECHANISMS = ("SCRAM-SHA-256", "PLAIN")
"""Strongest first; PLAIN is shown only where a password may travel."""

_TEXT = re.compile(r"[\x20-\x7e]*")
# "IMPLEMENTATION " and a CRLF around the text must fit a response line.
_MAX_IMPLEMENTATION = MAX_RESPONSE_LINE_OCTETS - len("IMPLEMENTATION \r\n")
# "+OK " and a CRLF around the greeting.
_MAX_GREETING = MAX_RESPONSE_LINE_OCTETS - len("+OK \r\n")


@dataclass(frozen=True, slots=True)
class Pop3Settings:
    """One listener's offer (RFC 2449 §6 capabilities) and limits.

    Raises `Pop3SettingsError` for values no client could use.
    """

    greeting: str = DEFAULT_GREETING
    """Text of the ``+OK`` greeting (RFC 1939 §4). Roost sends no APOP
    timestamp: APOP needs the clear-text password, which it never stores."""
    implementation: str = DEFAULT_IMPLEMENTATION
    """IMPLEMENTATION text (RFC 2449 §6.9); empty announces none."""
    login_delay_s: int = 0
    """LOGIN-DELAY (RFC 2449 §6.5): the fewest seconds between two logins of
    one user; 0 announces none. The service enforces it and refuses an
    early login with `replies.LOGIN_DELAY`."""
    expire_days: int | None = None
    """EXPIRE (RFC 2449 §6.7): days a retrieved message is kept; None
    announces ``NEVER``, which Roost honours by deleting only on DELE."""
    max_command_octets: int = MAX_COMMAND_OCTETS
    """Longest command line but AUTH, CRLF included."""
    max_auth_command_octets: int = MAX_AUTH_COMMAND_OCTETS
    """Longest AUTH command line, initial response and CRLF included."""
    max_sasl_line_octets: int = MAX_SASL_LINE_OCTETS
    """Longest line answering a SASL challenge, CRLF included."""
    max_errors: int = DEFAULT_MAX_ERRORS
    """Refused commands before ``-ERR`` and close; 0 never closes."""
    plaintext_auth_allowed: bool = False
    """USER/PASS and password mechanisms (PLAIN) without TLS. DESIGN.md:
    only on loopback where the development profile allows it."""
    tls_available: bool = False
    """Offer STLS (RFC 2595 §4) while the connection is not yet TLS."""
    user_pass: bool = True
    """Offer USER/PASS (RFC 1939 §7, RFC 2449 §6.2) where the policy allows."""
    sasl_mechanisms: tuple[str, ...] = DEFAULT_SASL_MECHANISMS
    """SASL mechanisms for AUTH (RFC 5034), strongest first. Password
    mechanisms are shown only where `plaintext_auth_allowed` or TLS lets
    a password travel (RFC 4616 §4)."""
    utf8: bool = True
    """Offer UTF8 with the USER argument (RFC 6856 §2)."""

    def __post_init__(self) -> None:
        if _TEXT.fullmatch(self.greeting) is None or len(self.greeting) > _MAX_GREETING:
            raise Pop3SettingsError("POP3 greeting must be printable ASCII that fits a line")
        if (
            _TEXT.fullmatch(self.implementation) is None
            or len(self.implementation) > _MAX_IMPLEMENTATION
        ):
            raise Pop3SettingsError("POP3 implementation must be printable ASCII that fits a line")
        if self.login_delay_s < 0:
            raise Pop3SettingsError("POP3 login_delay_s must be 0 (none) or more")
        if self.expire_days is not None and not 0 <= self.expire_days <= MAX_EXPIRE_DAYS:
            raise Pop3SettingsError(f"POP3 expire_days must lie in 0..{MAX_EXPIRE_DAYS} or be None")
        if self.max_command_octets < MAX_COMMAND_OCTETS:
            raise Pop3SettingsError(
                f"POP3 max_command_octets must be {MAX_COMMAND_OCTETS}+ (RFC 2449 §4)"
            )
        if self.max_auth_command_octets < self.max_command_octets:
            raise Pop3SettingsError("POP3 max_auth_command_octets must be max_command_octets+")
        if self.max_sasl_line_octets < MAX_COMMAND_OCTETS:
            raise Pop3SettingsError(f"POP3 max_sasl_line_octets must be {MAX_COMMAND_OCTETS}+")
        if self.max_errors < 0:
            raise Pop3SettingsError("POP3 max_errors must be 0 (unlimited) or more")
        seen: set[Mechanism] = set()
        for name in self.sasl_mechanisms:
            found = Mechanism.from_name(name)
            if found is None or found.value != name:
                raise Pop3SettingsError(f"SASL mechanism {name!r} is not one Roost implements")
            if found in seen:
                raise Pop3SettingsError(f"SASL mechanism {name!r} is listed twice")
            seen.add(found)

    @property
    def line_limit_octets(self) -> int:
        """The longest command line the core buffers."""
        return max(self.max_command_octets, self.max_auth_command_octets)

    def too_long(self, line: bytes) -> bool:
        """Whether a command line, given without its CRLF, is over its limit
        (RFC 2449 §4); AUTH has its own, larger one."""
        if line[:5].upper() == b"AUTH ":
            return len(line) + 2 > self.max_auth_command_octets
        return len(line) + 2 > self.max_command_octets

    def runnable(self, *, sasl: bool) -> Pop3Settings:
        """These settings, offering no SASL mechanism when ``sasl`` is False
        (the connection has no `SaslConfig` to run one)."""
        return self if sasl else replace(self, sasl_mechanisms=())

    def password_allowed(self, *, tls: bool) -> bool:
        """May a password travel on this connection (USER/PASS, PLAIN)?"""
        return tls or self.plaintext_auth_allowed

    def user_pass_refusal(self, *, tls: bool) -> Reply | None:
        """Why USER may not run on this connection, or None (RFC 2595 §2.4).

        USER is refused, not PASS, so that the client stops before it
        sends the password in the clear.
        """
        if not self.user_pass:
            return replies.USER_PASS_DISABLED
        if not self.password_allowed(tls=tls):
            return replies.PLAINTEXT_REFUSED
        return None

    def mechanisms(self, *, tls: bool) -> tuple[Mechanism, ...]:
        """The SASL mechanisms to offer now, in the configured order."""
        password_ok = self.password_allowed(tls=tls)
        found = (Mechanism(name) for name in self.sasl_mechanisms)
        return tuple(m for m in found if password_ok or not m.reveals_password)
