"""Server-side web sessions: what the admin console's and the webmail's have in common.

A session is a random 256-bit id in the browser's cookie, of which the store
keeps only the SHA-256, and a random CSRF token for the session's forms.
Making a new one at every sign-in is what rotates the id; ending it deletes
the row, so an old cookie finds nothing. Each face keeps its sessions in a
table of its own (`roost.control.admin_access`, `roost.control.webmail_access`).

A session ends `idle_s` after its last use and `absolute_s` after its
sign-in. Its last use is written at most every `TOUCH_FRACTION`-th of the
idle time, so a busy page costs no write per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_ID_BYTES = 32
"""256 bits of randomness in every session id."""
CSRF_TOKEN_BYTES = 32
MAX_SESSION_ID_CHARS = 64
"""A cookie longer than any id Roost makes is refused before it is hashed."""
TOUCH_FRACTION = 30
"""The last use is written at most every 1/30 of the idle time: no write per request."""


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def cookie_hash(cookie: str | None) -> str | None:
    """The id hash a cookie names, or None for no cookie or one no id of ours can be."""
    if not cookie or len(cookie) > MAX_SESSION_ID_CHARS:
        return None
    return hash_session_id(cookie)


@dataclass(frozen=True, slots=True)
class SessionKeys:
    cookie: str
    """The session id for the browser's cookie: shown once, never stored."""
    id_hash: str
    csrf_token: str


def new_session_keys() -> SessionKeys:
    cookie = secrets.token_urlsafe(SESSION_ID_BYTES)
    return SessionKeys(cookie, hash_session_id(cookie), secrets.token_urlsafe(CSRF_TOKEN_BYTES))


@dataclass(frozen=True, slots=True)
class SessionLifetime:
    idle_s: float
    absolute_s: float

    def timed_out(self, now: datetime, created_at: datetime, last_seen_at: datetime) -> bool:
        return now - last_seen_at > timedelta(seconds=self.idle_s) or now - created_at > (
            timedelta(seconds=self.absolute_s)
        )

    def wants_touch(self, now: datetime, last_seen_at: datetime) -> bool:
        """Whether a use now is worth writing down (see `TOUCH_FRACTION`)."""
        return now - last_seen_at > timedelta(seconds=self.idle_s) / TOUCH_FRACTION

    def idle_before(self, now: datetime) -> datetime:
        """Sessions last used before this are over."""
        return now - timedelta(seconds=self.idle_s)

    def created_before(self, now: datetime) -> datetime:
        """Sessions made before this are over."""
        return now - timedelta(seconds=self.absolute_s)
