"""SCRAM credentials: what the directory stores instead of a password.

RFC 5802 §3 lets a server keep, per user and hash function, only
``salt``, the iteration count ``i``, ``StoredKey = H(ClientKey)`` and
``ServerKey = HMAC(SaltedPassword, "Server Key")``. With them the server can
check a client's proof and prove itself, but cannot log in as the user
anywhere else. The directory derives them when a password is set, once per
`ScramAlgorithm`, with `derive_scram_credentials`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from scramp import ScramException, ScramMechanism

from roost.proto.sasl.errors import ScramPasswordRejected

MIN_SCRAM_ITERATIONS = 4096
"""RFC 7677 §4: "at least 4096"; also the lowest count scramp accepts."""

DEFAULT_SCRAM_ITERATIONS = MIN_SCRAM_ITERATIONS
"""What keys are derived with unless the directory asks for more."""

MAX_SCRAM_ITERATIONS = 10_000_000
"""scramp refuses more, as a guard against a server doing unbounded work."""

SCRAM_SALT_OCTETS = 32
"""Length of the salts we make; scramp's own default, well above its 12."""

MIN_SCRAM_SALT_OCTETS = 12
"""scramp refuses shorter salts."""


class ScramAlgorithm(enum.Enum):
    """A hash function SCRAM runs over, named as in its SASL mechanism."""

    SHA_1 = "SCRAM-SHA-1"
    """RFC 5802."""
    SHA_256 = "SCRAM-SHA-256"
    """RFC 7677."""

    @property
    def mechanism(self) -> str:
        """The SASL mechanism name (RFC 5802 §4, RFC 7677 §2)."""
        return self.value

    @property
    def digest_octets(self) -> int:
        """Length of StoredKey and ServerKey for this hash."""
        return hashlib.new(self._hashlib_name).digest_size

    @property
    def _hashlib_name(self) -> str:
        return "sha1" if self is ScramAlgorithm.SHA_1 else "sha256"


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """Stored SCRAM keys of one user for one `ScramAlgorithm` (RFC 5802 §3).

    The keys are secret (``ServerKey`` lets its holder impersonate the
    server), so they stay out of ``repr``.
    """

    salt: bytes
    iterations: int
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    def problem(self, algorithm: ScramAlgorithm) -> str | None:
        """Say why these credentials cannot serve `algorithm`, or None."""
        if len(self.salt) < MIN_SCRAM_SALT_OCTETS:
            return f"stored SCRAM salt shorter than {MIN_SCRAM_SALT_OCTETS} octets"
        if not MIN_SCRAM_ITERATIONS <= self.iterations <= MAX_SCRAM_ITERATIONS:
            return "stored SCRAM iteration count out of range"
        size = algorithm.digest_octets
        if len(self.stored_key) != size or len(self.server_key) != size:
            return f"stored SCRAM keys do not fit {algorithm.mechanism}"
        return None


def derive_scram_credentials(
    password: str,
    algorithm: ScramAlgorithm,
    *,
    iterations: int = DEFAULT_SCRAM_ITERATIONS,
    salt: bytes | None = None,
) -> ScramCredentials:
    """Derive the keys to store for `password` (RFC 5802 §3).

    The password is prepared with SASLprep as RFC 5802 §2.2 requires. A
    fresh random salt is drawn unless one is given (tests give the RFC's).

    Raises:
        ScramPasswordRejected: SASLprep refuses the password, or the
            iteration count or salt is out of the range scramp accepts.
    """
    try:
        salt_out, stored_key, server_key, i = ScramMechanism(algorithm.mechanism).make_auth_info(
            password, iteration_count=iterations, salt=salt
        )
    except ScramException as e:
        raise ScramPasswordRejected(f"cannot derive {algorithm.mechanism} keys: {e}") from e
    return ScramCredentials(
        salt=bytes(salt_out),
        iterations=int(i),
        stored_key=bytes(stored_key),
        server_key=bytes(server_key),
    )


def derive_all_scram_credentials(
    password: str, *, iterations: int = DEFAULT_SCRAM_ITERATIONS
) -> Mapping[ScramAlgorithm, ScramCredentials]:
    """Derive credentials for every `ScramAlgorithm`, each with its own salt."""
    return {
        algorithm: derive_scram_credentials(password, algorithm, iterations=iterations)
        for algorithm in ScramAlgorithm
    }


def fake_scram_credentials(
    algorithm: ScramAlgorithm, authcid: str, *, server_secret: bytes, iterations: int
) -> ScramCredentials:
    """Credentials for a user who does not exist (RFC 5802 §5.1, "e=").

    The salt is a keyed hash of the user name, so asking twice for the same
    unknown user shows the same salt, as a real account would; it has the
    length of the salts `derive_scram_credentials` makes. The keys are
    keyed hashes too: nobody knows a password that matches them, and the
    exchange refuses the proof anyway.
    """

    def prf(label: bytes, size: int) -> bytes:
        message = b"\0".join(
            (b"roost-sasl-fake", label, algorithm.value.encode(), authcid.encode())
        )
        return hmac.digest(server_secret, message, "sha256")[:size]

    size = algorithm.digest_octets
    return ScramCredentials(
        salt=prf(b"salt", SCRAM_SALT_OCTETS),
        iterations=iterations,
        stored_key=prf(b"stored-key", size),
        server_key=prf(b"server-key", size),
    )
