"""The incremental XML stream parser: items, restricted XML, limits, restarts."""

from __future__ import annotations

import pytest

from roost.proto.xmpp import (
    Element,
    ParsedElement,
    ParserItem,
    StreamEnded,
    StreamErrorCondition,
    StreamFault,
    StreamHeader,
    StreamOpened,
    XmlStreamParser,
    namespaces,
    parse_message,
)

HEADER = (
    b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xml:lang='en' "
    b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)
LIMIT = 10_000


def parser(limit: int = LIMIT, depth: int = 8) -> XmlStreamParser:
    return XmlStreamParser(max_stanza_octets=limit, max_depth=depth)


def items(*chunks: bytes, limit: int = LIMIT, depth: int = 8) -> list[ParserItem]:
    """Feed the chunks one by one, collecting items after each."""
    p = parser(limit, depth)
    out: list[ParserItem] = []
    for chunk in chunks:
        p.feed(chunk)
        while (item := p.next_item()) is not None:
            out.append(item)
            if isinstance(item, StreamFault):
                return out
    return out


def fault(*chunks: bytes, limit: int = LIMIT, depth: int = 8) -> StreamErrorCondition:
    found = items(*chunks, limit=limit, depth=depth)
    assert found and isinstance(found[-1], StreamFault), found
    return found[-1].condition


def test_a_stream_yields_its_header_its_stanzas_and_its_end() -> None:
    got = items(
        HEADER,
        b"<message to='romeo@example.net' xml:lang='en'><body>Art thou &lt;3?</body></message>",
        b"\n <presence/>",
        b"</stream:stream>",
    )
    assert got == [
        StreamOpened(StreamHeader(to="example.com", version=(1, 0), lang="en")),
        ParsedElement(
            Element(
                "message",
                namespaces.CLIENT,
                (("to", "romeo@example.net"), (namespaces.XML_LANG, "en")),
                (Element("body", namespaces.CLIENT, (), ("Art thou <3?",)),),
            )
        ),
        ParsedElement(Element("presence", namespaces.CLIENT)),
        StreamEnded(),
    ]


def test_stanzas_arrive_as_soon_as_they_are_complete() -> None:
    p = parser()
    p.feed(HEADER + b"<presence>")
    assert isinstance(p.next_item(), StreamOpened)
    assert p.next_item() is None
    p.feed(b"</presence>")
    assert p.next_item() == ParsedElement(Element("presence", namespaces.CLIENT))
    assert p.next_item() is None


def test_mixed_content_and_namespaces_are_kept() -> None:
    (_, parsed) = items(
        HEADER,
        b"<message><html xmlns='http://jabber.org/protocol/xhtml-im'>"
        b"<body xmlns='http://www.w3.org/1999/xhtml'>a<em>b</em>c<![CDATA[<d>]]></body>"
        b"</html></message>",
    )
    assert isinstance(parsed, ParsedElement)
    html = parsed.element.find("html", "http://jabber.org/protocol/xhtml-im")
    assert html is not None
    body = html.find("body", "http://www.w3.org/1999/xhtml")
    assert body is not None
    assert body.children == ("a", Element("em", "http://www.w3.org/1999/xhtml", (), ("b",)), "c<d>")


def test_every_byte_split_gives_the_same_items() -> None:
    data = (
        HEADER
        + b"<iq type='get' id='a&amp;b'><query xmlns='jabber:iq:roster'/></iq></stream:stream>"
    )
    whole = items(data)
    assert items(*(data[i : i + 1] for i in range(len(data)))) == whole
    for cut in range(len(data)):
        assert items(data[:cut], data[cut:]) == whole


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        # RFC 6120 §11.1: restricted XML.
        (b"<!DOCTYPE stream>" + HEADER, StreamErrorCondition.RESTRICTED_XML),
        (
            b"<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;'>]>"
            + HEADER[21:]
            + b"<message><body>&b;</body></message>",
            StreamErrorCondition.RESTRICTED_XML,
        ),
        (HEADER + b"<!-- a comment -->", StreamErrorCondition.RESTRICTED_XML),
        (HEADER + b"<message><!-- a comment --></message>", StreamErrorCondition.RESTRICTED_XML),
        (HEADER + b"<?php echo 1; ?>", StreamErrorCondition.RESTRICTED_XML),
        (HEADER + b"<message><?pi x?></message>", StreamErrorCondition.RESTRICTED_XML),
        (HEADER + b"<message><body>&nbsp;</body></message>", StreamErrorCondition.RESTRICTED_XML),
        (HEADER + b"<message to='&ent;'/>", StreamErrorCondition.RESTRICTED_XML),
        # Well-formedness.
        (HEADER + b"<message></presence>", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"<message a='1' a='2'/>", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"<foo:message/>", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"<message>\x01</message>", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"<<<", StreamErrorCondition.NOT_WELL_FORMED),
        (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"<?xml version='1.0'?>", StreamErrorCondition.NOT_WELL_FORMED),
        (HEADER + b"</stream:stream><presence/>", StreamErrorCondition.NOT_WELL_FORMED),
        # Encodings (RFC 6120 §11.6).
        (
            HEADER + b"<message><body>caf\xe9</body></message>",
            StreamErrorCondition.UNSUPPORTED_ENCODING,
        ),
        ("<stream:stream/>".encode("utf-16"), StreamErrorCondition.UNSUPPORTED_ENCODING),
        (
            b"<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER[21:],
            StreamErrorCondition.UNSUPPORTED_ENCODING,
        ),
        # Versions and namespaces (RFC 6120 §4.7.5, §4.8).
        (
            HEADER.replace(b"version='1.0'", b"version='2.0'"),
            StreamErrorCondition.UNSUPPORTED_VERSION,
        ),
        (HEADER.replace(b"version='1.0' ", b""), StreamErrorCondition.UNSUPPORTED_VERSION),
        (
            HEADER.replace(b"version='1.0'", b"version='one'"),
            StreamErrorCondition.UNSUPPORTED_VERSION,
        ),
        (
            HEADER.replace(b"jabber:client", b"jabber:server"),
            StreamErrorCondition.INVALID_NAMESPACE,
        ),
        (HEADER.replace(b"xmlns='jabber:client' ", b""), StreamErrorCondition.INVALID_NAMESPACE),
        (
            HEADER.replace(b"http://etherx.jabber.org/streams", b"urn:example"),
            StreamErrorCondition.INVALID_NAMESPACE,
        ),
        (HEADER.replace(b"stream:stream", b"stream:flow"), StreamErrorCondition.BAD_FORMAT),
        (
            HEADER + b"<c:message xmlns:c='jabber:client'/>",
            StreamErrorCondition.BAD_NAMESPACE_PREFIX,
        ),
        (HEADER + b"hello", StreamErrorCondition.BAD_FORMAT),
    ],
    ids=lambda v: v.value if isinstance(v, StreamErrorCondition) else None,
)
def test_faults(data: bytes, condition: StreamErrorCondition) -> None:
    assert fault(data) is condition


def test_version_one_point_anything_is_accepted() -> None:
    (opened,) = items(HEADER.replace(b"version='1.0'", b"version='01.09'"))
    assert opened == StreamOpened(StreamHeader(to="example.com", version=(1, 9), lang="en"))


def test_a_fault_comes_after_the_good_stanzas_and_stays() -> None:
    p = parser()
    p.feed(HEADER + b"<presence/><!-- -->")
    assert isinstance(p.next_item(), StreamOpened)
    assert p.next_item() == ParsedElement(Element("presence", namespaces.CLIENT))
    first = p.next_item()
    assert isinstance(first, StreamFault)
    p.feed(b"<presence/>")
    assert p.next_item() == first


def test_billion_laughs_never_expands() -> None:
    entities = b"".join(
        b"<!ENTITY l%d '%s'>" % (n, b"&l%d;" % (n - 1) * 10 if n else b"lol") for n in range(10)
    )
    bomb = b"<?xml version='1.0'?><!DOCTYPE s [" + entities + b"]>" + HEADER[21:] + b"<m>&l9;</m>"
    p = parser()
    p.feed(bomb)
    item = p.next_item()
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.RESTRICTED_XML


def test_a_stanza_over_the_limit_is_a_policy_violation() -> None:
    limit = 1_000
    body = b"<message><body>" + b"x" * 2_000 + b"</body></message>"
    assert fault(HEADER, body, limit=limit) is StreamErrorCondition.POLICY_VIOLATION
    # A stanza of exactly the limit passes.
    exact = b"<message><body>" + b"y" * (limit - 32) + b"</body></message>"
    assert len(exact) == limit
    got = items(HEADER, exact, exact, limit=limit)
    assert [type(item) for item in got] == [StreamOpened, ParsedElement, ParsedElement]


def test_the_limit_counts_a_start_tag_expat_still_buffers() -> None:
    p = parser(limit=1_000)
    p.feed(HEADER + b"<message to='" + b"a" * 5_000)
    assert isinstance(p.next_item(), StreamOpened)
    item = p.next_item()
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.POLICY_VIOLATION
    assert p.parsed_octets <= len(HEADER) + 1_001


def test_whitespace_keepalives_do_not_add_up() -> None:
    p = parser(limit=1_000)
    p.feed(HEADER)
    assert isinstance(p.next_item(), StreamOpened)
    for _ in range(100):
        p.feed(b" " * 100)
        assert p.next_item() is None
    p.feed(b"<presence/>")
    assert p.next_item() == ParsedElement(Element("presence", namespaces.CLIENT))


def test_depth_limit() -> None:
    def nested(levels: int) -> bytes:
        return b"<a>" * levels + b"</a>" * levels

    ok = items(HEADER, b"<message>" + nested(7) + b"</message>", depth=8)
    assert isinstance(ok[-1], ParsedElement)
    too_deep = HEADER + b"<message>" + nested(8) + b"</message>"
    assert fault(too_deep, depth=8) is StreamErrorCondition.POLICY_VIOLATION


def test_remaining_gives_the_bytes_after_the_last_item() -> None:
    p = parser()
    p.feed(HEADER + b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>")
    p.feed(b"<?xml version='1.0'?><stream:stream")
    assert isinstance(p.next_item(), StreamOpened)
    assert isinstance(p.next_item(), ParsedElement)
    # The old parser saw the new header as junk, but nothing was returned.
    assert p.remaining() == b"<?xml version='1.0'?><stream:stream"


@pytest.mark.parametrize(
    "tag",
    [
        b"<presence/>",
        b"<presence x='/>'/>",
        b'<presence x="a\'>" />',
        b"<presence></presence >",
        b"<presence><show/></presence>",
    ],
)
def test_remaining_after_every_kind_of_tag_end(tag: bytes) -> None:
    p = parser()
    p.feed(HEADER + tag + b"REST")
    assert isinstance(p.next_item(), StreamOpened)
    assert isinstance(p.next_item(), ParsedElement)
    assert p.remaining() == b"REST"


def test_leading_whitespace_before_a_restarted_stream_is_skipped() -> None:
    got = items(b"\r\n  " + HEADER)
    assert isinstance(got[0], StreamOpened)


# WebSocket messages (RFC 7395).


def message(data: bytes) -> ParserItem:
    return parse_message(data, max_octets=LIMIT, max_depth=8)


def test_framed_open_close_and_stanzas() -> None:
    framing = b"urn:ietf:params:xml:ns:xmpp-framing"
    assert message(b"<open xmlns='" + framing + b"' to='example.com' version='1.0'/>") == (
        StreamOpened(StreamHeader(to="example.com"))
    )
    assert message(b"<close xmlns='" + framing + b"'/>") == StreamEnded()
    assert message(b"<message xmlns='jabber:client'><body>hi</body></message>") == ParsedElement(
        Element(
            "message", namespaces.CLIENT, (), (Element("body", namespaces.CLIENT, (), ("hi",)),)
        )
    )


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        (
            b"<message xmlns='jabber:client'/><presence xmlns='jabber:client'/>",
            StreamErrorCondition.NOT_WELL_FORMED,
        ),
        (b"<message xmlns='jabber:client'>", StreamErrorCondition.NOT_WELL_FORMED),
        (b"", StreamErrorCondition.NOT_WELL_FORMED),
        (b"<!DOCTYPE m><message xmlns='jabber:client'/>", StreamErrorCondition.RESTRICTED_XML),
        (
            b"<message xmlns='jabber:client'>\xff</message>",
            StreamErrorCondition.UNSUPPORTED_ENCODING,
        ),
        (
            b"<message xmlns='jabber:client'>" + b"x" * LIMIT + b"</message>",
            StreamErrorCondition.POLICY_VIOLATION,
        ),
        (
            b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='0.9'/>",
            StreamErrorCondition.UNSUPPORTED_VERSION,
        ),
    ],
)
def test_framed_faults(data: bytes, condition: StreamErrorCondition) -> None:
    item = message(data)
    assert isinstance(item, StreamFault)
    assert item.condition is condition


# A quiet stream lets its expat parser go between stanzas, and a new one
# takes over when the client speaks again.

ROOT_PREFIXED = (
    b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' "
    b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    b'xmlns:x="urn:example:a&amp;b\'">'
)


def drain(p: XmlStreamParser) -> list[ParserItem]:
    out = []
    while (item := p.next_item()) is not None:
        out.append(item)
    return out


def test_a_rested_parser_reads_on_as_if_it_had_never_stopped() -> None:
    chunks = [
        ROOT_PREFIXED,
        b"<presence/>",
        b"  <message><x:body>a</x:body></message>",
        b"\n",
        b"<message><body>b</body></message>",
        b"<presence/></stream:stream>",
    ]
    expected = items(*chunks)
    assert isinstance(expected[-1], StreamEnded)
    p = parser()
    got: list[ParserItem] = []
    rested = 0
    for chunk in chunks:
        p.feed(chunk)
        got += drain(p)
        rested += p.rest()
    assert got == expected
    assert rested >= 3
    body = got[2].element.children[0] if isinstance(got[2], ParsedElement) else None
    assert isinstance(body, Element) and body.namespace == "urn:example:a&b'"


def test_a_parser_rests_only_between_complete_items() -> None:
    p = parser()
    assert not p.rest()  # no stream yet
    p.feed(HEADER)
    assert not p.rest()  # the header is not read yet
    assert isinstance(p.next_item(), StreamOpened)
    p.feed(b"<message><body>half")
    assert p.next_item() is None
    assert not p.rest()  # inside a stanza
    p.feed(b"</body></message><pres")
    assert isinstance(p.next_item(), ParsedElement)
    assert not p.rest()  # a start tag expat holds
    p.feed(b"ence/>")
    p.feed(b"<presence/>")
    assert isinstance(p.next_item(), ParsedElement)
    assert not p.rest()  # parsed, not yet returned
    assert isinstance(p.next_item(), ParsedElement)
    assert p.rest()
    assert not p.rest()  # resting already: nothing to let go


def test_limits_and_faults_hold_after_a_rest() -> None:
    p = parser(limit=1_000)
    p.feed(HEADER)
    assert isinstance(p.next_item(), StreamOpened)
    assert p.rest()
    exact = b"<message><body>" + b"y" * (1_000 - 32) + b"</body></message>"
    p.feed(exact)
    assert isinstance(p.next_item(), ParsedElement)
    assert p.rest()
    p.feed(b"<message><body>" + b"x" * 2_000)
    item = p.next_item()
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.POLICY_VIOLATION
    q = parser()
    q.feed(HEADER)
    assert isinstance(q.next_item(), StreamOpened)
    assert q.rest()
    q.feed(b"<!-- no -->")
    item = q.next_item()
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.RESTRICTED_XML


def test_remaining_after_a_rest() -> None:
    p = parser()
    p.feed(HEADER)
    assert isinstance(p.next_item(), StreamOpened)
    assert p.rest()
    p.feed(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>REST")
    assert isinstance(p.next_item(), ParsedElement)
    assert p.remaining() == b"REST"
