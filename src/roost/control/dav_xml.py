"""WebDAV request bodies parsed with expat, locked down, and replies built.

DESIGN.md's rule for XML: no DOCTYPE (so no entity, internal or external,
is ever declared: the "billion laughs" bomb needs one), no processing
instructions; comments are ignored as RFC 4918 allows. A handler refuses
by raising, which aborts expat at once. Size and depth are bounded by the
`[dav]` settings before and while parsing.

Trees are `xml.etree.ElementTree` elements with `{namespace}local` tags, the
form the stdlib serialiser writes back.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET
from xml.parsers import expat

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"

for _prefix, _uri in (("D", DAV), ("C", CALDAV), ("CR", CARDDAV), ("CS", CALSERVER)):
    ET.register_namespace(_prefix, _uri)
ET.register_namespace("ICAL", APPLE)


def tag(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


class XmlRefused(ValueError):
    """The body is not XML this server accepts; the message says why."""


def parse(body: bytes, *, max_bytes: int, max_depth: int) -> ET.Element:
    """The document element of a request body."""
    if len(body) > max_bytes:
        raise XmlRefused(f"the XML body is larger than {max_bytes} bytes")
    parser = expat.ParserCreate(namespace_separator="}")
    stack: list[ET.Element] = []
    root: list[ET.Element] = []
    texts: list[list[str]] = []

    def refuse_doctype(*_args: object) -> None:
        raise XmlRefused("a DOCTYPE (and so any entity declaration) is not allowed")

    def refuse_pi(*_args: object) -> None:
        raise XmlRefused("processing instructions are not allowed")

    def refuse_entity(*_args: object) -> None:
        raise XmlRefused("entity declarations are not allowed")

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) >= max_depth:
            raise XmlRefused(f"the XML body nests deeper than {max_depth} elements")
        element = ET.Element(_qualified(name), {_qualified(k): v for k, v in attributes.items()})
        if stack:
            stack[-1].append(element)
        else:
            root.append(element)
        stack.append(element)
        texts.append([])

    def end(_name: str) -> None:
        element = stack.pop()
        element.text = "".join(texts.pop()) or None

    def data(text: str) -> None:
        if texts:
            texts[-1].append(text)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.ProcessingInstructionHandler = refuse_pi
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except XmlRefused:
        raise
    except expat.ExpatError as exc:
        raise XmlRefused(
            f"the body is not well-formed XML: {expat.errors.messages[exc.code]}"
        ) from None
    except (ValueError, UnicodeError) as exc:
        raise XmlRefused(f"the body is not well-formed XML: {exc}") from None
    if not root:
        raise XmlRefused("the XML body has no element")
    return root[0]


def _qualified(name: str) -> str:
    namespace, sep, local = name.rpartition("}")
    return f"{{{namespace}}}{local}" if sep else local


def to_bytes(element: ET.Element) -> bytes:
    body: bytes = ET.tostring(element, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def child(parent: ET.Element, name: str) -> ET.Element:
    element = ET.SubElement(parent, name)
    return element


def text_child(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, name)
    element.text = text
    return element


def error_body(condition: str, message: str) -> bytes:
    """An RFC 4918 §16 error body naming the precondition that failed."""
    root = ET.Element(tag(DAV, "error"))
    ET.SubElement(root, condition)
    text_child(root, tag("http://roost.example/ns/", "message"), message)
    return to_bytes(root)
