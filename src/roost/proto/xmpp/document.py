"""One expat parser over one XML document, locked down as RFC 6120 §11 says.

Over TCP the document is the whole stream: ``<stream:stream>`` is its
root and each stanza a child of the root (RFC 6120 §4.1). Over WebSocket
each message is a document of its own whose root is the stanza, or
``<open/>`` or ``<close/>`` (RFC 7395). `ExpatDocument` handles
both; `roost.proto.xmpp.parser` feeds it.

Why expat directly: the stdlib ``XMLPullParser`` accepts a DOCTYPE,
expands internal entities (billion laughs) and drops comments without a
word. Here every such feature has a handler that stops the parse:

=========================================  ==========================
input                                      stream error
=========================================  ==========================
DOCTYPE, entity or notation declarations   ``restricted-xml``
comments, processing instructions          ``restricted-xml``
references to undefined entities           ``restricted-xml``
(only ``&lt; &gt; &amp; &apos; &quot;``
and character references exist)
XML declaration naming another encoding    ``unsupported-encoding``
anything else expat refuses                ``not-well-formed``
a stanza nested deeper than the limit      ``policy-violation``
text between stanzas                       ``bad-format``
a stanza with a ``jabber:client`` prefix   ``bad-namespace-prefix`` (§4.8.5)
a ``<stream:stream>`` inside the stream    ``bad-format``
=========================================  ==========================

A handler stops expat by raising; pyexpat then aborts the parse and the
exception leaves ``Parse``. The DOCTYPE handler fires at ``<!DOCTYPE``,
before expat reads a single entity declaration, so no entity is ever
expanded. Parameter entities are off, and ``SetReparseDeferralEnabled``
(expat 2.6) is turned off where it exists, or a small stanza that follows
a large chunk could wait for more input before it is reported.

Byte offsets: the parser must know where each top-level element ends, to
restart a stream right after it (RFC 6120 §4.3.3). expat reports the
start of an event (``CurrentByteIndex``); for a start tag it points at
``<``; for the end of an empty-element tag it points just past ``/>``;
for an end tag at ``</``. `Window` finds the end of a tag from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import StreamErrorCondition
from roost.proto.xmpp.element import Attributes, Element
from roost.proto.xmpp.header import HeaderRefused, StreamHeader, check_stream_root, read_header
from roost.proto.xmpp.serializer import escape_attribute

# expat joins namespace, local name and prefix with this; it cannot occur in
# XML 1.0 at all, so no namespace URI can contain it.
_SEPARATOR = "\x01"
_WHITESPACE = " \t\r\n"
_SPACES = re.compile(rb"[ \t\r\n]*")
# A start tag through its '>': quoted values may hold '>', and each
# alternative begins with a different character, so matching is linear.
_TAG = re.compile(rb"""[^'">]*(?:(?:'[^']*'|"[^"]*")[^'">]*)*>""")

_RESTRICTED_CODES = frozenset(
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_UNDEFINED_ENTITY,
        expat.errors.XML_ERROR_RECURSIVE_ENTITY_REF,
        expat.errors.XML_ERROR_BINARY_ENTITY_REF,
        expat.errors.XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF,
        expat.errors.XML_ERROR_EXTERNAL_ENTITY_HANDLING,
        expat.errors.XML_ERROR_ENTITY_DECLARED_IN_PE,
        expat.errors.XML_ERROR_PARAM_ENTITY_REF,
    )
)
_ENCODING_CODES = frozenset(
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_UNKNOWN_ENCODING,
        expat.errors.XML_ERROR_INCORRECT_ENCODING,
    )
)


# What a document yields.


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """The client opened a stream: ``<stream:stream>`` or ``<open/>``."""

    header: StreamHeader


@dataclass(frozen=True, slots=True)
class ParsedElement:
    """A complete top-level element: a stanza, or a negotiation element
    such as ``<starttls/>`` or ``<auth/>``."""

    element: Element


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The client closed its stream: ``</stream:stream>`` or ``<close/>``."""


@dataclass(frozen=True, slots=True)
class StreamFault:
    """The input broke a rule; the stream must end with ``condition``.

    ``detail`` is a short English phrase for the log and the error's
    ``<text/>``; it never quotes the input.
    """

    condition: StreamErrorCondition
    detail: str


ParserItem = StreamOpened | ParsedElement | StreamEnded | StreamFault
"""Anything a parser yields; a `StreamFault` is always the last."""


class Halt(Exception):
    """Raised inside a handler to stop expat; carries the fault."""

    def __init__(self, condition: StreamErrorCondition, detail: str) -> None:
        super().__init__(detail)
        self.fault = StreamFault(condition, detail)


class Window:
    """Raw bytes of the document from stream offset ``base`` on, to find
    where tags end (see the module docstring)."""

    __slots__ = ("base", "data")

    def __init__(self, data: bytes | bytearray, base: int = 0) -> None:
        self.data = data
        self.base = base

    def start_tag_end(self, offset: int) -> int:
        """Offset just past the start tag that begins at ``offset``."""
        match = _TAG.match(self.data, offset - self.base)
        assert match is not None, "expat reported a tag that is not there"
        return self.base + match.end()

    def end_tag_end(self, offset: int) -> int:
        """Offset just past the end tag that begins at ``offset``."""
        found = self.data.find(b">", offset - self.base)
        assert found >= 0, "expat reported an end tag that is not there"
        return self.base + found + 1

    def whitespace_end(self, offset: int, limit: int) -> int:
        """Offset of the first byte at or after ``offset`` (and before
        ``limit``) that is not XML whitespace."""
        match = _SPACES.match(self.data, offset - self.base, limit - self.base)
        assert match is not None
        return self.base + match.end()

    def follows_empty_tag(self, offset: int) -> bool:
        """Do the bytes before ``offset`` end an empty-element tag?"""
        start = offset - self.base
        return start >= 2 and self.data[start - 2 : start] == b"/>"


class _Frame:
    """An element under construction."""

    __slots__ = ("attributes", "children", "name", "namespace", "text")

    def __init__(self, name: str, namespace: str, attributes: Attributes) -> None:
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children: list[Element | str] = []
        self.text: list[str] = []

    def flush_text(self) -> None:
        if self.text:
            joined = "".join(self.text)
            self.text.clear()
            if joined:
                self.children.append(joined)

    def close(self) -> Element:
        self.flush_text()
        return Element(self.name, self.namespace, self.attributes, tuple(self.children))


def _split(name: str) -> tuple[str, str, str]:
    """expat's ``namespace SEP local [SEP prefix]`` as three strings."""
    parts = name.split(_SEPARATOR)
    if len(parts) == 1:
        return "", name, ""
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def _attributes(flat: list[str]) -> Attributes:
    pairs: list[tuple[str, str]] = []
    for i in range(0, len(flat), 2):
        namespace, local, _ = _split(flat[i])
        pairs.append((ns.clark(namespace, local), flat[i + 1]))
    return tuple(pairs)


def _refuse(what: str) -> Callable[..., NoReturn]:
    def handler(*_: object) -> NoReturn:
        raise Halt(StreamErrorCondition.RESTRICTED_XML, f"{what} are not allowed (RFC 6120 §11.1)")

    return handler


# Made once, not per parser: every connection holds a parser.
_REFUSALS = {
    "StartDoctypeDeclHandler": _refuse("document type declarations"),
    "EntityDeclHandler": _refuse("entity declarations"),
    "UnparsedEntityDeclHandler": _refuse("entity declarations"),
    "NotationDeclHandler": _refuse("notation declarations"),
    "ElementDeclHandler": _refuse("element declarations"),
    "AttlistDeclHandler": _refuse("attribute list declarations"),
    "ExternalEntityRefHandler": _refuse("external entities"),
    "SkippedEntityHandler": _refuse("entity references"),
    "CommentHandler": _refuse("comments"),
    "ProcessingInstructionHandler": _refuse("processing instructions"),
}


class ExpatDocument:
    """Feeds one document to expat and turns its events into `ParserItem`s.

    ``framed`` is True for a WebSocket message (the root is the item),
    False for a TCP stream (the root is the stream, its children the
    items). ``emit`` receives each item with the stream offset just past
    it. ``stanza_start`` and ``quiet_to`` tell the parser how many bytes
    belong to the element in progress (see `roost.proto.xmpp.parser`).
    """

    def __init__(
        self,
        window: Window,
        emit: Callable[[ParserItem, int], None],
        *,
        framed: bool,
        max_depth: int,
        base: int = 0,
    ) -> None:
        self._window = window
        self._emit = emit
        self._framed = framed
        self._max_depth = max_depth
        self._base = base
        self._top = 1 if framed else 2
        self._depth = 0
        self._fresh = False
        self._frames: list[_Frame] = []
        self._declarations: list[tuple[str | None, str]] = []
        self._stream_declarations: tuple[tuple[str | None, str], ...] = ()
        self._stream_tag = ""
        """The root's name as written, so that a resumed parser's stand-in
        for it is closed by the client's ``</stream:stream>``."""
        self._resuming = False
        self.stanza_start: int | None = None
        self.quiet_to = base
        self._fed_to = base
        self._parser: expat.XMLParserType | None = self._new_parser()

    def _new_parser(self) -> expat.XMLParserType:
        parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=_SEPARATOR)
        parser.namespace_prefixes = True
        parser.ordered_attributes = True
        parser.buffer_text = False
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(parser, "SetReparseDeferralEnabled"):
            parser.SetReparseDeferralEnabled(False)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.StartNamespaceDeclHandler = self._declare
        parser.XmlDeclHandler = self._xml_declaration
        for handler, refusal in _REFUSALS.items():
            setattr(parser, handler, refusal)
        return parser

    def feed(self, data: bytes | bytearray, *, final: bool = False) -> StreamFault | None:
        """Parse ``data``; a fault means the document is dead."""
        try:
            parser = self._parser or self._resume()
            self._fed_to += len(data)
            parser.Parse(data, final)
        except Halt as halt:
            return halt.fault
        except expat.ExpatError as error:
            return _fault_of(error.code)
        return None

    def rest(self) -> bool:
        """Let go of the expat parser between two stanzas of a TCP stream:
        a connection that stays silent need not hold its state (about
        10 KiB). The next `feed` resumes inside the same stream with a new
        parser. Only the caller knows that every byte fed was a complete
        item; False (and nothing changes) inside a stanza or a WebSocket
        message, or before the stream opened."""
        if self._framed or self._depth != 1 or self._frames or self._parser is None:
            return False
        self._parser = None
        return True

    def _resume(self) -> expat.XMLParserType:
        """A new parser put back inside the stream: it reads a start tag
        that declares what the stream's root declared, which the handlers
        ignore, and then positions count from where the old one stopped."""
        context = "".join(
            f" xmlns='{escape_attribute(uri or '')}'"
            if prefix is None
            else f" xmlns:{prefix}='{escape_attribute(uri)}'"
            for prefix, uri in self._stream_declarations
        )
        opening = f"<{self._stream_tag}{context}>".encode()
        parser = self._parser = self._new_parser()
        self._base = self._fed_to - len(opening)
        self._resuming = True
        try:
            parser.Parse(opening, False)
        finally:
            self._resuming = False
        return parser

    # Handlers.

    def _position(self) -> int:
        assert self._parser is not None
        return self._base + self._parser.CurrentByteIndex

    def _declare(self, prefix: str | None, uri: str) -> None:
        if self._depth == 0:
            self._declarations.append((prefix, uri))

    def _xml_declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise Halt(StreamErrorCondition.UNSUPPORTED_ENCODING, "XMPP streams are UTF-8 only")

    def _start(self, name: str, flat: list[str]) -> None:
        if self._resuming:
            return  # the stand-in for the stream's root, which is open already
        offset = self._position()
        self._depth += 1
        self._fresh = True
        namespace, local, prefix = _split(name)
        attributes = _attributes(flat)
        if self._depth == 1 and not self._framed:
            self._stream_tag = f"{prefix}:{local}" if prefix else local
            self._open_stream(namespace, local, attributes, offset)
            return
        level = self._depth - self._top + 1
        if level > self._max_depth:
            raise Halt(StreamErrorCondition.POLICY_VIOLATION, "elements are nested too deep")
        if level == 1:
            if prefix and namespace == ns.CLIENT:
                raise Halt(
                    StreamErrorCondition.BAD_NAMESPACE_PREFIX,
                    "stanzas must not use a prefix for the content namespace",
                )
            if namespace == ns.STREAM and local == "stream":
                # A restart the server did not call for (or one sent ahead of
                # a SASL success that never came): say so now, rather than
                # read the rest of the session as one stanza.
                raise Halt(StreamErrorCondition.BAD_FORMAT, "a stream header inside the stream")
            self.stanza_start = offset
        else:
            self._frames[-1].flush_text()
        self._frames.append(_Frame(local, namespace, attributes))

    def _open_stream(self, namespace: str, local: str, attributes: Attributes, offset: int) -> None:
        content = next((uri for prefix, uri in self._declarations if prefix is None), None)
        self._stream_declarations = tuple(self._declarations)
        self._declarations.clear()
        try:
            check_stream_root(namespace, local, content)
            header = read_header(dict(attributes))
        except HeaderRefused as refused:
            raise Halt(refused.condition, refused.detail) from None
        end = self._window.start_tag_end(offset)
        self.quiet_to = end
        self._emit(StreamOpened(header), end)

    def _end(self, name: str) -> None:
        offset = self._position()
        empty = self._fresh and self._window.follows_empty_tag(offset)
        self._fresh = False
        self._depth -= 1
        if self._depth == 0 and not self._framed:
            self._emit(StreamEnded(), self._window.end_tag_end(offset))
            return
        element = self._frames.pop().close()
        if self._frames:
            self._frames[-1].children.append(element)
            return
        end = offset if empty else self._window.end_tag_end(offset)
        self.stanza_start = None
        self.quiet_to = end
        self._emit(self._item(element), end)

    def _item(self, element: Element) -> ParserItem:
        if not (self._framed and element.namespace == ns.FRAMING):
            return ParsedElement(element)
        if element.name == "close":
            return StreamEnded()
        if element.name != "open":
            return ParsedElement(element)
        try:
            return StreamOpened(read_header(dict(element.attributes)))
        except HeaderRefused as refused:
            raise Halt(refused.condition, refused.detail) from None

    def _text(self, data: str) -> None:
        self._fresh = False
        if self._frames:
            self._frames[-1].text.append(data)
        elif data.strip(_WHITESPACE):
            raise Halt(StreamErrorCondition.BAD_FORMAT, "text is not allowed between stanzas")
        else:
            # Keep-alives do not count towards the next stanza's size. expat
            # reports a run of whitespace in many calls; scan each byte once.
            start = max(self._position(), self.quiet_to)
            self.quiet_to = self._window.whitespace_end(start, self._fed_to)


def _fault_of(code: int | None) -> StreamFault:
    if code in _RESTRICTED_CODES:
        return StreamFault(
            StreamErrorCondition.RESTRICTED_XML, "only the predefined entities are allowed"
        )
    if code in _ENCODING_CODES:
        return StreamFault(StreamErrorCondition.UNSUPPORTED_ENCODING, "XMPP streams are UTF-8 only")
    return StreamFault(StreamErrorCondition.NOT_WELL_FORMED, "the XML is not well-formed")
