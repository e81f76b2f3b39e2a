"""The client's half of the stream: bytes or messages in, parser items out.

Over TCP a `StreamReader` holds one `XmlStreamParser` per stream and
replaces it at each restart (RFC 6120 §4.3.3): after SASL the new parser
starts on the bytes that followed the element whose success restarted the
stream; after STARTTLS on nothing, since everything the client sent
before the handshake is dropped (§5.4.3.3) and the bytes read after it
belong to TLS, which is the service's. Over WebSocket every message is
parsed alone (RFC 7395), so a restart needs nothing.
"""

from __future__ import annotations

from collections import deque

from roost.proto.xmpp.errors import XmppStateError
from roost.proto.xmpp.parser import ParserItem, XmlStreamParser, parse_message
from roost.proto.xmpp.settings import XmppSettings


class StreamReader:
    """Parses what one client sends, stream after stream."""

    __slots__ = ("_inbox", "_parser", "_paused", "_settings", "_websocket")

    def __init__(self, settings: XmppSettings, *, websocket: bool) -> None:
        self._settings = settings
        self._websocket = websocket
        # A TCP stream has no inbox: an empty deque holds 600 bytes.
        self._inbox: deque[bytes] | None = deque() if websocket else None
        self._parser: XmlStreamParser | None = None if websocket else self._new_parser()
        self._paused = False

    def feed(self, data: bytes) -> None:
        """TCP bytes; dropped while paused for a TLS handshake."""
        if self._websocket:
            raise XmppStateError("a WebSocket stream takes whole messages: use receive_message")
        if self._parser is not None and not self._paused:
            self._parser.feed(data)

    def feed_message(self, message: bytes) -> None:
        """One WebSocket text message."""
        if self._inbox is None:
            raise XmppStateError("a TCP stream takes bytes: use receive_data")
        self._inbox.append(message)

    def next_item(self) -> ParserItem | None:
        """The next item, or None until more input arrives."""
        if self._paused:
            return None
        if self._parser is not None:
            return self._parser.next_item()
        if not self._inbox:  # None only with a parser
            return None
        settings = self._settings
        return parse_message(
            self._inbox.popleft(),
            max_octets=settings.max_stanza_octets,
            max_depth=settings.max_depth,
        )

    def rest(self) -> bool:
        """A quiet TCP stream between stanzas lets its parser's state go."""
        return self._parser is not None and not self._paused and self._parser.rest()

    def restart(self) -> None:
        """A stream restart after SASL: a new parser on what followed."""
        if self._parser is not None:
            rest = self._parser.remaining()
            self._parser = self._new_parser()
            self._parser.feed(rest)

    def pause_for_tls(self) -> None:
        """``<proceed/>`` is queued: drop the plaintext, read nothing more."""
        self._paused = True
        if self._inbox is not None:
            self._inbox.clear()
        if self._parser is not None:
            self._parser = self._new_parser()

    def resume_after_tls(self) -> None:
        """The handshake is done: a new stream, on a new parser."""
        self._paused = False

    def _new_parser(self) -> XmlStreamParser:
        return XmlStreamParser(
            max_stanza_octets=self._settings.max_stanza_octets,
            max_depth=self._settings.max_depth,
        )
