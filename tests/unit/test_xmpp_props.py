"""Property tests: no input makes the XMPP core raise, chunking never matters,
and what the serializer writes parses back to the same element."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.xmpp import (
    MAX_DEPTH_LIMIT,
    STREAM_SCOPE,
    ConnectionLost,
    Element,
    ParsedElement,
    ParserItem,
    StreamClosed,
    StreamEnded,
    StreamFailed,
    StreamFault,
    StreamOpened,
    XmlStreamParser,
    namespaces,
    parse_message,
    serialize,
)
from tests.unit.test_xmpp_harness import CLIENT_HEADER, WS_OPEN, Peer, bind_iq, plain_auth

HEADER = CLIENT_HEADER
BIG = 1 << 20

# Pieces that reach the parser's and the connection's corners when shuffled.
FRAGMENTS = [
    HEADER,
    b"<message>",
    b"</message>",
    b"<message to='romeo@example.net' type='chat'><body>hi</body></message>",
    b"<presence/>",
    b"<presence type='subscribe' to='romeo@example.net'/>",
    b"<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    b"<iq type='get'/>",
    b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
    plain_auth().encode(),
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"
    b"biwsbj1qLHI9YQ==</auth>",
    b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</response>",
    b"<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    b"<stream:error><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    b"</stream:stream>",
    b"<!-- x -->",
    b"<?pi?>",
    b"<!DOCTYPE x>",
    b"&amp;",
    b"&bogus;",
    b"<![CDATA[<]]>",
    b"<a xmlns:p='urn:p'><p:b p:c='1'/></a>",
    b"<c:message xmlns:c='jabber:client'/>",
    b"\xff",
    b"\xc3",
    b"\xa9",
    b"text",
    b" \r\n\t",
    b"'",
    b'"',
    b">",
    b"<",
    b"/",
]

xmlish = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(b"".join)
anything = st.one_of(st.binary(min_size=1, max_size=300), xmlish.filter(bool))


def parse_all(chunks: list[bytes], *, limit: int = 4_000, depth: int = 6) -> list[ParserItem]:
    parser = XmlStreamParser(max_stanza_octets=limit, max_depth=depth)
    items: list[ParserItem] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (item := parser.next_item()) is not None:
            items.append(item)
            if isinstance(item, StreamFault):
                return items
    return items


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=300)
@given(anything, st.booleans())
def test_parser_never_raises(data: bytes, after_header: bool) -> None:
    items = parse_all([HEADER + data if after_header else data])
    assert all(not isinstance(item, StreamFault) for item in items[:-1])


@settings(max_examples=300)
@given(anything)
def test_framed_parser_never_raises(data: bytes) -> None:
    item = parse_message(data, max_octets=4_000, max_depth=6)
    assert isinstance(item, StreamOpened | ParsedElement | StreamEnded | StreamFault)


@settings(max_examples=200)
@given(xmlish, st.lists(st.integers(min_value=0), max_size=8))
def test_parser_items_do_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    data = HEADER + data
    assert parse_all(splits(data, cuts)) == parse_all([data])


def play(peer: Peer, chunks: list[bytes]) -> tuple[list[object], bytes]:
    out = b""
    for chunk in chunks:
        if peer.conn.closing:
            break  # what the client sends after the server closed is not read
        out += peer.send(chunk)
    return list(peer.events), out


@settings(max_examples=200)
@given(anything, st.sampled_from(["start", "tls", "bound"]))
def test_connection_never_raises_on_client_input(data: bytes, stage: str) -> None:
    peer = Peer(tls=stage != "start")
    if stage == "bound":
        peer.bind()
    _, out = play(peer, [data])
    peer.hangup()
    assert isinstance(peer.events[-1], StreamClosed | StreamFailed | ConnectionLost)
    failed = peer.of(StreamFailed)
    if failed and failed[0].condition is not None:
        assert f"<{failed[0].condition.value} ".encode() in out
        assert out.endswith(b"</stream:stream>")


@settings(max_examples=150)
@given(xmlish, st.lists(st.integers(min_value=0), max_size=6))
def test_connection_output_does_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    session = HEADER + plain_auth().encode() + HEADER + bind_iq().encode() + data
    whole = play(Peer(tls=True), [session])
    assert play(Peer(tls=True), splits(session, cuts)) == whole


@settings(max_examples=150)
@given(st.lists(anything, max_size=5))
def test_websocket_connection_never_raises(messages: list[bytes]) -> None:
    peer = Peer(websocket=True, tls=True)
    peer.message(WS_OPEN)
    for message in messages:
        if peer.conn.phase.name == "CLOSED":
            break
        peer.conn.receive_message(message)
        peer.run()
        peer.conn.messages_to_send()


# Serializer round trips.

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9._-]{0,6}", fullmatch=True).filter(
    lambda name: not name.lower().startswith("xml")
)
NAMESPACES = st.sampled_from(["", namespaces.CLIENT, "urn:a", "urn:b", namespaces.STREAM])
XML_TEXT = st.text(
    st.characters(codec="utf-8").filter(
        lambda c: c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff")
    ),
    max_size=12,
)
ATTRIBUTE_KEYS = st.one_of(
    NAMES,
    st.just(namespaces.XML_LANG),
    NAMES.map(lambda name: "{urn:attr}" + name),
)


def elements(children: st.SearchStrategy[list[Element | str]]) -> st.SearchStrategy[Element]:
    return st.builds(
        lambda name, namespace, attributes, kids: Element.of(name, namespace, attributes, kids),
        NAMES,
        NAMESPACES,
        st.dictionaries(ATTRIBUTE_KEYS, XML_TEXT, max_size=3),
        children,
    )


leaf = elements(st.lists(XML_TEXT, max_size=1))
trees = st.recursive(
    leaf,
    lambda inner: elements(st.lists(st.one_of(inner, XML_TEXT), max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300)
@given(trees)
def test_a_written_element_parses_back_as_a_document(element: Element) -> None:
    data = serialize(element)
    assert b"ns0:" not in data and b"xmlns:ns0" not in data  # never ElementTree's prefixes
    assert parse_message(data, max_octets=BIG, max_depth=MAX_DEPTH_LIMIT) == ParsedElement(element)


@settings(max_examples=200)
@given(trees)
def test_a_written_element_parses_back_inside_a_stream(element: Element) -> None:
    data = HEADER + serialize(element, STREAM_SCOPE)
    items = parse_all([data], limit=BIG, depth=MAX_DEPTH_LIMIT)
    assert isinstance(items[0], StreamOpened)
    assert items[1:] == [ParsedElement(element)]
