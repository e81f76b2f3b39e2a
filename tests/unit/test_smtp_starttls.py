"""STARTTLS (RFC 3207) and REQUIRETLS (RFC 8689): offers, injection, reset."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    Hello,
    MailFrom,
    Phase,
    SmtpStateError,
    StartTlsRequested,
    replies,
)
from tests.unit.test_smtp_harness import Peer, keywords, lines_of, rejecting, settings

TLS_SETTINGS = settings(starttls_available=True, requiretls=True, auth_mechanisms=("PLAIN",))


def upgraded(peer: Peer) -> Peer:
    assert peer.say("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    assert peer.conn.phase is Phase.TLS
    peer.conn.tls_established()
    return peer


def test_offers_before_and_after_tls() -> None:
    peer = Peer(TLS_SETTINGS)
    before = keywords(peer.ehlo())
    assert "STARTTLS" in before
    assert "REQUIRETLS" not in before
    assert "AUTH PLAIN" not in before
    upgraded(peer)
    after = keywords(peer.ehlo())
    assert "STARTTLS" not in after
    assert "REQUIRETLS" in after
    assert "AUTH PLAIN" in after
    assert peer.conn.tls


def test_injected_commands_after_starttls_are_dropped() -> None:
    # RFC 3207 §4.2 / CVE-2011-0411: bytes after STARTTLS in the same
    # packet must not be read as if they came over TLS.
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    out = peer.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<x@y.example>\r\n")
    assert out == b"220 2.0.0 Ready to start TLS\r\n"
    peer.conn.receive_data(b"DATA\r\n")  # still plaintext: ignored too
    with pytest.raises(SmtpStateError):
        peer.conn.next_event()
    peer.conn.tls_established()
    assert peer.say("EHLO client.example")[0] == "250-mx.example.org"
    assert not peer.of(MailFrom)
    assert [type(e) for e in peer.events] == [Hello, StartTlsRequested, Hello]


def test_injection_split_over_packets_is_dropped_too() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    peer.conn.receive_data(b"STARTTLS\r\nMAIL FR")
    peer.run()
    assert peer.conn.data_to_send() == b"220 2.0.0 Ready to start TLS\r\n"
    peer.conn.receive_data(b"OM:<evil@attacker.example>\r\n")
    peer.conn.tls_established()
    assert peer.say("MAIL FROM:<a@b.example>") == ["503 Send EHLO or HELO first"]


def test_session_restarts_after_tls() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    peer.say("MAIL FROM:<a@b.example>")
    upgraded(peer)
    assert not peer.conn.in_transaction
    assert peer.conn.client_name is None
    assert peer.say("MAIL FROM:<a@b.example>") == ["503 Send EHLO or HELO first"]
    peer.ehlo()
    assert peer.say("STARTTLS") == ["503 5.5.1 TLS already active"]
    assert peer.say("MAIL FROM:<a@b.example> REQUIRETLS") == ["250 2.1.0 Sender ok"]
    assert peer.of(MailFrom)[-1].params.requiretls


def test_tls_established_may_change_settings() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    peer.say("STARTTLS")
    peer.conn.tls_established(settings(auth_mechanisms=("PLAIN", "LOGIN")))
    assert "AUTH PLAIN LOGIN" in keywords(peer.ehlo())


@pytest.mark.parametrize(
    ("setup", "line", "reply"),
    [
        (TLS_SETTINGS, "STARTTLS now", "501 5.5.4 Syntax: STARTTLS"),
        (settings(), "STARTTLS", "502 5.5.1 Command not available in this session"),
    ],
)
def test_starttls_refusals(setup: object, line: str, reply: str) -> None:
    peer = Peer(setup)  # type: ignore[arg-type]
    peer.ehlo()
    assert peer.say(line) == [reply]


def test_starttls_before_ehlo_and_on_implicit_tls() -> None:
    assert Peer(TLS_SETTINGS).say("STARTTLS") == ["503 Send EHLO or HELO first"]
    implicit = Peer(TLS_SETTINGS, tls=True)
    words = keywords(implicit.ehlo())
    assert "STARTTLS" not in words
    assert "REQUIRETLS" in words
    assert implicit.say("STARTTLS") == ["503 5.5.1 TLS already active"]


def test_service_declines_tls() -> None:
    peer = Peer(TLS_SETTINGS, policy=rejecting({StartTlsRequested: replies.TLS_NOT_AVAILABLE}))
    peer.ehlo()
    assert peer.say("STARTTLS", "NOOP") == [
        "454 4.7.0 TLS not available due to temporary reason",
        "250 2.0.0 Ok",
    ]
    assert not peer.conn.tls


def test_requiretls_only_over_tls() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example> REQUIRETLS") == [
        "555 5.5.4 Parameter not recognized or not implemented"
    ]


def test_accept_starttls_reply_must_be_220() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    peer.conn.receive_data(b"STARTTLS\r\n")
    assert isinstance(peer.conn.next_event(), StartTlsRequested)
    with pytest.raises(SmtpStateError):
        peer.conn.accept(replies.OK)
    peer.conn.accept()
    assert lines_of(peer.conn.data_to_send()) == ["220 2.0.0 Ready to start TLS"]


def test_end_of_input_during_the_handshake() -> None:
    peer = Peer(TLS_SETTINGS)
    peer.ehlo()
    peer.say("STARTTLS")
    peer.conn.receive_data(b"")
    peer.conn.tls_established()
    assert peer.conn.next_event().__class__.__name__ == "ConnectionLost"
