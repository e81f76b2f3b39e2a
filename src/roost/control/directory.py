"""Changes to the directory that faces make, each with its audit event.

The API, the CLI and later the admin console call these; each change and its
event commit in one unit of work, so the audit log never misses a change.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from roost.control.auth import Authenticator
from roost.control.passwords import Passwords, generate_password
from roost.control.sessions import SessionRegistry
from roost.core.config import DirectorySettings
from roost.core.errors import InvalidName
from roost.store.db import Tx
from roost.store.directory import (
    DomainSummary,
    normalise_address,
    normalise_domain,
    search_accounts,
    search_aliases,
    search_domains,
)
from roost.store.store import Store
from roost.store.types import (
    STANDARD_MAILBOXES,
    Account,
    Admin,
    Alias,
    ApiToken,
    Domain,
    DomainAlias,
    NewEvent,
)

TOKEN_PREFIX = "roost_"  # noqa: S105 (a prefix, not a secret)
MAX_DISPLAY_NAME_CHARS = 200
MIB = 1024 * 1024


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: `admin:NAME (token T)`, `cli:USER`, `supervisor`, with the source address."""

    name: str
    source_address: str | None = None


class DirectoryAdmin:
    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        settings: DirectorySettings,
        authenticator: Authenticator | None = None,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._settings = settings
        self._authenticator = authenticator

    async def _audit(
        self, tx: Tx, actor: Actor, obj: str, action: str, reason: str | None = None
    ) -> None:
        await self._store.events.add(
            tx,
            NewEvent(
                object=obj,
                action=action,
                actor=actor.name,
                source_address=actor.source_address,
                reason=reason,
            ),
        )

    # --- domains

    async def add_domain(self, actor: Actor, name: str) -> Domain:
        async def work(tx: Tx) -> Domain:
            domain = await self._store.directory.add_domain(tx, name)
            await self._audit(tx, actor, f"domain:{domain.name}", "add")
            return domain

        return await self._store.write(work)

    async def remove_domain(self, actor: Actor, name: str) -> None:
        async def work(tx: Tx) -> None:
            domain = await self._store.directory.domain(tx, name)
            await self._store.directory.remove_domain(tx, domain.name)
            await self._audit(tx, actor, f"domain:{domain.name}", "remove")

        await self._store.write(work)

    async def set_catch_all(self, actor: Actor, name: str, target: str | None) -> None:
        async def work(tx: Tx) -> None:
            domain = await self._store.directory.domain(tx, name)
            await self._store.directory.set_catch_all(tx, domain.name, target)
            await self._audit(tx, actor, f"domain:{domain.name}", "catch-all", target or "off")

        await self._store.write(work)

    async def add_domain_alias(self, actor: Actor, alias: str, target: str) -> DomainAlias:
        async def work(tx: Tx) -> DomainAlias:
            added = await self._store.directory.add_domain_alias(tx, alias, target)
            await self._audit(tx, actor, f"domain-alias:{added.name}", "add", added.domain)
            return added

        return await self._store.write(work)

    async def remove_domain_alias(self, actor: Actor, alias: str) -> None:
        async def work(tx: Tx) -> None:
            await self._store.directory.remove_domain_alias(tx, alias)
            await self._audit(tx, actor, f"domain-alias:{alias.lower()}", "remove")

        await self._store.write(work)

    # --- accounts

    async def add_user(
        self,
        actor: Actor,
        address: str,
        password: str | None,
        *,
        display_name: str = "",
        quota_mb: int | None = None,
    ) -> tuple[Account, str | None]:
        """Create an account with the standard folders; returns a generated
        password when none was given (to be shown once)."""
        if len(display_name) > MAX_DISPLAY_NAME_CHARS:
            raise InvalidName(f"display name longer than {MAX_DISPLAY_NAME_CHARS} characters")
        address = normalise_address(address)
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password)
        hashed, scram = await self._passwords.hash_with_scram(password)
        quota = self._settings.default_quota_mb if quota_mb is None else quota_mb

        async def work(tx: Tx) -> Account:
            account = await self._store.directory.add_account(
                tx,
                address,
                display_name=display_name,
                password_hash=hashed,
                scram=scram,
                quota_bytes=quota * MIB,
            )
            for name, role in STANDARD_MAILBOXES:
                await self._store.mail.create_mailbox(tx, account.id, name, role)
            await self._audit(tx, actor, f"user:{account.address}", "add")
            return account

        return await self._store.write(work), generated

    async def set_password(self, actor: Actor, address: str, password: str | None) -> str | None:
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password)
        hashed, scram = await self._passwords.hash_with_scram(password)

        async def work(tx: Tx) -> None:
            account = await self._store.directory.account(tx, address)
            await self._store.directory.set_password(tx, account.address, hashed, scram)
            await self._audit(tx, actor, f"user:{account.address}", "password")

        await self._store.write(work)
        self._signed_out(address, "Your password was changed; sign in again")
        return generated

    async def set_enabled(self, actor: Actor, address: str, enabled: bool) -> None:
        async def work(tx: Tx) -> None:
            account = await self._store.directory.account(tx, address)
            await self._store.directory.set_enabled(tx, account.address, enabled)
            action = "enable" if enabled else "disable"
            await self._audit(tx, actor, f"user:{account.address}", action)

        await self._store.write(work)
        if not enabled:
            self._signed_out(address, "Your account was disabled")

    async def set_quota(self, actor: Actor, address: str, quota_mb: int) -> None:
        async def work(tx: Tx) -> None:
            account = await self._store.directory.account(tx, address)
            await self._store.directory.set_quota(tx, account.address, quota_mb * MIB, 0)
            await self._audit(tx, actor, f"user:{account.address}", "quota", f"{quota_mb} MiB")

        await self._store.write(work)

    async def remove_user(self, actor: Actor, address: str) -> None:
        """Remove an account, its mailboxes and messages; aliases stop pointing at it."""

        async def work(tx: Tx) -> None:
            account = await self._store.directory.account(tx, address)
            await self._store.mail.remove_account_mailboxes(tx, account.id)
            await self._store.xmpp.remove_owner(tx, account.address)
            await self._store.directory.replace_target(tx, account.address, None)
            await self._store.directory.remove_account_row(tx, account.id)
            await self._audit(tx, actor, f"user:{account.address}", "remove")

        await self._store.write(work)
        self._signed_out(address, "Your account was removed")

    @property
    def sessions(self) -> SessionRegistry | None:
        """The signed-in sessions of every service (None where no service runs)."""
        return self._authenticator.sessions if self._authenticator is not None else None

    def _signed_out(self, address: str, reason: str) -> None:
        """After a commit: forget cached sign-ins, end the open sessions everywhere."""
        if self._authenticator is not None:
            self._authenticator.forget(address)
            self._authenticator.sessions.end_user(address, reason)

    # --- aliases

    async def add_alias(self, actor: Actor, address: str, targets: tuple[str, ...]) -> Alias:
        async def work(tx: Tx) -> Alias:
            alias = await self._store.directory.add_alias(tx, address, targets)
            await self._audit(tx, actor, f"alias:{alias.address}", "add", ", ".join(alias.targets))
            return alias

        return await self._store.write(work)

    async def set_alias_targets(
        self, actor: Actor, address: str, targets: tuple[str, ...]
    ) -> Alias:
        async def work(tx: Tx) -> Alias:
            alias = await self._store.directory.set_alias_targets(tx, address, targets)
            await self._audit(
                tx, actor, f"alias:{alias.address}", "change", ", ".join(alias.targets)
            )
            return alias

        return await self._store.write(work)

    async def remove_alias(self, actor: Actor, address: str) -> None:
        async def work(tx: Tx) -> None:
            await self._store.directory.remove_alias(tx, address)
            await self._audit(tx, actor, f"alias:{normalise_address(address)}", "remove")

        await self._store.write(work)

    # --- admins and tokens

    async def add_admin(
        self, actor: Actor, name: str, password: str | None, *, must_change: bool = False
    ) -> tuple[Admin, str | None]:
        generated = None
        if password is None:
            password = generated = generate_password()
            must_change = True
        check_password(password)
        hashed = await self._passwords.hash(password)

        async def work(tx: Tx) -> Admin:
            admin = await self._store.directory.add_admin(tx, name, hashed, must_change=must_change)
            await self._audit(tx, actor, f"admin:{admin.name}", "add")
            return admin

        return await self._store.write(work), generated

    async def set_admin_password(self, actor: Actor, name: str, password: str) -> None:
        check_password(password)
        hashed = await self._passwords.hash(password)

        async def work(tx: Tx) -> None:
            admin = await self._store.directory.admin(tx, name)
            await self._store.directory.set_admin_password(
                tx, admin.name, hashed, must_change=False
            )
            # A new password ends every admin console session of that admin.
            ended = await self._store.admin_access.remove_sessions(tx, admin.id)
            reason = f"{ended} console session{'' if ended == 1 else 's'} ended" if ended else None
            await self._audit(tx, actor, f"admin:{admin.name}", "password", reason)

        await self._store.write(work)

    async def remove_admin(self, actor: Actor, name: str) -> None:
        async def work(tx: Tx) -> None:
            admin = await self._store.directory.admin(tx, name)
            if len(await self._store.directory.admins(tx)) == 1:
                raise InvalidName(f"{admin.name} is the last admin: add another one first")
            await self._store.admin_access.remove_sessions(tx, admin.id)
            await self._store.admin_access.remove_totp(tx, admin.id)
            await self._store.directory.remove_admin(tx, admin.name)
            await self._audit(tx, actor, f"admin:{admin.name}", "remove")

        await self._store.write(work)

    async def add_token(self, actor: Actor, admin: str, name: str) -> tuple[ApiToken, str]:
        """Make an API token; the secret is returned once and stored only as a hash."""
        if not name or len(name) > 64:
            raise InvalidName("a token name has 1 to 64 characters")
        secret = new_token()

        async def work(tx: Tx) -> ApiToken:
            token = await self._store.directory.add_token(tx, admin, name, hash_token(secret))
            await self._audit(tx, actor, f"token:{token.admin}/{token.name}", "add")
            return token

        return await self._store.write(work), secret

    async def revoke_token(self, actor: Actor, admin: str, name: str) -> None:
        async def work(tx: Tx) -> None:
            await self._store.directory.revoke_token(tx, admin, name)
            await self._audit(tx, actor, f"token:{admin}/{name}", "revoke")

        await self._store.write(work)

    # --- listings for the admin console (read only, not audited)

    async def find_domains(
        self, text: str, *, limit: int, offset: int
    ) -> tuple[list[DomainSummary], int]:
        """Domains whose name contains `text`, a page of them, and how many match."""
        return await self._store.read(search_domains, text.strip(), limit=limit, offset=offset)

    async def find_users(
        self, text: str, *, domain: str | None = None, limit: int, offset: int
    ) -> tuple[list[Account], int]:
        """Accounts whose address or display name contains `text`, a page, and how many."""
        name = normalise_domain(domain) if domain else None
        return await self._store.read(
            search_accounts, text.strip(), domain=name, limit=limit, offset=offset
        )

    async def find_aliases(
        self, text: str, *, domain: str | None = None, limit: int, offset: int
    ) -> tuple[list[Alias], int]:
        """Aliases whose address or a target contains `text`, a page, and how many."""
        name = normalise_domain(domain) if domain else None
        return await self._store.read(
            search_aliases, text.strip(), domain=name, limit=limit, offset=offset
        )

    async def user(self, address: str) -> Account:
        return await self._store.read(self._store.directory.account, address)

    async def alias(self, address: str) -> Alias:
        return await self._store.read(self._store.directory.alias, address)

    async def domain(self, name: str) -> Domain:
        return await self._store.read(self._store.directory.domain, name)

    async def domain_aliases_of(self, name: str) -> list[DomainAlias]:
        domain = await self.domain(name)
        found = await self._store.read(self._store.directory.domain_aliases)
        return [a for a in found if a.domain == domain.name]


MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 512


def check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidName(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    if any(ord(c) < 0x20 or c == "\x7f" for c in password):
        raise InvalidName("a password may not contain control characters")
