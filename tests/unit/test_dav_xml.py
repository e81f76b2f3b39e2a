"""control/dav_xml: the locked-down expat parser of DAV request bodies. Any
input gives a tree or `XmlRefused` with a message, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.dav_xml import DAV, XmlRefused, parse, tag, to_bytes

LIMITS = {"max_bytes": 4096, "max_depth": 8}


def test_a_propfind_parses_with_namespaces() -> None:
    root = parse(b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>', **LIMITS)
    assert root.tag == tag(DAV, "propfind")
    assert root[0][0].tag == tag(DAV, "getetag")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DOCTYPE"),
        (b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>', "DOCTYPE"),
        (b"<?php evil?><x/>", "processing instructions"),
        (b"<x><?pi data?></x>", "processing instructions"),
        (b"<x>&undeclared;</x>", "not well-formed"),
        (b"<x>", "not well-formed"),
        (b"", "not well-formed"),
        (b"\xff\xfe<\x00x", "not well-formed"),
    ],
)
def test_refused_documents(body: bytes, reason: str) -> None:
    with pytest.raises(XmlRefused, match=reason):
        parse(body, **LIMITS)


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = f'<!DOCTYPE x [<!ENTITY l0 "lol">{entities}]><x>&l9;</x>'.encode()
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        parse(body, max_bytes=1 << 20, max_depth=8)


def test_size_limit() -> None:
    body = b"<x>" + b"a" * 5000 + b"</x>"
    with pytest.raises(XmlRefused, match="larger than 4096 bytes"):
        parse(body, **LIMITS)
    assert parse(body, max_bytes=len(body), max_depth=8).text == "a" * 5000


def test_depth_limit() -> None:
    deep = b"<a>" * 9 + b"</a>" * 9
    with pytest.raises(XmlRefused, match="deeper than 8"):
        parse(deep, **LIMITS)
    assert parse(b"<a>" * 8 + b"</a>" * 8, **LIMITS).tag == "a"


def test_comments_are_ignored() -> None:
    assert parse(b"<x><!-- note --><y/></x>", **LIMITS)[0].tag == "y"


def test_a_printed_tree_parses_back() -> None:
    root = parse(b'<D:a xmlns:D="DAV:" D:k="v"><D:b>text</D:b></D:a>', **LIMITS)
    again = parse(to_bytes(root), **LIMITS)
    assert again.tag == root.tag and again[0].text == "text"
    assert again.get(tag(DAV, "k")) == "v"


@given(st.binary(max_size=600))
def test_any_bytes_parse_or_are_refused(body: bytes) -> None:
    try:
        parse(body, **LIMITS)
    except XmlRefused as exc:
        assert str(exc)


XML_PIECES = st.sampled_from(
    [
        "<a>", "</a>", "<D:p xmlns:D='DAV:'>", "</D:p>", "<b/>", "&amp;", "&x;", "<!--c-->",
        "<?pi x?>", "<!DOCTYPE a>", "<![CDATA[x]]>", "text", "\x00", "é", "<a b='1' b='2'>",
        "]]>", "<", ">", "'", '"', "xmlns:x=''",
    ]
)  # fmt: skip


@given(st.lists(XML_PIECES, max_size=40))
def test_xml_like_input_parses_or_is_refused(pieces: list[str]) -> None:
    try:
        root = parse("".join(pieces).encode("utf-8"), **LIMITS)
    except XmlRefused as exc:
        assert str(exc)
    else:
        assert root.tag
