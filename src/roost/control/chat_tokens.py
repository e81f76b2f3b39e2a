"""Web chat tokens: how a webmail page signs in to XMPP without the password.

Theory of operation. A signed-in webmail page asks for a token
(`ChatTokens.issue`, through ``POST /mail/chat/token`` with the session's
CSRF token) and at once opens XMPP over WebSocket with SASL PLAIN, its
address as the authentication identity and the token as the password.
No page ever holds the password, and what a page holds is worth little:

- a token is 256 random bits; the store keeps only its SHA-256
  (`roost.store.chat_tokens`), with the account and the webmail session
  it was issued to (ending the session removes its tokens);
- it lives ``[webmail] chat_token_ttl_s`` and serves once: redeeming it
  deletes its row in the same statement that finds it, so two nodes that
  share the store cannot both accept it;
- it is accepted only on the WebSocket transport and only when the
  WebSocket's ``Origin`` is the web listener's own origin (the scheme of
  the connection and the ``Host`` it was opened to): the token exists to
  sign in the webmail's own script, so a page of another site (a
  cross-site WebSocket) and a TCP client are refused exactly as a wrong
  password is, throttle included.

PLAIN carries the token rather than a mechanism of our own because every
XMPP library speaks PLAIN and the server already offers it on the
WebSocket where passwords may travel (``wss:``, or loopback in the
development profile); a token never reaches the argon2id check, and a
password never reaches the token table (`is_token` tells them apart by
the prefix no generated password has).

A token also links the XMPP session it signs in to the webmail session it
was issued to (`ChatSignIn.web_session`): the XMPP service registers the
session under it (`roost.control.sessions`), and the end of the webmail
session — signed out, timed out, ended by the administrator — ends the
chat it backs, on the server, whatever the page does. The link is the
token's row in the store, so it holds whichever node redeems the token
(the session registry itself is per node).

Neither face nor service knows tokens but through this module: the
webmail issues, the XMPP service redeems.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from roost.control.auth import Authenticator
from roost.core.clock import Clock
from roost.core.config import WebmailSettings
from roost.core.errors import AuthenticationFailed, Throttled
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.webmail_sessions import WebmailSession

log = logging.getLogger(__name__)

TOKEN_PREFIX = "roost-chat-"  # noqa: S105 -- a marker, not a secret
TOKEN_BYTES = 32
"""256 bits of randomness in every token."""
MAX_TOKEN_CHARS = len(TOKEN_PREFIX) + 64
WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class ChatChannel:
    """Where a sign-in arrives: its transport and, for a WebSocket, its handshake."""

    transport: str
    """"websocket", or the name of a TCP transport ("starttls", "direct_tls")."""
    origin: str | None = None
    """The WebSocket handshake's ``Origin`` header (none from a non-browser client)."""
    host: str | None = None
    """The WebSocket handshake's ``Host`` header: the origin the listener was reached at."""
    tls: bool = False
    """Whether the WebSocket is ``wss:``."""

    @property
    def own_origin(self) -> bool:
        """A WebSocket opened by a page of the web listener itself (RFC 6454 origin
        of the page equals the scheme and host the socket was opened to)."""
        if self.transport != WEBSOCKET or not self.origin or not self.host:
            return False
        scheme = "https" if self.tls else "http"
        return self.origin.lower() == f"{scheme}://{self.host.lower()}"


@dataclass(frozen=True, slots=True)
class ChatSignIn:
    address: str
    """The account the token signed in."""
    web_session: str
    """The id hash of the webmail session the token was issued to."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    """Shown once to the page, never stored."""
    expires_at: datetime


def is_token(secret: str) -> bool:
    """Does this SASL password look like a chat token (rather than a password)?"""
    return secret.startswith(TOKEN_PREFIX) and len(secret) <= MAX_TOKEN_CHARS


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ChatTokens:
    def __init__(
        self, store: Store, auth: Authenticator, settings: WebmailSettings, clock: Clock
    ) -> None:
        self._store = store
        self._auth = auth
        self._ttl_s = settings.chat_token_ttl_s
        self._clock = clock

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    async def issue(self, session: WebmailSession) -> IssuedToken:
        """A new token for the user of a live webmail session (the caller checked it)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        tokens = self._store.chat_tokens

        now = self._clock.now()
        expires = now + timedelta(seconds=self._ttl_s)

        async def work(tx: Tx) -> None:
            await tokens.remove_expired_tokens(tx, now)
            await tokens.add_token(tx, _hash(token), session.account_id, session.id_hash, expires)

        await self._store.write(work)
        return IssuedToken(token, expires)

    async def sign_in(
        self, address: str, token: str, channel: ChatChannel, *, client: str
    ) -> ChatSignIn:
        """The account a token signs in and the webmail session it was issued to, as
        `Authenticator.authenticate` answers a password: raise `Throttled`, or
        `AuthenticationFailed` for a token that is unknown, used, expired, of another
        account or presented where tokens are not accepted."""
        key = address.strip().lower()
        verdict = self._auth.throttle.check(client, key)
        if verdict.locked_for_s > 0:
            raise Throttled(
                f"too many failed sign-ins from {client}: locked for {verdict.locked_for_s:.0f} s",
                verdict.locked_for_s,
            )
        found = None
        if is_token(token) and channel.own_origin:
            found = await self._store.write(
                self._store.chat_tokens.redeem_token, _hash(token), self._clock.now()
            )
        if found is None or not found.enabled or found.address.lower() != key:
            self._auth.throttle.failed(client, key)
            log.info(
                "chat token refused for %s from %s (transport %s, %s origin)",
                key,
                client,
                channel.transport,
                "own" if channel.own_origin else "foreign or no",
            )
            if verdict.delay_s:
                await asyncio.sleep(verdict.delay_s)
            raise AuthenticationFailed("invalid credentials")
        self._auth.throttle.succeeded(client, key)
        return ChatSignIn(found.address, found.session_hash)
