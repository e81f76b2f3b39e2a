"""BDAT and BINARYMIME (RFC 3030): counted chunks, the core's acks, refusals."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    Body,
    DataChunk,
    DataEnd,
    DataRequested,
    MailFrom,
    MessageRefused,
    Reply,
    replies,
)
from tests.unit.test_smtp_harness import Peer, lines_of, rejecting, settings

ACK = "250 2.0.0 Ok: message accepted"


def with_recipient(peer: Peer, mail: str = "MAIL FROM:<a@b.example>") -> Peer:
    peer.ehlo()
    assert peer.say(mail, "RCPT TO:<c@d.example>")[-1] == "250 2.1.5 Recipient ok"
    return peer


def test_rfc3030_example_1_bodyless_message() -> None:
    peer = Peer(settings(pipelining=False))
    assert peer.ehlo()[-4:] == [
        "250-CHUNKING",
        "250-DSN",
        "250-SMTPUTF8",
        "250 ENHANCEDSTATUSCODES",
    ]
    assert peer.say("MAIL FROM:<Sam@Random.com>", "RCPT TO:<Susan@Random.com>") == [
        "250 2.1.0 Sender ok",
        "250 2.1.5 Recipient ok",
    ]
    body = (
        b"To: Susan@random.com\r\n"
        b"From: Sam@random.com\r\n"
        b"Subject: This is a bodyless test message\r\n"
    )
    assert len(body) == 86
    assert lines_of(peer.send(b"BDAT 86 LAST\r\n" + body)) == [ACK]
    assert peer.message() == body
    assert peer.ends() == [DataEnd(86)]
    assert peer.of(DataRequested) == [DataRequested(chunking=True)]
    assert peer.say("QUIT") == ["221 2.0.0 mx.example.org Service closing transmission channel"]


def test_rfc3030_example_2_pipelined_binarymime() -> None:
    peer = Peer(settings(binarymime=True))
    assert "250-BINARYMIME" in peer.ehlo()
    segment1 = bytes(range(256)) * 390 + b"\r\r\n\n" * 40  # 100000 octets, bare ends and all
    segment2 = b"\x00\r" * 162
    assert (len(segment1), len(segment2)) == (100_000, 324)
    out = peer.send(
        b"MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\n"
        b"RCPT TO:<gvaudre@cnri.reston.va.us>\r\n"
        b"RCPT TO:<jstewart@cnri.reston.va.us>\r\n"
        b"BDAT 100000\r\n" + segment1 + b"BDAT 324\r\n" + segment2 + b"BDAT 0 LAST\r\n"
    )
    assert lines_of(out) == [
        "250 2.1.0 Sender ok",
        "250 2.1.5 Recipient ok",
        "250 2.1.5 Recipient ok",
        "250 2.0.0 100000 octets received",
        "250 2.0.0 324 octets received",
        ACK,
    ]
    assert peer.of(MailFrom)[0].params.body is Body.BINARY_MIME
    assert peer.message() == segment1 + segment2
    assert all(len(e.data) == 65536 for e in peer.of(DataChunk)[:-1])
    assert peer.ends() == [DataEnd(100_324)]


def test_chunks_join_across_bdat_commands() -> None:
    peer = with_recipient(Peer(settings(data_chunk_octets=4)))
    out = peer.send(b"BDAT 3\r\nabcBDAT 3 LAST\r\ndef")
    assert lines_of(out) == ["250 2.0.0 3 octets received", ACK]
    assert [e.data for e in peer.of(DataChunk)] == [b"abcd", b"ef"]


def test_bdat_0_last_is_an_empty_message() -> None:
    peer = with_recipient(Peer())
    assert peer.say("BDAT 0 LAST") == [ACK]
    assert peer.ends() == [DataEnd(0)]


def test_crlf_across_chunks_is_one_line_end() -> None:
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 4\r\nabc\rBDAT 3 LAST\r\n\nd\n")
    assert lines_of(out)[-1] == replies.BARE_LINE_END.to_bytes(enhanced=True).decode().rstrip()
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 4\r\nabc\rBDAT 3 LAST\r\n\nd\r")
    assert lines_of(out)[-1].startswith("554 5.6.0 Message refused: bare CR")
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 4\r\nabc\rBDAT 1 LAST\r\n\n")
    assert lines_of(out)[-1] == ACK
    assert peer.message() == b"abc\r\n"


def test_bdat_split_at_every_byte() -> None:
    peer = with_recipient(Peer())
    data = b"BDAT 4\r\nab\r\nBDAT 4 LAST\r\ncd\r\nNOOP\r\n"
    out = b"".join(peer.send(data[i : i + 1]) for i in range(len(data)))
    assert lines_of(out) == ["250 2.0.0 4 octets received", ACK, "250 2.0.0 Ok"]
    assert peer.message() == b"ab\r\ncd\r\n"


@pytest.mark.parametrize("argument", ["", "x", "-1", "10 FIRST", "10 LAST more", "1" * 21])
def test_bdat_syntax(argument: str) -> None:
    peer = with_recipient(Peer())
    assert peer.say(f"BDAT {argument}".rstrip()) == ["501 5.5.4 Syntax: BDAT size [LAST]"]
    assert peer.conn.in_transaction


def test_refused_bdat_chunks_are_read_not_executed() -> None:
    # Each chunk holds what would be a command; none may run.
    evil = b"RSET\r\nQUIT\r\n"
    n = b"%d" % len(evil)
    peer = Peer()
    peer.ehlo()
    out = peer.send(b"BDAT " + n + b"\r\n" + evil + b"NOOP\r\n")
    assert lines_of(out) == ["503 5.5.1 Need MAIL command first", "250 2.0.0 Ok"]
    helo = Peer()
    helo.say("HELO client.example")
    out = helo.send(b"BDAT " + n + b" LAST\r\n" + evil + b"NOOP\r\n")
    assert lines_of(out) == ["502 Command not available in this session", "250 Ok"]
    assert not helo.conn.closing


def test_bdat_without_recipients_fails_the_transaction() -> None:
    peer = Peer()
    peer.ehlo()
    peer.say("MAIL FROM:<a@b.example>")
    assert lines_of(peer.send(b"BDAT 2 LAST\r\nhi")) == ["503 5.5.1 Need RCPT command first"]
    assert peer.of(MessageRefused) == [MessageRefused(replies.NEED_RCPT)]
    assert not peer.conn.in_transaction


def test_service_refuses_the_first_chunk() -> None:
    no = Reply(452, "4.3.1", "Insufficient system storage")
    peer = with_recipient(Peer(policy=rejecting({DataRequested: no})))
    out = peer.send(b"BDAT 5\r\nhelloBDAT 5 LAST\r\nworldNOOP\r\n")
    assert lines_of(out) == [
        "452 4.3.1 Insufficient system storage",
        "503 5.5.1 Need MAIL command first",
        "250 2.0.0 Ok",
    ]
    assert not peer.of(DataChunk)
    assert not peer.conn.in_transaction


def test_declared_chunk_over_the_size_limit() -> None:
    peer = with_recipient(Peer(settings(max_message_octets=8)))
    out = peer.send(b"BDAT 5\r\n12345BDAT 5 LAST\r\n67890BDAT 1 LAST\r\nxRSET\r\n")
    assert lines_of(out) == [
        "250 2.0.0 5 octets received",
        "552 5.3.4 Message size exceeds fixed maximum message size",
        "503 5.5.1 Need MAIL command first",
        "250 2.0.0 Reset state",
    ]
    assert peer.of(MessageRefused) == [MessageRefused(replies.MESSAGE_TOO_BIG)]
    assert not peer.ends()


def test_bare_lf_in_a_middle_chunk_fails_that_chunk() -> None:
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 3\r\na\nbBDAT 1 LAST\r\nc")
    assert lines_of(out) == [
        replies.BARE_LINE_END.to_bytes(enhanced=True).decode().rstrip(),
        "503 5.5.1 Need MAIL command first",
    ]


def test_binarymime_needs_bdat_and_an_offer() -> None:
    peer = Peer(settings(binarymime=True))
    with_recipient(peer, "MAIL FROM:<a@b.example> BODY=BINARYMIME")
    assert peer.say("DATA") == ["503 5.5.1 BODY=BINARYMIME needs BDAT, not DATA"]
    plain = Peer()
    plain.ehlo()
    assert plain.say("MAIL FROM:<a@b.example> BODY=BINARYMIME") == [
        "555 5.5.4 Parameter not recognized or not implemented"
    ]


def test_no_data_or_rcpt_once_bdat_began() -> None:
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 2\r\nhiDATA\r\nRCPT TO:<e@f.example>\r\nMAIL FROM:<>\r\nBDAT 0 LAST\r\n")
    assert lines_of(out) == [
        "250 2.0.0 2 octets received",
        "503 5.5.1 DATA and BDAT cannot share a transaction",
        "503 5.5.1 No RCPT once BDAT has begun",
        "503 5.5.1 Sender already specified",
        ACK,
    ]
    assert peer.message() == b"hi"


def test_rset_between_chunks_drops_the_message() -> None:
    peer = with_recipient(Peer())
    out = peer.send(b"BDAT 2\r\nhiRSET\r\nBDAT 2 LAST\r\nho")
    assert lines_of(out) == [
        "250 2.0.0 2 octets received",
        "250 2.0.0 Reset state",
        "503 5.5.1 Need MAIL command first",
    ]


def test_binary_message_skips_line_checks() -> None:
    peer = Peer(settings(binarymime=True))
    with_recipient(peer, "MAIL FROM:<a@b.example> BODY=BINARYMIME")
    body = b"\n" * 10 + b"x" * 2_000_000
    out = peer.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert lines_of(out) == [ACK]
    assert peer.message() == body


def test_long_line_in_bdat_is_refused() -> None:
    peer = with_recipient(Peer(settings(max_data_line_octets=1000)))
    body = b"x" * 1001 + b"\r\n"
    out = peer.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert lines_of(out) == ["554 5.6.0 Message refused: a line is too long"]
