"""Which SASL mechanisms Roost knows, and which it offers on a connection.

RFC 4422 §3.1 names mechanisms with 1 to 20 characters of upper-case
letters, digits, hyphens and underscores; clients may send them in any case
(RFC 4954 §4, RFC 9051 §6.2.2 treat them case-insensitively).
"""

from __future__ import annotations

import enum
import re

from roost.proto.sasl.credentials import ScramAlgorithm

_MECHANISM_NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")


class Mechanism(enum.Enum):
    """A SASL mechanism Roost implements (server side)."""

    SCRAM_SHA_256 = "SCRAM-SHA-256"
    """RFC 7677."""
    SCRAM_SHA_1 = "SCRAM-SHA-1"
    """RFC 5802."""
    PLAIN = "PLAIN"
    """RFC 4616."""
    LOGIN = "LOGIN"
    """draft-murchison-sasl-login-00."""

    @property
    def reveals_password(self) -> bool:
        """True when the client sends the password itself (RFC 4616 §4)."""
        return self in (Mechanism.PLAIN, Mechanism.LOGIN)

    @property
    def scram_algorithm(self) -> ScramAlgorithm | None:
        """The SCRAM hash this mechanism runs, or None if it is not SCRAM."""
        match self:
            case Mechanism.SCRAM_SHA_256:
                return ScramAlgorithm.SHA_256
            case Mechanism.SCRAM_SHA_1:
                return ScramAlgorithm.SHA_1
            case _:
                return None

    @classmethod
    def from_name(cls, name: str) -> Mechanism | None:
        """Find a mechanism by name, ignoring ASCII case; None if unknown.

        Only ASCII is folded: ``str.upper`` would turn a dotless ``ı`` into
        ``I`` and so accept names that are not mechanism names at all.
        """
        if _MECHANISM_NAME.fullmatch(name) is None:
            return None
        try:
            return cls(name.upper())
        except ValueError:
            return None


def password_mechanisms_allowed(*, tls: bool, allow_plaintext: bool) -> bool:
    """Whether PLAIN and LOGIN may run on this connection (RFC 4616 §4).

    They send the password itself, so only under TLS, or where the
    administrator allowed plain text (DESIGN.md: loopback, development).
    """
    return tls or allow_plaintext


def offered_mechanisms(*, tls: bool, allow_plaintext: bool) -> tuple[str, ...]:
    """Mechanism names to advertise, strongest first.

    SCRAM never reveals the password and is always offered; PLAIN and LOGIN
    only under `password_mechanisms_allowed` (RFC 4954 §4, RFC 4616 §4).
    The ``-PLUS`` variants are not offered: the stdlib ``ssl`` module cannot
    export ``tls-exporter`` channel binding (RFC 9266).
    """
    password_ok = password_mechanisms_allowed(tls=tls, allow_plaintext=allow_plaintext)
    return tuple(m.value for m in Mechanism if password_ok or not m.reveals_password)
