"""The LOGIN mechanism, server side (draft-murchison-sasl-login-00).

Obsolete but still sent by Outlook and many devices. The server prompts
``Username:`` and then ``Password:`` (the raw challenge text; the protocol
base64-encodes it as usual) and the client answers each with the bare
value. A client may send the user name as initial response (RFC 4954 §4),
which skips the first prompt. LOGIN has no authorization identity.
"""

from __future__ import annotations

from roost.proto.sasl.events import Challenge, Event, Failure, FailureReason, NeedPassword
from roost.proto.sasl.plain import decode_field

USERNAME_PROMPT = b"Username:"
PASSWORD_PROMPT = b"Password:"


class LoginEngine:
    """Two prompts, two answers, then a password check."""

    def __init__(self) -> None:
        self._username: str | None = None

    def start(self, initial_response: bytes | None) -> Event:
        """Prompt for the user name, unless the client sent it already."""
        if initial_response is None:
            return Challenge(USERNAME_PROMPT)
        return self.respond(initial_response)

    def respond(self, data: bytes) -> Event:
        """Take the user name, then the password."""
        value = decode_field(data)
        if self._username is None:
            if not value:
                return Failure(FailureReason.MALFORMED, "LOGIN user name empty or not UTF-8")
            self._username = value
            return Challenge(PASSWORD_PROMPT)
        if not value:
            return Failure(FailureReason.MALFORMED, "LOGIN password empty or not UTF-8")
        return NeedPassword(authzid="", authcid=self._username, password=value)
