"""XML namespaces XMPP uses, named once (RFC 6120 §11.2, RFC 7395).

Attribute keys in `roost.proto.xmpp.element` are plain local names for
unqualified attributes and ``{namespace}local`` (Clark notation) for the
rare qualified ones, of which XMPP uses one: `XML_LANG`.
"""

from __future__ import annotations

from typing import Final

STREAM: Final = "http://etherx.jabber.org/streams"
"""The stream namespace: ``<stream:stream>``, ``<stream:features>``,
``<stream:error>`` (RFC 6120 §4.8.1)."""

CLIENT: Final = "jabber:client"
"""The content namespace of client-to-server streams (RFC 6120 §4.8.3)."""

SERVER: Final = "jabber:server"
"""The content namespace of server-to-server streams; not served here."""

FRAMING: Final = "urn:ietf:params:xml:ns:xmpp-framing"
"""``<open/>`` and ``<close/>`` of XMPP over WebSocket (RFC 7395)."""

STREAMS: Final = "urn:ietf:params:xml:ns:xmpp-streams"
"""Stream error conditions (RFC 6120 §4.9.2)."""

STANZAS: Final = "urn:ietf:params:xml:ns:xmpp-stanzas"
"""Stanza error conditions (RFC 6120 §8.3.2)."""

TLS: Final = "urn:ietf:params:xml:ns:xmpp-tls"
"""STARTTLS negotiation (RFC 6120 §5.4)."""

SASL: Final = "urn:ietf:params:xml:ns:xmpp-sasl"
"""SASL negotiation (RFC 6120 §6.4)."""

BIND: Final = "urn:ietf:params:xml:ns:xmpp-bind"
"""Resource binding (RFC 6120 §7)."""

SESSION: Final = "urn:ietf:params:xml:ns:xmpp-session"
"""The legacy session establishment of RFC 3921 §3, kept as a no-op for old
clients and advertised as optional (draft-cridland-xmpp-session-01)."""

XML: Final = "http://www.w3.org/XML/1998/namespace"
"""The namespace bound to the ``xml`` prefix by the XML Namespaces
recommendation; it never needs a declaration."""

XML_LANG: Final = "{" + XML + "}lang"
"""The attribute key of ``xml:lang`` (RFC 6120 §4.7.4)."""


def clark(namespace: str, local: str) -> str:
    """The attribute key of a qualified attribute: ``{namespace}local``."""
    return f"{{{namespace}}}{local}" if namespace else local


def split_clark(key: str) -> tuple[str, str]:
    """``(namespace, local)`` of an attribute key; the namespace of an
    unqualified attribute is ``""``."""
    if key.startswith("{"):
        namespace, _, local = key[1:].partition("}")
        return namespace, local
    return "", key
