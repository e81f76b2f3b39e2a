"""One hierarchy for every error Roost raises on purpose.

A `RoostError` carries a message meant for an administrator: one line that
names the cause. The CLI and the composition root print it without a
traceback; anything else that escapes is a bug.
"""

from __future__ import annotations


class RoostError(Exception):
    """Base of every error Roost raises deliberately."""


class ConfigError(RoostError):
    """The configuration file is missing, malformed or has a bad value."""


class StartupError(RoostError):
    """Roost cannot start: data folder, database or a listener is unusable."""


class StoreError(RoostError):
    """The store refused an operation."""


class NotFound(StoreError):
    """The named object does not exist."""


class AlreadyExists(StoreError):
    """An object with that name exists already."""


class QuotaExceeded(StoreError):
    """The operation would take an account over its quota."""


class InvalidName(RoostError):
    """A domain, address or mailbox name is not acceptable."""


class AuthenticationFailed(RoostError):
    """Credentials did not match, or the account may not sign in."""


class Throttled(AuthenticationFailed):
    """Too many failed sign-ins from this address: try again later."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownService(RoostError):
    """A service name that the supervisor does not know."""
