"""What a session was offered, and the EHLO reply that offers it.

RFC 5321 §4.1.1.1: the reply to EHLO names the server, then lists one
extension keyword per line. What a session may use is exactly what that
list offered: a HELO session is offered nothing (§4.1.4), STARTTLS
disappears once TLS is up (RFC 3207 §4.2), REQUIRETLS appears only then
(RFC 8689), and AUTH hides until TLS when the listener requires it
(RFC 3207 §4.2 lets the list change after TLS; RFC 4954 §4 wants
passwords protected).
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.smtp.replies import Reply
from roost.proto.smtp.settings import SmtpSettings


@dataclass(frozen=True, slots=True)
class Offer:
    """The extensions one EHLO reply offered; all off for HELO."""

    pipelining: bool = False
    size: bool = False
    max_message_octets: int = 0
    eight_bit_mime: bool = False
    binarymime: bool = False
    chunking: bool = False
    dsn: bool = False
    smtputf8: bool = False
    enhanced_status_codes: bool = False
    starttls: bool = False
    auth: tuple[str, ...] = ()
    requiretls: bool = False

    @classmethod
    def for_ehlo(cls, settings: SmtpSettings, *, tls: bool) -> Offer:
        """What EHLO offers on a connection that is (or is not yet) TLS."""
        auth_shown = tls or not (settings.tls_required_for_auth or settings.tls_required)
        return cls(
            pipelining=settings.pipelining,
            size=True,
            max_message_octets=settings.max_message_octets,
            eight_bit_mime=settings.eight_bit_mime,
            binarymime=settings.binarymime,
            chunking=settings.chunking,
            dsn=settings.dsn,
            smtputf8=settings.smtputf8,
            enhanced_status_codes=settings.enhanced_status_codes,
            starttls=settings.starttls_available and not tls,
            auth=settings.auth_mechanisms if auth_shown else (),
            requiretls=settings.requiretls and tls,
        )

    def keywords(self) -> tuple[str, ...]:
        """EHLO keyword lines (RFC 5321 §4.1.1.1 ``ehlo-line``), in a fixed order."""
        lines: list[str] = []
        if self.pipelining:
            lines.append("PIPELINING")
        if self.size:
            # RFC 1870 §4: no number, or 0, means no fixed maximum.
            limit = self.max_message_octets
            lines.append(f"SIZE {limit}" if limit else "SIZE")
        if self.eight_bit_mime:
            lines.append("8BITMIME")
        if self.binarymime:
            lines.append("BINARYMIME")
        if self.chunking:
            lines.append("CHUNKING")
        if self.dsn:
            lines.append("DSN")
        if self.smtputf8:
            lines.append("SMTPUTF8")
        if self.enhanced_status_codes:
            lines.append("ENHANCEDSTATUSCODES")
        if self.starttls:
            lines.append("STARTTLS")
        if self.auth:
            lines.append("AUTH " + " ".join(self.auth))
        if self.requiretls:
            lines.append("REQUIRETLS")
        return tuple(lines)


def ehlo_reply(hostname: str, offer: Offer) -> Reply:
    """``250-hostname`` followed by the keywords (RFC 5321 §4.1.1.1).

    Sent without an enhanced status code (RFC 2034 §3).
    """
    return Reply(250, None, (hostname, *offer.keywords()))


def helo_reply(hostname: str) -> Reply:
    """``250 hostname``: HELO offers nothing (RFC 5321 §4.1.1.1)."""
    return Reply(250, None, hostname)
