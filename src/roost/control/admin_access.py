"""Admin console sign-in: sessions, password changes and two-step codes, each audited.

Theory of operation. A sign-in checks the password (argon2id, in a thread)
and, when the admin has turned two-step sign-in on, a TOTP code; failures go
through the same `Throttle` as the mail protocols (delay, then lock-out) and
into the event log. A good sign-in makes a new session (`roost.control.web_sessions`:
a random id, of which the store keeps only the hash, and a CSRF token); ending it
(sign-out, a password change, removal of the admin) deletes the row, so an old
cookie finds nothing. A session ends `session_idle_s` after its last use and
`session_absolute_s` after its sign-in.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from roost.control import totp
from roost.control.auth import MAX_PASSWORD_OCTETS
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.control.throttle import Throttle
from roost.control.web_sessions import (
    SessionLifetime,
    cookie_hash,
    hash_session_id,
    new_session_keys,
)
from roost.core.clock import Clock
from roost.core.config import AdminSettings
from roost.core.errors import AuthenticationFailed, InvalidName, NotFound, Throttled
from roost.store.admin_access import AdminSession, AdminTotp
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import Admin, NewEvent

log = logging.getLogger(__name__)

__all__ = [
    "AdminAccess",
    "NewSession",
    "SessionLookup",
    "WrongCode",
    "admin_actor",
    "hash_session_id",
]

MAX_NAME_CHARS = 64
ANONYMOUS = "anonymous"


def admin_actor(name: str) -> str:
    """The actor of what an admin does in the console: `admin:NAME`."""
    return f"admin:{name}"


class WrongCode(AuthenticationFailed):
    """The two-step code was missing, wrong or used already."""


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie: str
    """The session id for the browser's cookie: shown once, never stored."""
    session: AdminSession


@dataclass(frozen=True, slots=True)
class SessionLookup:
    session: AdminSession | None
    expired: bool
    """True when the cookie named a session that has just timed out."""


class AdminAccess:
    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        directory: DirectoryAdmin,
        settings: AdminSettings,
        throttle: Throttle,
        clock: Clock,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._directory = directory
        self.settings = settings
        self._throttle = throttle
        self._clock = clock

    # --- signing in and out

    async def sign_in(self, name: str, password: str, code: str, source: str | None) -> NewSession:
        """Check a name, a password and (when turned on) a two-step code.

        Raises `Throttled` while the address is locked out, `WrongCode` for a
        bad two-step code and `AuthenticationFailed` for anything else.
        """
        shown = name.strip().lower()[:MAX_NAME_CHARS]
        client = source or "unknown"
        key = f"admin:{shown}"
        verdict = self._throttle.check(client, key)
        if verdict.locked_for_s > 0:
            log.info("admin sign-in refused from %s: locked out", client)
            raise Throttled(
                f"Too many failed sign-ins from {client}: try again in "
                f"{verdict.locked_for_s:.0f} s.",
                verdict.locked_for_s,
            )
        admin = await self._check_password(shown, password)
        if admin is None:
            await self._failed(shown, client, key, source, "wrong name or password")
            await asyncio.sleep(verdict.delay_s)
            raise AuthenticationFailed("Wrong name or password.")
        second = await self._store.read(self._store.admin_access.totp, admin.id)
        if second is not None and second.enabled and not await self._use_code(second, code):
            await self._failed(shown, client, key, source, "wrong two-step code")
            await asyncio.sleep(verdict.delay_s)
            raise WrongCode("Wrong or already used two-step code.")
        self._throttle.succeeded(client, key)
        return await self._open(admin, source, "sign-in")

    async def _check_password(self, name: str, password: str) -> Admin | None:
        try:
            admin = await self._store.read(self._store.directory.admin, name)
        except (NotFound, InvalidName):
            await self._passwords.waste_time(password)
            return None
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_OCTETS:
            return None
        return admin if await self._passwords.verify(admin.password_hash, password) else None

    async def _use_code(self, second: AdminTotp, code: str) -> bool:
        step = totp.verify(
            second.secret, code, self._clock.now().timestamp(), self.settings.totp_window_steps
        )
        if step is None:
            return False
        return await self._store.write(
            self._store.admin_access.use_totp_step, second.admin_id, step
        )

    async def _failed(
        self, name: str, client: str, key: str, source: str | None, reason: str
    ) -> None:
        self._throttle.failed(client, key)
        log.info("admin sign-in failed for %r from %s: %s", name, client, reason)
        event = NewEvent(
            object=f"admin:{name}",
            action="sign-in-failed",
            actor=ANONYMOUS,
            source_address=source,
            reason=reason,
        )
        await self._store.write(self._store.events.add, event)

    async def _open(self, admin: Admin, source: str | None, action: str | None) -> NewSession:
        """A new session (a new id: this is the rotation), within the per-admin cap."""
        keys = new_session_keys()
        id_hash = keys.id_hash
        cap = self.settings.max_sessions_per_admin
        access = self._store.admin_access

        async def work(tx: Tx) -> AdminSession:
            await access.add_session(tx, id_hash, admin.id, keys.csrf_token, source)
            sessions = await access.sessions_of(tx, admin.id)
            for old in sessions[: max(len(sessions) - cap, 0)]:
                await access.remove_session(tx, old.id_hash)
            if action is not None:
                await self._audit(tx, admin.name, source, action)
            made = await access.session(tx, id_hash)
            assert made is not None
            return made

        return NewSession(keys.cookie, await self._store.write(work))

    async def lookup(self, cookie: str | None, *, activity: bool) -> SessionLookup:
        """The live session a cookie names; a timed-out one is ended here.

        `activity` is False for what a page asks by itself (its updates), which
        must not keep an unattended session alive.
        """
        id_hash = cookie_hash(cookie)
        if id_hash is None:
            return SessionLookup(None, False)
        access = self._store.admin_access
        session = await self._store.read(access.session, id_hash)
        if session is None:
            return SessionLookup(None, False)
        now = self._clock.now()
        lifetime = self._lifetime()
        if lifetime.timed_out(now, session.created_at, session.last_seen_at):
            await self._store.write(access.remove_session, id_hash)
            return SessionLookup(None, True)
        if activity and lifetime.wants_touch(now, session.last_seen_at):
            await self._store.write(access.touch_session, id_hash)
        return SessionLookup(session, False)

    async def discard(self, cookie: str | None) -> None:
        """End the session a cookie names, if any (a new sign-in replaces it)."""
        id_hash = cookie_hash(cookie)
        if id_hash is not None:
            await self._store.write(self._store.admin_access.remove_session, id_hash)

    async def sign_out(self, session: AdminSession, source: str | None) -> None:
        async def work(tx: Tx) -> None:
            if await self._store.admin_access.remove_session(tx, session.id_hash):
                await self._audit(tx, session.admin, source, "sign-out")

        await self._store.write(work)

    # --- passwords

    async def change_password(
        self, session: AdminSession, current: str, new: str, source: str | None
    ) -> NewSession:
        """Change the signed-in admin's password: every session of theirs ends, and
        this browser gets a new one."""
        admin = await self._store.read(self._store.directory.admin, session.admin)
        too_long = len(current.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_OCTETS
        if too_long or not await self._passwords.verify(admin.password_hash, current):
            raise AuthenticationFailed("The current password is wrong.")
        if new == current:
            raise InvalidName("The new password must differ from the current one.")
        actor = Actor(admin_actor(admin.name), source)
        await self._directory.set_admin_password(actor, admin.name, new)
        return await self._open(admin, source, None)

    # --- two-step sign-in

    async def totp_of(self, session: AdminSession) -> AdminTotp | None:
        return await self._store.read(self._store.admin_access.totp, session.admin_id)

    async def begin_totp(self, session: AdminSession) -> str:
        """A new secret for enrolment; it takes effect once a code from it is confirmed."""
        current = await self.totp_of(session)
        if current is not None and current.enabled:
            raise InvalidName("Two-step sign-in is on already: turn it off first.")
        secret = totp.new_secret()
        await self._store.write(
            self._store.admin_access.set_totp, session.admin_id, secret, enabled=False
        )
        return secret

    def totp_uri(self, secret: str, session: AdminSession) -> str:
        return totp.otpauth_uri(secret, self.settings.totp_issuer, session.admin)

    async def confirm_totp(self, session: AdminSession, code: str, source: str | None) -> None:
        pending = await self.totp_of(session)
        if pending is None or pending.enabled:
            raise InvalidName("There is no two-step enrolment to confirm: start again.")
        step = totp.verify(
            pending.secret, code, self._clock.now().timestamp(), self.settings.totp_window_steps
        )
        if step is None:
            raise WrongCode("That code does not match: check the app's clock and try again.")
        access = self._store.admin_access

        async def work(tx: Tx) -> None:
            await access.set_totp(tx, session.admin_id, pending.secret, enabled=True)
            await access.use_totp_step(tx, session.admin_id, step)
            await self._audit(tx, session.admin, source, "two-step-on")

        await self._store.write(work)

    async def disable_totp(self, session: AdminSession, password: str, source: str | None) -> None:
        admin = await self._store.read(self._store.directory.admin, session.admin)
        too_long = len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_OCTETS
        if too_long or not await self._passwords.verify(admin.password_hash, password):
            raise AuthenticationFailed("The password is wrong.")

        async def work(tx: Tx) -> None:
            if await self._store.admin_access.remove_totp(tx, session.admin_id):
                await self._audit(tx, session.admin, source, "two-step-off")

        await self._store.write(work)

    # --- housekeeping

    async def remove_expired(self) -> int:
        now = self._clock.now()
        lifetime = self._lifetime()
        return await self._store.write(
            self._store.admin_access.remove_expired_sessions,
            idle_before=lifetime.idle_before(now),
            created_before=lifetime.created_before(now),
        )

    def _lifetime(self) -> SessionLifetime:
        return SessionLifetime(self.settings.session_idle_s, self.settings.session_absolute_s)

    async def _audit(self, tx: Tx, name: str, source: str | None, action: str) -> None:
        await self._store.events.add(
            tx,
            NewEvent(
                object=f"admin:{name}",
                action=action,
                actor=admin_actor(name),
                source_address=source,
            ),
        )
