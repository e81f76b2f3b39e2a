"""Settings shared by every SASL exchange of one service."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from roost.proto.sasl.credentials import (
    DEFAULT_SCRAM_ITERATIONS,
    MAX_SCRAM_ITERATIONS,
    MIN_SCRAM_ITERATIONS,
)
from roost.proto.sasl.errors import SaslError

MAX_RESPONSE_OCTETS = 12_288
"""RFC 4954 §4: an AUTH line may be 12288 octets; a decoded response is
shorter, so this bound never refuses a response the line limit admits."""

MIN_SERVER_SECRET_OCTETS = 16
"""A 128-bit key for the fake-salt PRF."""

SCRAM_NONCE_OCTETS = 18
"""Random octets in a server nonce: 144 bits, 24 base64url characters."""


class NonceSource(Protocol):
    """Makes the server part of a SCRAM nonce (RFC 5802 §5.1 "r=").

    It must return printable ASCII without commas (RFC 5802 §7 "c-nonce"),
    fresh on every call. Tests inject a fixed one to replay RFC examples.
    """

    def __call__(self) -> str: ...


def random_nonce() -> str:
    """A fresh server nonce from the OS random source."""
    return secrets.token_urlsafe(SCRAM_NONCE_OCTETS)


@dataclass(frozen=True, slots=True)
class SaslConfig:
    """What a service fixes once for all its SASL exchanges.

    ``server_secret`` keys the fake salts shown for unknown users
    (RFC 5802 §5.1): it must persist across restarts, or the salt of an
    unknown user would change with each restart while a real user's stays,
    telling the two apart. ``fake_iterations`` must equal the count the
    directory derives keys with, for the same reason.
    """

    server_secret: bytes = field(repr=False)
    max_response_octets: int = MAX_RESPONSE_OCTETS
    fake_iterations: int = DEFAULT_SCRAM_ITERATIONS
    nonce_source: NonceSource = random_nonce

    def __post_init__(self) -> None:
        if len(self.server_secret) < MIN_SERVER_SECRET_OCTETS:
            raise SaslError(f"SASL server secret must have {MIN_SERVER_SECRET_OCTETS}+ octets")
        if self.max_response_octets < 1:
            raise SaslError("SASL max_response_octets must be positive")
        if not MIN_SCRAM_ITERATIONS <= self.fake_iterations <= MAX_SCRAM_ITERATIONS:
            raise SaslError(
                f"SASL fake_iterations must lie in {MIN_SCRAM_ITERATIONS}..{MAX_SCRAM_ITERATIONS}"
            )
