"""The searchable text of a message, shared by IMAP SEARCH and the indexer."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mime_corpus import (
    CORPUS,
    crlf,
    eight_bit_headers,
    mixed_with_attachment,
    nested_rfc822,
    no_boundary_parameter,
    rfc2231_params,
)

from roost.proto.mime import parse_bytes
from roost.proto.mime.searchtext import (
    MAX_SEARCH_TEXT_CHARS,
    SearchText,
    SearchTextExtractor,
    body_search_text,
    header_search_text,
    message_search_text,
    searchable_parts,
)


def search_text(data: bytes, max_chars: int = MAX_SEARCH_TEXT_CHARS) -> SearchText:
    return message_search_text(data, parse_bytes(data), max_chars=max_chars)


def alternative_related() -> bytes:
    """Apple-Mail-shaped: text and HTML alternatives, an inline image."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(60)).decode()
    return crlf(
        "From: Anna Berg <anna@example.se>\n"
        'Content-Type: multipart/alternative; boundary="A1"\n'
        "Subject: =?utf-8?Q?M=C3=B6te_p=C3=A5_fredag?=\n"
        "\n"
        "--A1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "Hej! Vi ses p=C3=A5 fredag.\n"
        "\n"
        "--A1\n"
        'Content-Type: multipart/related; type="text/html"; boundary="A2"\n'
        "\n"
        "--A2\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<html><head><title>M=C3=B6te</title><style>p {color: red}</style></head>\n"
        "<body><p>Hej!   Vi ses<br>p=C3=A5 <b>fre</b>dag &amp; l=C3=B6rdag&#33;</p>=\n"
        '<img src=3D"cid:logo@example.se"><script>alert("x")</script>\n'
        "<!-- a comment --><div>Anna</div></body></html>\n"
        "\n"
        "--A2\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: inline; filename=logo.png\n"
        'Content-Type: image/png; name="logo.png"\n'
        "Content-Id: <logo@example.se>\n"
        "\n" + png + "\n"
        "\n"
        "--A2--\n"
        "\n"
        "--A1--\n"
    )


def test_alternatives_are_decoded_and_html_becomes_text() -> None:
    text = search_text(alternative_related())
    assert text.body == (
        "Hej! Vi ses p\u00e5 fredag.\nM\u00f6te\nHej! Vi ses\np\u00e5 fredag & l\u00f6rdag!\nAnna"
    )
    assert "color" not in text.body and "alert" not in text.body and "comment" not in text.body
    assert not text.truncated


def test_attachments_and_non_text_parts_are_left_out() -> None:
    """mixed_with_attachment: text and HTML alternatives, then a PDF."""
    text = search_text(mixed_with_attachment())
    assert text.body == "Caf\u00e9 = 5\u20ac\nCaf\u00e9 = 5\u20ac"
    # A text part marked as attachment is left out too.
    assert search_text(rfc2231_params()).body == ""


def test_parts_inside_an_attachment_are_left_out() -> None:
    inner = "From: b@example.net\nSubject: inner\n\nforwarded words\n"
    for disposition, expected in (
        ("inline", "outer words\nforwarded words"),
        ("attachment", "outer words"),
    ):
        data = crlf(
            "From: a@example.org\n"
            "Content-Type: multipart/mixed; boundary=m\n"
            "\n"
            "--m\n"
            "\n"
            "outer words\n"
            "--m\n"
            "Content-Type: message/rfc822\n"
            f"Content-Disposition: {disposition}\n"
            "\n" + inner + "--m--\n"
        )
        assert search_text(data).body == expected


def test_a_single_part_message_is_searched_whatever_its_disposition() -> None:
    data = crlf("Content-Disposition: attachment\nContent-Type: text/plain\n\nhello\n")
    assert search_text(data).body == "hello"


def test_signed_message_text_without_the_signature() -> None:
    data = crlf(
        "From: Dana <dana@example.org>\n"
        "Content-Type: multipart/signed; micalg=pgp-sha256;\n"
        ' protocol="application/pgp-signature"; boundary="s"\n'
        "\n"
        "--s\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "\n"
        "Signed text.\n"
        "\n"
        "--s\n"
        'Content-Type: application/pgp-signature; name="OpenPGP_signature.asc"\n'
        "\n"
        "-----BEGIN PGP SIGNATURE-----\n"
        "-----END PGP SIGNATURE-----\n"
        "--s--\n"
    )
    assert search_text(data).body == "Signed text."


def test_encrypted_message_has_no_body_text() -> None:
    data = crlf(
        "From: Dana <dana@example.org>\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"\n'
        "\n"
        "--e\n"
        "Content-Type: application/pgp-encrypted\n"
        "\n"
        "Version: 1\n"
        "--e\n"
        "Content-Type: application/octet-stream\n"
        "\n"
        "-----BEGIN PGP MESSAGE-----\n"
        "--e--\n"
    )
    assert search_text(data).body == ""


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ("Content-Type: text/plain; charset=iso-8859-1", b"Gr\xfc\xdfe", "Gr\u00fc\u00dfe"),
        ("Content-Type: text/plain; charset=windows-1252", b"\x93quoted\x94", "\u201cquoted\u201d"),
        ("Content-Type: text/plain; charset=koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
        # Undeclared, us-ascii, UTF-8 or unknown: UTF-8, then Latin-1 from the
        # first octet that is not UTF-8 (mislabelled Latin-1 mail is common).
        ("Content-Type: text/plain; charset=utf-8", b"caf\xc3\xa9 \xff", "caf\u00e9 \u00ff"),
        ("Content-Type: text/plain", "caf\u00e9".encode(), "caf\u00e9"),
        ("Content-Type: text/plain", b"caf\xe9", "caf\u00e9"),
        ("Content-Type: text/plain; charset=us-ascii", b"na\xefve", "na\u00efve"),
        ("Content-Type: text/plain; charset=x-klingon", "\u00fcber".encode(), "\u00fcber"),
        (
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
            base64.b64encode("Hello w\u00f6rld!\r\n".encode()),
            "Hello w\u00f6rld!",
        ),
        (
            "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64",
            base64.b64encode(b"<b>Win</b> &amp; smile &#128512;"),
            "Win & smile \U0001f600",
        ),
    ],
)
def test_charsets_and_transfer_encodings(header: str, body: bytes, expected: str) -> None:
    data = crlf(f"From: a@example.org\n{header}\n\n").replace(b"\r\n", b"\n")
    data = data.replace(b"\n", b"\r\n") + body + b"\r\n"
    assert search_text(data).body == expected


def test_line_breaks_become_line_feeds() -> None:
    data = b"Content-Type: text/plain\r\n\r\none\r\ntwo\rthree\nfour\r\n"
    assert search_text(data).body == "one\ntwo\nthree\nfour"


def test_headers_are_decoded_for_text_searches() -> None:
    text = search_text(mixed_with_attachment())
    assert "from: J\u00fcrgen M\u00fcller <juergen@example.de>" in text.header
    assert "subject: Gr\u00fc\u00dfe aus M\u00fcnchen" in text.header
    assert text.text == text.header + "\n" + text.body
    raw = header_search_text(eight_bit_headers()[: eight_bit_headers().index(b"\r\n\r\n") + 4])
    assert "subject: Se\u00f1or \u2013 caf\u00e9" in raw.splitlines()
    assert "to: Ren\u00e9 <rene@example.fr>" in raw.splitlines()
    assert "x-legacy: caf\u00e9" in raw.splitlines()


def test_text_includes_every_body_parts_mime_header() -> None:
    """RFC 9051 section 6.4.4: TEXT matches "the header (including MIME header
    fields)"; an attachment's header counts, its content does not."""
    data = crlf(
        "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nhello\n"
        '--b\nContent-Type: application/pdf; name="=?utf-8?q?Bericht_M=C3=A4rz.pdf?="\n'
        "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERi0x\n--b--\n"
    )
    text = search_text(data)
    lines = text.header.splitlines()
    assert lines[0] == "from: a@example.org"
    assert "content-type: text/plain" in lines
    assert 'content-type: application/pdf; name="Bericht M\u00e4rz.pdf"' in lines
    assert "content-transfer-encoding: base64" in lines
    assert "JVBERi0x" not in text.text
    assert text.body == "hello"


def test_body_search_text_has_no_header() -> None:
    data = nested_rfc822()
    assert body_search_text(data, parse_bytes(data)) == "See the forwarded message."
    assert search_text(data).header.startswith("from: outer@example.com\n")


def test_malformed_multipart_has_no_body_text() -> None:
    """Without a boundary the parts cannot be told apart; IMAP shows the
    multipart empty, and search agrees."""
    assert search_text(no_boundary_parameter()).body == ""


def test_text_is_bounded() -> None:
    data = crlf("Content-Type: text/plain\n\n" + "word " * 1000 + "\n")
    text = search_text(data, max_chars=100)
    assert text.body == ("word " * 20)
    assert text.truncated
    assert MAX_SEARCH_TEXT_CHARS >= 100_000


def test_done_lets_the_reader_stop_early() -> None:
    head = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nshort text\n--b\n")
    tail = crlf("Content-Type: application/zip\n\n" + "x" * 5000 + "\n--b--\n")
    data = head + tail
    extractor = SearchTextExtractor(parse_bytes(data))
    extractor.feed(head)
    assert not extractor.done  # the zip part's header is still to come, for TEXT
    extractor.feed(tail[: tail.index(b"\r\n\r\n") + 4])
    assert extractor.done
    text = extractor.close()
    assert text.body == "short text"
    assert text.header.endswith("\ncontent-type: application/zip")
    bodies = SearchTextExtractor(parse_bytes(data), with_header=False)
    bodies.feed(head)
    assert bodies.done
    bounded = SearchTextExtractor(parse_bytes(data), max_chars=5, with_header=False)
    bounded.feed(head[:60])
    assert bounded.done
    assert bounded.close() == SearchText("", "short", True)


def test_reading_only_the_ranges_gives_the_same_text() -> None:
    data = alternative_related()
    structure = parse_bytes(data)
    extractor = SearchTextExtractor(structure)
    for start, end in extractor.ranges():
        extractor.feed(data[start:end], offset=start)
    assert extractor.done
    assert extractor.close() == search_text(data)


def test_feeding_backwards_is_refused() -> None:
    data = alternative_related()
    extractor = SearchTextExtractor(parse_bytes(data))
    extractor.feed(data[:100])
    with pytest.raises(ValueError, match="order"):
        extractor.feed(data[50:60], offset=50)
    extractor.close()
    with pytest.raises(ValueError, match="close"):
        extractor.close()


def test_searchable_parts() -> None:
    structure = parse_bytes(alternative_related())
    parts = searchable_parts(structure)
    assert [p.content_type.mime_type for p in parts] == ["text/plain", "text/html"]


@pytest.mark.parametrize("name", sorted(CORPUS))
@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 9000), max_size=8))
def test_any_chunking_gives_the_same_text(name: str, cuts: list[int]) -> None:
    data = CORPUS[name]()
    structure = parse_bytes(data)
    whole = message_search_text(data, structure)
    extractor = SearchTextExtractor(structure)
    start = 0
    for cut in sorted({c for c in cuts if c < len(data)}):
        extractor.feed(data[start:cut])
        start = cut
    extractor.feed(data[start:])
    assert extractor.close() == whole


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_any_input_gives_bounded_text(data: bytes) -> None:
    message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data
    text = message_search_text(message, parse_bytes(message), max_chars=50)
    assert len(text.body) <= 50
    assert len(text.header) <= 50


TRICKY_HTML = (
    "<!DOCTYPE html><html><head><title>T&amp;C</title>"
    "<style>a > b { x: '<p>' }</style><script>if (a < b && c > d) {}</script></head>"
    "<body><p class=\"a>b\" title='c>d'>5 < 6 &lt; 7 &copy; &#8364; &#x20AC; AT&T &nbsp;ok</p>"
    "<!-- <p>hidden</p> --><div>tail<br/>line</div>< notatag </ > <?php x ?> end</body></html>"
)


def test_html_details() -> None:
    data = crlf("Content-Type: text/html; charset=utf-8\n\n") + TRICKY_HTML.encode()
    assert search_text(data).body == (
        "T&C\n5 < 6 < 7 \u00a9 \u20ac \u20ac AT&T ok\ntail\nline\n< notatag end"
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(TRICKY_HTML)), max_size=12))
def test_html_cut_anywhere_gives_the_same_text(cuts: list[int]) -> None:
    head = crlf("Content-Type: text/html; charset=utf-8\n\n")
    data = head + TRICKY_HTML.encode()
    structure = parse_bytes(data)
    extractor = SearchTextExtractor(structure, with_header=False)
    start = 0
    for cut in sorted({len(head) + c for c in cuts}):
        extractor.feed(data[start:cut])
        start = cut
    extractor.feed(data[start:])
    assert extractor.close().body == search_text(data).body


@pytest.mark.parametrize("markup", ["<a", "</", '<a b="', "<!--", "<", "&#"])
def test_hostile_html_is_read_in_one_pass(markup: str) -> None:
    """Each of these takes minutes in Python 3.11's html.parser at this size."""
    data = crlf("Content-Type: text/html\n\n") + (markup * 100_000).encode()
    text = search_text(data)
    assert len(text.body) <= 2 * len(markup) * 100_000
