"""Webmail sign-in: sessions of mail users, shaped like the admin console's.

Theory of operation. A sign-in goes through the directory's `Authenticator`
(the same throttle, login cache, plaintext policy and argon2id check as
IMAP, POP and SMTP). A good one makes a new session as the admin console's
do (`roost.control.web_sessions`: a random id of which the store keeps only
the hash, a CSRF token) with a stamp of the account's password hash. The
table is not the admin console's: a webmail cookie never names an admin
session, nor the reverse.

A session is over when it is `session_idle_s` past its last use or
`session_absolute_s` past its sign-in, when its account is disabled or
removed, or when the account's password changed since the sign-in (the
stamp differs). Each session a node serves is also in the session registry
(`roost.control.sessions`, service "webmail"), so that `DirectoryAdmin`
ending a user's sessions ends these too, at once, on this node; the stamp
and the enabled flag end them on every node and across restarts.

A session's end — however it comes: sign-out, time, a newer sign-in over
the cap, the registry — also ends the XMPP sessions its chat tokens signed
in (`roost.control.chat_tokens`; `SessionRegistry.end_web_session`): an
open page cannot keep chatting on a session that is over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from roost.control.auth import MAX_PASSWORD_OCTETS, Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.sessions import OpenSession
from roost.control.web_sessions import SessionLifetime, cookie_hash, new_session_keys
from roost.core.clock import Clock
from roost.core.config import WebmailSettings
from roost.core.errors import AuthenticationFailed, InvalidName
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import Account, NewEvent
from roost.store.webmail_sessions import WebmailSession, password_stamp

log = logging.getLogger(__name__)

SERVICE = "webmail"
"""The name of webmail sessions in the session registry."""
ID_HASH_CHARS = 64
MAX_ADDRESS_CHARS = 320
UNKNOWN_CLIENT = "unknown"
CHAT_ENDED = "Your webmail session ended"
"""What the XMPP sessions of a webmail session's chat are told when it ends."""


def user_actor(address: str) -> str:
    """The actor of what a mail user does in the webmail: `user:ADDRESS`."""
    return f"user:{address}"


@dataclass(frozen=True, slots=True)
class NewWebmailSession:
    cookie: str
    """The session id for the browser's cookie: shown once, never stored."""
    session: WebmailSession


@dataclass(frozen=True, slots=True)
class WebmailLookup:
    session: WebmailSession | None
    expired: bool
    """True when the cookie named a session that has just ended (timed out, or
    ended by a password change or the account being disabled)."""


class WebmailAccess:
    def __init__(
        self,
        store: Store,
        auth: Authenticator,
        directory: DirectoryAdmin,
        settings: WebmailSettings,
        clock: Clock,
    ) -> None:
        self._store = store
        self._auth = auth
        self._directory = directory
        self.settings = settings
        self._clock = clock
        self._registered: dict[str, OpenSession] = {}
        """This node's sessions in the registry, by id hash."""
        self._ended: set[str] = set()
        """Sessions the registry asked to end; their rows go at their next lookup."""

    def plaintext_allowed(self, *, tls: bool, client: str | None) -> bool:
        return self._auth.plaintext_allowed(tls=tls, client=client or UNKNOWN_CLIENT)

    # --- signing in and out

    async def sign_in(self, address: str, password: str, source: str | None) -> NewWebmailSession:
        """Check the address and password (throttled); raise AuthenticationFailed
        or Throttled, or return a new session."""
        address = address.strip()
        if not address or len(address) > MAX_ADDRESS_CHARS:
            raise AuthenticationFailed("Wrong address or password.")
        try:
            account = await self._auth.authenticate(
                address, password, client=source or UNKNOWN_CLIENT
            )
        except AuthenticationFailed as exc:
            if type(exc) is AuthenticationFailed:
                raise AuthenticationFailed("Wrong address or password.") from None
            raise
        return await self._open(account, source, "webmail-sign-in")

    async def _open(
        self, account: Account, source: str | None, action: str | None
    ) -> NewWebmailSession:
        """A new session (a new id: this is the rotation), within the per-user cap."""
        keys = new_session_keys()
        id_hash = keys.id_hash
        cap = self.settings.max_sessions_per_user
        sessions = self._store.webmail_sessions
        dropped: list[str] = []

        async def work(tx: Tx) -> WebmailSession:
            stamp = password_stamp(account.password_hash)
            await sessions.add_session(tx, id_hash, account.id, stamp, keys.csrf_token, source)
            existing = await sessions.sessions_of(tx, account.id)
            for old in existing[: max(len(existing) - cap, 0)]:
                await sessions.remove_session(tx, old.id_hash)
                dropped.append(old.id_hash)
            if action is not None:
                await self._audit(tx, account.address, source, action)
            made = await sessions.session(tx, id_hash)
            assert made is not None
            return made

        made = await self._store.write(work)
        for old_hash in dropped:
            self._unregister(old_hash)
        self._register(made)
        return NewWebmailSession(keys.cookie, made)

    async def lookup(self, cookie: str | None, *, activity: bool) -> WebmailLookup:
        """The live session a cookie names; one that is over is ended here.

        `activity` is False for what a page asks by itself, which must not keep
        an unattended session alive.
        """
        id_hash = cookie_hash(cookie)
        if id_hash is None:
            return WebmailLookup(None, False)
        sessions = self._store.webmail_sessions
        session = await self._store.read(sessions.session, id_hash)
        if session is None:
            self._unregister(id_hash)
            return WebmailLookup(None, False)
        now = self._clock.now()
        if id_hash in self._ended or self._over(session, now):
            await self._store.write(sessions.remove_session, id_hash)
            self._unregister(id_hash)
            return WebmailLookup(None, True)
        if activity and self._lifetime().wants_touch(now, session.last_seen_at):
            await self._store.write(sessions.touch_session, id_hash)
        self._register(session)
        return WebmailLookup(session, False)

    async def session_for_hash(self, id_hash: str) -> WebmailSession | None:
        """The live session with this id hash, for capability URLs that a sandboxed
        frame fetches without the cookie (its requests are cross-site); no use is
        recorded."""
        if len(id_hash) != ID_HASH_CHARS:
            return None
        session = await self._store.read(self._store.webmail_sessions.session, id_hash)
        if session is None or id_hash in self._ended:
            return None
        return None if self._over(session, self._clock.now()) else session

    def _over(self, session: WebmailSession, now: datetime) -> bool:
        """Timed out, or its account disabled or its password changed since sign-in."""
        return (
            not session.enabled
            or not session.password_current
            or self._lifetime().timed_out(now, session.created_at, session.last_seen_at)
        )

    def _lifetime(self) -> SessionLifetime:
        return SessionLifetime(self.settings.session_idle_s, self.settings.session_absolute_s)

    async def discard(self, cookie: str | None) -> None:
        """End the session a cookie names, if any (a new sign-in replaces it)."""
        id_hash = cookie_hash(cookie)
        if id_hash is not None:
            await self._store.write(self._store.webmail_sessions.remove_session, id_hash)
            self._unregister(id_hash)

    async def sign_out(self, session: WebmailSession, source: str | None) -> None:
        async def work(tx: Tx) -> None:
            if await self._store.webmail_sessions.remove_session(tx, session.id_hash):
                await self._audit(tx, session.address, source, "webmail-sign-out")

        await self._store.write(work)
        self._unregister(session.id_hash)

    # --- the password

    async def change_password(
        self, session: WebmailSession, current: str, new: str, source: str | None
    ) -> NewWebmailSession:
        """Change the signed-in user's password through the directory: every
        session of theirs ends (webmail, IMAP, POP, SMTP, XMPP), and this browser
        gets a new webmail session."""
        if len(current.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_OCTETS:
            raise AuthenticationFailed("The current password is wrong.")
        try:
            await self._auth.authenticate(session.address, current, client=source or UNKNOWN_CLIENT)
        except AuthenticationFailed as exc:
            if type(exc) is AuthenticationFailed:
                raise AuthenticationFailed("The current password is wrong.") from None
            raise
        if new == current:
            raise InvalidName("The new password must differ from the current one.")
        actor = Actor(user_actor(session.address), source)
        await self._directory.set_password(actor, session.address, new)
        account = await self._store.read(self._store.directory.account, session.address)
        return await self._open(account, source, None)

    # --- the session registry

    def _register(self, session: WebmailSession) -> None:
        if session.id_hash in self._registered:
            return
        id_hash = session.id_hash

        def end(reason: str) -> None:
            log.info("webmail session of %s ends: %s", session.address, reason)
            self._ended.add(id_hash)
            self._unregister(id_hash)

        self._registered[id_hash] = self._auth.sessions.open(SERVICE, session.address, end)

    def _unregister(self, id_hash: str) -> None:
        """The session is over: forget it, and end the chat it signed in."""
        self._auth.sessions.close(self._registered.pop(id_hash, None))
        self._auth.sessions.end_web_session(id_hash, CHAT_ENDED)

    # --- housekeeping

    async def remove_expired(self) -> int:
        """Remove timed-out sessions and those the registry ended; forget them here."""
        now = self._clock.now()
        lifetime = self._lifetime()
        sessions = self._store.webmail_sessions
        ended = list(self._ended)
        registered = list(set(self._registered) | self._auth.sessions.web_sessions())

        async def work(tx: Tx) -> tuple[int, set[str]]:
            removed = await sessions.remove_expired_sessions(
                tx,
                idle_before=lifetime.idle_before(now),
                created_before=lifetime.created_before(now),
            )
            for id_hash in ended:
                removed += int(await sessions.remove_session(tx, id_hash))
            return removed, await sessions.live_ids(tx, registered)

        removed, live = await self._store.write(work)
        self._ended.difference_update(ended)
        for id_hash in registered:
            if id_hash not in live:
                self._unregister(id_hash)
        return removed

    async def _audit(self, tx: Tx, address: str, source: str | None, action: str) -> None:
        await self._store.events.add(
            tx,
            NewEvent(
                object=f"user:{address}",
                action=action,
                actor=user_actor(address),
                source_address=source,
            ),
        )
