"""The CAPA response: what this session offers now (RFC 2449 §5, §6).

RFC 2449 §5 lets the list change with the state: a client asks again
after STLS (RFC 2595 §4) and after login, and trusts only the latest
answer. Roost lists only what a client could use at that moment:

- USER, SASL, STLS and UTF8 only in the AUTHORIZATION state, since
  their commands are valid there alone;
- USER and the password mechanisms (PLAIN) only where a password may
  travel (TLS, or a policy that allows plain text: RFC 2595 §2.4,
  RFC 4616 §4);
- STLS only before TLS (RFC 2595 §4).
"""

from __future__ import annotations

from roost.proto.pop3.replies import CAPA_FOLLOWS, multiline
from roost.proto.pop3.settings import Pop3Settings


def capability_lines(settings: Pop3Settings, *, authorized: bool, tls: bool) -> list[str]:
    """The capability tags, one per line (RFC 2449 §5 ``capa-resp``).

    ``authorized`` is True in the TRANSACTION state.
    """
    lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
    # RFC 2449 §6.7: EXPIRE is a number of days or NEVER.
    expire = "NEVER" if settings.expire_days is None else str(settings.expire_days)
    lines.append(f"EXPIRE {expire}")
    if settings.login_delay_s:
        lines.append(f"LOGIN-DELAY {settings.login_delay_s}")
    if not authorized:
        if settings.user_pass and settings.password_allowed(tls=tls):
            lines.append("USER")
        mechanisms = settings.mechanisms(tls=tls)
        if mechanisms:
            lines.append("SASL " + " ".join(m.value for m in mechanisms))
        if settings.tls_available and not tls:
            lines.append("STLS")
        if settings.utf8:
            # RFC 6856 §2: "USER" says UTF-8 user names and passwords work too.
            lines.append("UTF8 USER")
    if settings.implementation:
        lines.append(f"IMPLEMENTATION {settings.implementation}")
    return lines


def capa_response(settings: Pop3Settings, *, authorized: bool, tls: bool) -> bytes:
    """The whole multi-line CAPA response (RFC 2449 §5)."""
    return multiline(CAPA_FOLLOWS, capability_lines(settings, authorized=authorized, tls=tls))
