"""Errors the SASL package raises on purpose.

A peer's bad input never raises: it ends the exchange with a `Failure`
event. These exceptions mean that Roost itself used the package wrongly
(h11 calls this a *local* protocol error) or was given unusable settings.
"""

from __future__ import annotations

from roost.core.errors import RoostError


class SaslError(RoostError):
    """Base of the errors raised by `roost.proto.sasl`."""


class SaslStateError(SaslError):
    """The caller drove an exchange out of order.

    For example it answered a password check that the exchange never asked
    for, or started the exchange twice. This is a bug in the protocol or
    service layer, never something a client can cause.
    """


class ScramPasswordRejected(SaslError):
    """A password cannot be turned into SCRAM credentials.

    SCRAM prepares passwords with SASLprep (RFC 5802 §2.2, RFC 4013), which
    forbids control characters, unassigned code points and some others.
    """
