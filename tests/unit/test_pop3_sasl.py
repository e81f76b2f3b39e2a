"""AUTH (RFC 5034) with PLAIN and SCRAM-SHA-256, over `roost.proto.sasl`."""

from __future__ import annotations

import base64

import pytest
from scramp import ScramClient

from roost.proto.pop3 import (
    MAX_SASL_LINE_OCTETS,
    Authenticated,
    AuthFailed,
    PasswordLogin,
    Phase,
    Pop3StateError,
    ScramKeysRequested,
    State,
    replies,
)
from roost.proto.sasl import FailureReason, ScramAlgorithm
from tests.unit.test_pop3_harness import Peer, b64, rejecting, serve, settings, transcript

PLAIN_IR = b64(b"\0alice\0secret")


def decode_challenge(line: str) -> str:
    assert line.startswith("+ "), line
    return base64.b64decode(line[2:]).decode()


def failures(peer: Peer) -> list[FailureReason]:
    return [event.reason for event in peer.of(AuthFailed)]


def test_plain_with_initial_response() -> None:
    peer = Peer()
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}")[0].startswith("+OK Maildrop has 2 messages")
    (event,) = peer.of(PasswordLogin)
    assert (event.user, event.password, event.via) == ("alice", "secret", "PLAIN")
    assert peer.conn.state is State.TRANSACTION
    assert peer.conn.user == "alice"


def test_plain_after_an_empty_challenge() -> None:
    peer = Peer()
    transcript(
        peer,
        f"""
        C: auth plain
        S: + ...
        C: {PLAIN_IR}
        S: +OK Maildrop has 2 messages ...
        """,
    )


def test_wrong_password_and_service_refusals() -> None:
    peer = Peer()
    wrong = b64(b"\0alice\0wrong")
    assert peer.say(f"AUTH PLAIN {wrong}") == ["-ERR [AUTH] Authentication failed"]
    assert peer.conn.phase is Phase.COMMAND
    peer = Peer(policy=rejecting(PasswordLogin, replies.IN_USE))
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}") == [
        "-ERR [IN-USE] Maildrop is locked by another session"
    ]
    assert peer.conn.state is State.AUTHORIZATION
    # A new attempt works: the old exchange is gone.
    peer.policy = serve
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}")[0].startswith("+OK")


@pytest.mark.parametrize(
    ("lines", "reply", "reason"),
    [
        (["AUTH PLAIN ="], "-ERR Malformed authentication exchange", FailureReason.MALFORMED),
        (["AUTH PLAIN", "*"], "-ERR Authentication cancelled", FailureReason.CANCELLED),
        (["AUTH PLAIN", "not base64!"], "-ERR Cannot decode the BASE64 data", None),
        (
            [f"AUTH PLAIN {b64(b'bob' + bytes([0]) + b'alice' + bytes([0]) + b'secret')}"],
            "-ERR [AUTH] Not authorized to act as that user",
            FailureReason.AUTHZID_NOT_ALLOWED,
        ),
        (
            ["AUTH CRAM-MD5"],
            "-ERR Unrecognized authentication type",
            FailureReason.MECHANISM_UNKNOWN,
        ),
        (["AUTH LOGIN"], "-ERR Unrecognized authentication type", FailureReason.MECHANISM_UNKNOWN),
    ],
)
def test_exchanges_the_core_ends_itself(
    lines: list[str], reply: str, reason: FailureReason | None
) -> None:
    peer = Peer()
    out = [line for line in peer.say(*lines) if not line.startswith("+ ")]
    assert out == [reply]
    assert failures(peer) == [reason or FailureReason.MALFORMED]
    assert peer.conn.phase is Phase.COMMAND
    assert peer.say("NOOP") == ["-ERR Not authenticated; send USER/PASS or AUTH first"]


def test_plain_refused_before_tls_when_plaintext_is_not_allowed() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}") == [
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS"
    ]
    assert failures(peer) == [FailureReason.ENCRYPTION_REQUIRED]
    assert peer.of(PasswordLogin) == []
    assert peer.say("AUTH") == ["+OK Authentication mechanisms follow", "SCRAM-SHA-256", "."]


def test_bare_auth_lists_the_mechanisms() -> None:
    assert Peer().say("AUTH") == [
        "+OK Authentication mechanisms follow",
        "SCRAM-SHA-256",
        "PLAIN",
        ".",
    ]


def scram_login(peer: Peer, user: str, password: str, *, initial: bool = True) -> list[str]:
    """Run SCRAM-SHA-256 with scramp's client; return the server's last lines."""
    client = ScramClient(["SCRAM-SHA-256"], user, password)
    first = b64(client.get_client_first().encode())
    if initial:
        (challenge,) = peer.say(f"AUTH SCRAM-SHA-256 {first}")
    else:
        assert peer.say("AUTH SCRAM-SHA-256") == ["+ "]
        (challenge,) = peer.say(first)
    client.set_server_first(decode_challenge(challenge))
    (challenge,) = peer.say(b64(client.get_client_final().encode()))
    if not challenge.startswith("+ "):
        return [challenge]
    client.set_server_final(decode_challenge(challenge))  # checks the server's proof
    return peer.say("")


@pytest.mark.parametrize("initial", [True, False])
def test_scram_sha_256_round_trip(initial: bool) -> None:
    peer = Peer()
    (last,) = scram_login(peer, "alice", "secret", initial=initial)
    assert last.startswith("+OK Maildrop has 2 messages")
    assert peer.of(ScramKeysRequested) == [ScramKeysRequested("alice", ScramAlgorithm.SHA_256)]
    assert peer.of(Authenticated) == [Authenticated("alice", "SCRAM-SHA-256")]
    assert peer.conn.user == "alice"
    assert peer.say("STAT")[0].startswith("+OK 2 ")


def test_scram_offered_before_tls() -> None:
    peer = Peer(settings(plaintext_auth_allowed=False))
    (last,) = scram_login(peer, "alice", "secret")
    assert last.startswith("+OK")


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        ("alice", "wrong", FailureReason.BAD_CREDENTIALS),
        ("nobody", "secret", FailureReason.UNKNOWN_USER),
    ],
)
def test_scram_failures_read_the_same(user: str, password: str, reason: FailureReason) -> None:
    peer = Peer()
    assert scram_login(peer, user, password) == ["-ERR [AUTH] Authentication failed"]
    (failed,) = peer.of(AuthFailed)
    assert (failed.reason, failed.user, failed.via) == (reason, user, "SCRAM-SHA-256")
    assert peer.of(Authenticated) == []


def test_scram_keys_refused_by_the_service() -> None:
    peer = Peer(policy=rejecting(ScramKeysRequested, replies.TOO_MANY_FAILURES))
    client = ScramClient(["SCRAM-SHA-256"], "alice", "secret")
    first = b64(client.get_client_first().encode())
    assert peer.say(f"AUTH SCRAM-SHA-256 {first}") == [
        "-ERR [SYS/TEMP] Too many failed sign-ins; try again later"
    ]
    assert peer.conn.phase is Phase.COMMAND


def test_authenticated_refused_by_the_service() -> None:
    peer = Peer(policy=rejecting(Authenticated, replies.LOGIN_DELAY))
    assert scram_login(peer, "alice", "secret") == [
        "-ERR [LOGIN-DELAY] Logged in too recently; try again later"
    ]
    assert peer.conn.state is State.AUTHORIZATION


def test_answering_scram_keys_wrongly_is_a_local_error() -> None:
    peer = Peer()
    peer.conn.receive_data(f"AUTH PLAIN {PLAIN_IR}\r\n".encode())
    assert isinstance(peer.conn.next_event(), PasswordLogin)
    with pytest.raises(Pop3StateError):
        peer.conn.scram_keys(None)


def test_sasl_line_limit() -> None:
    peer = Peer()
    assert peer.say("AUTH PLAIN") == ["+ "]
    long = "A" * MAX_SASL_LINE_OCTETS
    assert peer.say(long) == ["-ERR Authentication data too long"]
    assert failures(peer) == [FailureReason.RESPONSE_TOO_LONG]
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}")[0].startswith("+OK")


def test_auth_command_may_exceed_255_octets_up_to_its_own_limit() -> None:
    peer = Peer()
    password = "p" * 300
    ir = b64(b"\0alice\0" + password.encode())
    peer.say(f"AUTH PLAIN {ir}")
    assert peer.of(PasswordLogin)[0].password == password
    peer = Peer()
    ir = b64(b"\0alice\0" + b"p" * 1000)
    assert peer.say(f"AUTH PLAIN {ir}") == ["-ERR Line too long"]


def test_pipelined_commands_wait_for_the_login() -> None:
    peer = Peer()
    lines = peer.say(f"AUTH PLAIN {PLAIN_IR}", "STAT", "QUIT")
    assert lines[0].startswith("+OK Maildrop")
    assert lines[1].startswith("+OK 2 ")
    assert lines[2].startswith("+OK Roost POP3 server signing off")


def test_auth_after_login() -> None:
    peer = Peer()
    peer.login()
    assert peer.say(f"AUTH PLAIN {PLAIN_IR}") == ["-ERR Already authenticated"]
