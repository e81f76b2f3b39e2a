"""The AUTHORIZATION state: greeting, CAPA, USER/PASS, STLS, UTF8 (RFC 1939 §4, §7;
RFC 2449; RFC 2595 §4; RFC 3206; RFC 6856)."""

from __future__ import annotations

import pytest

from roost.proto.pop3 import (
    AuthFailed,
    ConnectionLost,
    PasswordLogin,
    Phase,
    Pop3ServerConnection,
    Pop3Settings,
    Pop3SettingsError,
    Pop3StateError,
    Quit,
    StartTlsRequested,
    State,
    Utf8Enabled,
    replies,
)
from roost.proto.pop3.replies import Reply, ResponseCode
from roost.proto.sasl import FailureReason
from tests.unit.test_pop3_harness import (
    MAILDROP,
    Peer,
    lines_of,
    rejecting,
    settings,
    transcript,
)


def capa(peer: Peer) -> list[str]:
    lines = peer.say("CAPA")
    assert lines[0] == "+OK Capability list follows"
    assert lines[-1] == "."
    return lines[1:-1]


def test_greeting_has_no_apop_timestamp() -> None:
    assert Peer().greeting == b"+OK Roost POP3 server ready\r\n"


def test_refusing_greeting_closes() -> None:
    conn = Pop3ServerConnection(Pop3Settings())
    conn.greeting(replies.err("Too many connections", ResponseCode.SYS_TEMP))
    assert conn.data_to_send() == b"-ERR [SYS/TEMP] Too many connections\r\n"
    assert conn.closing


def test_next_event_before_greeting_is_a_local_error() -> None:
    conn = Pop3ServerConnection(Pop3Settings())
    with pytest.raises(Pop3StateError):
        conn.next_event()
    conn.greeting()
    with pytest.raises(Pop3StateError):
        conn.greeting()


def test_rfc1939_user_pass_example() -> None:
    peer = Peer()
    transcript(
        peer,
        """
        S: +OK Roost POP3 server ready
        C: USER mrose
        S: +OK Send PASS
        C: PASS secret
        S: +OK Maildrop has 2 messages (...
        """,
    )
    assert peer.conn.state is State.TRANSACTION
    assert peer.conn.user == "mrose"
    (event,) = peer.of(PasswordLogin)
    assert (event.user, event.password, event.via) == ("mrose", "secret", "USER")
    assert "secret" not in repr(event)


def test_wrong_password_stays_in_authorization_and_needs_user_again() -> None:
    peer = Peer()
    transcript(
        peer,
        """
        C: USER mrose
        S: +OK Send PASS
        C: PASS wrong
        S: -ERR [AUTH] Authentication failed
        C: PASS secret
        S: -ERR Send USER first
        C: USER mrose
        C: PASS secret
        S: +OK Send PASS
        S: +OK Maildrop has 2 messages (...
        """,
    )


def test_any_command_between_user_and_pass_forgets_user() -> None:
    peer = Peer()
    assert peer.say("USER mrose", "CAPA", "PASS secret")[-1] == "-ERR Send USER first"


def test_password_may_hold_spaces() -> None:
    peer = Peer()
    peer.say("USER mrose", "PASS  correct horse ")
    assert peer.of(PasswordLogin)[0].password == " correct horse "


@pytest.mark.parametrize(
    "reply",
    [replies.IN_USE, replies.LOGIN_DELAY, replies.MAILDROP_UNAVAILABLE, replies.MAILDROP_BROKEN],
)
def test_service_refusals_carry_response_codes(reply: Reply) -> None:
    peer = Peer(policy=rejecting(PasswordLogin, reply))
    assert peer.say("USER mrose", "PASS secret")[-1] == reply.to_bytes().decode().rstrip()
    assert peer.conn.state is State.AUTHORIZATION


def test_response_code_wire_forms() -> None:
    assert replies.IN_USE.to_bytes().startswith(b"-ERR [IN-USE] ")
    assert replies.LOGIN_DELAY.to_bytes().startswith(b"-ERR [LOGIN-DELAY] ")
    assert replies.MAILDROP_UNAVAILABLE.to_bytes().startswith(b"-ERR [SYS/TEMP] ")
    assert replies.MAILDROP_BROKEN.to_bytes().startswith(b"-ERR [SYS/PERM] ")
    assert replies.AUTH_FAILED.to_bytes().startswith(b"-ERR [AUTH] ")


def test_user_refused_before_tls_unless_allowed() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    assert peer.say("USER mrose") == [
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS"
    ]
    assert peer.say("PASS secret") == ["-ERR Send USER first"]
    assert peer.of(PasswordLogin) == []
    (failed,) = peer.of(AuthFailed)
    assert failed.reason is FailureReason.ENCRYPTION_REQUIRED
    assert failed.user == "mrose"


def test_user_allowed_under_tls() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False), tls=True)
    peer.login()


def test_user_pass_can_be_switched_off() -> None:
    peer = Peer(settings(user_pass=False), tls=True)
    assert peer.say("USER mrose") == ["-ERR [AUTH] USER/PASS not available; use AUTH"]
    assert "USER" not in capa(peer)


def test_transaction_commands_before_login() -> None:
    peer = Peer()
    for command in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL"):
        assert peer.say(command) == ["-ERR Not authenticated; send USER/PASS or AUTH first"]


def test_unknown_and_unsupported_commands() -> None:
    peer = Peer()
    assert peer.say("XTND XMIT") == ["-ERR Unknown command"]
    assert peer.say("APOP mrose c4c9334bac560ecc979e58001b3e22fb") == ["-ERR Command not supported"]


def test_quit_in_authorization() -> None:
    peer = Peer()
    assert peer.say("QUIT") == ["+OK Roost POP3 server signing off"]
    assert peer.of(Quit) == [Quit()]
    assert peer.conn.closing


# CAPA (RFC 2449 §5).


def test_capa_before_tls_with_stls_and_no_password_methods() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    assert capa(peer) == [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "SASL SCRAM-SHA-256",
        "STLS",
        "UTF8 USER",
        "IMPLEMENTATION Roost",
    ]


def test_capa_under_tls_offers_passwords_and_no_stls() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False), tls=True)
    lines = capa(peer)
    assert "USER" in lines
    assert "SASL SCRAM-SHA-256 PLAIN" in lines
    assert "STLS" not in lines


def test_capa_after_login_lists_only_what_applies() -> None:
    peer = Peer(settings(login_delay_s=900, expire_days=30, implementation=""))
    peer.login()
    assert capa(peer) == [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE 30",
        "LOGIN-DELAY 900",
    ]


def test_capa_without_sasl_config_offers_no_sasl() -> None:
    peer = Peer(sasl=None)
    assert not any(line.startswith("SASL") for line in capa(peer))
    assert peer.say("AUTH PLAIN =") == ["-ERR Unrecognized authentication type"]


# STLS (RFC 2595 §4).


def test_stls_discards_pipelined_plaintext_and_resets() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    out = peer.send(b"USER mallory\r\nSTLS\r\nUSER injected\r\nPASS x\r\n")
    assert lines_of(out)[-1] == "+OK Begin TLS negotiation"
    assert peer.conn.phase is Phase.TLS
    assert peer.of(StartTlsRequested) == [StartTlsRequested()]
    with pytest.raises(Pop3StateError):
        peer.conn.next_event()
    peer.conn.receive_data(b"STAT\r\n")  # plaintext before the handshake: dropped
    peer.conn.tls_established()
    assert peer.conn.tls
    assert peer.say("PASS secret") == ["-ERR Send USER first"]
    assert "STLS" not in capa(peer)
    assert peer.of(PasswordLogin) == []
    peer.login()


def test_stls_refused_by_the_service() -> None:
    peer = Peer(policy=rejecting(StartTlsRequested, replies.TLS_TEMPORARY_FAILURE))
    assert peer.say("STLS") == ["-ERR [SYS/TEMP] TLS not available due to a temporary problem"]
    assert not peer.conn.tls


def test_stls_when_active_or_unavailable_or_after_login() -> None:
    assert Peer(tls=True).say("STLS") == ["-ERR Command not permitted when TLS active"]
    assert Peer(settings(tls_available=False)).say("STLS") == ["-ERR TLS not available"]
    peer = Peer()
    peer.login()
    assert peer.say("STLS") == ["-ERR Already authenticated"]


def test_tls_established_may_change_settings() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    peer.say("STLS")
    peer.conn.tls_established(settings(implementation="Roost-TLS"))
    assert "IMPLEMENTATION Roost-TLS" in capa(peer)
    with pytest.raises(Pop3StateError):
        peer.conn.tls_established()


# UTF8 (RFC 6856 §2).


def test_utf8_then_utf8_user_name() -> None:
    peer = Peer()
    assert peer.say("UTF8") == ["+OK UTF-8 mode enabled"]
    assert peer.say("UTF8") == ["+OK UTF-8 mode enabled"]
    assert peer.of(Utf8Enabled) == [Utf8Enabled()]
    assert peer.conn.utf8
    peer.say("USER j\u00f6rg", "PASS p\u00e4ss")
    event = peer.of(PasswordLogin)[0]
    assert (event.user, event.password) == ("j\u00f6rg", "p\u00e4ss")


def test_utf8_only_before_login_and_only_when_offered() -> None:
    peer = Peer()
    peer.login()
    assert peer.say("UTF8") == ["-ERR Already authenticated"]
    peer = Peer(settings(utf8=False))
    assert peer.say("UTF8") == ["-ERR Unknown command"]
    assert "UTF8 USER" not in capa(peer)


# Ending.


def test_eof_gives_connection_lost_every_time() -> None:
    peer = Peer()
    peer.hangup()
    assert peer.of(ConnectionLost) == [ConnectionLost()]
    assert peer.conn.next_event() == ConnectionLost()
    with pytest.raises(Pop3StateError):
        peer.conn.receive_data(b"x")


def test_answers_out_of_order_are_local_errors() -> None:
    conn = Pop3ServerConnection(Pop3Settings(), tls=True)
    conn.greeting()
    for call in (
        conn.accept,
        lambda: conn.reject(replies.AUTH_FAILED),
        lambda: conn.login_accepted(MAILDROP),
        lambda: conn.scram_keys(None),
        conn.begin_message,
        lambda: conn.message_data(b"x"),
        conn.end_message,
        conn.tls_established,
    ):
        with pytest.raises(Pop3StateError):
            call()
    conn.receive_data(b"USER a\r\nPASS b\r\n")
    assert isinstance(conn.next_event(), PasswordLogin)
    with pytest.raises(Pop3StateError):
        conn.next_event()
    with pytest.raises(Pop3StateError):
        conn.reject(replies.NOOP)
    with pytest.raises(Pop3StateError):
        conn.accept()


# Settings.


@pytest.mark.parametrize(
    "changes",
    [
        {"greeting": "caf\u00e9"},
        {"implementation": "x" * 600},
        {"login_delay_s": -1},
        {"expire_days": -1},
        {"max_command_octets": 100},
        {"max_auth_command_octets": 200},
        {"max_sasl_line_octets": 10},
        {"max_errors": -1},
        {"sasl_mechanisms": ("CRAM-MD5",)},
        {"sasl_mechanisms": ("plain",)},
        {"sasl_mechanisms": ("PLAIN", "PLAIN")},
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(Pop3SettingsError):
        Pop3Settings(**changes)  # type: ignore[arg-type]


def test_reply_values_are_checked() -> None:
    with pytest.raises(Pop3StateError):
        Reply(False, "line\r\nbreak")
    with pytest.raises(Pop3StateError):
        Reply(True, "ok", ResponseCode.AUTH)
    with pytest.raises(Pop3StateError):
        Reply(False, "x" * 600)
    assert replies.NOOP.to_bytes() == b"+OK\r\n"
