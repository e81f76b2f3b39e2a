"""Authentication of mail users, shared by every protocol and the webmail.

`authenticate` applies the throttle, the plaintext policy, the login cache
and the argon2id check; services call it with the client's address. A cache
hit costs an HMAC instead of an argon2 hash: the cache keeps, per account, a
keyed hash of the last good password (never the password) with a time to
live, and forgets it when the stored hash changes.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass

from roost.control.passwords import Passwords, decode_scram
from roost.control.sessions import SessionRegistry
from roost.control.throttle import Throttle
from roost.core.clock import Clock
from roost.core.config import AuthSettings, DirectorySettings
from roost.core.errors import AuthenticationFailed, Throttled
from roost.proto.sasl.credentials import ScramAlgorithm, ScramCredentials
from roost.store.store import Store
from roost.store.types import Account

log = logging.getLogger(__name__)

MAX_PASSWORD_OCTETS = 1024


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: bytes
    password_hash: str
    expires: float


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Authenticator:
    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        auth: AuthSettings,
        directory: DirectorySettings,
        clock: Clock,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._auth = auth
        self._ttl = directory.login_cache_ttl_s
        self._clock = clock
        self.throttle = Throttle(auth, clock)
        self.sessions = SessionRegistry()
        """The signed-in sessions of every service (see `roost.control.sessions`)."""
        self._secret = secrets.token_bytes(32)
        self._cache: dict[str, _Cached] = {}

    def plaintext_allowed(self, *, tls: bool, client: str) -> bool:
        """Passwords only over TLS, or on loopback when the profile allows it."""
        return tls or (self._auth.plaintext_on_loopback and is_loopback(client))

    async def authenticate(self, address: str, password: str, *, client: str) -> Account:
        """Check a user's password; raise AuthenticationFailed or Throttled."""
        key = address.strip().lower()
        verdict = self.throttle.check(client, key)
        if verdict.locked_for_s > 0:
            raise Throttled(
                f"too many failed sign-ins from {client}: locked for {verdict.locked_for_s:.0f} s",
                verdict.locked_for_s,
            )
        account = await self._check(key, password)
        if account is None:
            self.throttle.failed(client, key)
            log.info("authentication failed for %s from %s", key, client)
            if verdict.delay_s:
                await asyncio.sleep(verdict.delay_s)
            raise AuthenticationFailed("invalid credentials")
        self.throttle.succeeded(client, key)
        return account

    async def _check(self, key: str, password: str) -> Account | None:
        account = await self._store.read(self._store.directory.find_account, key)
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_OCTETS:
            return None
        if account is None:
            await self._passwords.waste_time(password)
            return None
        if not account.enabled:
            return None
        if self._cache_hit(account, password):
            return account
        if not await self._passwords.verify(account.password_hash, password):
            return None
        if self._passwords.needs_rehash(account.password_hash):
            hashed, scram = await self._passwords.hash_with_scram(password)
            await self._store.write(
                self._store.directory.set_password, account.address, hashed, scram
            )
            account = await self._store.read(self._store.directory.account, account.address)
        self._remember(account, password)
        return account

    def _digest(self, address: str, password: str) -> bytes:
        message = address.encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.digest(self._secret, message, "sha256")

    def _cache_hit(self, account: Account, password: str) -> bool:
        cached = self._cache.get(account.address)
        if cached is None:
            return False
        if (
            cached.expires < self._clock.monotonic()
            or cached.password_hash != account.password_hash
        ):
            del self._cache[account.address]
            return False
        return hmac.compare_digest(cached.digest, self._digest(account.address, password))

    def _remember(self, account: Account, password: str) -> None:
        if self._ttl <= 0:
            return
        self._cache[account.address] = _Cached(
            self._digest(account.address, password),
            account.password_hash,
            self._clock.monotonic() + self._ttl,
        )

    def forget(self, address: str) -> None:
        self._cache.pop(address.strip().lower(), None)

    async def account_for(self, authcid: str) -> str | None:
        """The address of the enabled account a SASL identity names."""
        account = await self._store.read(self._store.directory.find_account, authcid)
        return account.address if account is not None and account.enabled else None

    async def scram_credentials(
        self, address: str, algorithm: ScramAlgorithm
    ) -> tuple[Account, ScramCredentials] | None:
        """The stored SCRAM keys of an enabled account, for a SASL exchange."""
        account = await self._store.read(self._store.directory.find_account, address)
        if account is None or not account.enabled:
            return None
        credentials = decode_scram(account.scram, algorithm)
        return None if credentials is None else (account, credentials)
