"""PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) exchanges."""

from __future__ import annotations

import pytest

from roost.proto.sasl import (
    Challenge,
    Event,
    ExchangeState,
    Failure,
    FailureReason,
    NeedPassword,
    SaslConfig,
    SaslExchange,
    SaslStateError,
    Success,
)
from roost.proto.sasl.login import PASSWORD_PROMPT, USERNAME_PROMPT


def start(mechanism: str, initial: bytes | None = None) -> tuple[SaslExchange, Event]:
    config = SaslConfig(server_secret=b"k" * 32)
    return SaslExchange.start(mechanism, initial, config=config, tls=True, allow_plaintext=False)


# PLAIN


def test_rfc4616_example_without_initial_response() -> None:
    """RFC 4616 §4, first example: empty challenge, then NUL tim NUL tanstaaftanstaaf."""
    exchange, event = start("PLAIN")
    assert event == Challenge(b"")
    event = exchange.receive_response(b"\x00tim\x00tanstaaftanstaaf")
    assert event == NeedPassword(authzid="", authcid="tim", password="tanstaaftanstaaf")
    assert exchange.state is ExchangeState.AWAITING_PASSWORD
    success = exchange.password_result(True)
    assert success == Success(authzid="", authcid="tim")
    assert exchange.outcome is success


def test_rfc4616_example_authzid_not_allowed() -> None:
    """RFC 4616 §4, second example: Kurt may not act as Ursel."""
    exchange, event = start("PLAIN", b"Ursel\x00Kurt\x00xipj3plmq")
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.AUTHZID_NOT_ALLOWED
    assert exchange.state is ExchangeState.FAILED


def test_plain_authzid_equal_to_authcid_is_allowed() -> None:
    exchange, event = start("plain", b"tim\x00tim\x00secret")
    assert event == NeedPassword(authzid="tim", authcid="tim", password="secret")
    success = exchange.password_result(True)
    assert success == Success(authzid="tim", authcid="tim")
    assert isinstance(success, Success)
    assert success.identity == "tim"


def test_plain_wrong_password() -> None:
    exchange, _ = start("PLAIN", b"\x00tim\x00wrong")
    event = exchange.password_result(False)
    assert event == Failure(FailureReason.BAD_CREDENTIALS, "password wrong")
    assert exchange.outcome == event


def test_plain_accepts_utf8_fields_unnormalised() -> None:
    message = "\x00jürgen\x00pa\u0301sswörd".encode()
    _, event = start("PLAIN", message)
    assert event == NeedPassword(authzid="", authcid="jürgen", password="pa\u0301sswörd")


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(b"", id="empty (IMAP '=')"),
        pytest.param(b"tim", id="no NUL"),
        pytest.param(b"\x00tim", id="one NUL"),
        pytest.param(b"\x00tim\x00", id="empty password"),
        pytest.param(b"\x00\x00secret", id="empty authcid"),
        pytest.param(b"a\x00b\x00c\x00d", id="NUL inside password"),
        pytest.param(b"\x00tim\x00\xff", id="invalid UTF-8"),
        pytest.param(b"\x00\xc0\xaf\x00pw", id="overlong UTF-8"),
        pytest.param(b"\x00\xed\xa0\x80\x00pw", id="UTF-8 surrogate"),
        pytest.param(b"\xfe\x00tim\x00pw", id="invalid UTF-8 authzid"),
    ],
)
def test_plain_malformed(message: bytes) -> None:
    exchange, event = start("PLAIN", message)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED
    assert exchange.state is ExchangeState.FAILED


def test_plain_malformed_after_empty_challenge() -> None:
    exchange, _ = start("PLAIN")
    event = exchange.receive_response(b"\x00tim")
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


def test_plain_cancel() -> None:
    exchange, _ = start("PLAIN")
    assert exchange.cancel() == Failure(FailureReason.CANCELLED, "client cancelled")
    assert exchange.state is ExchangeState.FAILED


def test_need_password_repr_hides_password() -> None:
    _, event = start("PLAIN", b"\x00tim\x00hunter2")
    assert "hunter2" not in repr(event)


def test_password_result_twice_is_a_local_error() -> None:
    exchange, _ = start("PLAIN", b"\x00tim\x00secret")
    exchange.password_result(True)
    with pytest.raises(SaslStateError):
        exchange.password_result(True)


# LOGIN


def test_login_flow() -> None:
    exchange, event = start("LOGIN")
    assert event == Challenge(USERNAME_PROMPT) == Challenge(b"Username:")
    assert (
        exchange.receive_response(b"tim") == Challenge(PASSWORD_PROMPT) == Challenge(b"Password:")
    )
    event = exchange.receive_response(b"tanstaaf")
    assert event == NeedPassword(authzid="", authcid="tim", password="tanstaaf")
    assert exchange.password_result(True) == Success(authzid="", authcid="tim")


def test_login_with_initial_response_skips_username_prompt() -> None:
    """RFC 4954 §4: AUTH LOGIN <base64 user> is common."""
    exchange, event = start("login", b"tim")
    assert event == Challenge(b"Password:")
    assert exchange.receive_response(b"pw") == NeedPassword("", "tim", "pw")


def test_login_wrong_password() -> None:
    exchange, _ = start("LOGIN", b"tim")
    exchange.receive_response(b"wrong")
    event = exchange.password_result(False)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.BAD_CREDENTIALS


@pytest.mark.parametrize("username", [b"", b"ti\x00m", b"\xff"])
def test_login_bad_username(username: bytes) -> None:
    exchange, _ = start("LOGIN")
    event = exchange.receive_response(username)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


@pytest.mark.parametrize("password", [b"", b"p\x00w", b"\xc3"])
def test_login_bad_password(password: bytes) -> None:
    exchange, _ = start("LOGIN", b"tim")
    event = exchange.receive_response(password)
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.MALFORMED


def test_login_cancel_at_password_prompt() -> None:
    exchange, _ = start("LOGIN", b"tim")
    event = exchange.cancel()
    assert isinstance(event, Failure)
    assert event.reason is FailureReason.CANCELLED
