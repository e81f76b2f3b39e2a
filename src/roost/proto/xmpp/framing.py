"""How the server's side of a stream is written: TCP or WebSocket.

Over TCP the server's stream is one document: an XML declaration, the
``<stream:stream>`` start tag (RFC 6120 §4.7), the elements inside the
``jabber:client`` default namespace, then ``</stream:stream>``. Over
WebSocket (RFC 7395) each element is a message of its own that
declares its namespaces: ``<open/>`` and ``<close/>`` in the framing
namespace stand for the stream tags, stanzas carry
``xmlns='jabber:client'``, and ``<stream:features/>`` declares the
``stream`` prefix. The connection writes through a `StreamFraming` and
never needs to know which one it has.
"""

from __future__ import annotations

from typing import Protocol

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import StreamErrorCondition, stream_error
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import XmppStateError
from roost.proto.xmpp.header import SUPPORTED_VERSION
from roost.proto.xmpp.serializer import (
    DOCUMENT_SCOPE,
    STREAM_FOOTER,
    STREAM_SCOPE,
    serialize,
    stream_header,
)
from roost.proto.xmpp.settings import XmppSettings

VERSION = f"{SUPPORTED_VERSION[0]}.{SUPPORTED_VERSION[1]}"


class StreamFraming(Protocol):
    """Writes the server's stream header, elements and closing."""

    @property
    def websocket(self) -> bool: ...

    def open(self, *, stream_id: str, domain: str, to: str | None, lang: str) -> bytes:
        """The server's stream header (RFC 6120 §4.7; RFC 7395 ``<open/>``)."""
        ...

    def element(self, element: Element) -> bytes:
        """One top-level element."""
        ...

    def close(self) -> bytes:
        """The server's closing (RFC 6120 §4.4; RFC 7395 ``<close/>``)."""
        ...


def _header_attributes(
    stream_id: str, domain: str, to: str | None, lang: str
) -> dict[str, str | None]:
    return {"id": stream_id, "from": domain, "to": to, "version": VERSION, ns.XML_LANG: lang}


class TcpFraming:
    """One XML document over TCP (RFC 6120 §4)."""

    websocket = False

    def open(self, *, stream_id: str, domain: str, to: str | None, lang: str) -> bytes:
        return stream_header(_header_attributes(stream_id, domain, to, lang))

    def element(self, element: Element) -> bytes:
        return serialize(element, STREAM_SCOPE)

    def close(self) -> bytes:
        return STREAM_FOOTER


class WebSocketFraming:
    """One document per WebSocket message (RFC 7395)."""

    websocket = True

    def open(self, *, stream_id: str, domain: str, to: str | None, lang: str) -> bytes:
        attributes = _header_attributes(stream_id, domain, to, lang)
        return serialize(Element.of("open", ns.FRAMING, attributes))

    def element(self, element: Element) -> bytes:
        return serialize(element, DOCUMENT_SCOPE)

    def close(self) -> bytes:
        return serialize(Element("close", ns.FRAMING))


class StreamWriter:
    """Queues the server's headers, elements and closing for one connection."""

    __slots__ = ("_framing", "_header_sent", "_out", "_settings", "stream_id")

    def __init__(self, settings: XmppSettings, *, websocket: bool) -> None:
        self._settings = settings
        self._framing: StreamFraming = WebSocketFraming() if websocket else TcpFraming()
        self._out: list[bytes] = []
        self._header_sent = False
        self.stream_id: str | None = None

    @property
    def websocket(self) -> bool:
        return self._framing.websocket

    def take_bytes(self) -> bytes:
        """Everything queued for a TCP stream since the last call."""
        if self.websocket:
            raise XmppStateError("a WebSocket stream sends messages: use messages_to_send")
        out = b"".join(self._out)
        self._out.clear()
        return out

    def take_messages(self) -> list[bytes]:
        """The WebSocket messages queued since the last call, in order."""
        if not self.websocket:
            raise XmppStateError("a TCP stream sends bytes: use data_to_send")
        out = self._out[:]
        self._out.clear()
        return out

    def new_stream(self) -> None:
        """A restart: the next stream needs a header of its own."""
        self._header_sent = False

    def header(self, domain: str | None, to: str | None = None) -> None:
        """The server's stream header, with a fresh id (RFC 6120 §4.7.3)."""
        self.stream_id = self._settings.stream_id_source()
        self._out.append(
            self._framing.open(
                stream_id=self.stream_id,
                domain=domain or self._settings.default_domain,
                to=to,
                lang=self._settings.lang,
            )
        )
        self._header_sent = True

    def element(self, element: Element) -> None:
        self._out.append(self._framing.element(element))

    def close(self, domain: str | None) -> None:
        """The closing tag, after a header if the stream has none yet."""
        if not self._header_sent:
            self.header(domain)
        self._out.append(self._framing.close())

    def error(self, condition: StreamErrorCondition, text: str | None, domain: str | None) -> None:
        """A stream error and the closing tag (RFC 6120 §4.9.1.2)."""
        if not self._header_sent:
            self.header(domain)
        self.element(stream_error(condition, text))
        self._out.append(self._framing.close())
