"""The exchange state machine: mechanism choice, limits, cancel, misuse."""

from __future__ import annotations

import dataclasses

import pytest

from roost.proto.sasl import (
    MAX_RESPONSE_OCTETS,
    Challenge,
    Event,
    ExchangeState,
    Failure,
    FailureReason,
    Mechanism,
    NeedPassword,
    SaslConfig,
    SaslError,
    SaslExchange,
    SaslStateError,
    Success,
    authzid_allowed,
    offered_mechanisms,
)

SECRET = b"k" * 32


def start(
    mechanism: str,
    initial: bytes | None = None,
    *,
    tls: bool = True,
    allow_plaintext: bool = False,
    max_octets: int = MAX_RESPONSE_OCTETS,
) -> tuple[SaslExchange, Event]:
    config = SaslConfig(server_secret=SECRET, max_response_octets=max_octets)
    return SaslExchange.start(
        mechanism, initial, config=config, tls=tls, allow_plaintext=allow_plaintext
    )


# Offering and choosing mechanisms


@pytest.mark.parametrize(
    ("tls", "allow_plaintext", "offered"),
    [
        (True, False, ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN")),
        (True, True, ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN")),
        (False, True, ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN")),
        (False, False, ("SCRAM-SHA-256", "SCRAM-SHA-1")),
    ],
)
def test_offered_mechanisms(tls: bool, allow_plaintext: bool, offered: tuple[str, ...]) -> None:
    assert offered_mechanisms(tls=tls, allow_plaintext=allow_plaintext) == offered


@pytest.mark.parametrize(
    ("name", "mechanism"),
    [
        ("PLAIN", Mechanism.PLAIN),
        ("plain", Mechanism.PLAIN),
        ("Login", Mechanism.LOGIN),
        ("scram-sha-256", Mechanism.SCRAM_SHA_256),
        ("SCRAM-SHA-1", Mechanism.SCRAM_SHA_1),
        ("SCRAM-SHA-256-PLUS", None),
        ("SCRAM-SHA-512", None),
        ("CRAM-MD5", None),
        ("", None),
        ("PLAIN ", None),
        ("pla\u0131n", None),  # dotless i upper-cases to I
        ("PLA\u0130N", None),
        ("X" * 21, None),
    ],
)
def test_mechanism_from_name(name: str, mechanism: Mechanism | None) -> None:
    assert Mechanism.from_name(name) is mechanism


def test_unknown_mechanism() -> None:
    exchange, event = start("CRAM-MD5", b"whatever")
    assert event == Failure(FailureReason.MECHANISM_UNKNOWN, "mechanism unknown")
    assert exchange.mechanism is None
    assert exchange.state is ExchangeState.FAILED
    assert exchange.outcome == event
    assert isinstance(exchange.receive_response(b"x"), Failure)


@pytest.mark.parametrize("name", ["PLAIN", "LOGIN"])
def test_password_mechanisms_need_tls(name: str) -> None:
    """RFC 4616 §4; RFC 4954 §4 reply 538."""
    _, event = start(name, tls=False, allow_plaintext=False)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.ENCRYPTION_REQUIRED


@pytest.mark.parametrize("name", ["PLAIN", "LOGIN"])
def test_password_mechanisms_where_plaintext_allowed(name: str) -> None:
    _, event = start(name, tls=False, allow_plaintext=True)
    assert isinstance(event, Challenge)


def test_scram_needs_no_tls() -> None:
    _, event = start("SCRAM-SHA-256", tls=False, allow_plaintext=False)
    assert event == Challenge(b"")


# Limits


def test_default_limit_is_the_rfc4954_line() -> None:
    assert MAX_RESPONSE_OCTETS == 12_288
    assert SaslConfig(server_secret=SECRET).max_response_octets == MAX_RESPONSE_OCTETS


def test_initial_response_at_the_limit_is_accepted() -> None:
    message = b"\x00tim\x00" + b"p" * (MAX_RESPONSE_OCTETS - 5)
    assert len(message) == MAX_RESPONSE_OCTETS
    _, event = start("PLAIN", message)
    assert isinstance(event, NeedPassword)


def test_initial_response_over_the_limit() -> None:
    message = b"\x00tim\x00" + b"p" * (MAX_RESPONSE_OCTETS - 4)
    _, event = start("PLAIN", message)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.RESPONSE_TOO_LONG


@pytest.mark.parametrize("name", ["PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_response_over_configured_limit(name: str) -> None:
    exchange, _ = start(name, max_octets=64)
    event = exchange.receive_response(b"n,,n=user,r=" + b"a" * 53)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.RESPONSE_TOO_LONG
    assert exchange.state is ExchangeState.FAILED


# Cancel and out-of-turn client input


@pytest.mark.parametrize("name", ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
def test_cancel_at_first_challenge(name: str) -> None:
    exchange, _ = start(name)
    assert exchange.cancel() == Failure(FailureReason.CANCELLED, "client cancelled")
    assert exchange.state is ExchangeState.FAILED


def test_cancel_while_service_checks_password() -> None:
    """XMPP's <abort/> may arrive at any time (RFC 6120 §6.4.4)."""
    exchange, _ = start("PLAIN", b"\x00tim\x00pw")
    event = exchange.cancel()
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.CANCELLED
    with pytest.raises(SaslStateError):
        exchange.password_result(True)


def test_response_while_service_checks_password() -> None:
    exchange, _ = start("PLAIN", b"\x00tim\x00pw")
    event = exchange.receive_response(b"\x00tim\x00pw")
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED
    assert exchange.state is ExchangeState.FAILED


def test_client_input_after_success_leaves_the_outcome() -> None:
    exchange, _ = start("PLAIN", b"\x00tim\x00pw")
    success = exchange.password_result(True)
    assert isinstance(exchange.cancel(), Failure)
    assert isinstance(exchange.receive_response(b"\x00tim\x00pw"), Failure)
    assert exchange.state is ExchangeState.SUCCEEDED
    assert exchange.outcome == success


def test_client_input_after_failure() -> None:
    exchange, first = start("PLAIN", b"nonsense")
    event = exchange.receive_response(b"\x00tim\x00pw")
    assert event == Failure(FailureReason.MALFORMED, "response after the exchange ended")
    assert exchange.outcome == first


# Service-side inputs


def test_service_failed_while_checking_password() -> None:
    exchange, _ = start("LOGIN", b"tim")
    exchange.receive_response(b"pw")
    assert exchange.service_failed() == Failure(FailureReason.TEMPORARY, "directory unavailable")


@pytest.mark.parametrize("call", ["password_result", "scram_keys", "service_failed"])
def test_service_input_while_awaiting_client_is_a_local_error(call: str) -> None:
    exchange, _ = start("PLAIN")
    with pytest.raises(SaslStateError):
        match call:
            case "password_result":
                exchange.password_result(True)
            case "scram_keys":
                exchange.scram_keys(None)
            case _:
                exchange.service_failed()


def test_state_error_is_a_sasl_error() -> None:
    assert issubclass(SaslStateError, SaslError)


# Values


def test_authzid_policy() -> None:
    assert authzid_allowed("", "tim")
    assert authzid_allowed("tim", "tim")
    assert not authzid_allowed("Tim", "tim")
    assert not authzid_allowed("admin", "tim")


def test_success_identity() -> None:
    assert Success(authzid="", authcid="tim").identity == "tim"
    assert Success(authzid="tim", authcid="tim").identity == "tim"


def test_events_are_frozen_and_slotted() -> None:
    event = Challenge(b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = b"y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_secret": b"short"},
        {"server_secret": SECRET, "max_response_octets": 0},
        {"server_secret": SECRET, "fake_iterations": 1000},
        {"server_secret": SECRET, "fake_iterations": 10_000_001},
    ],
)
def test_config_is_validated(kwargs: dict[str, bytes | int]) -> None:
    with pytest.raises(SaslError):
        SaslConfig(**kwargs)  # type: ignore[arg-type]


def test_config_repr_hides_the_secret() -> None:
    assert repr(SECRET) not in repr(SaslConfig(server_secret=SECRET))
