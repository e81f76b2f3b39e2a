"""What one XMPP listener offers, its limits, and how far it trusts a client.

The service builds one `XmppSettings` per listener (5222 with STARTTLS,
5223 with direct TLS, the WebSocket route) from the configuration and
the directory's domains, and gives it to each `XmppServerConnection`.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from roost.proto.sasl import Mechanism
from roost.proto.xmpp.element import MAX_DEPTH_LIMIT, Element
from roost.proto.xmpp.errors import JidMalformed, XmppSettingsError
from roost.proto.xmpp.jid import prepare_domain

DEFAULT_MAX_STANZA_OCTETS = 262_144
"""256 KiB for one stanza, its tags and text included. RFC 6120 §13.12
item 4 asks servers to limit stanza size and to allow at least 10,000
octets; 256 KiB leaves room for avatars (XEP-0084 recommends images
under 64 KiB, base64 makes them a third larger) and MAM result pages."""

MIN_STANZA_OCTETS = 10_000
"""RFC 6120 §13.12: "at least 10000 bytes"."""

DEFAULT_MAX_DEPTH = 64
"""Element levels in one stanza, the stanza itself counting as 1. Real
stanzas use about a dozen (a MAM result: message, result, forwarded,
message, body, plus XHTML-IM or a data form inside)."""

DEFAULT_MAX_AUTH_FAILURES = 3
"""Failed SASL attempts before the stream ends with ``policy-violation``:
the first try and two retries, the least RFC 6120 §6.4.5 asks servers to
allow ("at least 2 and no more than 5" retries)."""

DEFAULT_SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")
"""Strongest first. Both SCRAMs, since Dino and xmpp.js speak only
SCRAM-SHA-1; PLAIN is offered only where a password may travel."""

XMPP_MECHANISMS = frozenset(DEFAULT_SASL_MECHANISMS)
"""The mechanisms an XMPP listener may offer (LOGIN is not XMPP's)."""

STREAM_ID_OCTETS = 16
"""Random octets in a stream id (RFC 6120 §4.7.3: unique and
unpredictable): 128 bits, 22 base64url characters."""


class StreamIdSource(Protocol):
    """Makes a stream id for each stream header (RFC 6120 §4.7.3).

    It must return a fresh, unpredictable value each call, of characters
    that are valid in an XML attribute; tests inject fixed ones.
    """

    def __call__(self) -> str: ...


def random_stream_id() -> str:
    """A fresh stream id from the OS random source."""
    return secrets.token_urlsafe(STREAM_ID_OCTETS)


class TlsPolicy(enum.Enum):
    """Whether a plaintext TCP stream offers STARTTLS (RFC 6120 §5.3.1)."""

    REQUIRED = "required"
    """Offer STARTTLS with ``<required/>`` and nothing else until TLS is up."""
    OFFERED = "offered"
    """Offer STARTTLS beside SASL; only SCRAM mechanisms without TLS."""
    DISABLED = "disabled"
    """No STARTTLS: a listener without a certificate (development only)."""


@dataclass(frozen=True, slots=True)
class XmppSettings:
    """One listener's offer and limits.

    Raises `XmppSettingsError` for values no client could use.
    """

    domains: tuple[str, ...]
    """The hosted domains a stream's ``to`` may name (RFC 6120 §4.9.3.6
    ``host-unknown`` otherwise), prepared on construction. The first is
    the one the server names itself by when a stream fails before a valid
    ``to`` was seen."""
    starttls: TlsPolicy = TlsPolicy.REQUIRED
    """STARTTLS on plaintext TCP streams. Streams that began under TLS
    (port 5223, secure WebSocket) never offer it."""
    plaintext_auth_allowed: bool = False
    """PLAIN without TLS. DESIGN.md: only on loopback in development."""
    sasl_mechanisms: tuple[str, ...] = DEFAULT_SASL_MECHANISMS
    """SASL mechanisms to offer, strongest first (RFC 6120 §6.3.3)."""
    max_stanza_octets: int = DEFAULT_MAX_STANZA_OCTETS
    """The largest top-level element, and the largest WebSocket message."""
    max_depth: int = DEFAULT_MAX_DEPTH
    """The deepest element nesting in one stanza."""
    max_auth_failures: int = DEFAULT_MAX_AUTH_FAILURES
    """Failed SASL attempts (``aborted`` ones not counted) before the
    stream ends with ``policy-violation`` (RFC 6120 §6.4.5)."""
    features_after_auth: tuple[Element, ...] = ()
    """Extra ``<stream:features/>`` children for authenticated streams,
    beside bind and session: e.g. ``<sm xmlns='urn:xmpp:sm:3'/>``
    (XEP-0198), ``<csi xmlns='urn:xmpp:csi:0'/>`` (XEP-0352)."""
    nonza_namespaces: frozenset[str] = frozenset()
    """Namespaces of top-level elements other than stanzas that the
    service handles once the stream is authenticated (XEP-0198's
    ``<enable/>``, ``<r/>``, ``<a/>``, ``<resume/>``; XEP-0352's
    ``<active/>``): the core passes them on as `Nonza` events. Others end
    the stream with ``unsupported-stanza-type``."""
    stream_management: bool = False
    """XEP-0198: offer ``<sm xmlns='urn:xmpp:sm:3'/>`` once bound-capable,
    count and acknowledge stanzas, and pass ``<enable/>`` and
    ``<resume/>`` on as events (`roost.proto.xmpp.sm`)."""
    max_unacked_stanzas: int = 1000
    """Stanzas sent to a stream-managed client and not yet acknowledged;
    one more ends the stream with ``resource-constraint``."""
    lang: str = "en"
    """The ``xml:lang`` of the server's stream headers (RFC 6120 §4.7.4)."""
    stream_id_source: StreamIdSource = field(default=random_stream_id, repr=False)

    def __post_init__(self) -> None:
        if not self.domains:
            raise XmppSettingsError("XMPP needs at least one hosted domain")
        try:
            prepared = tuple(prepare_domain(domain) for domain in self.domains)
        except JidMalformed as e:
            raise XmppSettingsError(f"XMPP domain is not a valid domainpart: {e}") from e
        object.__setattr__(self, "domains", prepared)
        if self.max_stanza_octets < MIN_STANZA_OCTETS:
            raise XmppSettingsError(
                f"XMPP max_stanza_octets must be {MIN_STANZA_OCTETS}+ (RFC 6120 §13.12)"
            )
        if not 1 <= self.max_depth <= MAX_DEPTH_LIMIT:
            raise XmppSettingsError(f"XMPP max_depth must lie in 1..{MAX_DEPTH_LIMIT}")
        if self.max_unacked_stanzas < 1:
            raise XmppSettingsError("XMPP max_unacked_stanzas must be 1 or more")
        if self.max_auth_failures < 1:
            raise XmppSettingsError("XMPP max_auth_failures must be 1 or more")
        if not self.lang or not self.lang.isascii() or not self.lang.replace("-", "").isalnum():
            raise XmppSettingsError("XMPP lang must be a language tag such as 'en'")
        seen: set[str] = set()
        for name in self.sasl_mechanisms:
            if name not in XMPP_MECHANISMS:
                raise XmppSettingsError(f"SASL mechanism {name!r} is not one XMPP offers here")
            if name in seen:
                raise XmppSettingsError(f"SASL mechanism {name!r} is listed twice")
            seen.add(name)

    @property
    def default_domain(self) -> str:
        return self.domains[0]

    def password_allowed(self, *, tls: bool) -> bool:
        """May a password travel on this stream (PLAIN, RFC 4616 §4)?"""
        return tls or self.plaintext_auth_allowed

    def mechanisms(self, *, tls: bool) -> tuple[Mechanism, ...]:
        """The SASL mechanisms to offer now, in the configured order."""
        password_ok = self.password_allowed(tls=tls)
        found = (Mechanism(name) for name in self.sasl_mechanisms)
        return tuple(m for m in found if password_ok or not m.reveals_password)
