"""TOTP (RFC 6238) and HOTP (RFC 4226) against the RFCs' own test values."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control import totp

RFC_KEY = b"12345678901234567890"
RFC_SECRET = base64.b32encode(RFC_KEY).decode()


def test_hotp_values_of_rfc_4226_appendix_d() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314"]
    expected += ["254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(RFC_KEY, n) for n in range(10)] == expected


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_values_of_rfc_6238_appendix_b(unix_time: int, code: str) -> None:
    assert totp.hotp(RFC_KEY, totp.step_at(unix_time), digits=8) == code


def test_verify_takes_one_step_either_side_and_returns_it() -> None:
    now = 1_700_000_000.0
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, now + offset * totp.STEP_S)
        assert totp.verify(RFC_SECRET, code, now, window=1) == step + offset
    for offset in (-2, 2):
        code = totp.code_at(RFC_SECRET, now + offset * totp.STEP_S)
        assert totp.verify(RFC_SECRET, code, now, window=1) is None
    assert totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now + 30), now, window=0) is None


def test_typed_codes_may_have_spaces_but_nothing_else() -> None:
    code = totp.code_at(RFC_SECRET, 1000)
    assert totp.verify(RFC_SECRET, f"{code[:3]} {code[3:]}", 1000, 1) is not None
    for bad in ("", "12345", "1234567", "12a456", "١٢٣٤٥٦", "1" * 100):
        assert totp.verify(RFC_SECRET, bad, 1000, 1) is None


def test_secrets_and_uri() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()
    assert len(base64.b32decode(secret)) == totp.SECRET_OCTETS
    uri = totp.otpauth_uri(secret, "Roost Mail", "ad min")
    assert uri == (
        f"otpauth://totp/Roost%20Mail%3Aad%20min?secret={secret}"
        "&issuer=Roost%20Mail&algorithm=SHA1&digits=6&period=30"
    )


@given(st.text(max_size=40))
def test_no_input_crashes_verify(code: str) -> None:
    totp.verify(RFC_SECRET, code, 1_700_000_000, 1)
