"""Pipelining (RFC 2449 §6.6), line limits (RFC 2449 §4) and hostile input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from roost.proto.pop3 import (
    MAX_COMMAND_OCTETS,
    AbortReason,
    PasswordLogin,
    Phase,
    Pop3ServerConnection,
    Retrieve,
    SessionAborted,
    State,
    replies,
)
from roost.proto.pop3.buffer import OVERLONG, ReceiveBuffer
from tests.unit.test_pop3_harness import MESSAGES, SETTINGS, Peer, lines_of, settings


def test_a_pipelined_group_is_answered_in_order_in_one_write() -> None:
    peer = Peer()
    out = peer.send(b"USER a\r\nPASS secret\r\nSTAT\r\nRETR 2\r\nDELE 2\r\nLIST\r\nQUIT\r\n")
    lines = lines_of(out)
    two = MESSAGES["uid-2"]
    assert lines == [
        "+OK Send PASS",
        f"+OK Maildrop has 2 messages ({len(MESSAGES['uid-1']) + len(two)} octets)",
        f"+OK 2 {len(MESSAGES['uid-1']) + len(two)}",
        f"+OK {len(two)} octets",
        *two.decode().split("\r\n")[:-1],
        ".",
        "+OK Message 2 deleted",
        f"+OK Maildrop has 1 message ({len(MESSAGES['uid-1'])} octets)",
        f"1 {len(MESSAGES['uid-1'])}",
        ".",
        "+OK Roost POP3 server signing off (1 message left)",
    ]


def test_the_core_reads_nothing_past_an_owed_answer() -> None:
    conn = Pop3ServerConnection(SETTINGS)
    conn.greeting()
    conn.data_to_send()
    conn.receive_data(b"USER a\r\nPASS secret\r\nSTAT\r\n")
    event = conn.next_event()
    assert isinstance(event, PasswordLogin)
    assert conn.data_to_send() == b"+OK Send PASS\r\n"
    assert conn.state is State.AUTHORIZATION  # STAT not read yet
    conn.reject(replies.AUTH_FAILED)
    assert conn.next_event() is None
    assert lines_of(conn.data_to_send()) == [
        "-ERR [AUTH] Authentication failed",
        "-ERR Not authenticated; send USER/PASS or AUTH first",
    ]


def test_commands_split_across_reads() -> None:
    peer = Peer()
    assert peer.send(b"US") == b""
    assert peer.send(b"ER a\r") == b""
    assert peer.send(b"\nPA") == b"+OK Send PASS\r\n"
    assert peer.send(b"SS secret\r\n").startswith(b"+OK Maildrop")


def test_bare_lf_line_ends_are_understood() -> None:
    peer = Peer()
    assert peer.send(b"CAPA\n").startswith(b"+OK Capability list follows\r\n")


def test_line_limit_is_255_octets_with_crlf() -> None:
    peer = Peer()
    fits = "USER " + "u" * (MAX_COMMAND_OCTETS - 2 - 5)
    assert peer.say(fits) == ["+OK Send PASS"]
    assert peer.say(fits + "u") == ["-ERR Line too long"]


def test_a_huge_line_is_dropped_as_it_arrives() -> None:
    peer = Peer()
    for _ in range(1000):
        assert peer.send(b"x" * 1000) == b""
        assert len(peer.conn._buffer) <= SETTINGS.line_limit_octets
    assert peer.send(b"\r\nNOOP\r\n") == (
        b"-ERR Line too long\r\n-ERR Not authenticated; send USER/PASS or AUTH first\r\n"
    )


def test_too_many_errors_end_the_session() -> None:
    peer = Peer(settings(max_errors=3))
    lines = peer.say("FOO", "BAR", "BAZ", "NOOP")
    assert lines == [
        "-ERR Unknown command",
        "-ERR Unknown command",
        "-ERR Unknown command",
        "-ERR Too many errors, closing connection",
    ]
    assert peer.of(SessionAborted) == [SessionAborted(AbortReason.TOO_MANY_ERRORS)]
    assert peer.conn.closing


def test_http_is_refused_and_closed() -> None:
    peer = Peer()
    out = peer.send(b"POST / HTTP/1.1\r\nHost: x\r\n\r\nUSER a\r\nPASS b\r\n")
    assert out == b"-ERR HTTP is not spoken here, closing connection\r\n"
    assert peer.of(SessionAborted) == [SessionAborted(AbortReason.HTTP_REQUEST)]
    assert peer.of(PasswordLogin) == []


def test_many_small_commands_in_one_read() -> None:
    peer = Peer()
    peer.login()
    out = peer.send(b"NOOP\r\n" * 5000)
    assert out == b"+OK\r\n" * 5000


def test_retrieve_pipelined_twice() -> None:
    peer = Peer(chunk_octets=3)
    peer.login()
    peer.send(b"RETR 1\r\nTOP 2 0\r\nNOOP\r\n")
    assert [event.number for event in peer.of(Retrieve)] == [1, 2]


# Any input: only +OK, -ERR, challenges and multi-line bodies come out, and
# the core never raises.


def drive(chunks: list[bytes], *, logged_in: bool) -> bytes:
    peer = Peer()
    if logged_in:
        peer.login()
    out = bytearray()
    for chunk in chunks:
        if peer.conn.closing:
            break
        out += peer.send(chunk)
        if peer.conn.phase is Phase.TLS:  # the handshake, as the net layer would do it
            peer.conn.tls_established()
            peer.run()
            out += peer.conn.data_to_send()
    if not peer.conn.closing:
        peer.hangup()
    out += peer.conn.data_to_send()
    return bytes(out)


line_pieces = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            *(b"USER a", b"PASS secret", b"STAT", b"LIST 1", b"RETR 1", b"TOP 2 1", b"DELE 1"),
            *(b"RSET", b"UIDL", b"CAPA", b"AUTH PLAIN", b"*", b"AUTH SCRAM-SHA-256 =", b"STLS"),
            *(b"UTF8", b"NOOP", b"QUIT", b"AUTH", b"=", b"LIST 99999999999999999999"),
        ]
    ),
)
sessions = st.lists(
    st.lists(line_pieces, max_size=6).map(lambda parts: b"\r\n".join(parts) + b"\r\n"),
    max_size=6,
)


@given(sessions, st.booleans())
def test_any_session_yields_only_reply_lines(chunks: list[bytes], logged_in: bool) -> None:
    out = drive(chunks, logged_in=logged_in)
    assert out == b"" or out.endswith(b"\r\n")
    lines = out.split(b"\r\n")[:-1]
    assert all(len(line) + 2 <= 512 for line in lines)
    assert not lines or lines[0].startswith((b"+OK", b"-ERR", b"+ "))


@given(st.binary(max_size=300).filter(lambda line: b"\n" not in line), st.booleans())
def test_any_line_gets_one_status_reply(line: bytes, logged_in: bool) -> None:
    peer = Peer()
    if logged_in:
        peer.login()
    out = peer.send(line + b"\r\n")
    assert out.startswith((b"+OK", b"-ERR", b"+ ")), out
    if out.startswith(b"-ERR"):
        assert out.count(b"\r\n") == 1


@given(st.lists(st.binary(max_size=300), max_size=8), st.booleans())
def test_any_bytes_never_raise(chunks: list[bytes], logged_in: bool) -> None:
    drive([chunk for chunk in chunks if chunk], logged_in=logged_in)


def test_a_line_trickling_in_is_scanned_once() -> None:
    buffer = ReceiveBuffer()
    for octet in b"USER someone":
        buffer.feed(bytes([octet]))
        assert buffer.take_line(255) is None
        assert buffer._scan == len(buffer)
    buffer.feed(b"\r\nST")
    assert buffer.take_line(255) == b"USER someone"
    assert buffer.take_line(255) is None
    assert len(buffer) == 2


def test_overlong_marker_comes_once_the_line_ends() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"x" * 300)
    assert buffer.take_line(255) is None
    assert len(buffer) == 0
    buffer.feed(b"yyy\r\nNOOP\r\n")
    assert buffer.take_line(255) is OVERLONG
    assert buffer.take_line(255) == b"NOOP"
