"""Real-world-shaped messages for the MIME parser tests, built in code.

Each builder returns the bytes of one message; `CORPUS` names them all so
that property tests can run over every sample. `crlf` turns the LF-written
samples into wire form; some samples stay bare-LF on purpose.
"""

from __future__ import annotations

import base64
import quopri
from collections.abc import Callable, Iterator


def crlf(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def b64_lines(data: bytes, width: int = 76) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + width] for i in range(0, len(encoded), width))


def simple_text() -> bytes:
    return crlf(
        "Return-Path: <alice@example.org>\n"
        "Received: from mx.example.org by mail.example.net; Tue, 1 Jul 2003 10:52:37 +0200\n"
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
        "From: Alice Example <alice@example.org>\n"
        "To: Bob <bob@example.net>, carol@example.net\n"
        'Cc: "Dave, the Third" <dave@example.com>\n'
        "Subject: Lunch\n"
        " on Friday?\n"
        "Message-ID: <1234@mail.example.org>\n"
        "In-Reply-To: <1233@mail.example.net>\n"
        "\n"
        "Hi Bob,\n"
        "\n"
        "-- not a boundary\n"
        "Lunch?\n"
    )


def bare_lf() -> bytes:
    return (
        b"From: x@example.org\n"
        b"Subject: bare LF\n"
        b"Content-Type: multipart/mixed; boundary=zz\n"
        b"\n"
        b"--zz\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n"
        b"one\n"
        b"two\n"
        b"--zz\n"
        b"\n"
        b"three\n"
        b"--zz--\n"
    )


def mixed_with_attachment() -> bytes:
    html = "<html><body><p>Caf\u00e9 = 5\u20ac</p></body></html>\n".encode()
    qp = quopri.encodestring(html.replace(b"\n", b"\r\n"))
    pdf = bytes(range(256)) * 20
    return (
        crlf(
            "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>\n"
            "To: team@example.de\n"
            "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?Q?M=C3=BCnchen?=\n"
            "Date: Mon, 12 Feb 2024 08:00:00 +0100\n"
            "Message-ID: <att@example.de>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="----=_Part_0_1.2"\n'
            "\n"
            "This is a multi-part message in MIME format.\n"
            "------=_Part_0_1.2\n"
            'Content-Type: multipart/alternative; boundary="----=_Part_0_1.2.alt"\n'
            "\n"
            "------=_Part_0_1.2.alt\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            "Caf\u00e9 = 5\u20ac\n"
            "------=_Part_0_1.2.alt\n"
            "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n"
            "\n"
        )
        + qp
        + crlf(
            "\n------=_Part_0_1.2.alt--\n"
            "\n"
            "------=_Part_0_1.2\n"
            'Content-Type: application/pdf; name="report.pdf"\n'
            "Content-Transfer-Encoding: base64\n"
            'Content-Disposition: attachment; filename="report.pdf"; size=5120\n'
            "Content-ID: <report@example.de>\n"
            "Content-Description: Quarterly =?utf-8?q?R=C3=A9sum=C3=A9?=\n"
            "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
            "Content-Language: de, en (English)\n"
            "Content-Location: http://example.de/report.pdf\n"
            "\n"
        )
        + b64_lines(pdf)
        + crlf("\n------=_Part_0_1.2--\nepilogue\n")
    )


def nested_rfc822() -> bytes:
    inner = crlf(
        "From: Inner Sender <inner@example.com>\n"
        "To: undisclosed-recipients:;\n"
        "Subject: inner message\n"
        "Date: Sat, 01 Jan 2000 00:00:00 +0000\n"
        "Message-ID: <inner@example.com>\n"
        "Content-Type: multipart/related; boundary=rel\n"
        "\n"
        "--rel\n"
        "Content-Type: text/html; charset=us-ascii\n"
        "\n"
        "<img src=cid:img1>\n"
        "--rel\n"
        "Content-Type: image/png\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-ID: <img1>\n"
        "\n"
        "iVBORw0KGgo=\n"
        "--rel--\n"
    )
    return (
        crlf(
            "From: outer@example.com\n"
            'To: Friends: a@example.com, "B" <b@example.com>;, c@example.com\n'
            "Subject: Fwd: inner message\n"
            "Content-Type: multipart/mixed; boundary=outer\n"
            "\n"
            "--outer\n"
            "\n"
            "See the forwarded message.\n"
            "--outer\n"
            "Content-Type: message/rfc822\n"
            "Content-Disposition: inline\n"
            "\n"
        )
        + inner
        + crlf("\n--outer--\n")
    )


def digest() -> bytes:
    return crlf(
        "From: list@example.org\n"
        "Subject: Digest 42\n"
        "Content-Type: multipart/digest; boundary=dig\n"
        "\n"
        "--dig\n"
        "\n"
        "From: one@example.org\n"
        "Subject: first\n"
        "\n"
        "first body\n"
        "--dig\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "From: two@example.org\n"
        "Subject: second\n"
        "\n"
        "second body\n"
        "--dig\n"
        "Content-Type: text/plain\n"
        "\n"
        "a text part in a digest\n"
        "--dig--\n"
    )


def boundary_never_appears() -> bytes:
    return crlf(
        "From: a@example.org\n"
        "Content-Type: multipart/mixed; boundary=nowhere\n"
        "\n"
        "--elsewhere\n"
        "some text\n"
    )


def missing_final_boundary() -> bytes:
    return crlf(
        "From: a@example.org\n"
        "Content-Type: multipart/mixed; boundary=b1\n"
        "\n"
        "--b1\n"
        "Content-Type: multipart/alternative; boundary=b2\n"
        "\n"
        "--b2\n"
        "\n"
        "text\n"
        "--b2\n"
        "Content-Type: text/html\n"
        "\n"
        "<p>text</p>\n"
        "--b1\n"
        "\n"
        "last part, truncated"
    )


def prefix_boundaries() -> bytes:
    """Inner boundary extends the outer one, and vice versa one level down."""
    return crlf(
        "Content-Type: multipart/mixed; boundary=abc\n"
        "\n"
        "--abc\n"
        "Content-Type: multipart/alternative; boundary=abcdef\n"
        "\n"
        "--abcdef\n"
        "\n"
        "one\n"
        "--abcdef\n"
        "Content-Type: multipart/mixed; boundary=ab\n"
        "\n"
        "--ab\n"
        "\n"
        "two\n"
        "--ab--\n"
        "--abcdef--\n"
        "--abc\n"
        "\n"
        "three\n"
        "--abc--\n"
    )


def eight_bit_headers() -> bytes:
    return (
        "From: Jos\u00e9 Garc\u00eda <jose@example.es>\r\n"
        "To: =?utf-8?q?Ren=C3=A9?= <rene@example.fr>\r\n"
        "Subject: Se\u00f1or \u2013 caf\u00e9\r\n".encode()
        + b"X-Legacy: caf\xe9\r\n"
        + b"Cc: Fran\xe7ois <francois@example.fr>\r\n"
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "Hola se\u00f1or.\r\n".encode()
    )


def rfc2231_params() -> bytes:
    return crlf(
        "From: a@example.org\n"
        "Content-Type: multipart/mixed; boundary=p\n"
        "\n"
        "--p\n"
        "Content-Type: application/octet-stream;\n"
        " name*0*=utf-8''%E6%97%A5%E6%9C%AC;\n"
        " name*1*=%E8%AA%9E.txt\n"
        "Content-Disposition: attachment;\n"
        " filename*=iso-8859-1'fr'r%E9sum%E9.txt\n"
        "\n"
        "data\n"
        "--p\n"
        'Content-Type: text/plain; name="=?utf-8?B?w6l0w6kudHh0?="\n'
        'Content-Disposition: attachment; filename*0="long"; filename*1="name.txt"\n'
        "\n"
        "more\n"
        "--p--\n"
    )


def message_global() -> bytes:
    inner = (
        "From: \u7530\u4e2d <tanaka@\u4f8b\u3048.jp>\n"
        "Subject: \u3053\u3093\u306b\u3061\u306f\n"
        "\n"
        "\u672c\u6587\n"
    )
    return crlf(
        "From: a@example.org\n"
        "Content-Type: multipart/mixed; boundary=g\n"
        "\n"
        "--g\n"
        "Content-Type: message/global\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n" + inner + "--g\n"
        "Content-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + base64.b64encode(b"Subject: hidden\r\n\r\nx\r\n").decode() + "\n"
        "--g--\n"
    )


def odd_delimiters() -> bytes:
    """Transport padding, junk after a delimiter, and empty parts."""
    return crlf(
        'Content-Type: multipart/mixed; boundary="x y"\n'
        "\n"
        "--x y  \t\n"
        "\n"
        "--x y junk after the boundary\n"
        "Content-Type: text/plain\n"
        "--x y\n"
        "--x y--   \n"
        "--x y\n"
        "epilogue that looks like a delimiter\n"
    )


def no_boundary_parameter() -> bytes:
    return crlf("Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n")


def headers_only() -> bytes:
    return b"From: a@example.org\r\nSubject: no body"


def mbox_from_line() -> bytes:
    return crlf(
        "From alice@example.org Tue Jul  1 10:52:37 2003\n"
        "From: alice@example.org\n"
        "Subject: mbox\n"
        "\n"
        "body\n"
    )


def missing_separator() -> bytes:
    return crlf("From: a@example.org\nSubject: no blank line\nThis line starts the body.\nmore\n")


def routes_and_groups() -> bytes:
    return crlf(
        "From: <@relay1.example,@relay2.example:joe@example.org>\n"
        "Sender: root\n"
        "Reply-To: Joe (the boss) <joe@example.org>, jane@example.org (Jane Roe)\n"
        'To: "Joe Q. Public" <john.q.public@example.com>, Undisclosed:;\n'
        "Cc: Mary Smith <mary@x.test>, jdoe@one.test, Who? <one@y.test>\n"
        "Bcc: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
        "Date: Thu,\n      13\n        Feb\n          1969\n      23:32\n"
        "               -0330 (Newfoundland Time)\n"
        "\n"
        "body\n"
    )


CORPUS: dict[str, Callable[[], bytes]] = {
    "simple_text": simple_text,
    "bare_lf": bare_lf,
    "mixed_with_attachment": mixed_with_attachment,
    "nested_rfc822": nested_rfc822,
    "digest": digest,
    "boundary_never_appears": boundary_never_appears,
    "missing_final_boundary": missing_final_boundary,
    "prefix_boundaries": prefix_boundaries,
    "eight_bit_headers": eight_bit_headers,
    "rfc2231_params": rfc2231_params,
    "message_global": message_global,
    "odd_delimiters": odd_delimiters,
    "no_boundary_parameter": no_boundary_parameter,
    "headers_only": headers_only,
    "mbox_from_line": mbox_from_line,
    "missing_separator": missing_separator,
    "routes_and_groups": routes_and_groups,
}


def corpus() -> Iterator[tuple[str, bytes]]:
    for name, build in CORPUS.items():
        yield name, build()


def big_attachment_chunks(total_octets: int, chunk_octets: int = 64 * 1024) -> Iterator[bytes]:
    """A multipart message of about `total_octets` with one base64
    attachment, produced chunk by chunk so the test never holds it."""
    head = crlf(
        "From: big@example.org\n"
        "Subject: big attachment\n"
        "Content-Type: multipart/mixed; boundary=big-boundary\n"
        "\n"
        "--big-boundary\n"
        "Content-Type: text/plain\n"
        "\n"
        "See attached.\n"
        "--big-boundary\n"
        "Content-Type: application/octet-stream; name=big.bin\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
    )
    tail = crlf("--big-boundary--\n")
    line = base64.b64encode(bytes(range(57))) + b"\r\n"  # 78 octets
    lines_per_chunk = max(1, chunk_octets // len(line))
    block = line * lines_per_chunk
    yield head
    remaining = total_octets - len(head) - len(tail)
    while remaining > 0:
        piece = block if remaining >= len(block) else line * max(1, remaining // len(line))
        yield piece
        remaining -= len(piece)
    yield tail


def text_lines(body: bytes) -> int:
    """Body line count as the parser defines it: line feeds, as Dovecot counts."""
    return body.count(b"\n")


def check_structure(data: bytes, structure: object) -> None:
    """Invariants every parse result must satisfy, for any input."""
    from roost.proto.mime import MessageStructure, PartKind

    assert isinstance(structure, MessageStructure)
    parts = structure.parts
    assert structure.size == len(data)
    root = parts[0]
    assert root.parent is None and root.header_start == 0 and root.body_end == len(data)
    for i, part in enumerate(parts):
        assert part.index == i
        assert part.header_start <= part.header_end == part.body_start <= part.body_end
        assert part.body_end <= len(data)
        assert part.body_lines == text_lines(data[part.body_start : part.body_end])
        if part.parent is not None:
            parent = parts[part.parent]
            assert i in parent.children
            assert parent.body_start <= part.header_start
            assert part.body_end <= parent.body_end
            assert part.depth == parent.depth + 1
        previous_end = part.body_start
        for child_index in part.children:
            child = parts[child_index]
            assert child.parent == i and child_index > i
            assert child.header_start >= previous_end
            previous_end = child.body_end
        if part.kind is PartKind.MESSAGE:
            assert len(part.children) == 1
            assert parts[part.children[0]].header_start == part.body_start
            assert parts[part.children[0]].envelope is not None
        if part.kind is PartKind.LEAF:
            assert part.children == ()
