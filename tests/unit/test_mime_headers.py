"""Header decoders: RFC 2047 words, RFC 2045/2231 parameters, RFC 5322 addresses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.mime import (
    Address,
    Group,
    Parameter,
    decode_header,
    decode_parameters,
    imap_address_items,
    parse_address_list,
    parse_content_type,
    parse_disposition,
    parse_parameters,
)
from roost.proto.mime.encoded_words import decode_text, normalize_charset


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # RFC 2047 §8 examples.
        ("(=?ISO-8859-1?Q?a?=)", "(a)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
        ("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
        ("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=", "If you can read this yo"),
        # RFC 2231 §5 language in the charset.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        # A multi-byte character split across two words.
        ("=?utf-8?B?8J+Y?= =?utf-8?B?gA==?=", "\U0001f600"),
        # Broken: missing padding, lowercase, unknown charset, bad escape.
        ("=?utf-8?b?w6k?=", "é"),
        ("=?x-bogus?q?caf=C3=A9?=", "café"),
        ("=?x-bogus?q?caf=E9?=", "café"),
        ("=?utf-8?q?bad=ZZ?=", "bad=ZZ"),
        ("=?utf-8?x?zz?=", "=?utf-8?x?zz?="),
        ("=?base64?q?x?=", "x"),
        ("=?utf-8?q?spaces inside?=", "spaces inside"),
        ("=?utf-8?q?=FF?=", "\ufffd"),
        ("no words here", "no words here"),
    ],
)
def test_decode_header(raw: str, text: str) -> None:
    assert decode_header(raw) == text


def test_decode_header_bytes_falls_back_to_latin_1() -> None:
    assert decode_header(b"caf\xc3\xa9") == "café"
    assert decode_header(b"caf\xe9") == "café"


def test_charsets() -> None:
    assert normalize_charset("UTF-8*en") == "utf-8"
    assert normalize_charset("zlib") is None
    assert normalize_charset("unknown-8bit") is None
    assert decode_text("€".encode("cp1252"), "windows-1252") == "€"
    assert decode_text("한".encode("cp949"), "ks_c_5601-1987") == "한"


@settings(max_examples=300)
@given(st.text(max_size=80) | st.binary(max_size=80))
def test_decode_header_never_raises(value: str | bytes) -> None:
    assert isinstance(decode_header(value), str)


def test_content_type_grammar() -> None:
    ct = parse_content_type('Text/HTML; Charset="UTF-8" (comment); format=flowed;')
    assert ct is not None
    assert (ct.type, ct.subtype) == ("text", "html")
    assert ct.params == (Parameter("charset", "UTF-8"), Parameter("format", "flowed"))
    assert parse_content_type("text") is None
    assert parse_content_type("/plain") is None
    assert parse_content_type("") is None


def test_unquoted_boundary_with_tspecials() -> None:
    ct = parse_content_type("multipart/mixed; boundary=----=_NextPart_000_0001_01D0?x")
    assert ct is not None and ct.param("boundary") == "----=_NextPart_000_0001_01D0?x"


def test_rfc2231_examples() -> None:
    # RFC 2231 §3, §4 and §4.1.
    params = parse_parameters(
        '; URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"'
    )
    assert params == (Parameter("url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"),)
    (title,) = parse_parameters("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")
    assert (title.value, title.charset) == ("This is ***fun***", "us-ascii")
    assert title.language == "en-us"
    (title,) = parse_parameters(
        "; title*0*=us-ascii'en'This%20is%20even%20more%20"
        '; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"'
    )
    assert title.value == "This is even more ***fun*** isn't it!"
    assert title.language == "en"


def test_rfc2231_out_of_order_missing_and_duplicate_sections() -> None:
    (p,) = decode_parameters([("n*2", "c"), ("n*0", "a"), ("n*0", "x"), ("n*3", "d")])
    assert p.value == "acd"
    (p,) = decode_parameters([("name", "plain.txt"), ("name*", "utf-8''%C3%A9.txt")])
    assert p.value == "é.txt"
    (p,) = decode_parameters([("name*", "no-quotes%41")])
    assert (p.value, p.charset) == ("no-quotesA", None)
    (p,) = decode_parameters([("name*", "x-bogus''%E9")])
    assert p.value == "é"


def test_disposition() -> None:
    d = parse_disposition('Attachment; filename="a b.pdf"; creation-date="Wed, 12 Feb 1997"')
    assert d is not None and d.type == "attachment"
    assert d.param("Filename") == "a b.pdf"
    assert parse_disposition("; filename=x") is None


def test_rfc5322_appendix_a_addresses() -> None:
    assert parse_address_list('"Joe Q. Public" <john.q.public@example.com>') == (
        Address("Joe Q. Public", None, "john.q.public", "example.com"),
    )
    assert parse_address_list("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>") == (
        Address("Mary Smith", None, "mary", "x.test"),
        Address(None, None, "jdoe", "example.org"),
        Address("Who?", None, "one", "y.test"),
    )
    giant = '<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>'
    assert parse_address_list(giant) == (
        Address(None, None, "boss", "nil.test"),
        Address('Giant; "Big" Box', None, "sysservices", "example.net"),
    )
    assert parse_address_list(
        "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"
    ) == (
        Group(
            "A Group",
            (
                Address("Ed Jones", None, "c", "a.test"),
                Address(None, None, "joe", "where.test"),
                Address("John", None, "jdoe", "one.test"),
            ),
        ),
    )
    assert parse_address_list("Undisclosed recipients:;") == (Group("Undisclosed recipients"),)
    assert parse_address_list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>") == (
        Address("Pete", None, "pete", "silly.test"),
    )


def test_obsolete_and_broken_addresses() -> None:
    assert parse_address_list("<@a.test,@b.test:joe@c.test>") == (
        Address(None, "@a.test,@b.test", "joe", "c.test"),
    )
    assert parse_address_list("jdoe@example.org (John Doe)") == (
        Address("John Doe", None, "jdoe", "example.org"),
    )
    assert parse_address_list('"odd local"@example.org') == (
        Address(None, None, '"odd local"', "example.org"),
    )
    assert parse_address_list("root") == (Address(None, None, "root", ""),)
    assert parse_address_list("a@b, , c@d,") == (
        Address(None, None, "a", "b"),
        Address(None, None, "c", "d"),
    )
    assert parse_address_list("Name <unterminated@example.org") == (
        Address("Name", None, "unterminated", "example.org"),
    )
    assert parse_address_list("=?utf-8?q?J=C3=B6rg?= <j@x.test>")[0] == Address(
        "=?utf-8?q?J=C3=B6rg?=", None, "j", "x.test"
    )
    assert parse_address_list('"=?utf-8?q?J=C3=B6rg?=" <j@x.test>')[0].display_name == "Jörg"
    assert parse_address_list("") == ()


def test_imap_address_encoding() -> None:
    items = parse_address_list("G: a@b, c;, Ann <d@e>")
    assert imap_address_items(items) == (
        (None, None, "G", None),
        (None, None, "a", "b"),
        (None, None, "c", ".MISSING-HOST-NAME."),
        (None, None, None, None),
        ("Ann", None, "d", "e"),
    )


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list('ab@<>:;,."()\\ []=?')), max_size=60))
def test_address_parser_never_raises(value: str) -> None:
    for item in parse_address_list(value):
        assert isinstance(item, Address | Group)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab*0123';=\"%()/ ")), max_size=60))
def test_parameter_parser_never_raises(value: str) -> None:
    for p in parse_parameters(value):
        assert isinstance(p, Parameter)
