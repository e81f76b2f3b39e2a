"""The streaming MIME parser on real-world-shaped messages (RFC 2045, 2046)."""

from __future__ import annotations

import pytest
from mime_corpus import (
    CORPUS,
    boundary_never_appears,
    check_structure,
    corpus,
    digest,
    eight_bit_headers,
    headers_only,
    mbox_from_line,
    message_global,
    missing_final_boundary,
    missing_separator,
    mixed_with_attachment,
    nested_rfc822,
    no_boundary_parameter,
    odd_delimiters,
    prefix_boundaries,
    rfc2231_params,
    simple_text,
)

from roost.proto.mime import (
    DefectKind,
    MessageStructure,
    MimeParser,
    ParserClosedError,
    Part,
    decode_body,
    parse_bytes,
)


def body(data: bytes, part: Part) -> bytes:
    return data[part.body_start : part.body_end]


def header(data: bytes, part: Part) -> bytes:
    return data[part.header_start : part.header_end]


def shape(s: MessageStructure) -> list[tuple[str, str, str]]:
    return [(p.section, p.kind.value, p.content_type.mime_type) for p in s.parts]


def defects(s: MessageStructure) -> list[tuple[DefectKind, int]]:
    return [(d.kind, d.part) for d in s.defects]


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_invariants(name: str) -> None:
    data = CORPUS[name]()
    check_structure(data, parse_bytes(data))


def test_single_part_message() -> None:
    data = simple_text()
    s = parse_bytes(data)
    assert shape(s) == [("1", "leaf", "text/plain")]
    root = s.root
    assert root.content_type.defaulted
    assert root.content_type.param("charset") == "us-ascii"
    assert header(data, root).endswith(b"In-Reply-To: <1233@mail.example.net>\r\n\r\n")
    assert body(data, root) == b"Hi Bob,\r\n\r\n-- not a boundary\r\nLunch?\r\n"
    assert root.body_lines == 4
    assert s.defects == ()


def test_bare_lf_line_breaks() -> None:
    data = CORPUS["bare_lf"]()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "leaf", "text/plain"),
        ("2", "leaf", "text/plain"),
    ]
    assert body(data, s.parts[1]) == b"one\ntwo"
    assert s.parts[1].body_lines == 1  # line feeds: "two" ends at the boundary
    assert body(data, s.parts[2]) == b"three"
    assert header(data, s.parts[2]) == b"\n"


def test_mixed_alternative_attachment() -> None:
    data = mixed_with_attachment()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "multipart", "multipart/alternative"),
        ("1.1", "leaf", "text/plain"),
        ("1.2", "leaf", "text/html"),
        ("2", "leaf", "application/pdf"),
    ]
    assert s.root.content_type.param("boundary") == "----=_Part_0_1.2"
    text, html, pdf = s.parts[2], s.parts[3], s.parts[4]
    assert body(data, text) == "Café = 5€".encode()
    assert text.transfer_encoding == "8bit"
    assert decode_body(body(data, html), html.transfer_encoding).startswith(
        "<html><body><p>Café = 5€".encode()
    )
    assert decode_body(body(data, pdf), "base64") == bytes(range(256)) * 20
    assert pdf.filename == "report.pdf"
    assert pdf.disposition is not None and pdf.disposition.type == "attachment"
    assert pdf.disposition.param("size") == "5120"
    assert pdf.content_id == "<report@example.de>"
    assert pdf.description_text == "Quarterly Résumé"
    assert pdf.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert pdf.language == ("de", "en")
    assert pdf.location == "http://example.de/report.pdf"
    # The epilogue belongs to the root body, after the close-delimiter.
    assert body(data, s.root).endswith(b"------=_Part_0_1.2--\r\nepilogue\r\n")
    env = s.envelope
    assert env.subject_text == "Grüße aus München"
    assert env.from_ is not None
    assert env.from_.addresses[0].display_name == "Jürgen Müller"


def test_nested_message_rfc822() -> None:
    data = nested_rfc822()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "leaf", "text/plain"),
        ("2", "message", "message/rfc822"),
        ("2", "multipart", "multipart/related"),
        ("2.1", "leaf", "text/html"),
        ("2.2", "leaf", "image/png"),
    ]
    message, inner = s.parts[2], s.parts[3]
    assert body(data, message).startswith(b"From: Inner Sender")
    # The blank line before the outer delimiter is the inner epilogue.
    assert body(data, message).endswith(b"--rel--\r\n")
    assert message.body_lines == 18
    assert inner.header_start == message.body_start
    assert inner.envelope is not None and inner.envelope.subject == "inner message"
    assert inner.envelope.message_id == "<inner@example.com>"
    assert s.find("2") is message
    assert s.find("2.2") is s.parts[5]
    assert s.find("9") is None
    assert s.parts[5].content_id == "<img1>"


def test_digest_defaults_to_message_rfc822() -> None:
    data = digest()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/digest"),
        ("1", "message", "message/rfc822"),
        ("1.1", "leaf", "text/plain"),
        ("2", "message", "message/rfc822"),
        ("2.1", "leaf", "text/plain"),
        ("3", "leaf", "text/plain"),
    ]
    assert s.parts[1].content_type.defaulted
    assert not s.parts[3].content_type.defaulted
    first = s.parts[2].envelope
    assert first is not None and first.subject == "first"
    assert body(data, s.parts[2]) == b"first body"


def test_boundary_that_never_appears() -> None:
    data = boundary_never_appears()
    s = parse_bytes(data)
    assert shape(s) == [("", "multipart", "multipart/mixed")]
    assert s.root.children == ()
    assert defects(s) == [(DefectKind.BOUNDARY_NOT_FOUND, 0)]
    assert body(data, s.root) == b"--elsewhere\r\nsome text\r\n"


def test_missing_final_boundary() -> None:
    data = missing_final_boundary()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "multipart", "multipart/alternative"),
        ("1.1", "leaf", "text/plain"),
        ("1.2", "leaf", "text/html"),
        ("2", "leaf", "text/plain"),
    ]
    # An outer delimiter ends the inner multipart that never closed.
    assert defects(s) == [
        (DefectKind.MISSING_CLOSE_DELIMITER, 1),
        (DefectKind.MISSING_CLOSE_DELIMITER, 0),
    ]
    assert body(data, s.parts[3]) == b"<p>text</p>"
    assert body(data, s.parts[4]) == b"last part, truncated"
    assert s.parts[4].body_end == len(data)


def test_boundaries_that_prefix_each_other() -> None:
    data = prefix_boundaries()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "multipart", "multipart/alternative"),
        ("1.1", "leaf", "text/plain"),
        ("1.2", "multipart", "multipart/mixed"),
        ("1.2.1", "leaf", "text/plain"),
        ("2", "leaf", "text/plain"),
    ]
    assert [body(data, s.parts[i]) for i in (2, 4, 5)] == [b"one", b"two", b"three"]
    assert s.defects == ()


def test_eight_bit_headers() -> None:
    s = parse_bytes(eight_bit_headers())
    env = s.envelope
    assert env.subject == "Señor – café"
    assert env.from_ is not None
    assert env.from_.addresses[0].name == "José García"
    assert env.to is not None and env.to.addresses[0].name == "=?utf-8?q?Ren=C3=A9?="
    assert env.to.addresses[0].display_name == "René"
    # Not UTF-8: read as Latin-1.
    assert env.cc is not None and env.cc.addresses[0].name == "François"


def test_rfc2231_parameters() -> None:
    s = parse_bytes(rfc2231_params())
    first, second = s.parts[1], s.parts[2]
    name = first.content_type.params[0]
    assert (name.name, name.value, name.charset) == ("name", "日本語.txt", "utf-8")
    assert first.disposition is not None
    filename = first.disposition.params[0]
    assert (filename.value, filename.charset, filename.language) == (
        "résumé.txt",
        "iso-8859-1",
        "fr",
    )
    assert first.filename == "résumé.txt"
    assert second.content_type.param("name") == "=?utf-8?B?w6l0w6kudHh0?="
    assert second.filename == "longname.txt"


def test_message_global_and_encoded_rfc822() -> None:
    data = message_global()
    s = parse_bytes(data)
    assert shape(s) == [
        ("", "multipart", "multipart/mixed"),
        ("1", "message", "message/global"),
        ("1.1", "leaf", "text/plain"),
        ("2", "leaf", "message/rfc822"),
    ]
    inner = s.parts[2].envelope
    assert inner is not None and inner.subject == "こんにちは"
    assert inner.from_ is not None
    assert inner.from_.mailboxes()[0].host == "例え.jp"
    assert defects(s) == [(DefectKind.ENCODED_MESSAGE, 3)]


def test_delimiter_padding_junk_and_empty_parts() -> None:
    data = odd_delimiters()
    s = parse_bytes(data)
    assert [p.section for p in s.parts] == ["", "1", "2", "3"]
    assert all(p.body_start == p.body_end for p in s.parts[1:])
    # The line break before a delimiter is the delimiter's (RFC 2046 §5.1.1),
    # also where a part has only a header block or nothing at all.
    assert header(data, s.parts[1]) == b""
    assert header(data, s.parts[2]) == b"Content-Type: text/plain"
    assert s.parts[2].content_type.mime_type == "text/plain"
    assert body(data, s.root).endswith(b"epilogue that looks like a delimiter\r\n")
    assert s.defects == ()


def test_multipart_without_boundary_is_a_leaf() -> None:
    s = parse_bytes(no_boundary_parameter())
    assert shape(s) == [("1", "leaf", "multipart/mixed")]
    assert defects(s) == [(DefectKind.MISSING_BOUNDARY_PARAMETER, 0)]


def test_header_block_without_body() -> None:
    data = headers_only()
    s = parse_bytes(data)
    assert s.root.body_start == s.root.body_end == len(data)
    assert s.envelope.subject == "no body"


def test_mbox_from_line_is_skipped() -> None:
    s = parse_bytes(mbox_from_line())
    assert s.envelope.subject == "mbox"
    assert s.defects == ()


def test_missing_header_body_separator() -> None:
    data = missing_separator()
    s = parse_bytes(data)
    assert body(data, s.root) == b"This line starts the body.\r\nmore\r\n"
    assert defects(s) == [(DefectKind.MISSING_HEADER_BODY_SEPARATOR, 0)]
    assert s.envelope.subject == "no blank line"


def test_invalid_content_type_defaults_to_text_plain() -> None:
    s = parse_bytes(b"Content-Type: garbage\r\n\r\nx")
    assert s.root.content_type.mime_type == "text/plain"
    assert s.root.content_type.defaulted
    assert defects(s) == [(DefectKind.INVALID_CONTENT_TYPE, 0)]


def test_delimiter_at_end_of_data_without_line_break() -> None:
    data = b"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n\r\nx\r\n--e--"
    s = parse_bytes(data)
    assert s.defects == ()
    assert body(data, s.parts[1]) == b"x"


def test_empty_input() -> None:
    s = parse_bytes(b"")
    assert s.size == 0
    assert shape(s) == [("1", "leaf", "text/plain")]


def test_feed_after_close_raises() -> None:
    parser = MimeParser()
    parser.feed(b"Subject: x\r\n\r\n")
    parser.close()
    with pytest.raises(ParserClosedError):
        parser.feed(b"more")
    with pytest.raises(ParserClosedError):
        parser.close()


def test_offset_counts_octets_fed() -> None:
    parser = MimeParser()
    parser.feed(b"Subject: x\r\n")
    parser.feed(memoryview(b"\r\nbody"))
    assert parser.offset == 18
    assert parser.close().size == 18


@pytest.mark.parametrize(("name", "data"), list(corpus()))
def test_json_round_trip(name: str, data: bytes) -> None:
    s = parse_bytes(data)
    assert MessageStructure.from_json(s.to_json()) == s


def test_empty_last_part_of_an_unclosed_multipart_stays_inside_it() -> None:
    # Regression: the empty part ended after its parent's body end.
    data = (
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
        b"Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n"
        b"Content-Type: text/plain\r\n\r\n--o--\r\n"
    )
    s = parse_bytes(data)
    check_structure(data, s)
    inner, empty = s.parts[1], s.parts[2]
    # It ends before the line break of the outer delimiter (RFC 2046 §5.1.1).
    assert empty.body_start == empty.body_end == inner.body_end == data.index(b"--o--") - 2
    assert defects(s) == [(DefectKind.MISSING_CLOSE_DELIMITER, 1)]


@pytest.mark.parametrize("ending", [b"--b\r\n", b"--b"])
def test_delimiter_at_end_of_data_opens_an_empty_part(ending: bytes) -> None:
    # As the stdlib does: the part exists, with no header and no body.
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n" + ending
    s = parse_bytes(data)
    assert [p.section for p in s.parts] == ["", "1", "2"]
    assert s.parts[2].header_start == s.parts[2].body_end == len(data)
    assert defects(s) == [(DefectKind.MISSING_CLOSE_DELIMITER, 0)]
