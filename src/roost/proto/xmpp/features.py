"""The ``<stream:features/>`` the server announces (RFC 6120 §4.3.2).

What a stream offers depends on what was negotiated before it
(RFC 6120 §4.3.3 "stream restart"):

==================  ===========================================================
stream              features
==================  ===========================================================
plaintext TCP       ``<starttls/>``, with ``<required/>`` under
                    `TlsPolicy.REQUIRED` and then alone (§5.3.1); under
                    `TlsPolicy.OFFERED` beside the SASL mechanisms that need
                    no TLS (SCRAM; PLAIN only where allowed in plain text)
under TLS           the SASL mechanisms, PLAIN included (§6.4.1)
authenticated       ``<bind/>`` (§7.4), the legacy ``<session/>`` marked
                    ``<optional/>`` (draft-cridland-xmpp-session), then
                    `XmppSettings.features_after_auth`
==================  ===========================================================

A WebSocket stream never offers STARTTLS: its TLS, if any, is the
``wss:`` connection's (RFC 7395, "Use of TLS"), and the service says
whether it has it.
"""

from __future__ import annotations

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.settings import TlsPolicy, XmppSettings
from roost.proto.xmpp.sm import SM


def tls_required_first(settings: XmppSettings, *, tls: bool, websocket: bool) -> bool:
    """Must this stream negotiate TLS before anything else?"""
    return not tls and not websocket and settings.starttls is TlsPolicy.REQUIRED


def starttls_offered(settings: XmppSettings, *, tls: bool, websocket: bool) -> bool:
    """Does this stream offer STARTTLS (RFC 6120 §5.3.1)?"""
    return not tls and not websocket and settings.starttls is not TlsPolicy.DISABLED


def stream_features(
    settings: XmppSettings, *, tls: bool, websocket: bool, authenticated: bool
) -> Element:
    """The features element for a stream in the given state."""
    if authenticated:
        session = Element.of("session", ns.SESSION, children=[Element("optional", ns.SESSION)])
        children = [Element("bind", ns.BIND), session, *settings.features_after_auth]
        if settings.stream_management:
            children.append(Element("sm", SM))  # XEP-0198 §2
        return Element.of("features", ns.STREAM, children=children)
    children = []
    if starttls_offered(settings, tls=tls, websocket=websocket):
        required = tls_required_first(settings, tls=tls, websocket=websocket)
        inner = [Element("required", ns.TLS)] if required else []
        children.append(Element.of("starttls", ns.TLS, children=inner))
        if required:
            return Element.of("features", ns.STREAM, children=children)
    mechanisms = [
        Element.of("mechanism", ns.SASL, children=[mechanism.value])
        for mechanism in settings.mechanisms(tls=tls)
    ]
    if mechanisms:
        children.append(Element.of("mechanisms", ns.SASL, children=mechanisms))
    return Element.of("features", ns.STREAM, children=children)
