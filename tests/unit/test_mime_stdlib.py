"""Agreement with the stdlib `email` package where both must agree.

The stdlib differs on purpose in a few places (a delimiter followed by junk,
encoded message/rfc822 bodies), so those samples are left out here and
tested on their own in test_mime_parser.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import AddressHeader
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest
from mime_corpus import CORPUS

from roost.proto.mime import Envelope, PartKind, decode_body, parse_bytes

AGREEING = [
    "simple_text",
    "bare_lf",
    "mixed_with_attachment",
    "nested_rfc822",
    "digest",
    "missing_final_boundary",
    "prefix_boundaries",
    "eight_bit_headers",
    "rfc2231_params",
    "routes_and_groups",
    "mbox_from_line",
    "missing_separator",
    "headers_only",
]


def stdlib_parts(data: bytes) -> list[Message]:
    return list(BytesParser(policy=email.policy.compat32).parsebytes(data).walk())


@pytest.mark.parametrize("name", AGREEING)
def test_same_parts_types_parameters_and_bodies(name: str) -> None:
    data = CORPUS[name]()
    ours = parse_bytes(data)
    theirs = stdlib_parts(data)
    assert len(theirs) == len(ours.parts)
    for mine, other in zip(ours.parts, theirs, strict=True):
        assert mine.content_type.mime_type == other.get_content_type()
        assert mine.transfer_encoding == other.get("content-transfer-encoding", "7bit").lower()
        assert mine.filename == other.get_filename()
        if mine.content_type.param("charset") and not mine.content_type.defaulted:
            assert mine.content_type.param("charset") == other.get_content_charset()
        if mine.kind is PartKind.LEAF:
            payload = other.get_payload(decode=True)
            assert isinstance(payload, bytes)
            ours_decoded = decode_body(
                data[mine.body_start : mine.body_end], mine.transfer_encoding
            )
            assert ours_decoded == payload
        if mine.kind is PartKind.MULTIPART:
            assert mine.content_type.param("boundary") == other.get_boundary()


def address_header(msg: Message, name: str) -> AddressHeader:
    value = msg[name]
    assert isinstance(value, AddressHeader)
    return value


def envelopes(name: str) -> list[tuple[Envelope, Message]]:
    data = CORPUS[name]()
    ours = [p.envelope for p in parse_bytes(data).parts]
    theirs = list(BytesParser(policy=email.policy.default).parsebytes(data).walk())
    return [(e, m) for e, m in zip(ours, theirs, strict=True) if e is not None]


@pytest.mark.parametrize("name", AGREEING)
def test_same_envelope_fields(name: str) -> None:
    for env, msg in envelopes(name):
        assert env.subject_text == (None if msg["subject"] is None else str(msg["subject"]))
        assert env.message_id == (None if msg["message-id"] is None else str(msg["message-id"]))
        if env.date is not None:
            assert env.date_parsed == parsedate_to_datetime(env.date)
        for header, field in (
            ("from", env.from_),
            ("sender", env.sender),
            ("to", env.to),
            ("cc", env.cc),
            ("bcc", env.bcc),
            ("reply-to", env.reply_to),
        ):
            if field is None:
                assert msg[header] is None
                continue
            theirs = address_header(msg, header).addresses
            mine = field.mailboxes()
            assert [a.addr_spec for a in mine] == [a.addr_spec for a in theirs]
            if not field.raw.isascii():
                continue  # the stdlib keeps 8-bit octets as surrogates
            for a, b in zip(mine, theirs, strict=True):
                # A trailing comment names an address here (RFC 822 style).
                assert a.display_name == (b.display_name or a.display_name)


def test_display_names_match_the_stdlib_decoder() -> None:
    (env, msg), *_ = envelopes("mixed_with_attachment")
    assert env.from_ is not None
    header = address_header(msg, "from")
    assert env.from_.mailboxes()[0].display_name == header.addresses[0].display_name
    (env, msg), *_ = envelopes("routes_and_groups")
    assert env.to is not None and env.bcc is not None
    to = address_header(msg, "to").addresses[0]
    assert env.to.mailboxes()[0].display_name == to.display_name
    groups = address_header(msg, "bcc").groups
    assert [m.addr_spec for m in env.bcc.mailboxes()] == [a.addr_spec for a in groups[0].addresses]
