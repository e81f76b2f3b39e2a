"""Deriving and checking stored SCRAM credentials (RFC 5802 §3)."""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64decode

import pytest

from roost.proto.sasl import (
    DEFAULT_SCRAM_ITERATIONS,
    ScramAlgorithm,
    ScramCredentials,
    ScramPasswordRejected,
    derive_all_scram_credentials,
    derive_scram_credentials,
)
from roost.proto.sasl.credentials import SCRAM_SALT_OCTETS, fake_scram_credentials

RFC5802_SALT = b64decode("QSXCR+Q6sek8bf92")


def expected(algorithm: ScramAlgorithm, password: str, salt: bytes, i: int) -> tuple[bytes, bytes]:
    """StoredKey and ServerKey straight from RFC 5802 §3, with hashlib."""
    name = {ScramAlgorithm.SHA_1: "sha1", ScramAlgorithm.SHA_256: "sha256"}[algorithm]
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, i)
    client_key = hmac.digest(salted, b"Client Key", name)
    return hashlib.new(name, client_key).digest(), hmac.digest(salted, b"Server Key", name)


@pytest.mark.parametrize("algorithm", list(ScramAlgorithm))
def test_derive_matches_rfc5802_definitions(algorithm: ScramAlgorithm) -> None:
    credentials = derive_scram_credentials("pencil", algorithm, salt=RFC5802_SALT)
    stored_key, server_key = expected(algorithm, "pencil", RFC5802_SALT, 4096)
    assert credentials == ScramCredentials(RFC5802_SALT, 4096, stored_key, server_key)
    assert credentials.problem(algorithm) is None


def test_derive_applies_saslprep() -> None:
    """RFC 4013 §3: SOFT HYPHEN maps to nothing."""
    a = derive_scram_credentials("pen\u00adcil", ScramAlgorithm.SHA_256, salt=RFC5802_SALT)
    b = derive_scram_credentials("pencil", ScramAlgorithm.SHA_256, salt=RFC5802_SALT)
    assert a == b


def test_derive_all() -> None:
    keys = derive_all_scram_credentials("pencil")
    assert set(keys) == set(ScramAlgorithm)
    assert keys[ScramAlgorithm.SHA_1].salt != keys[ScramAlgorithm.SHA_256].salt
    for algorithm, credentials in keys.items():
        assert credentials.iterations == DEFAULT_SCRAM_ITERATIONS
        assert len(credentials.salt) == SCRAM_SALT_OCTETS
        assert len(credentials.stored_key) == algorithm.digest_octets
        assert credentials.problem(algorithm) is None
        assert (credentials.stored_key, credentials.server_key) == expected(
            algorithm, "pencil", credentials.salt, DEFAULT_SCRAM_ITERATIONS
        )


def test_derive_with_more_iterations() -> None:
    credentials = derive_scram_credentials("pencil", ScramAlgorithm.SHA_256, iterations=10_000)
    assert credentials.iterations == 10_000


@pytest.mark.parametrize(
    ("password", "kwargs"),
    [
        ("bell\x07", {}),
        ("\u202epencil", {}),
        ("pencil", {"iterations": 1000}),
        ("pencil", {"salt": b"short"}),
    ],
)
def test_derive_rejects(password: str, kwargs: dict[str, int | bytes]) -> None:
    with pytest.raises(ScramPasswordRejected):
        derive_scram_credentials(password, ScramAlgorithm.SHA_256, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        (ScramCredentials(b"s" * 11, 4096, bytes(32), bytes(32)), "salt shorter"),
        (ScramCredentials(b"s" * 16, 4095, bytes(32), bytes(32)), "iteration count"),
        (ScramCredentials(b"s" * 16, 4096, bytes(20), bytes(32)), "do not fit"),
        (ScramCredentials(b"s" * 16, 4096, bytes(32), bytes(20)), "do not fit"),
    ],
)
def test_problem(credentials: ScramCredentials, problem: str) -> None:
    found = credentials.problem(ScramAlgorithm.SHA_256)
    assert found is not None
    assert problem in found


def test_credentials_repr_hides_keys() -> None:
    credentials = ScramCredentials(b"salt" * 4, 4096, b"\x01" * 32, b"\x02" * 32)
    assert repr(b"\x01" * 32) not in repr(credentials)
    assert repr(b"\x02" * 32) not in repr(credentials)


def test_fake_credentials() -> None:
    def fake(user: str, secret: bytes = b"a" * 32) -> ScramCredentials:
        return fake_scram_credentials(
            ScramAlgorithm.SHA_1, user, server_secret=secret, iterations=4096
        )

    assert fake("nobody") == fake("nobody")
    assert fake("nobody").salt != fake("nobody2").salt
    assert fake("nobody").salt != fake("nobody", b"b" * 32).salt
    assert len(fake("nobody").salt) == SCRAM_SALT_OCTETS
    assert fake("nobody").problem(ScramAlgorithm.SHA_1) is None
