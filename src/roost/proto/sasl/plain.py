"""The PLAIN mechanism, server side (RFC 4616).

One client message carries everything (RFC 4616 §2)::

    message = [authzid] UTF8NUL authcid UTF8NUL passwd

The fields are UTF-8 without NUL; authcid and passwd are not empty. We
decode strictly and apply no SASLprep (RFC 4616 §2 leaves preparation to
the verifier): the directory compares the password as sent.
"""

from __future__ import annotations

from roost.proto.sasl.events import Challenge, Event, Failure, FailureReason, NeedPassword

_NUL = b"\x00"


def decode_field(data: bytes) -> str | None:
    """Decode one text field: strict UTF-8, no NUL (RFC 4616 §2 "SAFE").

    Returns None if the octets are not such a field. Emptiness is checked
    by the caller, since an empty authzid is allowed.
    """
    if _NUL in data:
        return None
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def parse_plain_message(message: bytes) -> NeedPassword | Failure:
    """Split a PLAIN message into its fields (RFC 4616 §2)."""
    parts = message.split(_NUL)
    if len(parts) != 3:
        return Failure(FailureReason.MALFORMED, "PLAIN message needs exactly two NULs")
    fields = [decode_field(part) for part in parts]
    authzid, authcid, password = fields
    if authzid is None or authcid is None or password is None:
        return Failure(FailureReason.MALFORMED, "PLAIN field is not valid UTF-8")
    if not authcid or not password:
        return Failure(FailureReason.MALFORMED, "PLAIN authcid or password is empty")
    return NeedPassword(authzid=authzid, authcid=authcid, password=password)


class PlainEngine:
    """PLAIN is client-first: without an initial response, ask for one."""

    def start(self, initial_response: bytes | None) -> Event:
        """Begin; an absent initial response earns an empty challenge (RFC 4422 §5)."""
        if initial_response is None:
            return Challenge(b"")
        return parse_plain_message(initial_response)

    def respond(self, data: bytes) -> Event:
        """Take the one client message."""
        return parse_plain_message(data)
