"""Attachment text for web search: names, text/*, PDF, OOXML/ODF, and bad
input (not a PDF, a zip bomb, an attachment past the size cap) indexed as far
as it goes without raising."""

from __future__ import annotations

import base64
import io
import zipfile

from roost.proto.mime import parse_bytes
from roost.services.indexing.attachments import (
    AttachmentCollector,
    AttachmentLimits,
    archive_text,
    pdf_text,
    xml_text,
)

LIMITS = AttachmentLimits()


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF drawing `text` in Helvetica, with a correct xref."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def docx(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>'
            + text
            + "</w:t></w:r></w:p><w:p><w:r><w:t>second &amp; line</w:t></w:r></w:p>"
            "</w:body></w:document>",
        )
    return buffer.getvalue()


def odt(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", f"<office:text><text:p>{text}</text:p></office:text>")
    return buffer.getvalue()


def bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:t>" + b"a" * 20_000_000 + b"</w:t>")
    return buffer.getvalue()


def message(*attachments: tuple[str, str, bytes]) -> bytes:
    out = (
        b"From: a@example.net\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe body text.\r\n"
    )
    for name, kind, data in attachments:
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        out += (
            f'--b\r\nContent-Type: {kind}; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode() + encoded
    return out + b"--b--\r\n"


def collect(data: bytes, limits: AttachmentLimits = LIMITS) -> tuple[str, list[str], bool]:
    structure = parse_bytes(data)
    collector = AttachmentCollector(structure, limits)
    read_all = True
    for start in range(0, len(data), 1000):
        collector.feed(data[start : start + 1000])
        if collector.done:
            read_all = start + 1000 >= len(data)
            break
    text, problems = collector.close().extract()
    return text, problems, read_all


def test_pdf_office_and_text_attachments() -> None:
    data = message(
        ("minutes.pdf", "application/pdf", minimal_pdf("Quarterly zephyrine minutes")),
        ("plan.docx", "application/octet-stream", docx("Offsite agenda JDG2-04711")),
        ("notes.odt", "application/vnd.oasis.opendocument.text", odt("Budget review")),
        ("list.txt", "text/plain", "caf\xe9 list".encode("latin-1")),
        ("photo.jpg", "image/jpeg", b"\xff\xd8 not text"),
    )
    text, problems, _ = collect(data)
    assert problems == []
    for expected in (
        "minutes.pdf",
        "Quarterly zephyrine minutes",
        "plan.docx",
        "Offsite agenda JDG2-04711",
        "second & line",
        "Budget review",
        "café list",
        "photo.jpg",
    ):
        assert expected in text, expected
    assert "The body text" not in text  # the body is IMAP's, not an attachment


def test_bad_input_keeps_the_names() -> None:
    data = message(
        ("fake.pdf", "application/pdf", b"this is not a PDF at all"),
        ("broken.docx", "application/octet-stream", b"PK\x03\x04 truncated"),
        ("bomb.docx", "application/octet-stream", bomb()),
        ("after.txt", "text/plain", b"still read"),
    )
    text, problems, _ = collect(data)
    assert "fake.pdf" in text and "broken.docx" in text and "bomb.docx" in text
    assert "still read" in text
    assert "aaaa" not in text  # the bomb's member was skipped by its ratio
    assert len(problems) == 2 and any("fake.pdf" in p for p in problems)


def test_an_attachment_past_the_cap_gives_its_name_and_is_not_read() -> None:
    big = b"x" * 200_000
    data = message(("small.txt", "text/plain", b"small words"), ("huge.bin", "text/plain", big))
    limits = AttachmentLimits(max_octets=10_000)
    text, problems, read_all = collect(data, limits)
    assert "small words" in text and "huge.bin" in text and "xxx" not in text
    assert problems == [] and not read_all  # reading stopped before the big one


def test_caps_on_archives_and_characters() -> None:
    assert "Offsite" in archive_text(docx("Offsite"), 1_000_000, 100)
    assert archive_text(docx("Offsite"), 10, 100) == ""  # the budget ran out at once
    data = message(("a.txt", "text/plain", b"word " * 1000))
    text, _, _ = collect(data, AttachmentLimits(max_chars=50))
    assert len(text) <= 50


def test_pdf_and_xml_helpers() -> None:
    assert "Hello" in pdf_text(minimal_pdf("Hello"), 5)
    assert pdf_text(minimal_pdf("Hello"), 0) == ""
    assert xml_text("<?xml?><a:p>one</a:p><a:p>two &lt;3</a:p>") == "one\ntwo <3"
