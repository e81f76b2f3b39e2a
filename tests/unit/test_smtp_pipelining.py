"""PIPELINING (RFC 2920): one event at a time, replies in command order."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    DataEnd,
    DataRequested,
    Event,
    Hello,
    MailFrom,
    RcptTo,
    Reply,
    SmtpServerConnection,
    SmtpStateError,
)
from tests.unit.test_smtp_harness import SETTINGS, Peer, lines_of, transcript

REMOTE = Reply(550, "5.7.1", "Remote mail not allowed")


def innosoft(conn: SmtpServerConnection, event: Event) -> None:
    """Accept only recipients at innosoft.com, like the RFC 2920 server."""
    if isinstance(event, RcptTo) and not event.address.endswith("@innosoft.com"):
        conn.reject(REMOTE)
    elif isinstance(event, DataEnd):
        conn.accept(Reply(250, "2.0.0", "Message sent"))
    else:
        conn.accept()


def test_rfc2920_example_all_accepted() -> None:
    peer = Peer(policy=innosoft)
    peer.ehlo("dbc.mtview.ca.us")
    transcript(
        peer,
        """
        C: MAIL FROM:<mrose@dbc.mtview.ca.us>
        C: RCPT TO:<ned@innosoft.com>
        C: RCPT TO:<dan@innosoft.com>
        C: RCPT TO:<kvc@innosoft.com>
        C: DATA
        S: 250 2.1.0 Sender ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Hi all
        C: .
        C: QUIT
        S: 250 2.0.0 Message sent
        S: 221 2.0.0 mx.example.org Service closing transmission channel
        """,
    )


def test_rfc2920_example_some_refused() -> None:
    peer = Peer(policy=innosoft)
    peer.ehlo("dbc.mtview.ca.us")
    transcript(
        peer,
        """
        C: MAIL FROM:<mrose@dbc.mtview.ca.us>
        C: RCPT TO:<ned@innosoft.com>
        C: RCPT TO:<dan@dbc.mtview.ca.us>
        C: RCPT TO:<kvc@innosoft.com>
        C: DATA
        S: 250 2.1.0 Sender ok
        S: 250 2.1.5 Recipient ok
        S: 550 5.7.1 Remote mail not allowed
        S: 250 2.1.5 Recipient ok
        S: 354 End data with <CR><LF>.<CR><LF>
        C: .
        C: QUIT
        S: 250 2.0.0 Message sent
        S: 221 2.0.0 mx.example.org Service closing transmission channel
        """,
    )


def test_rfc2920_example_no_valid_recipients() -> None:
    peer = Peer(policy=innosoft)
    peer.ehlo("dbc.mtview.ca.us")
    transcript(
        peer,
        """
        C: MAIL FROM:<mrose@dbc.mtview.ca.us>
        C: RCPT TO:<ned@dbc.mtview.ca.us>
        C: RCPT TO:<dan@dbc.mtview.ca.us>
        C: RCPT TO:<kvc@dbc.mtview.ca.us>
        C: DATA
        C: RSET
        C: QUIT
        S: 250 2.1.0 Sender ok
        S: 550 5.7.1 Remote mail not allowed
        S: 550 5.7.1 Remote mail not allowed
        S: 550 5.7.1 Remote mail not allowed
        S: 554 5.5.1 No valid recipients
        S: 250 2.0.0 Reset state
        S: 221 2.0.0 mx.example.org Service closing transmission channel
        """,
    )
    assert not peer.of(DataRequested)


def test_the_core_waits_for_each_answer() -> None:
    conn = SmtpServerConnection(SETTINGS)
    conn.greeting()
    conn.receive_data(
        b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nNOOP\r\n"
    )
    assert isinstance(conn.next_event(), Hello)
    with pytest.raises(SmtpStateError):
        conn.next_event()
    conn.accept()
    assert isinstance(conn.next_event(), MailFrom)
    conn.accept()
    assert isinstance(conn.next_event(), RcptTo)
    assert conn.data_to_send().endswith(b"250 2.1.0 Sender ok\r\n")
    conn.reject(Reply(450, "4.2.1", "Try later"))
    assert conn.next_event() is None
    assert lines_of(conn.data_to_send()) == ["450 4.2.1 Try later", "250 2.0.0 Ok"]


def test_replies_to_a_group_come_in_one_batch() -> None:
    peer = Peer()
    out = peer.send(b"EHLO c.example\r\n" + b"NOOP\r\n" * 50 + b"QUIT\r\n")
    lines = lines_of(out)
    assert lines[-1].startswith("221 ")
    assert lines.count("250 2.0.0 Ok") == 50


def test_data_pipelined_after_a_refused_data_is_read_as_commands() -> None:
    # RFC 2920 §3.1: the client must wait for 354; a server that refused
    # DATA reads what follows as commands (and here refuses it).
    peer = Peer(
        policy=lambda conn, event: (
            conn.reject(REMOTE) if isinstance(event, RcptTo) else conn.accept()
        )
    )
    peer.ehlo()
    out = peer.say("MAIL FROM:<a@b.example>", "RCPT TO:<x@y.example>", "DATA", "Subject: hi", ".")
    assert out[2:] == [
        "554 5.5.1 No valid recipients",
        "500 5.5.2 Command not recognized",
        "500 5.5.2 Command not recognized",
    ]
