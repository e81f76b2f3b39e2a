"""Replies (RFC 5321 §4.2, RFC 2034), settings, EHLO offers, command-line limits."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    MAX_AUTH_LINE_OCTETS,
    MAX_COMMAND_OCTETS,
    Offer,
    Reply,
    SmtpSettings,
    SmtpSettingsError,
    SmtpStateError,
    replies,
)
from roost.proto.smtp.buffer import OVERLONG, ReceiveBuffer
from roost.proto.smtp.replies import prefixed
from tests.unit.test_smtp_harness import Peer, keywords, settings


def test_single_and_multi_line_wire_forms() -> None:
    reply = Reply(250, "2.1.0", "Sender ok")
    assert reply.to_bytes(enhanced=True) == b"250 2.1.0 Sender ok\r\n"
    assert reply.to_bytes(enhanced=False) == b"250 Sender ok\r\n"
    multi = Reply(214, "2.0.0", ("one", "two", "three"))
    assert multi.to_bytes(enhanced=True) == b"214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n"
    assert multi.to_bytes(enhanced=False) == b"214-one\r\n214-two\r\n214 three\r\n"
    assert Reply(334, None, "").to_bytes(enhanced=True) == b"334\r\n"
    assert replies.START_MAIL_INPUT.to_bytes(enhanced=True).startswith(b"354 End data")


@pytest.mark.parametrize(
    ("code", "enhanced", "text"),
    [
        (199, None, "x"),
        (600, None, "x"),
        (250, "5.0.0", "class must match"),
        (354, "3.0.0", "no class 3"),
        (250, "2.0", "short"),
        (250, "2.1000.0", "long"),
        (250, None, "injected\r\n250 more"),
        (250, None, "nul\x00"),
        (250, None, "caf\u00e9"),
        (250, None, ()),
        (250, None, "x" * 600),
    ],
)
def test_invalid_replies_are_local_errors(code: int, enhanced: str | None, text: str) -> None:
    with pytest.raises(SmtpStateError):
        Reply(code, enhanced, text)


def test_reply_classes_and_prefix() -> None:
    assert replies.OK.positive and not replies.OK.negative
    assert replies.START_MAIL_INPUT.intermediate
    assert replies.TOO_MANY_RECIPIENTS.negative
    assert prefixed(replies.CLOSING, "mx.example").lines == (
        "mx.example Service closing transmission channel",
    )


def test_enhanced_codes_only_after_ehlo() -> None:
    peer = Peer()
    assert peer.greeting == b"220 mx.example.org ESMTP ready\r\n"
    assert peer.say("NOOP") == ["250 Ok"]
    peer.ehlo()
    assert peer.say("NOOP") == ["250 2.0.0 Ok"]
    off = Peer(settings(enhanced_status_codes=False))
    assert "ENHANCEDSTATUSCODES" not in keywords(off.ehlo())
    assert off.say("NOOP") == ["250 Ok"]


def test_ehlo_keywords_in_order() -> None:
    everything = settings(
        binarymime=True,
        starttls_available=True,
        auth_mechanisms=("SCRAM-SHA-256", "PLAIN"),
        tls_required_for_auth=False,
        max_message_octets=1234,
    )
    assert keywords(Peer(everything).ehlo()) == [
        "PIPELINING",
        "SIZE 1234",
        "8BITMIME",
        "BINARYMIME",
        "CHUNKING",
        "DSN",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
        "AUTH SCRAM-SHA-256 PLAIN",
    ]
    bare = settings(
        pipelining=False,
        eight_bit_mime=False,
        chunking=False,
        dsn=False,
        smtputf8=False,
        enhanced_status_codes=False,
        max_message_octets=0,
    )
    assert Peer(bare).ehlo() == ["250-mx.example.org", "250 SIZE"]
    assert Offer().keywords() == ()


def test_command_limit_arithmetic() -> None:
    assert MAX_COMMAND_OCTETS == 512 + 26 + 100 + 500 + 10 + 16 + 11 == 1175
    assert MAX_AUTH_LINE_OCTETS == 12_288


@pytest.mark.parametrize(
    "changes",
    [
        {"hostname": "bad host"},
        {"hostname": ""},
        {"banner": "two\r\nlines"},
        {"max_message_octets": -1},
        {"max_recipients": 0},
        {"max_command_octets": 511},
        {"max_auth_line_octets": 100},
        {"max_data_line_octets": 999},
        {"data_chunk_octets": 0},
        {"max_errors": -1},
        {"auth_mechanisms": ("plain",)},
        {"auth_mechanisms": ("A" * 21,)},
        {"binarymime": True, "chunking": False},
    ],
)
def test_settings_refuse_nonsense(changes: dict[str, object]) -> None:
    values: dict[str, object] = {"hostname": "mx.example.org", **changes}
    with pytest.raises(SmtpSettingsError):
        SmtpSettings(**values)  # type: ignore[arg-type]


def test_command_line_over_the_limit() -> None:
    peer = Peer()
    peer.ehlo()
    long_mail = "MAIL FROM:<" + "a" * 1200 + "@b.example>"
    assert peer.say(long_mail, "NOOP") == ["500 5.5.2 Line too long", "250 2.0.0 Ok"]


def test_huge_line_is_dropped_as_it_arrives() -> None:
    peer = Peer()
    peer.ehlo()
    for _ in range(100):
        assert peer.send(b"x" * 10_000) == b""
        assert len(peer.conn._buffer) < MAX_AUTH_LINE_OCTETS
    assert peer.send(b"\r\nNOOP\r\n").decode().splitlines() == [
        "500 5.5.2 Line too long",
        "250 2.0.0 Ok",
    ]


def test_receive_buffer_lines() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"abc\r\nde")
    assert buffer.take_line(10) == b"abc\r\n"
    assert buffer.take_line(10) is None
    buffer.feed(b"fghijklmnop")
    assert buffer.take_line(10) is None
    buffer.feed(b"q\nrs\n")
    assert buffer.take_line(10) is OVERLONG
    assert buffer.take_line(10) == b"rs\n"
    buffer.feed(b"123456789\n")
    assert buffer.take_line(10) == b"123456789\n"
    buffer.feed(b"tail")
    assert buffer.take(2) == b"ta"
    buffer.clear()
    assert len(buffer) == 0


def test_recipient_limit_is_452_and_not_an_error() -> None:
    peer = Peer(settings(max_recipients=2, max_errors=3))
    peer.ehlo()
    out = peer.say("MAIL FROM:<a@b.example>", *[f"RCPT TO:<r{i}@b.example>" for i in range(6)])
    assert out == [
        "250 2.1.0 Sender ok",
        "250 2.1.5 Recipient ok",
        "250 2.1.5 Recipient ok",
        *["452 4.5.3 Too many recipients"] * 4,
    ]
    assert not peer.conn.closing
    assert peer.say("DATA") == ["354 End data with <CR><LF>.<CR><LF>"]
