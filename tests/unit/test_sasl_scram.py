"""SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) exchanges.

`scram_client_final` is an independent client written from RFC 5802 §3
with hashlib, so tests can build messages scramp's client will not
(the "y" flag, wrong channel binding, wrong nonce).
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64decode, b64encode
from collections.abc import Iterator
from itertools import count

import pytest
from scramp import ScramClient

from roost.proto.sasl import (
    Challenge,
    Event,
    ExchangeState,
    Failure,
    FailureReason,
    NeedScramKeys,
    SaslConfig,
    SaslError,
    SaslExchange,
    SaslStateError,
    ScramAlgorithm,
    ScramCredentials,
    Success,
    derive_scram_credentials,
)

SECRET = b"roost-test-secret-0123456789abcdef"
HASHES = {ScramAlgorithm.SHA_1: "sha1", ScramAlgorithm.SHA_256: "sha256"}

# RFC 5802 §5
RFC5802_SALT = b64decode("QSXCR+Q6sek8bf92")
RFC5802_CLIENT_FIRST = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
RFC5802_SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
RFC5802_CLIENT_FINAL = (
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
)
RFC5802_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

# RFC 7677 §3
RFC7677_SALT = b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC7677_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def pencil(algorithm: ScramAlgorithm, salt: bytes = RFC5802_SALT) -> ScramCredentials:
    return derive_scram_credentials("pencil", algorithm, salt=salt)


def fixed_nonce(nonce: str) -> SaslConfig:
    return SaslConfig(server_secret=SECRET, nonce_source=lambda: nonce)


def counting_nonces() -> SaslConfig:
    numbers: Iterator[int] = count()
    return SaslConfig(server_secret=SECRET, nonce_source=lambda: f"srv{next(numbers)}")


def start(
    mechanism: str,
    initial: bytes | None,
    config: SaslConfig,
    *,
    success_data_allowed: bool = False,
) -> tuple[SaslExchange, Event]:
    return SaslExchange.start(
        mechanism,
        initial,
        config=config,
        tls=False,
        allow_plaintext=False,
        success_data_allowed=success_data_allowed,
    )


def attributes(message: bytes) -> dict[str, bytes]:
    return {part[:1].decode(): part[2:] for part in message.split(b",")}


def scram_client_final(
    algorithm: ScramAlgorithm,
    password: str,
    *,
    gs2_header: bytes,
    client_first_bare: bytes,
    server_first: bytes,
    nonce: bytes | None = None,
    cbind_input: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Client-final and the server-final it expects (RFC 5802 §3)."""
    name = HASHES[algorithm]
    attrs = attributes(server_first)
    salted = hashlib.pbkdf2_hmac(name, password.encode(), b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", name)
    stored_key = hashlib.new(name, client_key).digest()
    cbind = gs2_header if cbind_input is None else cbind_input
    without_proof = b"c=" + b64encode(cbind) + b",r=" + (attrs["r"] if nonce is None else nonce)
    auth_message = b",".join((client_first_bare, server_first, without_proof))
    signature = hmac.digest(stored_key, auth_message, name)
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.digest(salted, b"Server Key", name)
    verifier = hmac.digest(server_key, auth_message, name)
    return without_proof + b",p=" + b64encode(proof), b"v=" + b64encode(verifier)


def to_server_first(
    exchange: SaslExchange,
    event: Event,
    credentials: ScramCredentials | None,
) -> bytes:
    """Answer NeedScramKeys and return the server-first message."""
    assert isinstance(event, NeedScramKeys)
    challenge = exchange.scram_keys(credentials)
    assert isinstance(challenge, Challenge)
    return challenge.data


# RFC examples, byte for byte


@pytest.mark.parametrize(
    ("algorithm", "salt", "nonce", "client_first", "server_first", "client_final", "server_final"),
    [
        pytest.param(
            ScramAlgorithm.SHA_1,
            RFC5802_SALT,
            "3rfcNHYJY1ZVvWVs7j",
            RFC5802_CLIENT_FIRST,
            RFC5802_SERVER_FIRST,
            RFC5802_CLIENT_FINAL,
            RFC5802_SERVER_FINAL,
            id="RFC 5802 §5 SCRAM-SHA-1",
        ),
        pytest.param(
            ScramAlgorithm.SHA_256,
            RFC7677_SALT,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            RFC7677_CLIENT_FIRST,
            RFC7677_SERVER_FIRST,
            RFC7677_CLIENT_FINAL,
            RFC7677_SERVER_FINAL,
            id="RFC 7677 §3 SCRAM-SHA-256",
        ),
    ],
)
@pytest.mark.parametrize(
    "success_data_allowed", [False, True], ids=["as-challenge", "with-success"]
)
def test_rfc_example(
    algorithm: ScramAlgorithm,
    salt: bytes,
    nonce: str,
    client_first: bytes,
    server_first: bytes,
    client_final: bytes,
    server_final: bytes,
    success_data_allowed: bool,
) -> None:
    exchange, event = start(
        algorithm.mechanism,
        client_first,
        fixed_nonce(nonce),
        success_data_allowed=success_data_allowed,
    )
    assert event == NeedScramKeys(algorithm=algorithm, authcid="user")
    assert exchange.scram_keys(pencil(algorithm, salt)) == Challenge(server_first)
    event = exchange.receive_response(client_final)
    if success_data_allowed:
        assert event == Success(authzid="", authcid="user", final_data=server_final)
    else:
        assert event == Challenge(server_final)
        assert exchange.state is ExchangeState.AWAITING_RESPONSE
        assert exchange.receive_response(b"") == Success(authzid="", authcid="user")
    assert exchange.state is ExchangeState.SUCCEEDED


def test_rfc5802_example_without_initial_response() -> None:
    """RFC 4422 §5: a client-first mechanism without initial response gets an empty challenge."""
    exchange, event = start("SCRAM-SHA-1", None, fixed_nonce("3rfcNHYJY1ZVvWVs7j"))
    assert event == Challenge(b"")
    event = exchange.receive_response(RFC5802_CLIENT_FIRST)
    assert to_server_first(exchange, event, pencil(ScramAlgorithm.SHA_1)) == RFC5802_SERVER_FIRST


# Round trips against scramp's own client


@pytest.mark.parametrize("algorithm", list(ScramAlgorithm))
@pytest.mark.parametrize("username", ["user", "jürgen", "a,b=c"])
def test_round_trip_with_scramp_client(algorithm: ScramAlgorithm, username: str) -> None:
    client = ScramClient([algorithm.mechanism], username, "correct horse")
    credentials = derive_scram_credentials("correct horse", algorithm)
    config = SaslConfig(server_secret=SECRET)
    exchange, event = start(algorithm.mechanism, client.get_client_first().encode(), config)
    assert event == NeedScramKeys(algorithm=algorithm, authcid=username)
    client.set_server_first(to_server_first(exchange, event, credentials).decode())
    event = exchange.receive_response(client.get_client_final().encode())
    assert isinstance(event, Challenge)
    client.set_server_final(event.data.decode())  # raises if the server signature is wrong
    assert exchange.receive_response(b"") == Success(authzid="", authcid=username)


def test_saslprep_applies_to_username() -> None:
    """RFC 4013 §3 example: SOFT HYPHEN maps to nothing, so I<U+00AD>X is IX."""
    _, event = start("SCRAM-SHA-256", "n,,n=I\u00adX,r=abc".encode(), counting_nonces())
    assert event == NeedScramKeys(algorithm=ScramAlgorithm.SHA_256, authcid="IX")


# Wrong credentials and unknown users


@pytest.mark.parametrize("algorithm", list(ScramAlgorithm))
def test_wrong_password(algorithm: ScramAlgorithm) -> None:
    client = ScramClient([algorithm.mechanism], "user", "not pencil")
    exchange, event = start(
        algorithm.mechanism, client.get_client_first().encode(), counting_nonces()
    )
    client.set_server_first(to_server_first(exchange, event, pencil(algorithm)).decode())
    event = exchange.receive_response(client.get_client_final().encode())
    assert event == Failure(FailureReason.BAD_CREDENTIALS, "SCRAM proof wrong")
    assert exchange.state is ExchangeState.FAILED


def server_first_for(username: str, credentials: ScramCredentials | None) -> dict[str, bytes]:
    client_first = f"n,,n={username},r=clientnonce".encode()
    exchange, event = start("SCRAM-SHA-256", client_first, fixed_nonce("servernonce"))
    return attributes(to_server_first(exchange, event, credentials))


def test_unknown_user_server_first_has_the_shape_of_a_real_one() -> None:
    """RFC 5802 §5.1: the server may fake the exchange instead of e=unknown-user."""
    real = server_first_for("user", derive_scram_credentials("pw", ScramAlgorithm.SHA_256))
    fake = server_first_for("nobody", None)
    assert fake.keys() == real.keys() == {"r", "s", "i"}
    assert fake["r"] == real["r"] == b"clientnonceservernonce"
    assert len(b64decode(fake["s"])) == len(b64decode(real["s"]))
    assert fake["i"] == real["i"] == b"4096"


def test_unknown_user_salt_is_stable_per_user() -> None:
    assert server_first_for("nobody", None) == server_first_for("nobody", None)
    assert server_first_for("nobody", None)["s"] != server_first_for("nobody2", None)["s"]


@pytest.mark.parametrize("algorithm", list(ScramAlgorithm))
def test_unknown_user_fails_at_the_proof(algorithm: ScramAlgorithm) -> None:
    client = ScramClient([algorithm.mechanism], "nobody", "pencil")
    exchange, event = start(
        algorithm.mechanism, client.get_client_first().encode(), counting_nonces()
    )
    client.set_server_first(to_server_first(exchange, event, None).decode())
    event = exchange.receive_response(client.get_client_final().encode())
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.UNKNOWN_USER


# Nonces and replays


def rfc5802_at_client_final(config: SaslConfig | None = None) -> SaslExchange:
    config = config or fixed_nonce("3rfcNHYJY1ZVvWVs7j")
    exchange, event = start("SCRAM-SHA-1", RFC5802_CLIENT_FIRST, config)
    to_server_first(exchange, event, pencil(ScramAlgorithm.SHA_1))
    return exchange


@pytest.mark.parametrize(
    "nonce",
    [
        pytest.param(b"fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7X", id="server part changed"),
        pytest.param(b"fyko+d2lbbFgONRv9qkxdawL", id="client part only"),
        pytest.param(b"Xyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j", id="client part changed"),
        pytest.param(b"fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7jX", id="extended"),
    ],
)
def test_wrong_nonce(nonce: bytes) -> None:
    exchange = rfc5802_at_client_final()
    final, _ = scram_client_final(
        ScramAlgorithm.SHA_1,
        "pencil",
        gs2_header=b"n,,",
        client_first_bare=RFC5802_CLIENT_FIRST[3:],
        server_first=RFC5802_SERVER_FIRST,
        nonce=nonce,
    )
    event = exchange.receive_response(final)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


def test_replayed_client_final_on_a_finished_exchange() -> None:
    exchange = rfc5802_at_client_final()
    assert exchange.receive_response(RFC5802_CLIENT_FINAL) == Challenge(RFC5802_SERVER_FINAL)
    success = exchange.receive_response(b"")
    assert isinstance(success, Success)
    replay = exchange.receive_response(RFC5802_CLIENT_FINAL)
    assert isinstance(replay, Failure)
    assert replay.reason is FailureReason.MALFORMED
    assert exchange.outcome == success
    assert exchange.state is ExchangeState.SUCCEEDED


def test_replayed_client_final_in_a_new_exchange() -> None:
    """A captured proof is bound to the old server nonce (RFC 5802 §9)."""
    exchange = rfc5802_at_client_final(fixed_nonce("freshServerNonce"))
    event = exchange.receive_response(RFC5802_CLIENT_FINAL)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


def test_client_final_resent_after_final_challenge() -> None:
    """The final challenge must be answered empty (RFC 4954 §4)."""
    exchange = rfc5802_at_client_final()
    exchange.receive_response(RFC5802_CLIENT_FINAL)
    event = exchange.receive_response(RFC5802_CLIENT_FINAL)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


def test_cancel_at_final_challenge() -> None:
    exchange = rfc5802_at_client_final()
    exchange.receive_response(RFC5802_CLIENT_FINAL)
    event = exchange.cancel()
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.CANCELLED


def test_cancel_after_server_first() -> None:
    exchange = rfc5802_at_client_final()
    assert exchange.cancel() == Failure(FailureReason.CANCELLED, "client cancelled")


# Channel binding and authzid (RFC 5802 §6, §7)


def test_y_flag_is_accepted() -> None:
    """Client supports binding, thinks we do not: right, since we offer no -PLUS."""
    client_first = b"y,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    exchange, event = start("SCRAM-SHA-1", client_first, fixed_nonce("3rfcNHYJY1ZVvWVs7j"))
    server_first = to_server_first(exchange, event, pencil(ScramAlgorithm.SHA_1))
    final, verifier = scram_client_final(
        ScramAlgorithm.SHA_1,
        "pencil",
        gs2_header=b"y,,",
        client_first_bare=client_first[3:],
        server_first=server_first,
    )
    assert final.startswith(b"c=eSws,")
    assert exchange.receive_response(final) == Challenge(verifier)


def test_channel_binding_input_must_match_gs2_header() -> None:
    exchange = rfc5802_at_client_final()
    final, _ = scram_client_final(
        ScramAlgorithm.SHA_1,
        "pencil",
        gs2_header=b"n,,",
        client_first_bare=RFC5802_CLIENT_FIRST[3:],
        server_first=RFC5802_SERVER_FIRST,
        cbind_input=b"y,,",
    )
    event = exchange.receive_response(final)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


@pytest.mark.parametrize("flag", [b"p=tls-unique", b"p=tls-exporter", b"p=tls-server-end-point"])
def test_channel_binding_request_is_refused(flag: bytes) -> None:
    _, event = start("SCRAM-SHA-256", flag + b",,n=user,r=abc", counting_nonces())
    assert event == Failure(FailureReason.MALFORMED, "SCRAM channel binding not supported")


@pytest.mark.parametrize("authzid", [b"a=user", b"a=admin"])
def test_authzid_is_refused(authzid: bytes) -> None:
    _, event = start("SCRAM-SHA-256", b"n," + authzid + b",n=user,r=abc", counting_nonces())
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.AUTHZID_NOT_ALLOWED


# Malformed messages


@pytest.mark.parametrize(
    "client_first",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"n", id="flag only"),
        pytest.param(b"n,", id="one comma"),
        pytest.param(b"n,,", id="header only"),
        pytest.param(b"x,,n=user,r=abc", id="bad flag"),
        pytest.param(b"N,,n=user,r=abc", id="upper-case flag"),
        pytest.param(b"n,b=user,n=user,r=abc", id="authzid without a="),
        pytest.param(b"n,,n=user", id="no nonce"),
        pytest.param(b"n,,r=abc", id="no user"),
        pytest.param(b"n,,r=abc,n=user", id="attributes swapped"),
        pytest.param(b"n,,n=,r=abc", id="empty user"),
        pytest.param(b"n,,n=us=er,r=abc", id="bad escape"),
        pytest.param(b"n,,n=user,r=", id="empty nonce"),
        pytest.param(b"n,,n=user,r=ab\x7fc", id="nonce with DEL"),
        pytest.param(b"n,,m=ext,n=user,r=abc", id="mandatory extension"),
        pytest.param(b"n,,n=user,n=user,r=abc", id="duplicate attribute"),
        pytest.param(b"n,,n=u\x00ser,r=abc", id="NUL"),
        pytest.param(b"n,,n=\xff,r=abc", id="invalid UTF-8"),
        pytest.param(b"n,,n=\xe2\x80\xaeuser,r=abc", id="SASLprep-prohibited user"),
        pytest.param(b"n,,n=user,r=abc,", id="trailing comma"),
    ],
)
def test_malformed_client_first(client_first: bytes) -> None:
    exchange, event = start("SCRAM-SHA-256", client_first, counting_nonces())
    assert isinstance(event, Failure), event
    assert event.reason is FailureReason.MALFORMED
    assert exchange.state is ExchangeState.FAILED


NONCE = b"fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"


@pytest.mark.parametrize(
    ("client_final", "reason"),
    [
        pytest.param(b"", FailureReason.MALFORMED, id="empty"),
        pytest.param(b"garbage", FailureReason.MALFORMED, id="garbage"),
        pytest.param(b"c=biws,r=" + NONCE, FailureReason.MALFORMED, id="no proof"),
        pytest.param(b"c=biws,r=" + NONCE + b",p=", FailureReason.MALFORMED, id="empty proof"),
        pytest.param(b"c=biws,r=" + NONCE + b",p=!!!!", FailureReason.MALFORMED, id="proof !b64"),
        pytest.param(b"c=b%ws,r=" + NONCE + b",p=AAAA", FailureReason.MALFORMED, id="c= !b64"),
        pytest.param(b"r=" + NONCE + b",c=biws,p=AAAA", FailureReason.MALFORMED, id="out of order"),
        pytest.param(b"c=biws,r=" + NONCE + b",p=AAAA", FailureReason.BAD_CREDENTIALS, id="short"),
        pytest.param(
            b"c=biws,r=" + NONCE + b",p=" + b64encode(bytes(20)),
            FailureReason.BAD_CREDENTIALS,
            id="zero proof",
        ),
        pytest.param(RFC5802_CLIENT_FINAL + b"\x00", FailureReason.MALFORMED, id="NUL"),
        pytest.param(RFC5802_CLIENT_FINAL[:-1] + b"\xff", FailureReason.MALFORMED, id="!UTF-8"),
    ],
)
def test_malformed_client_final(client_final: bytes, reason: FailureReason) -> None:
    exchange = rfc5802_at_client_final()
    event = exchange.receive_response(client_final)
    assert isinstance(event, Failure), event
    assert event.reason is reason
    assert exchange.state is ExchangeState.FAILED


def test_empty_initial_response_is_malformed() -> None:
    """IMAP ``AUTHENTICATE SCRAM-SHA-256 =`` sends an empty client-first."""
    _, event = start("SCRAM-SHA-256", b"", counting_nonces())
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


# The service's side


def test_unusable_stored_keys_fail_as_temporary() -> None:
    exchange, event = start("SCRAM-SHA-256", RFC7677_CLIENT_FIRST, counting_nonces())
    sha1_keys = pencil(ScramAlgorithm.SHA_1)
    event = exchange.scram_keys(sha1_keys)
    assert event == Failure(FailureReason.TEMPORARY, "stored SCRAM keys do not fit SCRAM-SHA-256")


def test_service_failed_while_fetching_keys() -> None:
    exchange, _ = start("SCRAM-SHA-256", RFC7677_CLIENT_FIRST, counting_nonces())
    event = exchange.service_failed()
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.TEMPORARY


def test_keys_answered_when_not_asked() -> None:
    exchange = rfc5802_at_client_final()
    with pytest.raises(SaslStateError):
        exchange.scram_keys(None)


def test_password_result_during_scram_is_a_local_error() -> None:
    exchange, _ = start("SCRAM-SHA-256", RFC7677_CLIENT_FIRST, counting_nonces())
    with pytest.raises(SaslStateError):
        exchange.password_result(True)


@pytest.mark.parametrize("nonce", ["", "a,b", "caf\u00e9", "sp ace"])
def test_bad_nonce_source_is_a_local_error(nonce: str) -> None:
    exchange, _ = start("SCRAM-SHA-256", RFC7677_CLIENT_FIRST, fixed_nonce(nonce))
    with pytest.raises(SaslError):
        exchange.scram_keys(None)


def test_server_nonces_are_fresh_by_default() -> None:
    config = SaslConfig(server_secret=SECRET)
    nonces = set()
    for _ in range(3):
        exchange, event = start("SCRAM-SHA-256", RFC7677_CLIENT_FIRST, config)
        nonces.add(attributes(to_server_first(exchange, event, None))["r"])
    assert len(nonces) == 3
