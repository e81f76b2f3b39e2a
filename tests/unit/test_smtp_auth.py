"""AUTH (RFC 4954): offers, initial responses, challenges, cancel, policy."""

from __future__ import annotations

import pytest

from roost.proto.sasl import Challenge, Failure, NeedPassword, SaslConfig, SaslExchange, Success
from roost.proto.smtp import (
    AuthCancelled,
    AuthRequested,
    AuthResponse,
    Event,
    MailFrom,
    Reply,
    SmtpServerConnection,
    SmtpStateError,
    replies,
)
from tests.unit.test_smtp_harness import Peer, b64, keywords, settings, transcript

MECHS = ("PLAIN", "LOGIN")
AUTH_SETTINGS = settings(auth_mechanisms=MECHS)


def tls_peer(**changes: object) -> Peer:
    peer = Peer(settings(auth_mechanisms=MECHS, **changes), tls=True)
    assert "AUTH PLAIN LOGIN" in keywords(peer.ehlo())
    return peer


def test_auth_hidden_and_refused_before_tls() -> None:
    peer = Peer(AUTH_SETTINGS)
    assert not [word for word in keywords(peer.ehlo()) if word.startswith("AUTH")]
    assert peer.say("AUTH PLAIN " + b64(b"\0u\0p")) == [
        "538 5.7.11 Encryption required for requested authentication mechanism"
    ]
    assert not peer.of(AuthRequested)


def test_auth_offered_in_plaintext_when_allowed() -> None:
    peer = Peer(settings(auth_mechanisms=MECHS, tls_required_for_auth=False))
    assert "AUTH PLAIN LOGIN" in keywords(peer.ehlo())


def test_plain_with_initial_response() -> None:
    peer = tls_peer()
    assert peer.say("AUTH plain " + b64(b"\0user\0secret")) == [
        "235 2.7.0 Authentication successful"
    ]
    assert peer.of(AuthRequested) == [AuthRequested("PLAIN", b"\0user\0secret")]
    assert "secret" not in repr(peer.of(AuthRequested)[0])
    assert peer.conn.authenticated


def test_empty_initial_response_is_an_equals_sign() -> None:
    peer = tls_peer()
    peer.say("AUTH PLAIN =")
    assert peer.of(AuthRequested) == [AuthRequested("PLAIN", b"")]


def login_policy(conn: SmtpServerConnection, event: Event) -> None:
    match event:
        case AuthRequested(initial_response=None):
            conn.auth_challenge(b"Username:")
        case AuthResponse(data=b"tim"):
            conn.auth_challenge(b"Password:")
        case AuthResponse(data=b"tanstaaftanstaaf"):
            conn.auth_succeeded()
        case AuthResponse():
            conn.auth_failed()
        case _:
            conn.accept()


def test_login_with_challenges() -> None:
    peer = tls_peer()
    peer.policy = login_policy
    transcript(
        peer,
        f"""
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: {b64(b"tim")}
        S: 334 UGFzc3dvcmQ6
        C: {b64(b"tanstaaftanstaaf")}
        S: 235 2.7.0 Authentication successful
        C: AUTH LOGIN
        S: 503 5.5.1 Already authenticated
        """,
    )
    assert peer.of(AuthResponse) == [AuthResponse(b"tim"), AuthResponse(b"tanstaaftanstaaf")]


def test_wrong_password() -> None:
    peer = tls_peer()
    peer.policy = login_policy
    assert peer.say("AUTH LOGIN", b64(b"tim"), b64(b"guess")) == [
        "334 VXNlcm5hbWU6",
        "334 UGFzc3dvcmQ6",
        "535 5.7.8 Authentication credentials invalid",
    ]
    assert not peer.conn.authenticated


def test_client_cancels_with_star() -> None:
    peer = tls_peer()
    peer.policy = login_policy
    assert peer.say("AUTH LOGIN", "*", "NOOP") == [
        "334 VXNlcm5hbWU6",
        "501 5.0.0 Authentication cancelled",
        "250 2.0.0 Ok",
    ]
    assert peer.of(AuthCancelled) == [AuthCancelled(malformed=False)]


@pytest.mark.parametrize("line", ["not base64!", "QUJD=", "QU JD", "=", "AAAA====", "é"])
def test_malformed_response(line: str) -> None:
    peer = tls_peer()
    peer.policy = login_policy
    assert peer.say("AUTH LOGIN", line) == [
        "334 VXNlcm5hbWU6",
        "501 5.5.2 Cannot decode the BASE64 response",
    ]
    assert peer.of(AuthCancelled) == [AuthCancelled(malformed=True)]


def test_response_line_must_end_with_crlf() -> None:
    peer = tls_peer()
    peer.policy = login_policy
    out = peer.send(b"AUTH LOGIN\r\ndGlt\nNOOP\r\n").decode().splitlines()
    assert out == [
        "334 VXNlcm5hbWU6",
        "501 5.5.2 Cannot decode the BASE64 response",
        "250 2.0.0 Ok",
    ]
    assert peer.of(AuthCancelled) == [AuthCancelled(malformed=True)]


def test_empty_response_line_is_empty_data() -> None:
    peer = tls_peer()
    peer.policy = lambda conn, e: (
        conn.auth_challenge(b"") if isinstance(e, AuthRequested) else conn.auth_succeeded()
    )
    assert peer.say("AUTH PLAIN", "") == ["334 ", "235 2.7.0 Authentication successful"]
    assert peer.of(AuthResponse) == [AuthResponse(b"")]


def test_malformed_initial_response_and_syntax() -> None:
    peer = tls_peer()
    assert peer.say("AUTH PLAIN !!!!", "AUTH", "AUTH PLAIN a b", "AUTH CRAM-MD5") == [
        "501 5.5.2 Cannot decode the BASE64 response",
        "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        "504 5.5.4 Unrecognized authentication type",
    ]
    assert not peer.of(AuthRequested)


def test_auth_line_may_reach_12288_octets() -> None:
    peer = tls_peer()
    big = b64(b"\0" + b"u" * 9000)
    line = "AUTH PLAIN " + big
    assert len(line) + 2 <= 12_288 and len(line) > peer.conn.settings.max_command_octets
    assert peer.say(line) == ["235 2.7.0 Authentication successful"]


def test_response_line_too_long() -> None:
    peer = tls_peer()
    peer.policy = login_policy
    out = peer.say("AUTH LOGIN", "A" * 12_300, "NOOP")
    assert out == [
        "334 VXNlcm5hbWU6",
        "500 5.5.6 Authentication exchange line is too long",
        "250 2.0.0 Ok",
    ]
    assert peer.of(AuthCancelled) == [AuthCancelled(malformed=True)]


@pytest.mark.parametrize(
    "reply",
    [replies.AUTH_TEMPORARY_FAILURE, replies.AUTH_TOO_WEAK, Reply(535, "5.7.8", "Nope")],
)
def test_service_failure_replies(reply: Reply) -> None:
    peer = tls_peer()
    peer.policy = lambda conn, event: conn.auth_failed(reply)
    assert peer.say("AUTH PLAIN =") == [reply.to_bytes(enhanced=True).decode().rstrip()]
    with pytest.raises(SmtpStateError):
        Peer().conn.auth_failed(replies.OK)
    waiting = tls_peer()
    waiting.conn.receive_data(b"AUTH PLAIN =\r\n")
    assert isinstance(waiting.conn.next_event(), AuthRequested)
    with pytest.raises(SmtpStateError):
        waiting.conn.auth_failed(replies.OK)


def test_no_auth_in_a_transaction_or_after_helo() -> None:
    peer = tls_peer()
    assert peer.say("MAIL FROM:<a@b.example>", "AUTH PLAIN =") == [
        "250 2.1.0 Sender ok",
        "503 5.5.1 AUTH not allowed during a mail transaction",
    ]
    helo = Peer(AUTH_SETTINGS, tls=True)
    assert helo.say("HELO x.example", "AUTH PLAIN =") == [
        "250 mx.example.org",
        "502 Command not available in this session",
    ]
    none = Peer(tls=True)
    none.ehlo()
    assert none.say("AUTH PLAIN =") == ["502 5.5.1 Command not available in this session"]


def test_submission_requires_auth_before_mail() -> None:
    peer = tls_peer(auth_required=True)
    assert peer.say("MAIL FROM:<a@b.example>") == ["530 5.7.0 Authentication required"]
    assert peer.say("AUTH PLAIN " + b64(b"\0u\0p"), "MAIL FROM:<a@b.example> AUTH=<>") == [
        "235 2.7.0 Authentication successful",
        "250 2.1.0 Sender ok",
    ]
    assert peer.of(MailFrom)[0].params.auth == "<>"


def test_starttls_required_first() -> None:
    peer = Peer(settings(auth_mechanisms=MECHS, tls_required=True, starttls_available=True))
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>", "AUTH PLAIN =") == [
        "530 5.7.0 Must issue a STARTTLS command first",
        "530 5.7.0 Must issue a STARTTLS command first",
    ]


def test_accept_is_not_an_auth_answer() -> None:
    peer = tls_peer()
    peer.conn.receive_data(b"AUTH PLAIN =\r\n")
    assert isinstance(peer.conn.next_event(), AuthRequested)
    with pytest.raises(SmtpStateError):
        peer.conn.accept()
    with pytest.raises(SmtpStateError):
        peer.conn.auth_succeeded(Reply(535, "5.7.8", "no"))
    peer.conn.reject(replies.AUTH_FAILED)
    assert peer.conn.data_to_send() == b"535 5.7.8 Authentication credentials invalid\r\n"


def sasl_policy(conn: SmtpServerConnection, event: Event) -> None:
    """The service side with the real SASL package (roost.proto.sasl)."""
    global exchange
    match event:
        case AuthRequested(mechanism=mechanism, initial_response=initial):
            config = SaslConfig(server_secret=b"k" * 32)
            exchange, step = SaslExchange.start(
                mechanism, initial, config=config, tls=conn.tls, allow_plaintext=False
            )
        case AuthResponse(data=data):
            step = exchange.receive_response(data)
        case _:
            conn.accept()
            return
    if isinstance(step, NeedPassword):
        step = exchange.password_result(step.authcid == "tim" and step.password == "pw")
    match step:
        case Challenge(data=challenge):
            conn.auth_challenge(challenge)
        case Success():
            conn.auth_succeeded()
        case Failure():
            conn.auth_failed()


exchange: SaslExchange


def test_driven_by_the_sasl_package() -> None:
    peer = tls_peer()
    peer.policy = sasl_policy
    assert peer.say("AUTH PLAIN " + b64(b"\0tim\0pw")) == ["235 2.7.0 Authentication successful"]
    other = tls_peer()
    other.policy = sasl_policy
    assert other.say("AUTH LOGIN", b64(b"tim"), b64(b"bad")) == [
        "334 VXNlcm5hbWU6",
        "334 UGFzc3dvcmQ6",
        "535 5.7.8 Authentication credentials invalid",
    ]
