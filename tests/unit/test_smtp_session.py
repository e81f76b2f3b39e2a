"""Commands of RFC 5321 §4.1.1, their order, and the core's own replies."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    AbortReason,
    ConnectionLost,
    DataRequested,
    Hello,
    MailFrom,
    MailParams,
    Phase,
    Quit,
    RcptTo,
    Reply,
    Reset,
    SessionAborted,
    SmtpServerConnection,
    SmtpStateError,
    Vrfy,
    replies,
)
from tests.unit.test_smtp_harness import (
    HOST,
    SETTINGS,
    Peer,
    accept_all,
    rejecting,
    settings,
    transcript,
)


def test_rfc5321_appendix_d1_typical_transaction() -> None:
    # RFC 5321 D.1, with Roost's texts and a service that refuses Green.
    no_user = Reply(550, "5.1.1", "No such user here")
    peer = Peer(
        settings(max_message_octets=0, chunking=False, smtputf8=False, pipelining=False),
        policy=lambda conn, event: (
            conn.reject(no_user)
            if isinstance(event, RcptTo) and event.address.startswith("Green")
            else accept_all(conn, event)
        ),
    )
    transcript(
        peer,
        """
        S: 220 mx.example.org ESMTP ready
        C: EHLO bar.com
        S: 250-mx.example.org
        S: 250-SIZE
        S: 250-8BITMIME
        S: 250-DSN
        S: 250 ENHANCEDSTATUSCODES
        C: MAIL FROM:<Smith@bar.com>
        S: 250 2.1.0 Sender ok
        C: RCPT TO:<Jones@foo.com>
        S: 250 2.1.5 Recipient ok
        C: RCPT TO:<Green@foo.com>
        S: 550 5.1.1 No such user here
        C: RCPT TO:<Brown@foo.com>
        S: 250 2.1.5 Recipient ok
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 2.0.0 Ok: message accepted
        C: QUIT
        S: 221 2.0.0 mx.example.org Service closing transmission channel
        """,
    )
    # The client forgot to stuff "...etc.": its first period goes (§4.5.2).
    assert peer.message() == b"Blah blah blah...\r\n..etc. etc. etc.\r\n"
    assert [e.address for e in peer.of(RcptTo)] == [
        "Jones@foo.com",
        "Green@foo.com",
        "Brown@foo.com",
    ]
    assert isinstance(peer.events[-1], Quit)
    assert peer.conn.closing


def test_helo_offers_nothing_and_shows_no_enhanced_codes() -> None:
    peer = Peer()
    transcript(
        peer,
        """
        C: HELO client.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.com> SIZE=10
        S: 555 Parameter not recognized or not implemented
        C: MAIL FROM:<a@example.com>
        S: 250 Sender ok
        C: BOGUS
        S: 500 Command not recognized
        """,
    )
    assert peer.of(Hello) == [Hello("client.example", extended=False, syntax_ok=True)]


def test_hello_reports_bad_names_and_needs_one() -> None:
    peer = Peer()
    assert peer.say("EHLO") == ["501 Syntax: EHLO hostname"]
    assert peer.say("HELO") == ["501 Syntax: HELO hostname"]
    peer.ehlo("not_a_domain!")
    peer.ehlo("[192.0.2.1]")
    peer.ehlo("[IPv6:2001:db8::1]")
    assert [h.syntax_ok for h in peer.of(Hello)] == [False, True, True]


def test_rejected_hello_keeps_the_session_unhello() -> None:
    peer = Peer(policy=rejecting({Hello: Reply(550, "5.7.1", "Go away")}))
    assert peer.ehlo() == ["550 Go away"]
    assert peer.say("MAIL FROM:<a@b.example>") == ["503 Send EHLO or HELO first"]


def test_second_ehlo_drops_the_transaction() -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>") == ["250 2.1.0 Sender ok"]
    before = peer.conn.in_transaction
    peer.ehlo("again.example")
    assert before
    assert not peer.conn.in_transaction
    assert peer.conn.client_name == "again.example"
    assert peer.say("RCPT TO:<c@d.example>") == ["503 5.5.1 Need MAIL command first"]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("MAIL FROM:<a@b.example>", "503 Send EHLO or HELO first"),
        ("RCPT TO:<a@b.example>", "503 Need MAIL command first"),
        ("DATA", "503 Need MAIL command first"),
        ("STARTTLS", "503 Send EHLO or HELO first"),
        ("AUTH PLAIN", "503 Send EHLO or HELO first"),
        ("BDAT 0 LAST", "503 Send EHLO or HELO first"),
    ],
)
def test_commands_out_of_sequence_before_hello(line: str, reply: str) -> None:
    assert Peer().say(line) == [reply]


def test_sequence_errors_in_a_session() -> None:
    peer = Peer()
    peer.ehlo()
    transcript(
        peer,
        """
        C: RCPT TO:<a@b.example>
        S: 503 5.5.1 Need MAIL command first
        C: MAIL FROM:<a@b.example>
        S: 250 2.1.0 Sender ok
        C: MAIL FROM:<a@b.example>
        S: 503 5.5.1 Sender already specified
        C: DATA
        S: 503 5.5.1 Need RCPT command first
        C: DATA now
        S: 501 5.5.4 Syntax: DATA
        """,
    )


def test_data_after_all_recipients_failed_is_554() -> None:
    peer = Peer(policy=rejecting({RcptTo: Reply(550, "5.1.1", "Unknown")}))
    peer.ehlo()
    assert peer.say("MAIL FROM:<>", "RCPT TO:<x@y.example>", "DATA") == [
        "250 2.1.0 Sender ok",
        "550 5.1.1 Unknown",
        "554 5.5.1 No valid recipients",
    ]


def test_rset_noop_help() -> None:
    peer = Peer()
    peer.ehlo()
    transcript(
        peer,
        """
        C: MAIL FROM:<a@b.example>
        C: RSET
        C: NOOP
        C: NOOP anything at all
        C: HELP
        C: HELP MAIL
        C: RSET now
        S: 250 2.1.0 Sender ok
        S: 250 2.0.0 Reset state
        S: 250 2.0.0 Ok
        S: 250 2.0.0 Ok
        S: 214-2.0.0 Commands: ...
        S: 214 2.0.0 VRFY HELP STARTTLS AUTH; see RFC 5321
        S: 214-2.0.0 Commands: ...
        S: 214 2.0.0 ...
        S: 501 5.5.4 Syntax: RSET
        """,
    )
    assert peer.of(Reset) == [Reset()]
    assert not peer.conn.in_transaction


def test_vrfy_disabled_is_252_and_expn_502() -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say("VRFY postmaster", "EXPN staff", "VRFY") == [
        "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
        "502 5.5.1 Command not implemented",
        "501 5.5.4 Syntax: VRFY address",
    ]
    assert not peer.of(Vrfy)


def test_vrfy_enabled_goes_to_the_service() -> None:
    def policy(conn: SmtpServerConnection, event: object) -> None:
        if isinstance(event, Vrfy) and event.argument == "jones":
            conn.accept(Reply(250, "2.1.5", "Fred Jones <jones@foo.example>"))
        elif isinstance(event, Vrfy):
            conn.reject(Reply(550, "5.1.1", "Unknown"))
        else:
            conn.accept()

    peer = Peer(settings(vrfy_enabled=True), policy=policy)
    peer.ehlo()
    assert peer.say("VRFY jones", "VRFY smith") == [
        "250 2.1.5 Fred Jones <jones@foo.example>",
        "550 5.1.1 Unknown",
    ]


@pytest.mark.parametrize("verb", ["TURN", "ETRN example.org", "SAML FROM:<a@b>", "VERB"])
def test_known_but_unimplemented_commands(verb: str) -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say(verb) == ["502 5.5.1 Command not implemented"]


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"FOO\r\n", "500 5.5.2 Command not recognized"),
        (b"\r\n", "500 5.5.2 Command not recognized"),
        (b"NO\x00OP\r\n", "500 5.5.2 Invalid characters in command"),
        (b"NOOP\tx\r\n", "500 5.5.2 Invalid characters in command"),
        (b"NOOP\rRSET\r\n", "500 5.5.2 Invalid characters in command"),
        (b"NOOP \xff\xfe\r\n", "500 5.5.2 Invalid characters in command"),
        (b"NOOP\n", "500 5.5.2 Command lines must end with <CR><LF>"),
        (b"M\xc3\xa4IL FROM:<a@b>\r\n", "500 5.5.2 Command not recognized"),
    ],
)
def test_garbage_commands(data: bytes, reply: str) -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.send(data).decode().splitlines() == [reply]


def test_commands_are_case_insensitive_and_tolerate_trailing_space() -> None:
    peer = Peer()
    assert peer.say("ehlo client.example ")[0] == "250-mx.example.org"
    assert peer.say("mail from:<a@b.example> ", "rcpt To:<c@d.example>") == [
        "250 2.1.0 Sender ok",
        "250 2.1.5 Recipient ok",
    ]


def test_quit_closes_and_ignores_what_follows() -> None:
    peer = Peer()
    assert peer.say("QUIT", "NOOP") == ["221 mx.example.org Service closing transmission channel"]
    assert peer.conn.closing
    assert peer.events == [Quit()]
    with pytest.raises(SmtpStateError):
        peer.conn.next_event()
    peer.conn.receive_data(b"")
    assert peer.conn.next_event() == ConnectionLost()


def test_end_of_input_is_connection_lost_every_time() -> None:
    peer = Peer()
    peer.ehlo()
    peer.conn.receive_data(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d")
    peer.hangup()
    assert peer.events[-1] == ConnectionLost()
    assert peer.conn.next_event() == ConnectionLost()
    assert peer.conn.next_event() == ConnectionLost()
    assert not peer.conn.in_transaction
    with pytest.raises(SmtpStateError):
        peer.conn.receive_data(b"more")


def test_too_many_errors_closes_with_421() -> None:
    peer = Peer(settings(max_errors=3))
    out = peer.say("FOO", "BAR", "BAZ", "NOOP")
    assert out == [
        "500 Command not recognized",
        "500 Command not recognized",
        "500 Command not recognized",
        "421 mx.example.org Too many errors, closing connection",
    ]
    assert peer.events == [SessionAborted(AbortReason.TOO_MANY_ERRORS)]
    assert peer.conn.closing


def test_service_rejections_count_as_errors() -> None:
    peer = Peer(settings(max_errors=2), policy=rejecting({RcptTo: Reply(550, "5.1.1", "No")}))
    peer.ehlo()
    out = peer.say("MAIL FROM:<>", "RCPT TO:<a@b.example>", "RCPT TO:<c@b.example>")
    assert out[-1] == "421 4.7.0 mx.example.org Too many errors, closing connection"
    assert isinstance(peer.events[-1], SessionAborted)


def test_a_421_from_the_service_closes() -> None:
    # RFC 5321 §3.8: a 421 reply announces that the server closes.
    busy = Reply(421, "4.7.0", "Too many messages on one connection; reconnect")
    peer = Peer(policy=rejecting({MailFrom: busy}))
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>", "NOOP") == [
        "421 4.7.0 Too many messages on one connection; reconnect"
    ]
    assert peer.events[-1] == SessionAborted(AbortReason.SERVICE_CLOSING)
    assert peer.conn.closing


def test_max_errors_zero_never_closes() -> None:
    peer = Peer(settings(max_errors=0))
    assert peer.say(*["FOO"] * 50)[-1] == "500 Command not recognized"
    assert not peer.conn.closing


@pytest.mark.parametrize("line", ["GET / HTTP/1.1", "POST /form HTTP/1.0", "CONNECT a:25 HTTP/1.1"])
def test_http_requests_are_cut_off(line: str) -> None:
    peer = Peer()
    assert peer.say(line, "Host: mx.example.org") == [
        "421 mx.example.org HTTP is not spoken here, closing connection"
    ]
    assert peer.events == [SessionAborted(AbortReason.HTTP_REQUEST)]


def test_greeting_variants() -> None:
    conn = SmtpServerConnection(SETTINGS)
    with pytest.raises(SmtpStateError):
        conn.next_event()
    conn.greeting(Reply(421, "4.3.2", "Too busy, try later"))
    assert conn.data_to_send() == b"421 Too busy, try later\r\n"
    assert conn.closing
    with pytest.raises(SmtpStateError):
        conn.greeting()
    with pytest.raises(SmtpStateError):
        SmtpServerConnection(SETTINGS).greeting(Reply(250, None, "Ok"))


def test_554_greeting_refuses_everything_but_quit() -> None:
    # RFC 5321 §3.1: after a 554 greeting, 503 to every command but QUIT.
    peer = Peer(greet=False)
    peer.conn.greeting(Reply(554, "5.7.1", f"{HOST} No SMTP service here"))
    assert peer.conn.data_to_send() == b"554 mx.example.org No SMTP service here\r\n"
    assert peer.say("EHLO x.example", "MAIL FROM:<>", "QUIT") == [
        "503 No SMTP service here; send QUIT",
        "503 No SMTP service here; send QUIT",
        "221 mx.example.org Service closing transmission channel",
    ]


def test_timeout_and_shutdown() -> None:
    peer = Peer()
    peer.ehlo()
    peer.conn.timeout()
    assert (
        peer.conn.data_to_send() == b"421 4.4.2 mx.example.org Idle timeout, closing connection\r\n"
    )
    assert peer.conn.closing
    peer.conn.timeout()
    assert peer.conn.data_to_send() == b""
    other = Peer()
    other.conn.shutdown()
    assert other.conn.data_to_send().startswith(b"421 mx.example.org Service shutting down")


def test_misuse_raises_state_errors() -> None:
    peer = Peer()
    with pytest.raises(SmtpStateError):
        peer.conn.accept()
    with pytest.raises(SmtpStateError):
        peer.conn.auth_challenge(b"")
    with pytest.raises(SmtpStateError):
        peer.conn.tls_established()
    peer.conn.receive_data(b"EHLO x.example\r\n")
    assert isinstance(peer.conn.next_event(), Hello)
    with pytest.raises(SmtpStateError):
        peer.conn.next_event()
    with pytest.raises(SmtpStateError):
        peer.conn.accept(replies.OK)
    with pytest.raises(SmtpStateError):
        peer.conn.reject(replies.OK)
    with pytest.raises(SmtpStateError):
        peer.conn.auth_succeeded()
    peer.conn.accept()
    peer.conn.receive_data(b"MAIL FROM:<a@b.example>\r\n")
    assert isinstance(peer.conn.next_event(), MailFrom)
    with pytest.raises(SmtpStateError):
        peer.conn.accept(Reply(550, "5.7.1", "No"))
    assert peer.conn.awaiting == MailFrom("a@b.example", MailParams())
    peer.conn.accept()
    assert peer.conn.phase is Phase.COMMAND
    assert peer.conn.offer.pipelining


def test_answers_that_do_not_fit_their_event() -> None:
    peer = Peer()
    peer.conn.receive_data(b"EHLO x.example\r\n")
    assert isinstance(peer.conn.next_event(), Hello)
    with pytest.raises(SmtpStateError):
        peer.conn.accept(replies.OK)
    peer.conn.accept()
    peer.conn.receive_data(b"MAIL FROM:<>\r\nRCPT TO:<a@b.example>\r\nDATA\r\n")
    for _ in range(2):
        peer.conn.next_event()
        peer.conn.accept()
    assert peer.conn.next_event() == DataRequested(chunking=False)
    with pytest.raises(SmtpStateError):
        peer.conn.accept(replies.OK)
    peer.conn.accept(replies.START_MAIL_INPUT)
    assert peer.conn.phase is Phase.DATA
