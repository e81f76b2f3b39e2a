"""The element model and our own serializer: namespaces, escaping, stream tags."""

from __future__ import annotations

import pytest

from roost.proto.xmpp import (
    DOCUMENT_SCOPE,
    STREAM_SCOPE,
    Element,
    ParsedElement,
    XmlCharacterError,
    namespaces,
    parse_message,
    serialize,
)
from roost.proto.xmpp.element import depth
from roost.proto.xmpp.serializer import STREAM_FOOTER, stream_header

CLIENT = namespaces.CLIENT


def test_stanzas_in_the_stream_carry_no_namespace_declaration() -> None:
    message = Element.of(
        "message",
        CLIENT,
        {"to": "romeo@example.net", "type": "chat"},
        [Element.of("body", CLIENT, children=["hi"])],
    )
    assert serialize(message, STREAM_SCOPE) == (
        b"<message to='romeo@example.net' type='chat'><body>hi</body></message>"
    )
    # The same stanza as a document of its own (a WebSocket message).
    assert serialize(message) == (
        b"<message xmlns='jabber:client' to='romeo@example.net' type='chat'>"
        b"<body>hi</body></message>"
    )


def test_other_namespaces_become_the_default_never_a_prefix() -> None:
    iq = Element.of(
        "iq",
        CLIENT,
        {"type": "result", "id": "r1"},
        [
            Element.of(
                "query",
                "jabber:iq:roster",
                children=[Element.of("item", "jabber:iq:roster", {"jid": "a@b"})],
            )
        ],
    )
    assert serialize(iq, STREAM_SCOPE) == (
        b"<iq type='result' id='r1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>"
    )
    assert b"ns0" not in serialize(iq)


def test_stream_namespace_uses_the_stream_prefix() -> None:
    features = Element.of(
        "features", namespaces.STREAM, children=[Element("bind", namespaces.BIND)]
    )
    assert serialize(features, STREAM_SCOPE) == (
        b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    )
    assert serialize(features) == (
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
        b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    )


def test_an_element_without_namespace_undeclares_the_default() -> None:
    element = Element.of("x", "urn:a", children=[Element("y")])
    assert serialize(element) == b"<x xmlns='urn:a'><y xmlns=''/></x>"


def test_qualified_attributes() -> None:
    element = Element.of(
        "body",
        CLIENT,
        {namespaces.XML_LANG: "en", "{urn:ext}flag": "1", "{urn:ext}other": "2"},
        ["x"],
    )
    assert serialize(element, STREAM_SCOPE) == (
        b"<body xmlns:a1='urn:ext' xml:lang='en' a1:flag='1' a1:other='2'>x</body>"
    )


def test_escaping_of_text_and_attributes() -> None:
    element = Element.of("body", CLIENT, {"a": "<&>'\"\t\n\r"}, ["<&>'\"\t\n\r]]>"])
    out = serialize(element)
    assert out == (
        b"<body xmlns='jabber:client' a='&lt;&amp;&gt;&apos;&quot;&#9;&#10;&#13;'>"
        b"&lt;&amp;&gt;&apos;&quot;\t\n&#13;]]&gt;</body>"
    )
    assert parse_message(out, max_octets=10_000, max_depth=4) == ParsedElement(element)


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\ufffe", "\ud800"])
def test_characters_xml_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(XmlCharacterError):
        serialize(Element.of("body", CLIENT, children=[f"a{bad}"]))
    with pytest.raises(XmlCharacterError):
        serialize(Element.of("body", CLIENT, {"a": bad}))


def test_stream_header_and_footer() -> None:
    header = stream_header(
        {
            "id": "abc",
            "from": "example.com",
            "to": None,
            "version": "1.0",
            namespaces.XML_LANG: "en",
        }
    )
    assert header == (
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='example.com' "
        b"version='1.0' xml:lang='en'>"
    )
    assert STREAM_FOOTER == b"</stream:stream>"


def test_very_deep_trees_are_written_without_recursion() -> None:
    element = Element("leaf")
    for _ in range(5_000):
        element = Element("n", "", (), (element,))
    out = serialize(element)
    assert out.startswith(b"<n><n>") and out.endswith(b"</n></n>")
    assert depth(element) == 5_001


def test_document_scope_is_empty() -> None:
    assert DOCUMENT_SCOPE.default == "" and DOCUMENT_SCOPE.prefixes == ()


# The element model.


def test_element_of_normalizes_and_refuses_duplicates() -> None:
    element = Element.of("a", "", {"x": "1", "y": None}, ["", "b", "c", Element("d"), "", "e"])
    assert element.attributes == (("x", "1"),)
    assert element.children == ("bc", Element("d"), "e")
    with pytest.raises(ValueError, match="duplicate"):
        Element.of("a", "", [("x", "1"), ("x", "2")])


def test_element_reading_and_copying() -> None:
    element = Element.of(
        "iq", CLIENT, {"id": "1", "type": "get"}, ["t", Element("ping", "urn:xmpp:ping")]
    )
    assert element.get("id") == "1" and element.get("to") is None
    assert element.text == "t"
    assert element.matches("iq", CLIENT) and not element.matches("iq", "")
    assert element.find("ping", "urn:xmpp:ping") == Element("ping", "urn:xmpp:ping")
    assert element.find("ping", CLIENT) is None
    assert list(element.elements()) == [Element("ping", "urn:xmpp:ping")]
    changed = (
        element.with_attribute("id", "2").with_attribute("from", "a@b").with_attribute("type", None)
    )
    assert changed.attributes == (("id", "2"), ("from", "a@b"))
    assert element.get("id") == "1"  # unchanged: elements are values
    assert element.with_children(["x", "y"]).children == ("xy",)
    assert hash(element) == hash(
        Element.of(
            "iq", CLIENT, {"id": "1", "type": "get"}, ["t", Element("ping", "urn:xmpp:ping")]
        )
    )


def test_repr_shows_no_content() -> None:
    element = Element.of("message", CLIENT, {"to": "secret@example.com"}, ["a private body"])
    text = repr(element)
    assert "message" in text and "secret" not in text and "private" not in text
