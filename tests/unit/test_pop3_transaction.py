"""The TRANSACTION and UPDATE states: the maildrop listing, RETR, TOP, DELE and
QUIT (RFC 1939 §5 to §8)."""

from __future__ import annotations

import pytest

from roost.proto.pop3 import (
    ConnectionLost,
    Deletion,
    Event,
    Maildrop,
    MaildropEntry,
    Pop3StateError,
    Retrieve,
    SessionAborted,
    State,
    Update,
    encode_message,
    replies,
)
from tests.unit.test_pop3_harness import (
    MESSAGES,
    Peer,
    lines_of,
    rejecting,
    serve,
    settings,
    transcript,
)

ONE = len(MESSAGES["uid-1"])
TWO = len(MESSAGES["uid-2"])


@pytest.fixture
def peer() -> Peer:
    peer = Peer()
    peer.login()
    return peer


def test_listing_commands(peer: Peer) -> None:
    transcript(
        peer,
        f"""
        C: STAT
        S: +OK 2 {ONE + TWO}
        C: LIST
        S: +OK Maildrop has 2 messages ({ONE + TWO} octets)
        S: 1 {ONE}
        S: 2 {TWO}
        S: .
        C: LIST 2
        S: +OK 2 {TWO}
        C: LIST 3
        S: -ERR No such message
        C: UIDL
        S: +OK Unique-id listing follows
        S: 1 uid-1
        S: 2 uid-2
        S: .
        C: UIDL 1
        S: +OK 1 uid-1
        C: NOOP
        S: +OK
        """,
    )


def test_dele_marks_and_rset_unmarks(peer: Peer) -> None:
    transcript(
        peer,
        f"""
        C: DELE 1
        S: +OK Message 1 deleted
        C: DELE 1
        S: -ERR Message 1 already deleted
        C: RETR 1
        S: -ERR Message 1 already deleted
        C: LIST 1
        S: -ERR Message 1 already deleted
        C: STAT
        S: +OK 1 {TWO}
        C: LIST
        S: +OK Maildrop has 1 message ({TWO} octets)
        S: 2 {TWO}
        S: .
        C: UIDL
        S: +OK Unique-id listing follows
        S: 2 uid-2
        S: .
        C: RSET
        S: +OK Maildrop has 2 messages ({ONE + TWO} octets)
        C: STAT
        S: +OK 2 {ONE + TWO}
        """,
    )


@pytest.mark.parametrize("number", ["0", "3", "99999999999999999999"])
def test_numbers_out_of_range(peer: Peer, number: str) -> None:
    for command in ("RETR", "DELE", "LIST", "UIDL"):
        assert peer.say(f"{command} {number}") == ["-ERR No such message"]
    assert peer.say(f"TOP {number} 1") == ["-ERR No such message"]


def test_retr_streams_the_message_dot_stuffed(peer: Peer) -> None:
    out = peer.send(b"RETR 1\r\n")
    assert out == (
        f"+OK {ONE} octets\r\n".encode()
        + b"Subject: one\r\nFrom: a@example.org\r\n\r\nHello\r\n..dot line\r\n.\r\n"
    )
    (event,) = peer.of(Retrieve)
    assert event == Retrieve(1, "uid-1", ONE, None)


def test_retr_answered_with_a_message_encoded_beforehand(peer: Peer) -> None:
    streamed = peer.send(b"RETR 1\r\n")
    conn = peer.conn
    conn.receive_data(b"RETR 1\r\n")
    event = conn.next_event()
    assert isinstance(event, Retrieve)
    conn.send_message(
        encode_message(b"Subject: one\r\n", MESSAGES["uid-1"][len(b"Subject: one\r\n") :])
    )
    assert conn.data_to_send() == streamed
    assert conn.next_event() is None  # answered: the next command may come
    conn.receive_data(b"TOP 1 0\r\n")
    assert isinstance(conn.next_event(), Retrieve)
    with pytest.raises(Pop3StateError):
        conn.send_message(encode_message(b"x\r\n"))  # TOP cuts: it streams
    conn.begin_message()
    with pytest.raises(Pop3StateError):
        conn.send_message(encode_message(b"x\r\n"))
    conn.end_message()


def test_top(peer: Peer) -> None:
    assert peer.say("TOP 2 1") == [
        "+OK Top of message follows",
        "Subject: two",
        "",
        "Line 1",
        ".",
    ]
    assert peer.say("TOP 2 0") == ["+OK Top of message follows", "Subject: two", "", "."]
    assert peer.of(Retrieve)[0].top_lines == 1


def test_top_lets_the_service_stop_reading() -> None:
    calls: list[bool] = []

    def policy(peer: Peer, event: Event) -> None:
        conn = peer.conn
        if isinstance(event, Retrieve):
            conn.begin_message()
            for line in (b"H: v\r\n", b"\r\n", b"a\r\n", b"b\r\n", b"c\r\n"):
                more = conn.message_data(line)
                calls.append(more)
                if not more:
                    break
            conn.end_message()
        else:
            serve(peer, event)

    peer = Peer(policy=policy)
    peer.login()
    assert peer.say("TOP 1 1") == ["+OK Top of message follows", "H: v", "", "a", "."]
    assert calls == [True, True, False]


def test_retrieve_refused_by_the_service() -> None:
    peer = Peer(policy=rejecting(Retrieve, replies.MESSAGE_UNAVAILABLE))
    peer.login()
    assert peer.say("RETR 1") == ["-ERR [SYS/TEMP] Message cannot be read now"]
    assert peer.say("NOOP") == ["+OK"]


def test_a_begun_message_cannot_be_rejected(peer: Peer) -> None:
    conn = peer.conn
    conn.receive_data(b"RETR 1\r\n")
    assert isinstance(conn.next_event(), Retrieve)
    conn.begin_message()
    with pytest.raises(Pop3StateError):
        conn.reject(replies.MESSAGE_UNAVAILABLE)
    with pytest.raises(Pop3StateError):
        conn.begin_message()
    with pytest.raises(Pop3StateError):
        conn.next_event()
    conn.end_message()
    assert conn.next_event() is None


def test_quit_enters_update_with_the_marks(peer: Peer) -> None:
    assert peer.say("DELE 2") == ["+OK Message 2 deleted"]
    assert peer.say("QUIT") == ["+OK Roost POP3 server signing off (1 message left)"]
    (update,) = peer.of(Update)
    assert update.deleted == (Deletion(2, "uid-2"),)
    assert peer.conn.state is State.UPDATE
    assert peer.conn.closing


def test_quit_with_everything_deleted(peer: Peer) -> None:
    peer.say("DELE 1", "DELE 2")
    assert peer.say("QUIT") == ["+OK Roost POP3 server signing off (maildrop empty)"]
    assert peer.of(Update)[0].deleted == (Deletion(1, "uid-1"), Deletion(2, "uid-2"))


def test_update_failure_still_ends_the_session() -> None:
    peer = Peer(policy=rejecting(Update, replies.NOT_ALL_DELETED))
    peer.login()
    peer.say("DELE 1")
    assert peer.say("QUIT") == ["-ERR [SYS/TEMP] Some deleted messages not removed"]
    assert peer.conn.closing


def test_dropped_connection_commits_nothing(peer: Peer) -> None:
    peer.say("DELE 1")
    peer.hangup()
    assert peer.of(Update) == []
    assert peer.of(ConnectionLost) == [ConnectionLost()]


def test_pipelined_quit_before_close_still_commits(peer: Peer) -> None:
    peer.conn.receive_data(b"DELE 1\r\nQUIT\r\n")
    peer.hangup()
    assert peer.of(Update)[0].deleted == (Deletion(1, "uid-1"),)
    assert lines_of(peer.conn.data_to_send())[-1].startswith("+OK Roost POP3 server signing off")


def test_authorization_commands_after_login(peer: Peer) -> None:
    for command in ("USER x", "PASS y", "AUTH PLAIN", "UTF8", "STLS"):
        assert peer.say(command) == ["-ERR Already authenticated"]


def test_empty_maildrop() -> None:
    peer = Peer(messages={})
    peer.login()
    transcript(
        peer,
        """
        C: STAT
        S: +OK 0 0
        C: LIST
        S: +OK Maildrop has 0 messages (0 octets)
        S: .
        C: RETR 1
        S: -ERR No such message
        C: QUIT
        S: +OK Roost POP3 server signing off (maildrop empty)
        """,
    )


def test_message_number_errors_do_not_count_towards_the_limit() -> None:
    peer = Peer(settings(max_errors=3))
    peer.login()
    for _ in range(5):
        assert peer.say("RETR 9") == ["-ERR No such message"]
    assert peer.of(SessionAborted) == []


# Listing values.


def test_maildrop_values_are_checked() -> None:
    with pytest.raises(Pop3StateError):
        MaildropEntry(-1, "a")
    for uid in ("", "x" * 71, "has space", "caf\u00e9"):
        with pytest.raises(Pop3StateError):
            MaildropEntry(1, uid)
    with pytest.raises(Pop3StateError):
        Maildrop.of([(1, "same"), (2, "same")])
    assert len(Maildrop.of([(1, "a"), (2, "~" * 70)])) == 2


def test_list_sizes_are_the_octets_retr_sends_before_stuffing() -> None:
    messages = {
        "a": b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n",
        "b": b".starts with a dot\r\nno final line end",
        "c": b"",
    }
    peer = Peer(messages=messages, chunk_octets=4)
    peer.login()
    sizes = [int(line.split()[1]) for line in peer.say("LIST")[1:-1]]
    for number, size in enumerate(sizes, start=1):
        lines = peer.say(f"RETR {number}")
        assert lines[0] == f"+OK {size} octets"
        assert lines[-1] == "."
        body = b"".join(
            (line[1:] if line.startswith(".") else line).encode() + b"\r\n" for line in lines[1:-1]
        )
        stored = list(messages.values())[number - 1]
        assert body == stored or body == stored + b"\r\n"  # a last line gets its CRLF
        assert len(stored) == size


def test_rfc1939_example_session() -> None:
    peer = Peer()
    one, two = len(MESSAGES["uid-1"]), len(MESSAGES["uid-2"])
    transcript(
        peer,
        f"""
        S: +OK Roost POP3 server ready
        C: USER mrose
        S: +OK Send PASS
        C: PASS secret
        S: +OK Maildrop has 2 messages ({one + two} octets)
        C: STAT
        S: +OK 2 {one + two}
        C: LIST
        S: +OK Maildrop has 2 messages ({one + two} octets)
        S: 1 {one}
        S: 2 {two}
        S: .
        C: RETR 1
        S: +OK {one} octets
        S: Subject: one
        S: From: a@example.org
        S: ...
        S: Hello
        S: ..dot line
        S: .
        C: DELE 1
        S: +OK Message 1 deleted
        C: RETR 2
        S: +OK {two} octets
        S: Subject: two
        S: ...
        S: Line 1
        S: Line 2
        S: Line 3
        S: .
        C: DELE 2
        S: +OK Message 2 deleted
        C: QUIT
        S: +OK Roost POP3 server signing off (maildrop empty)
        """,
    )
