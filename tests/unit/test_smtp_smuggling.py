"""SMTP smuggling regressions: data ends at <CRLF>.<CRLF> and nowhere else.

Each case is a message body an attacker could send to make a server see
two messages where the relay before it saw one (CVE-2023-51764, -51765,
-51766 and the SEC Consult write-up of December 2023). Roost must see
one message, refuse it because of its bare line ends, and never emit a
second MAIL FROM from inside it.
"""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    DataChunk,
    DataEnd,
    MailFrom,
    MessageRefused,
    RcptTo,
    replies,
)
from tests.unit.test_smtp_harness import Peer

SMUGGLED = b"MAIL FROM:<admin@victim.example>\r\nRCPT TO:<target@victim.example>\r\nDATA\r\n"
BARE_FAKE_ENDS = [
    b"\n.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r.\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\n.\r",
    b"\r.\r\n",
    b"\r\n.\r\r\n",
]
"""Near-terminators with a bare CR or LF: the message is refused."""
CLEAN_FAKE_ENDS = [b"\r\n\x00.\r\n", b"\r\n .\r\n", b"\r\n..\r\n"]
"""Near-terminators of clean lines: plain content."""


def in_data(peer: Peer) -> Peer:
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>", "DATA")[-1][:3] == "354"
    return peer


def smuggle(fake_end: bytes) -> tuple[Peer, list[str]]:
    peer = in_data(Peer())
    out = peer.send(b"Subject: hi\r\n\r\nbody" + fake_end + SMUGGLED + b"smuggled\r\n")
    assert out == b"", "nothing may be answered before the real end of data"
    lines = peer.send(b".\r\nNOOP\r\n").decode().splitlines()
    assert len(peer.of(MailFrom)) == 1, "no MAIL FROM from inside the message"
    assert len(peer.of(RcptTo)) == 1
    return peer, lines


@pytest.mark.parametrize("fake_end", BARE_FAKE_ENDS, ids=repr)
def test_fake_end_of_data_with_bare_line_ends(fake_end: bytes) -> None:
    peer, lines = smuggle(fake_end)
    assert lines == [
        "554 5.6.0 Message refused: bare CR or LF found; lines must end with <CR><LF>",
        "250 2.0.0 Ok",
    ]
    assert not peer.of(DataEnd)


@pytest.mark.parametrize("fake_end", CLEAN_FAKE_ENDS, ids=repr)
def test_fake_end_of_data_on_clean_lines_is_content(fake_end: bytes) -> None:
    peer, lines = smuggle(fake_end)
    assert lines == ["250 2.0.0 Ok: message accepted", "250 2.0.0 Ok"]
    assert SMUGGLED in peer.message()


@pytest.mark.parametrize("bare", [b"\n", b"\r", b"\r\r\n", b"\n\r"], ids=repr)
def test_bare_line_ends_refuse_the_message(bare: bytes) -> None:
    peer = in_data(Peer())
    out = peer.send(b"line one" + bare + b"line two\r\n.\r\n")
    assert out == replies.BARE_LINE_END.to_bytes(enhanced=True)
    assert peer.of(MessageRefused) == [MessageRefused(replies.BARE_LINE_END)]
    assert not peer.of(DataEnd)
    assert not peer.of(DataChunk), "a refused message delivers no bytes"
    assert not peer.conn.in_transaction


@pytest.mark.parametrize("bare", [b"x\ny", b"x\ry", b"\r\r\n", b"\n\r\n"], ids=repr)
def test_bare_line_end_deep_in_a_clean_block_is_found(bare: bytes) -> None:
    peer = in_data(Peer())
    clean = b"a clean line of text\r\n" * 500
    out = peer.send(clean + bare + b"\r\n" + clean + b".\r\n")
    assert out == replies.BARE_LINE_END.to_bytes(enhanced=True)
    assert not peer.of(DataEnd)


def test_bare_cr_split_across_packets_is_still_found() -> None:
    peer = in_data(Peer())
    peer.send(b"line one\r")
    peer.send(b"Xline two\r\n")
    assert peer.send(b".\r\n") == replies.BARE_LINE_END.to_bytes(enhanced=True)


def test_crlf_split_across_packets_is_fine() -> None:
    peer = in_data(Peer())
    for part in (b"line one\r", b"\n", b".", b"\r", b"\n"):
        peer.send(part)
    assert peer.message() == b"line one\r\n"
    assert len(peer.of(DataEnd)) == 1


def test_one_data_never_gives_two_messages() -> None:
    peer = in_data(Peer())
    attack = b"x\n.\nMAIL FROM:<a@evil.example>\nRCPT TO:<b@victim.example>\nDATA\nboo\n.\n"
    out = peer.send(attack)
    assert out == b""
    peer.send(b"\r\n.\r\n")
    assert len(peer.of(MessageRefused)) == 1
    assert len(peer.of(MailFrom)) == 1
    assert not peer.of(DataEnd)


def test_period_then_bare_cr_at_line_start_is_not_the_end() -> None:
    peer = in_data(Peer())
    assert peer.send(b"a\r\n.\rMAIL FROM:<x@y>\r\n") == b""
    assert peer.send(b".\r\n") == replies.BARE_LINE_END.to_bytes(enhanced=True)
    assert len(peer.of(MailFrom)) == 1


def test_bdat_content_with_bare_lf_is_refused_too() -> None:
    peer = Peer()
    peer.ehlo()
    peer.say("MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>")
    body = b"x\n.\nMAIL FROM:<a@evil.example>\n"
    out = peer.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert out == replies.BARE_LINE_END.to_bytes(enhanced=True)
    assert len(peer.of(MailFrom)) == 1


def test_command_lines_with_bare_lf_are_not_executed() -> None:
    peer = Peer()
    peer.ehlo()
    out = peer.send(b"MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\r\n")
    assert out.decode().splitlines() == [
        "500 5.5.2 Command lines must end with <CR><LF>",
        "503 5.5.1 Need MAIL command first",
    ]
    assert not peer.of(MailFrom)
    assert not peer.of(RcptTo)
