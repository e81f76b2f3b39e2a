"""FETCH BODY[section] and BINARY[section]: which bytes a section names (RFC 9051 §6.4.5).

Every expected value below is what Dovecot 2.3.19.1 sent for the same
message and section (None where it sent an empty string for a section that
names no part).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mime_corpus import (
    CORPUS,
    crlf,
    digest,
    headers_only,
    message_global,
    nested_rfc822,
    no_boundary_parameter,
    simple_text,
)

from roost.proto.imap.fetch import BodySection, Section, SectionText, parse_fetch_attr
from roost.proto.imap.reader import Reader
from roost.proto.imap.sections import (
    UNKNOWN_CTE,
    HeaderFilter,
    UnknownTransferEncoding,
    binary_decoder,
    find_part,
    partial,
    resolve_binary,
    resolve_section,
)
from roost.proto.mime import MessageStructure, PartKind, parse_bytes


def parse_section(spec: str) -> Section:
    """The section of `BODY[spec]`, read by the FETCH grammar."""
    attr = parse_fetch_attr(Reader(f"BODY[{spec}]".encode()))
    assert isinstance(attr, BodySection)
    return attr.section


def fetch(data: bytes, spec: str, *, message_global: bool = False) -> bytes | None:
    """What BODY[spec] sends, read from `data` as the IMAP service would
    read it from the blob store."""
    structure = parse_bytes(data)
    read = resolve_section(structure, parse_section(spec), message_global=message_global)
    if read is None:
        return None
    chunk = data[read.start : read.end]
    return chunk if read.header_filter is None else read.header_filter(chunk)


def binary(data: bytes, numbers: tuple[int, ...]) -> bytes | None:
    read = resolve_binary(parse_bytes(data), numbers)
    if read is None:
        return None
    decoder = read.decoder()
    body = data[read.start : read.end]
    return decoder.feed(body[:5]) + decoder.feed(body[5:]) + decoder.close()


NESTED_INNER_HEADER = (
    b"From: Inner Sender <inner@example.com>\r\n"
    b"To: undisclosed-recipients:;\r\n"
    b"Subject: inner message\r\n"
    b"Date: Sat, 01 Jan 2000 00:00:00 +0000\r\n"
    b"Message-ID: <inner@example.com>\r\n"
    b"Content-Type: multipart/related; boundary=rel\r\n"
    b"\r\n"
)
NESTED_INNER_TEXT = (
    b"--rel\r\n"
    b"Content-Type: text/html; charset=us-ascii\r\n"
    b"\r\n"
    b"<img src=cid:img1>\r\n"
    b"--rel\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <img1>\r\n"
    b"\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--rel--\r\n"
)

NESTED = {
    "1": b"See the forwarded message.",
    "1.MIME": b"\r\n",
    "2": NESTED_INNER_HEADER + NESTED_INNER_TEXT,
    "2.MIME": b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n",
    "2.HEADER": NESTED_INNER_HEADER,
    "2.TEXT": NESTED_INNER_TEXT,
    "2.1": b"<img src=cid:img1>",
    "2.1.MIME": b"Content-Type: text/html; charset=us-ascii\r\n\r\n",
    "2.2.MIME": b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-ID: <img1>\r\n\r\n",
    "2.1.1": b"<img src=cid:img1>",
    "2.2.1": b"iVBORw0KGgo=",
    "1.1": b"See the forwarded message.",
    "2.HEADER.FIELDS (Subject FROM x-none)": b"From: Inner Sender <inner@example.com>\r\n"
    b"Subject: inner message\r\n\r\n",
    "HEADER.FIELDS.NOT (From To)": b"Subject: Fwd: inner message\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n",
    "1.HEADER": None,
    "1.TEXT": None,
    "2.1.HEADER": None,
    "3": None,
    "2.3": None,
    "1.1.1": None,
}


@pytest.mark.parametrize("spec", sorted(NESTED))
def test_forwarded_message_sections_are_dovecots(spec: str) -> None:
    assert fetch(nested_rfc822(), spec) == NESTED[spec]


SIMPLE_HEADER = simple_text().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
SIMPLE_BODY = b"Hi Bob,\r\n\r\n-- not a boundary\r\nLunch?\r\n"
SIMPLE = {
    "": SIMPLE_HEADER + SIMPLE_BODY,
    "1": SIMPLE_BODY,
    "1.MIME": SIMPLE_HEADER,
    "HEADER": SIMPLE_HEADER,
    "TEXT": SIMPLE_BODY,
    "HEADER.FIELDS (x-none)": b"\r\n",
    "HEADER.FIELDS (Subject cc)": b'Cc: "Dave, the Third" <dave@example.com>\r\n'
    b"Subject: Lunch\r\n on Friday?\r\n\r\n",
    "1.HEADER": None,
    "1.TEXT": None,
    "2": None,
}


@pytest.mark.parametrize("spec", sorted(SIMPLE))
def test_single_part_sections_are_dovecots(spec: str) -> None:
    """Part 1 of a non-multipart message is its body, and its MIME header
    is the message header (RFC 9051 §6.4.5)."""
    assert fetch(simple_text(), spec) == SIMPLE[spec]


DIGEST = {
    "1.HEADER": b"From: one@example.org\r\nSubject: first\r\n\r\n",
    "1.MIME": b"\r\n",
    "1.TEXT": b"first body",
    "1.1": b"first body",
    "1.1.MIME": b"From: one@example.org\r\nSubject: first\r\n\r\n",
    "3.1": b"a text part in a digest",
}


@pytest.mark.parametrize("spec", sorted(DIGEST))
def test_digest_sections_are_dovecots(spec: str) -> None:
    """Parts of a digest without Content-Type are messages (RFC 2046 §5.1.5)."""
    assert fetch(digest(), spec) == DIGEST[spec]


def test_headers_only_message() -> None:
    """No blank line, no body: the header is sent as it is, and a subset
    gets no blank line either (RFC 9051 §6.4.5)."""
    data = headers_only()
    assert fetch(data, "HEADER") == b"From: a@example.org\r\nSubject: no body"
    assert fetch(data, "TEXT") == b""
    assert fetch(data, "1") == b""
    assert fetch(data, "1.MIME") == b"From: a@example.org\r\nSubject: no body"
    assert fetch(data, "HEADER.FIELDS (Subject)") == b"Subject: no body\r\n"


def test_message_global_parts_are_entered_only_in_imap4rev2() -> None:
    data = message_global()
    inner = (
        "From: \u7530\u4e2d <tanaka@\u4f8b\u3048.jp>\r\n"
        "Subject: \u3053\u3093\u306b\u3061\u306f\r\n\r\n\u672c\u6587"
    ).encode()
    # IMAP4rev1, as Dovecot 2.3: a leaf, whose part 1 is itself.
    assert fetch(data, "1.HEADER") is None
    assert fetch(data, "1.1") == inner
    # IMAP4rev2 (RFC 9051 §6.4.5): a message with a header and parts.
    assert fetch(data, "1.HEADER", message_global=True) == inner[: inner.index(b"\r\n\r\n") + 4]
    assert fetch(data, "1.1", message_global=True) == "\u672c\u6587".encode()


def test_a_multipart_without_boundary_has_no_parts() -> None:
    """BODYSTRUCTURE shows it with one empty part; that part is empty."""
    data = no_boundary_parameter()
    assert fetch(data, "1") is None
    assert fetch(data, "TEXT") == b"--x\r\n\r\nbody\r\n--x--\r\n"


def test_message_rfc822_at_the_top() -> None:
    data = crlf(
        "From: mailer-daemon@example.org\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "From: x@example.org\n"
        "Subject: inner\n"
        "\n"
        "inner body\n"
    )
    assert fetch(data, "1") == b"From: x@example.org\r\nSubject: inner\r\n\r\ninner body\r\n"
    assert fetch(data, "1.HEADER") == b"From: x@example.org\r\nSubject: inner\r\n\r\n"
    assert fetch(data, "1.TEXT") == b"inner body\r\n"
    assert fetch(data, "1.1") == b"inner body\r\n"
    assert fetch(data, "1.1.MIME") == b"From: x@example.org\r\nSubject: inner\r\n\r\n"


# -- header subsets --------------------------------------------------------------

MANY_HEADERS = crlf(
    "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n"
    "Received: from c\n by d; Mon, 1 Jan 2024 00:00:01 +0000\n"
    "From: a@example.org\n"
    "subject: folded\n  subject line\n"
    "X-Spam-Score: 1.2\n"
    "Subject : obsolete space\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "SGVsbG8gd8O2cmxkIQ0K\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=FC=DFe=\n"
    " aus K=F6ln\n"
    "\n"
    "--b\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: x-uuencode\n"
    "\n"
    "begin 644 x\n"
    "end\n"
    "\n"
    "--b--\n"
)


def test_header_fields_keep_order_folds_and_repeats() -> None:
    """Field names match case-insensitively but otherwise exactly (RFC 9051
    §6.4.5); the fields come in message order, folds included."""
    assert fetch(MANY_HEADERS, "HEADER.FIELDS (subject RECEIVED)") == (
        b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Received: from c\r\n by d; Mon, 1 Jan 2024 00:00:01 +0000\r\n"
        b"subject: folded\r\n  subject line\r\n"
        b"Subject : obsolete space\r\n"
        b"\r\n"
    )
    assert fetch(MANY_HEADERS, "HEADER.FIELDS.NOT (Received Subject x-spam-score)") == (
        b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    )


def test_header_filter_on_its_own() -> None:
    keep = HeaderFilter.of(("To",), exclude=False)
    assert keep(b"To: a\r\nnot a field\r\nX: y\r\n\r\n") == b"To: a\r\n\r\n"
    assert keep(b"To: a") == b"To: a\r\n"
    drop = HeaderFilter.of(("to",), exclude=True)
    assert drop(b"To: a\n b\nCc: c\n\n") == b"Cc: c\n\n"


def test_sections_read_only_the_header_block_for_header_fields() -> None:
    structure = parse_bytes(MANY_HEADERS)
    read = resolve_section(structure, parse_section("HEADER.FIELDS (From)"))
    assert read is not None
    assert (read.start, read.end) == (0, structure.root.header_end)
    assert read.header_filter == HeaderFilter(frozenset({"from"}))


def test_sections_from_the_grammar() -> None:
    assert parse_section("2.HEADER.FIELDS (Subject x-a)") == Section(
        (2,), SectionText.HEADER_FIELDS, ("SUBJECT", "X-A")
    )


# -- BINARY ------------------------------------------------------------------------


def test_binary_undoes_the_transfer_encoding() -> None:
    """As Dovecot sends BINARY[1] and BINARY[2] (RFC 3516 §4)."""
    assert binary(MANY_HEADERS, (1,)) == "Hello w\u00f6rld!\r\n".encode()
    assert binary(MANY_HEADERS, (2,)) == "Gr\u00fc\u00dfe aus K\u00f6ln\r\n".encode("latin-1")
    assert binary(MANY_HEADERS, (4,)) is None
    assert binary(MANY_HEADERS, ()) == MANY_HEADERS


def test_binary_of_an_unknown_encoding_is_unknown_cte() -> None:
    read = resolve_binary(parse_bytes(MANY_HEADERS), (3,))
    assert read is not None and read.transfer_encoding == "x-uuencode"
    with pytest.raises(UnknownTransferEncoding) as caught:
        read.decoder()
    assert caught.value.encoding == "x-uuencode"
    assert caught.value.code == UNKNOWN_CTE


def test_binary_sends_composite_parts_as_they_are() -> None:
    """RFC 2045 §6.4: multipart and message bodies are never encoded."""
    data = nested_rfc822()
    read = resolve_binary(parse_bytes(data), (2,))
    assert read is not None and read.transfer_encoding == "7bit"
    assert binary(data, (2,)) == NESTED["2"]


def test_binary_decoder_names() -> None:
    for name in ("7bit", "8BIT", "binary", "Base64", " quoted-printable "):
        assert binary_decoder(name) is not None
    for name in ("x-uuencode", "uuencode", "x-gzip", ""):
        with pytest.raises(UnknownTransferEncoding):
            binary_decoder(name)


# -- partial fetches ------------------------------------------------------------------


def test_partial() -> None:
    """`<origin.count>` (RFC 9051 §6.4.5): as Dovecot cut BODY[1]<2.3>."""
    structure = parse_bytes(MANY_HEADERS)
    read = resolve_section(structure, parse_section("1"))
    assert read is not None
    cut = read.narrowed(2, 3)
    assert MANY_HEADERS[cut.start : cut.end] == b"Vsb"
    assert partial(10, 4, None) == (4, 10)
    assert partial(10, 12, 5) == (10, 10)
    assert partial(10, 8, 5) == (8, 10)
    fields = resolve_section(structure, parse_section("HEADER.FIELDS (Subject)"))
    assert fields is not None
    with pytest.raises(ValueError, match="filter"):
        fields.narrowed(0, 10)


# -- robustness ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_part_of_the_corpus_is_found_by_its_section(name: str) -> None:
    """Each stored part's section number leads to the first part holding it
    (a message/rfc822 part, not the multipart inside it that shares it); a
    multipart whose boundary is missing has no part 1."""
    structure = parse_bytes(CORPUS[name]())
    for part in structure.parts:
        if not part.section:
            continue
        numbers = tuple(int(n) for n in part.section.split("."))
        found = find_part(structure, numbers, message_global=True)
        if part.content_type.type == "multipart" and part.kind is PartKind.LEAF:
            assert found is None
        else:
            assert found is structure.find(part.section)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=400),
    st.lists(st.integers(1, 4), max_size=5),
    st.sampled_from([None, *SectionText]),
)
def test_any_section_of_any_message_stays_inside_it(
    data: bytes, numbers: list[int], text: SectionText | None
) -> None:
    message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data
    structure = parse_bytes(message)
    if text is SectionText.MIME and not numbers:
        return
    fields = (
        ("Subject",) if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT) else ()
    )
    read = resolve_section(structure, Section(tuple(numbers), text, fields))
    if read is not None:
        assert 0 <= read.start <= read.end <= len(message)
    stored = MessageStructure.from_json(structure.to_json())
    assert resolve_section(stored, Section(tuple(numbers), text, fields)) == read
