"""Elements to bytes: our own serializer, with correct default namespaces.

``xml.etree.ElementTree.tostring`` writes every namespace as an invented
prefix (``<ns0:message xmlns:ns0="jabber:client">``), which RFC 6120
§4.8.5 forbids for the content namespace and some clients cannot read.
This module writes what XMPP software expects instead:

- An element in the namespace that is the default where it stands is
  written bare: stanzas inside ``<stream:stream xmlns='jabber:client'>``
  carry no ``xmlns`` at all.
- An element in another namespace declares it as the new default
  (``<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>``), and its children
  in the same namespace inherit it.
- A namespace with a prefix in scope uses it (``<stream:features>`` on a
  TCP stream); the stream namespace declares ``stream`` where it is not in
  scope (``<stream:features xmlns:stream=…>`` over WebSocket, RFC 7395
  §3.4).
- ``xml:lang`` uses the predefined ``xml`` prefix; any other qualified
  attribute gets a declared prefix ``a1``, ``a2``….

Escaping follows RFC 6120 §11.1: the five characters with predefined
entities are always escaped, in text and in attribute values; so are
carriage returns (and, in attribute values, tabs and line feeds), which
the receiver's XML end-of-line and attribute-value normalization would
otherwise change. Characters XML 1.0 cannot carry raise
`XmlCharacterError`. Element and attribute names are trusted: they come
from Roost's code, not from peers, except when a parsed element is written
back, and the parser only yields valid names.

Serialization is iterative, so no tree is too deep to write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import XmlCharacterError

PREFERRED_PREFIXES: Mapping[str, str] = {ns.STREAM: "stream"}
"""Namespaces written with a conventional prefix rather than as a default."""

XML_DECLARATION = b"<?xml version='1.0'?>"
"""Sent before each stream header (RFC 6120 §4.2, §11.5: UTF-8 only, so
no ``encoding``)."""

STREAM_FOOTER = b"</stream:stream>"
"""The closing stream tag (RFC 6120 §4.4)."""

_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;", "\r": "&#13;"}
)
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "'": "&apos;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
# XML 1.0 §2.2 Char, complemented.
_NOT_XML_CHAR_CLASS = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_NOT_XML_CHAR = re.compile(_NOT_XML_CHAR_CLASS)
# What needs a second look: most text and values have none, and one search
# then answers for the check and the escaping both.
_TEXT_SPECIAL = re.compile(f"[&<>'\"\r]|{_NOT_XML_CHAR_CLASS}")
_ATTRIBUTE_SPECIAL = re.compile(f"[&<>'\"\t\n\r]|{_NOT_XML_CHAR_CLASS}")


@dataclass(frozen=True, slots=True)
class Scope:
    """The namespace bindings in force where an element is written.

    ``default`` is the default namespace (``""`` for none); ``prefixes``
    maps namespaces to the prefixes bound to them.
    """

    default: str = ""
    prefixes: tuple[tuple[str, str], ...] = ()

    def prefix_of(self, namespace: str) -> str | None:
        """The prefix bound to ``namespace``, if any."""
        for uri, prefix in self.prefixes:
            if uri == namespace:
                return prefix
        return None

    def binds(self, prefix: str) -> bool:
        """Is ``prefix`` bound already (to any namespace)?"""
        return any(bound == prefix for _, bound in self.prefixes)

    def with_prefix(self, namespace: str, prefix: str) -> Scope:
        """This scope with one more prefix binding."""
        return Scope(self.default, (*self.prefixes, (namespace, prefix)))

    def with_default(self, namespace: str) -> Scope:
        """This scope with another default namespace."""
        return Scope(namespace, self.prefixes)


DOCUMENT_SCOPE = Scope()
"""No bindings: an element written as a document of its own (a WebSocket
message, RFC 7395)."""

STREAM_SCOPE = Scope(ns.CLIENT, ((ns.STREAM, "stream"),))
"""Inside ``<stream:stream xmlns='jabber:client' xmlns:stream=…>``."""


def escape_text(text: str) -> str:
    """Character data, escaped (RFC 6120 §11.1)."""
    if _TEXT_SPECIAL.search(text) is None:
        return text
    _check_chars(text)
    return text.translate(_TEXT_ESCAPES)


def escape_attribute(value: str) -> str:
    """An attribute value for single quotes, escaped (RFC 6120 §11.1)."""
    if _ATTRIBUTE_SPECIAL.search(value) is None:
        return value
    _check_chars(value)
    return value.translate(_ATTRIBUTE_ESCAPES)


def _check_chars(text: str) -> None:
    if (bad := _NOT_XML_CHAR.search(text)) is not None:
        raise XmlCharacterError(f"character U+{ord(bad.group()):04X} cannot appear in XML 1.0")


def serialize(element: Element, scope: Scope = DOCUMENT_SCOPE) -> bytes:
    """``element`` as UTF-8 bytes, written where ``scope`` is in force."""
    out: list[str] = []
    counter = [0]
    # Each entry: the children still to write, the closing tag, their scope.
    stack: list[tuple[Iterator[Element | str], str, Scope]] = []
    closing = _open(element, scope, out, counter)
    if closing is not None:
        stack.append((iter(element.children), closing[0], closing[1]))
    while stack:
        children, end_tag, inner = stack[-1]
        child = next(children, None)
        if child is None:
            out.append(end_tag)
            stack.pop()
        elif isinstance(child, str):
            out.append(escape_text(child))
        elif (opened := _open(child, inner, out, counter)) is not None:
            stack.append((iter(child.children), opened[0], opened[1]))
    return "".join(out).encode("utf-8")


def _open(
    element: Element, scope: Scope, out: list[str], counter: list[int]
) -> tuple[str, Scope] | None:
    """Write the start tag (or the whole empty element); return the end tag
    and the children's scope, or None if the element is empty."""
    namespace = element.namespace
    declarations: list[str] = []
    qname = element.name
    if namespace != scope.default:
        prefix = scope.prefix_of(namespace) if namespace else None
        preferred = PREFERRED_PREFIXES.get(namespace)
        if prefix is not None:
            qname = f"{prefix}:{element.name}"
        elif preferred is not None and not scope.binds(preferred):
            scope = scope.with_prefix(namespace, preferred)
            declarations.append(f" xmlns:{preferred}='{escape_attribute(namespace)}'")
            qname = f"{preferred}:{element.name}"
        else:
            scope = scope.with_default(namespace)
            declarations.append(f" xmlns='{escape_attribute(namespace)}'")
    attributes: list[str] = []
    for key, value in element.attributes:
        if not key.startswith("{"):  # unqualified: most attributes
            attributes.append(f" {key}='{escape_attribute(value)}'")
            continue
        name, scope = _attribute_name(key, scope, declarations, counter)
        attributes.append(f" {name}='{escape_attribute(value)}'")
    out.append(f"<{qname}{''.join(declarations)}{''.join(attributes)}")
    if not element.children:
        out.append("/>")
        return None
    out.append(">")
    return f"</{qname}>", scope


def _attribute_name(
    key: str, scope: Scope, declarations: list[str], counter: list[int]
) -> tuple[str, Scope]:
    namespace, local = ns.split_clark(key)
    if not namespace:
        return local, scope
    if namespace == ns.XML:
        return f"xml:{local}", scope
    prefix = scope.prefix_of(namespace)
    if prefix is None:
        counter[0] += 1
        prefix = f"a{counter[0]}"
        while scope.binds(prefix):
            counter[0] += 1
            prefix = f"a{counter[0]}"
        scope = scope.with_prefix(namespace, prefix)
        declarations.append(f" xmlns:{prefix}='{escape_attribute(namespace)}'")
    return f"{prefix}:{local}", scope


def stream_header(attributes: Mapping[str, str | None]) -> bytes:
    """The XML declaration and the opening ``<stream:stream>`` tag
    (RFC 6120 §4.7), with ``attributes`` (None values left out) after the
    namespace declarations of `STREAM_SCOPE`."""
    parts = [
        f"<stream:stream xmlns='{ns.CLIENT}' xmlns:stream='{ns.STREAM}'",
        *(
            f" {'xml:lang' if key == ns.XML_LANG else key}='{escape_attribute(value)}'"
            for key, value in attributes.items()
            if value is not None
        ),
        ">",
    ]
    return XML_DECLARATION + "".join(parts).encode("utf-8")
