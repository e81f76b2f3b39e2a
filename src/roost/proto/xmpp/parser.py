"""Incremental XML stream parsing, over TCP and per WebSocket message.

`XmlStreamParser` reads one TCP stream: ``feed`` takes bytes as they
arrive, ``next_item`` returns `StreamOpened`, then `ParsedElement` for
each top-level element, then `StreamEnded` — or a `StreamFault`, after
which it returns that fault forever. `parse_message` reads one WebSocket
message the same way (RFC 7395). The locked-down expat underneath
is `roost.proto.xmpp.document`.

Bounded memory and linear time, whatever the client sends:

- Input is handed to expat lazily, at most `PIECE_OCTETS` at a time and
  only when the items already parsed are used up, so a flood of stanzas
  waits as raw bytes in the driver, not as trees in here.
- Each piece is also cut where the element in progress would reach
  ``max_stanza_octets``; an element still unfinished there fails with
  ``policy-violation``. The count starts at the ``<`` of the stanza —
  which is where the last item or the whitespace after it ended, so it
  also covers a start tag expat is still buffering (a 10 MB attribute
  never reaches 10 MB). Whitespace keep-alives between stanzas do not
  count. Because pieces are cut at that point whatever the chunking of
  the input, the verdict never depends on how the bytes arrived.
- Input must be UTF-8 (RFC 6120 §11.6); each piece is checked before expat
  sees it, so any other encoding, a UTF-16 byte order mark included, ends
  the stream with ``unsupported-encoding`` rather than as malformed XML —
  after the items that precede the first bad byte, as if it had come in a
  packet of its own.
- Every byte is fed to expat once, except after a stream restart.

Stream restarts (RFC 6120 §4.3.3, after STARTTLS and SASL) need a new
parser that starts right after the element that caused them — the
``</auth>`` or ``</response>`` whose success the server sends. The parser
keeps the raw bytes after the last item it returned; `remaining` gives
them to the next parser, which reads them again from a clean state.
Leading whitespace of a document is skipped, since an XML declaration must
come first.
"""

from __future__ import annotations

import codecs
from collections import deque

from roost.proto.xmpp.conditions import StreamErrorCondition
from roost.proto.xmpp.document import (
    ExpatDocument,
    ParsedElement,
    ParserItem,
    StreamEnded,
    StreamFault,
    StreamOpened,
    Window,
)

PIECE_OCTETS = 16_384
"""The most input handed to expat at once; bounds the items parsed ahead."""

_WHITESPACE = b" \t\r\n"
_ENCODING_FAULT = StreamFault(
    StreamErrorCondition.UNSUPPORTED_ENCODING, "XMPP streams are UTF-8 only"
)


def _too_big(max_octets: int) -> StreamFault:
    return StreamFault(
        StreamErrorCondition.POLICY_VIOLATION, f"a stanza is limited to {max_octets} octets"
    )


class XmlStreamParser:
    """One XML stream over TCP; create a new one for each stream restart."""

    __slots__ = (
        "_document",
        "_fault",
        "_fed",
        "_items",
        "_max_depth",
        "_max_octets",
        "_raw",
        "_utf8_carry",
        "_window",
    )

    def __init__(self, *, max_stanza_octets: int, max_depth: int) -> None:
        self._max_octets = max_stanza_octets
        self._max_depth = max_depth
        self._raw = bytearray()
        # `_raw[0]` is at stream offset `_window.base`; expat has seen the
        # stream up to offset `_fed`.
        self._window = Window(self._raw)
        self._fed = 0
        self._items: deque[tuple[ParserItem, int]] = deque()
        self._fault: StreamFault | None = None
        self._document: ExpatDocument | None = None
        self._utf8_carry = b""

    @property
    def parsed_octets(self) -> int:
        """How much of the stream expat has seen (for tests of the bounds)."""
        return self._fed

    @property
    def buffered_octets(self) -> int:
        """Raw bytes kept: unparsed input and the element in progress."""
        return len(self._raw)

    def feed(self, data: bytes) -> None:
        """Append bytes the client sent; nothing is parsed yet. They are kept
        even after a fault, for `remaining`: a fault found past the element
        that restarts the stream belongs to the old stream only."""
        self._raw += data

    def next_item(self) -> ParserItem | None:
        """The next item, or None until more input arrives."""
        while not self._items:
            if self._fault is not None:
                return self._fault
            if not self._parse_piece():
                return None
        item, end = self._items.popleft()
        if not isinstance(item, StreamFault):
            self._trim(end)  # nothing before the end of a returned item is needed again
        return item

    def rest(self) -> bool:
        """Release the expat parser of a stream that went quiet between
        two stanzas (see `ExpatDocument.rest`); False, and nothing changes,
        while anything fed is not yet a complete item or was not returned."""
        document = self._document
        if (
            document is None
            or self._items
            or self._fault is not None
            or self._utf8_carry
            or self._fed != self._window.base + len(self._raw)
            or self._pending(document)
        ):
            return False
        return document.rest()

    def remaining(self) -> bytes:
        """The input after the last item returned, for the next stream's
        parser (RFC 6120 §4.3.3); whitespace before it may be gone."""
        return bytes(self._raw)

    # Parsing.

    def _emit(self, item: ParserItem, end: int) -> None:
        self._items.append((item, end))

    def _fail(self, fault: StreamFault) -> None:
        self._fault = fault
        self._items.append((fault, self._fed))

    def _parse_piece(self) -> bool:
        """Hand expat the next piece; False when there is none."""
        base = self._window.base
        available = base + len(self._raw) - self._fed
        if self._document is None:
            skipped = len(self._raw) - len(self._raw.lstrip(_WHITESPACE))
            if skipped:
                del self._raw[:skipped]
                self._window.base = base = base + skipped
                self._fed = base
                available -= skipped
            if not available:
                return False
            self._document = ExpatDocument(
                self._window, self._emit, framed=False, max_depth=self._max_depth, base=base
            )
        if not available:
            return False
        document = self._document
        # Never past the point where the element in progress reaches the
        # limit, so the check below sees it there whatever the chunking.
        size = min(available, PIECE_OCTETS, self._max_octets - self._pending(document))
        start = self._fed - base
        piece = self._raw[start : start + size]
        valid = self._valid_utf8(piece)
        fault = document.feed(piece[:valid]) if valid else None
        self._fed += valid
        if fault is None and valid < size:
            fault = _ENCODING_FAULT
        if fault is not None:
            self._fail(fault)
        elif self._pending(document) >= self._max_octets:
            self._fail(_too_big(self._max_octets))
        elif not self._items:
            # Whitespace between stanzas is not kept, however much comes.
            self._trim(self._fed - self._pending(document))
        return True

    def _trim(self, offset: int) -> None:
        del self._raw[: offset - self._window.base]
        self._window.base = offset

    def _valid_utf8(self, piece: bytearray) -> int:
        """How many leading bytes of ``piece`` are UTF-8 so far; a sequence
        cut at the end counts until the next piece shows otherwise."""
        data = self._utf8_carry + piece
        try:
            _, used = codecs.utf_8_decode(data, "strict", False)
        except UnicodeDecodeError as e:
            return max(e.start - len(self._utf8_carry), 0)
        self._utf8_carry = bytes(data[used:])
        return len(piece)

    def _pending(self, document: ExpatDocument) -> int:
        """Bytes fed that belong to the element in progress."""
        start = document.stanza_start
        return self._fed - (document.quiet_to if start is None else start)


def parse_message(message: bytes, *, max_octets: int, max_depth: int) -> ParserItem:
    """Parse one WebSocket text message as a document of its own (RFC 7395
    §3.3.3): `StreamOpened` for ``<open/>``, `StreamEnded` for ``<close/>``,
    `ParsedElement` for anything else, or the `StreamFault` it earns.

    The message must hold exactly one element, with the namespaces it
    uses declared on it; ``max_octets`` bounds the whole message and
    ``max_depth`` counts its root as level 1.
    """
    if len(message) > max_octets:
        return _too_big(max_octets)
    try:
        message.decode("utf-8")
    except UnicodeDecodeError:
        return _ENCODING_FAULT
    data = message.lstrip(_WHITESPACE)
    items: list[ParserItem] = []

    def emit(item: ParserItem, _end: int) -> None:
        items.append(item)

    document = ExpatDocument(Window(data), emit, framed=True, max_depth=max_depth)
    fault = document.feed(data, final=True)
    if fault is not None:
        return fault
    assert len(items) == 1, "expat accepted a document without exactly one root"
    return items[0]


__all__ = [
    "PIECE_OCTETS",
    "ParsedElement",
    "ParserItem",
    "StreamEnded",
    "StreamFault",
    "StreamOpened",
    "XmlStreamParser",
    "parse_message",
]
