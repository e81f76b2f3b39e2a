"""The Received field SMTP puts on every message (RFC 5321 §4.4, RFC 3848)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime


@dataclass(frozen=True, slots=True)
class ReceivedFacts:
    helo: str
    client_address: str
    hostname: str
    session_id: str
    tls: str | None
    """`TLSv1.3 TLS_AES_256_GCM_SHA384`, or None for plaintext."""
    authenticated: bool
    smtputf8: bool
    recipient: str | None
    """Named only when the message has one recipient, so a copy never reveals others."""
    at: datetime


def protocol_name(*, tls: bool, authenticated: bool, smtputf8: bool) -> str:
    """WITH protocol types of RFC 3848 §2 and RFC 6531 §3.7.3."""
    base = "UTF8SMTP" if smtputf8 else "ESMTP"
    return base + ("S" if tls else "") + ("A" if authenticated else "")


def _clean(text: str) -> str:
    """No CR, LF or parentheses from the client may break the field."""
    return "".join(c if c.isprintable() and c not in "()" else "?" for c in text)[:200]


def received_field(facts: ReceivedFacts) -> bytes:
    with_ = protocol_name(
        tls=facts.tls is not None, authenticated=facts.authenticated, smtputf8=facts.smtputf8
    )
    address = facts.client_address
    literal = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
    lines = [
        f"Received: from {_clean(facts.helo) or literal} ({literal})",
        f"\tby {facts.hostname} (Roost) with {with_} id {facts.session_id}",
    ]
    if facts.tls:
        lines.append(f"\t({_clean(facts.tls)})")
    tail = f"; {format_datetime(facts.at)}"
    if facts.recipient:
        lines.append(f"\tfor <{_clean(facts.recipient)}>{tail}")
    else:
        lines[-1] += tail
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
