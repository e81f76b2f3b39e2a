"""DATA (RFC 5321 §4.1.1.4): dot transparency, chunking, size and line limits."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    DataChunk,
    DataEnd,
    DataRequested,
    MessageRefused,
    Reply,
    replies,
)
from roost.proto.smtp.settings import RFC_DATA_LINE_OCTETS
from tests.unit.test_smtp_harness import Peer, rejecting, settings


def ready(peer: Peer) -> Peer:
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>", "DATA")[-1].startswith(
        "354 "
    )
    return peer


def test_dot_stuffing_is_undone() -> None:
    peer = ready(Peer())
    out = peer.send(b"..leading\r\n...two\r\n.x\r\nplain.\r\n \r\n.\r\n")
    assert out == b"250 2.0.0 Ok: message accepted\r\n"
    assert peer.message() == b".leading\r\n..two\r\nx\r\nplain.\r\n \r\n"
    assert peer.ends() == [DataEnd(len(peer.message()))]


def test_empty_message_ends_right_after_354() -> None:
    # The DATA command's own CRLF is the first half of <CRLF>.<CRLF>.
    peer = ready(Peer())
    assert peer.send(b".\r\n") == b"250 2.0.0 Ok: message accepted\r\n"
    assert peer.message() == b""
    assert peer.ends() == [DataEnd(0)]


def test_message_split_at_every_byte() -> None:
    peer = ready(Peer())
    body = b"Subject: x\r\n\r\n..dots\r\nend\r\n.\r\n"
    for i in range(len(body)):
        peer.conn.receive_data(body[i : i + 1])
        peer.run()
    assert peer.message() == b"Subject: x\r\n\r\n.dots\r\nend\r\n"
    assert len(peer.ends()) == 1


def test_chunks_are_fixed_size() -> None:
    peer = ready(Peer(settings(data_chunk_octets=10)))
    peer.send(b"0123456789abcdefghij\r\nxyz\r\n.\r\n")
    sizes = [len(e.data) for e in peer.of(DataChunk)]
    assert sizes == [10, 10, 7]
    assert peer.message() == b"0123456789abcdefghij\r\nxyz\r\n"


def test_no_message_is_held_whole() -> None:
    peer = ready(Peer(settings(data_chunk_octets=1024)))
    line = b"x" * 78 + b"\r\n"
    for _ in range(100):
        peer.conn.receive_data(line * 10)
        peer.run()
        assert len(peer.conn._buffer) < 1024
    peer.send(b".\r\n")
    assert len(peer.message()) == 80 * 1000
    assert peer.ends() == [DataEnd(80_000)]


def test_commands_after_the_end_of_data_are_read() -> None:
    peer = ready(Peer())
    out = peer.send(b"hi\r\n.\r\nMAIL FROM:<x@y.example>\r\nQUIT\r\n")
    assert out.decode().splitlines() == [
        "250 2.0.0 Ok: message accepted",
        "250 2.1.0 Sender ok",
        "221 2.0.0 mx.example.org Service closing transmission channel",
    ]


def test_service_answers_data_end() -> None:
    queued = Reply(250, "2.0.0", "Ok: queued as 4AB2C")
    peer = Peer(
        policy=lambda conn, event: conn.accept(queued if isinstance(event, DataEnd) else None)
    )
    ready(peer)
    assert peer.send(b"x\r\n.\r\n") == b"250 2.0.0 Ok: queued as 4AB2C\r\n"
    assert not peer.conn.in_transaction


def test_rejected_data_end_ends_the_transaction() -> None:
    peer = ready(Peer(policy=rejecting({DataEnd: Reply(451, "4.3.0", "Disk full")})))
    assert peer.send(b"x\r\n.\r\n") == b"451 4.3.0 Disk full\r\n"
    assert not peer.conn.in_transaction


def test_rejected_data_keeps_the_transaction() -> None:
    peer = Peer(policy=rejecting({DataRequested: Reply(451, "4.3.0", "Spool busy")}))
    peer.ehlo()
    assert peer.say("MAIL FROM:<>", "RCPT TO:<a@b.example>", "DATA") == [
        "250 2.1.0 Sender ok",
        "250 2.1.5 Recipient ok",
        "451 4.3.0 Spool busy",
    ]
    assert peer.conn.in_transaction


def test_accept_data_with_own_354() -> None:
    go = Reply(354, None, "Go ahead")
    peer = Peer(policy=lambda conn, e: conn.accept(go if isinstance(e, DataRequested) else None))
    peer.ehlo()
    assert peer.say("MAIL FROM:<>", "RCPT TO:<a@b.example>", "DATA")[-1] == "354 Go ahead"


def test_size_declared_over_the_limit_is_refused_at_mail() -> None:
    peer = Peer(settings(max_message_octets=1000))
    assert "250-SIZE 1000" in peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example> SIZE=1001", "MAIL FROM:<a@b.example> SIZE=1000") == [
        "552 5.3.4 Message size exceeds fixed maximum message size",
        "250 2.1.0 Sender ok",
    ]


def test_size_exceeded_while_receiving_reads_to_the_end() -> None:
    peer = ready(Peer(settings(max_message_octets=20, data_chunk_octets=8)))
    out = peer.send(b"0123456789\r\n0123456789\r\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n")
    assert out.decode().splitlines() == [
        "552 5.3.4 Message size exceeds fixed maximum message size",
        "250 2.0.0 Ok",
    ]
    assert peer.of(MessageRefused) == [MessageRefused(replies.MESSAGE_TOO_BIG)]
    assert not peer.ends()
    assert not peer.conn.in_transaction


def test_size_exactly_at_the_limit_is_fine() -> None:
    peer = ready(Peer(settings(max_message_octets=12)))
    assert peer.send(b"0123456789\r\n.\r\n") == b"250 2.0.0 Ok: message accepted\r\n"


def test_unlimited_size() -> None:
    peer = Peer(settings(max_message_octets=0))
    assert "250-SIZE" in peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example> SIZE=99999999999999999999") == ["250 2.1.0 Sender ok"]


def test_long_lines_up_to_the_cap_are_accepted() -> None:
    peer = ready(Peer(settings(max_data_line_octets=RFC_DATA_LINE_OCTETS)))
    line = b"x" * 998 + b"\r\n"
    assert peer.send(line + b"." + line + b".\r\n") == b"250 2.0.0 Ok: message accepted\r\n"


def test_a_line_over_the_cap_refuses_the_message() -> None:
    peer = ready(Peer(settings(max_data_line_octets=RFC_DATA_LINE_OCTETS, data_chunk_octets=64)))
    out = peer.send(b"ok\r\n" + b"x" * 999 + b"\r\n.\r\n")
    assert out == b"554 5.6.0 Message refused: a line is too long\r\n"
    assert peer.of(MessageRefused) == [MessageRefused(replies.DATA_LINE_TOO_LONG)]
    assert not peer.ends()


def test_the_stuffed_period_does_not_count_toward_the_line() -> None:
    # RFC 5321 §4.5.3.1.6: 1000 octets "not counting the leading dot".
    peer = ready(Peer(settings(max_data_line_octets=RFC_DATA_LINE_OCTETS)))
    assert peer.send(b"." + b"." * 998 + b"\r\n.\r\n") == b"250 2.0.0 Ok: message accepted\r\n"


@pytest.mark.parametrize("split", [1, 7, 500, 1001])
def test_a_long_line_is_found_however_it_arrives(split: int) -> None:
    peer = ready(Peer(settings(max_data_line_octets=RFC_DATA_LINE_OCTETS)))
    data = b"y" * 1500 + b"\r\n.\r\n"
    for i in range(0, len(data), split):
        peer.conn.receive_data(data[i : i + split])
        peer.run()
    assert peer.of(MessageRefused) == [MessageRefused(replies.DATA_LINE_TOO_LONG)]


def test_connection_lost_in_data() -> None:
    peer = ready(Peer())
    peer.send(b"half a message\r\n")
    peer.hangup()
    assert peer.events[-1].__class__.__name__ == "ConnectionLost"
    assert not peer.ends()
