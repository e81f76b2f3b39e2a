"""The webmail's message builder: headers, alternatives, attachments (RFC 2231 names),
forwarded messages byte for byte, References cleaned, Bcc only in the Sent copy."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.compose import html_to_text, sanitise_html
from roost.control.compose_mime import (
    Attachment,
    ComposeError,
    Letter,
    Recipient,
    build,
    clean_msg_ids,
    parse_recipients,
    without_bcc,
)
from roost.proto.mime import PartKind
from roost.proto.mime.parser import parse_bytes

WHEN = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def letter(**changes: object) -> Letter:
    base: dict[str, object] = {
        "from_name": "Ann Ärger",
        "from_address": "ann@example.test",
        "to": (Recipient("Bob", "bob@example.test"),),
        "cc": (Recipient("", "cat@example.test"),),
        "bcc": (Recipient("", "hidden@example.test"),),
        "subject": "Grüße",
        "text": "Hello Bob,\nsee you.\n",
        "date": WHEN,
        "message_id": "<abc123@example.test>",
    }
    base.update(changes)
    return Letter(**base)  # type: ignore[arg-type]


def parsed(data: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(data, policy=policy.default)


def test_plain_message_has_every_field_and_crlf_lines() -> None:
    data = build(letter())
    assert b"\n" not in data.replace(b"\r\n", b"")
    msg = parsed(data)
    assert str(msg["From"]) == "Ann Ärger <ann@example.test>"
    assert str(msg["To"]) == "Bob <bob@example.test>"
    assert str(msg["Cc"]) == "cat@example.test"
    assert str(msg["Bcc"]) == "hidden@example.test"
    assert str(msg["Subject"]) == "Grüße"
    assert msg["Message-ID"] == "<abc123@example.test>"
    assert msg["Date"].datetime == WHEN
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == "Hello Bob,\nsee you.\n"
    assert data.isascii(), "non-ASCII text travels encoded: no 8BITMIME needed"


def test_without_bcc_drops_the_field_and_its_folded_lines_only() -> None:
    many = tuple(Recipient(f"Person {n}", f"p{n}@example.test") for n in range(8))
    data = build(letter(bcc=many))
    assert data.count(b"\r\n ") > 0
    queued = without_bcc(data)
    assert b"bcc" not in queued.lower().split(b"\r\n\r\n")[0]
    assert b"p3@example.test" not in queued
    assert queued.split(b"\r\n\r\n", 1)[1] == data.split(b"\r\n\r\n", 1)[1]
    msg = parsed(queued)
    assert msg["Bcc"] is None and str(msg["To"]) == "Bob <bob@example.test>"


def test_rich_text_is_multipart_alternative() -> None:
    html = sanitise_html('<p>Hi <b>Bob</b><script>alert(1)</script></p><img src="x" onerror="y">')
    assert "script" not in html and "onerror" not in html
    data = build(letter(html=html, text=html_to_text(html)))
    msg = parsed(data)
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.get_payload()
    assert plain.get_content_type() == "text/plain" and plain.get_content().strip() == "Hi Bob"
    assert rich.get_content_type() == "text/html" and "<b>Bob</b>" in rich.get_content()


def test_attachment_names_use_rfc2231_and_bytes_survive() -> None:
    payload = bytes(range(256)) * 10
    name = "Überweisung März 2026 – ein sehr langer Dateiname für den Test.pdf"
    data = build(letter(attachments=(Attachment(name, "application/pdf", payload),)))
    assert b"filename*" in data
    msg = parsed(data)
    assert msg.get_content_type() == "multipart/mixed"
    (attached,) = list(msg.iter_attachments())
    assert attached.get_filename() == name
    assert attached.get_content() == payload
    structure = parse_bytes(data)
    assert [p.filename for p in structure.parts if p.filename] == [name]


def test_forwarded_message_is_message_rfc822_byte_for_byte() -> None:
    original = (
        "From: Zoë <zoe@example.net>\r\nTo: ann@example.test\r\nSubject: original\r\n"
        "Message-ID: <orig@example.net>\r\n\r\nbody with ünïcode and\r\n--not-a-boundary\r\n"
    ).encode()
    data = build(letter(forwarded=(original,)))
    structure = parse_bytes(data)
    (part,) = [p for p in structure.parts if p.kind is PartKind.MESSAGE]
    assert part.content_type.mime_type == "message/rfc822"
    assert data[part.body_start : part.body_end] in (original, original.removesuffix(b"\r\n"))
    assert original in data
    msg = parsed(data)
    (attached,) = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    assert attached["Content-Transfer-Encoding"] == "8bit"


def test_reply_fields_and_header_injection() -> None:
    data = build(
        letter(
            subject="Hi\r\nBcc: victim@example.net",
            in_reply_to="<parent@example.net>",
            references=("<root@example.net>", "<parent@example.net>"),
        )
    )
    head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert [line for line in head if line.lower().startswith(b"bcc:")] == [
        b"Bcc: hidden@example.test"
    ]
    assert not [line for line in head if line.lower().startswith(b"bcc: victim")]
    msg = parsed(data)
    assert str(msg["Subject"]) == "Hi Bcc: victim@example.net"
    assert msg["In-Reply-To"] == "<parent@example.net>"
    assert msg["References"] == "<root@example.net> <parent@example.net>"


def test_malformed_references_are_cleaned_and_bounded() -> None:
    raw = (
        "<root@x.example> garbage <<nested@x> <no-at-sign> <a b@c> "
        + " ".join(f"<m{n}@x.example>" for n in range(100))
        + " <root@x.example> \x00<tail@x.example>"
    )
    found = clean_msg_ids(raw, 10)
    assert found[0] == "<root@x.example>"
    assert found[-1] == "<tail@x.example>"
    assert len(found) == 10
    assert len(set(found)) == len(found)
    assert all(" " not in f and f.count("@") == 1 for f in found)


def test_recipients_parse_quoted_commas_and_refuse_garbage() -> None:
    found = parse_recipients('"Doe, Jane" <jane@example.test>; bob@example.test,\n', 100)
    assert found == (Recipient("Doe, Jane", "jane@example.test"), Recipient("", "bob@example.test"))
    with pytest.raises(ComposeError, match="not an e-mail address"):
        parse_recipients("bob@example.test, not an address", 100)
    with pytest.raises(ComposeError):
        parse_recipients("a@b@c", 100)


@given(st.text(max_size=200))
def test_recipient_parse_never_crashes(text: str) -> None:
    try:
        found = parse_recipients(text, 50)
    except ComposeError:
        return
    for person in found:
        assert "\n" not in person.name and "@" in person.address


@given(st.text(max_size=300))
def test_cleaned_references_are_always_msg_ids(text: str) -> None:
    for msg_id in clean_msg_ids(text, 5):
        assert msg_id.startswith("<") and msg_id.endswith(">") and "@" in msg_id
        assert not any(c.isspace() for c in msg_id)
