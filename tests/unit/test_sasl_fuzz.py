"""Properties: no input crashes an exchange; valid input round-trips.

Hypothesis keeps no example database here (``database=None``) so that a
test run writes nothing into the shared tree.
"""

from __future__ import annotations

from base64 import b64decode, b64encode

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scramp import ScramClient, ScramException
from scramp.utils import saslprep

from roost.proto.sasl import (
    Challenge,
    Event,
    Failure,
    NeedPassword,
    NeedScramKeys,
    SaslConfig,
    SaslExchange,
    ScramAlgorithm,
    Success,
    derive_scram_credentials,
)

SECRET = b"fuzz-secret-0123456789abcdef"
EVENT_TYPES = (Challenge, NeedPassword, NeedScramKeys, Success, Failure)
MECHANISMS = ["PLAIN", "login", "SCRAM-SHA-1", "scram-sha-256", "SCRAM-SHA-256", "CRAM-MD5"]
CREDENTIALS = {
    algorithm: derive_scram_credentials("pencil", algorithm, salt=b"0123456789abcdef")
    for algorithm in ScramAlgorithm
}

FRAGMENTS = [
    b"n", b"y", b"p=tls-unique", b",", b",,", b"a=", b"n=", b"r=", b"c=", b"p=", b"s=",
    b"i=", b"v=", b"m=", b"e=", b"biws", b"eSws", b"user", b"=2C", b"=3D", b"=", b"\x00",
    b"\xff", b"\xc3", b"\xe2\x80\xae", b"fyko+d2lbbFgONRv9qkxdawL", b"srv", b"AAAA",
    b"v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", b"4096", b"\r\n", b" ",
]  # fmt: skip
scram_like = st.lists(st.sampled_from(FRAGMENTS), max_size=16).map(b"".join)
CLIENT_NONCES = [b"abc", b"fyko+d2lbbFgONRv9qkxdawL"]


def some(*choices: bytes) -> st.SearchStrategy[bytes]:
    """Mostly one of `choices`, sometimes junk."""
    valid = st.sampled_from(choices)
    return st.one_of(valid, valid, valid, st.binary(max_size=6))


# Valid and near-valid SCRAM messages (RFC 5802 §7), so that fuzzing gets
# past client-first into the keys and client-final states.
valid_first = st.tuples(
    st.sampled_from([b"n", b"y"]),
    st.sampled_from([b"user", b"us=2Cer", b"\xc3\xa9"]),
    st.sampled_from(CLIENT_NONCES),
    st.sampled_from([b"", b",x=ext"]),
).map(lambda p: p[0] + b",,n=" + p[1] + b",r=" + p[2] + p[3])
near_first = st.tuples(
    some(b"n", b"y", b"p=tls-unique"),
    some(b"", b"a=user"),
    some(b"user", b"us=2Cer", b""),
    some(*CLIENT_NONCES),
    some(b"", b",x=ext", b",m=x"),
).map(lambda p: p[0] + b"," + p[1] + b",n=" + p[2] + b",r=" + p[3] + p[4])
client_first = valid_first | near_first
client_final = st.tuples(
    some(b"biws", b"eSws", b"cD10bHMtdW5pcXVlLCw="),
    some(*(n + b"srv" for n in CLIENT_NONCES)),
    some(b"", b",x=1"),
    st.binary(min_size=20, max_size=20).map(b64encode) | some(b"", b"!!!!"),
).map(lambda p: b"c=" + p[0] + b",r=" + p[1] + p[2] + b",p=" + p[3])
payloads = st.one_of(st.binary(max_size=300), scram_like, client_first, client_final, client_final)
CANCEL = None
client_inputs = st.lists(st.one_of(payloads, st.just(CANCEL)), max_size=8)


def config() -> SaslConfig:
    return SaslConfig(server_secret=SECRET, max_response_octets=256, nonce_source=lambda: "srv")


def check(event: Event, exchange: SaslExchange, was_finished: bool, outcome: Event | None) -> None:
    assert isinstance(event, EVENT_TYPES)
    if was_finished:
        assert exchange.outcome == outcome
    elif isinstance(event, Success | Failure):
        assert exchange.state.finished
        assert exchange.outcome == event
    else:
        assert not exchange.state.finished


@settings(database=None, deadline=None, max_examples=400)
@given(
    mechanism=st.sampled_from(MECHANISMS),
    initial=st.none() | payloads | valid_first,
    tls=st.booleans(),
    success_data_allowed=st.booleans(),
    inputs=client_inputs,
    data=st.data(),
)
def test_any_input_in_any_state_yields_events_only(
    mechanism: str,
    initial: bytes | None,
    tls: bool,
    success_data_allowed: bool,
    inputs: list[bytes | None],
    data: st.DataObject,
) -> None:
    exchange, event = SaslExchange.start(
        mechanism,
        initial,
        config=config(),
        tls=tls,
        allow_plaintext=False,
        success_data_allowed=success_data_allowed,
    )
    check(event, exchange, False, None)
    for item in inputs:
        was_finished, outcome = exchange.state.finished, exchange.outcome
        # Let the service answer whatever it was asked, as a service would.
        match event:
            case NeedPassword():
                event = exchange.password_result(data.draw(st.booleans()))
            case NeedScramKeys(algorithm=algorithm):
                answer = data.draw(st.sampled_from(["keys", "unknown", "failed"]))
                if answer == "failed":
                    event = exchange.service_failed()
                else:
                    event = exchange.scram_keys(
                        CREDENTIALS[algorithm] if answer == "keys" else None
                    )
            case _:
                event = exchange.cancel() if item is CANCEL else exchange.receive_response(item)
        check(event, exchange, was_finished, outcome)


@settings(database=None, deadline=None, max_examples=300)
@given(
    algorithm=st.sampled_from(list(ScramAlgorithm)),
    first=valid_first,
    known=st.booleans(),
    success_data_allowed=st.booleans(),
    inputs=st.lists(client_final | payloads | st.just(CANCEL), min_size=1, max_size=4),
)
def test_scram_after_server_first_any_input_yields_events_only(
    algorithm: ScramAlgorithm,
    first: bytes,
    known: bool,
    success_data_allowed: bool,
    inputs: list[bytes | None],
) -> None:
    exchange, event = SaslExchange.start(
        algorithm.mechanism,
        first,
        config=config(),
        tls=False,
        allow_plaintext=False,
        success_data_allowed=success_data_allowed,
    )
    assert isinstance(event, NeedScramKeys)
    event = exchange.scram_keys(CREDENTIALS[algorithm] if known else None)
    assert isinstance(event, Challenge)
    for item in inputs:
        was_finished, outcome = exchange.state.finished, exchange.outcome
        event = exchange.cancel() if item is CANCEL else exchange.receive_response(item)
        check(event, exchange, was_finished, outcome)
        assert not isinstance(event, Success), "a random proof authenticated"


RFC5802_CLIENT_FIRST = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
RFC5802_CLIENT_FINAL = (
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
)
RFC5802_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
RFC5802_KEYS = derive_scram_credentials(
    "pencil", ScramAlgorithm.SHA_1, salt=b64decode("QSXCR+Q6sek8bf92")
)


def same_meaning(message: bytes) -> bool:
    """Does `message` say what RFC5802_CLIENT_FINAL says, base64 aside?"""
    try:
        parts = dict(part.split(b"=", 1) for part in message.split(b","))
        return parts.keys() == {b"c", b"r", b"p"} and (
            b64decode(parts[b"c"], validate=True),
            parts[b"r"],
            b64decode(parts[b"p"], validate=True),
        ) == (
            b"n,,",
            b"fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
            b64decode(b"v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
        )
    except ValueError:
        return False


@settings(database=None, deadline=None, max_examples=400)
@given(data=st.data())
def test_mutated_client_final_fails(data: st.DataObject) -> None:
    """A changed proof, nonce or binding never authenticates (RFC 5802 §9)."""
    message = bytearray(RFC5802_CLIENT_FINAL)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(message)))
        match data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"])):
            case "replace" if at < len(message):
                message[at] = data.draw(st.integers(0, 255))
            case "insert":
                message[at:at] = data.draw(st.binary(min_size=1, max_size=4))
            case "delete":
                del message[at : at + data.draw(st.integers(1, 4))]
            case _:
                del message[at:]
    exchange, _ = SaslExchange.start(
        "SCRAM-SHA-1",
        RFC5802_CLIENT_FIRST,
        config=SaslConfig(server_secret=SECRET, nonce_source=lambda: "3rfcNHYJY1ZVvWVs7j"),
        tls=False,
        allow_plaintext=False,
    )
    exchange.scram_keys(RFC5802_KEYS)
    event = exchange.receive_response(bytes(message))
    if same_meaning(bytes(message)):
        # Base64 ignores a final character's unused bits, so some edits keep the proof.
        assert event == Challenge(RFC5802_SERVER_FINAL)
    else:
        assert isinstance(event, Failure)


# Latin and Greek: no bidi characters, all assigned in Unicode 3.2 (RFC 4013 §2-6).
prepable = st.characters(categories=["L", "M", "N", "P", "S", "Zs"], max_codepoint=0x3FF)


@settings(
    database=None, deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    algorithm=st.sampled_from(list(ScramAlgorithm)),
    username=st.text(prepable, min_size=1, max_size=12),
    password=st.text(prepable, min_size=1, max_size=12),
)
def test_scram_round_trip_with_any_credentials(
    algorithm: ScramAlgorithm, username: str, password: str
) -> None:
    try:
        client = ScramClient([algorithm.mechanism], username, password)
    except ScramException:
        assume(False)
        raise
    credentials = derive_scram_credentials(password, algorithm)
    exchange, event = SaslExchange.start(
        algorithm.mechanism,
        client.get_client_first().encode(),
        config=SaslConfig(server_secret=SECRET),
        tls=False,
        allow_plaintext=False,
        success_data_allowed=True,
    )
    assert event == NeedScramKeys(algorithm=algorithm, authcid=saslprep(username))
    server_first = exchange.scram_keys(credentials)
    assert isinstance(server_first, Challenge)
    client.set_server_first(server_first.data.decode())
    success = exchange.receive_response(client.get_client_final().encode())
    assert isinstance(success, Success)
    assert success.final_data is not None
    client.set_server_final(success.final_data.decode())


safe_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)


@settings(database=None, deadline=None)
@given(authcid=safe_text, password=safe_text, repeat_authcid=st.booleans())
def test_plain_message_round_trip(authcid: str, password: str, repeat_authcid: bool) -> None:
    """Building an RFC 4616 §2 message and parsing it gives the fields back."""
    authzid = authcid if repeat_authcid else ""
    message = "\x00".join((authzid, authcid, password)).encode()
    _, event = SaslExchange.start(
        "PLAIN", message, config=SaslConfig(server_secret=SECRET), tls=True, allow_plaintext=False
    )
    assert event == NeedPassword(authzid=authzid, authcid=authcid, password=password)
