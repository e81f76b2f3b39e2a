"""The Directory role: domains, domain aliases, accounts, aliases, admins and API tokens.

Names are stored in lower case (domains, and addresses' domains); the local
part of an address is compared case-insensitively too, which is what users
expect even though RFC 5321 §2.4 allows otherwise. Password hashes arrive
already hashed: hashing is CPU work that the control layer does in a thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.core.errors import AlreadyExists, InvalidName, NotFound
from roost.store.db import Tx
from roost.store.schema import (
    accounts,
    admins,
    alias_targets,
    aliases,
    api_tokens,
    domain_aliases,
    domains,
)
from roost.store.types import Account, Admin, Alias, ApiToken, Domain, DomainAlias

# RFC 1035 §2.3.4 and RFC 5321 §4.5.3.1: 63 octets a label, 253 a name,
# 64 a local part; an address is at most 254 octets in a reverse path.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})+$")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_ADMIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254

# RFC 5321 §4.5.1 and RFC 2142: every domain has these, never refused by policy.
ROLE_LOCAL_PARTS = ("postmaster", "abuse")
DOMAIN_CACHE_TTL_S = 10.0
"""How long this node trusts what it last read of domains and addresses: its
own changes clear the caches at once; another node's show within this time."""
MAX_CACHED_DOMAINS = 10_000
MAX_CACHED_RESOLUTIONS = 100_000
MAX_ALIAS_DEPTH = 8


def normalise_domain(name: str) -> str:
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidName(f"{name!r} is not a valid domain name") from None
    if not _DOMAIN_RE.match(ascii_name):
        raise InvalidName(f"{name!r} is not a valid domain name")
    return ascii_name


def normalise_address(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        raise InvalidName(f"{address!r} is not an address (local@domain)")
    local = local.lower()
    if len(local.encode()) > MAX_LOCAL_OCTETS or not _LOCAL_RE.match(local):
        raise InvalidName(f"{address!r}: {local!r} is not a valid local part")
    result = f"{local}@{normalise_domain(domain)}"
    if len(result) > MAX_ADDRESS_OCTETS:
        raise InvalidName(f"{address!r} is longer than {MAX_ADDRESS_OCTETS} octets")
    return result


def normalise_admin_name(name: str) -> str:
    name = name.strip().lower()
    if not _ADMIN_RE.match(name):
        raise InvalidName(
            f"{name!r} is not a valid admin name (letters, digits, '.', '_', '-'; up to 64)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where mail for an address goes."""

    address: str
    accounts: tuple[str, ...]
    """Local accounts that receive it (enabled or not: delivery decides)."""
    forwards: tuple[str, ...]
    """Targets outside Roost's domains."""
    loop: bool = False
    """An alias on the way leads back to itself (or the chain is too deep)."""


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        address=row.address,
        display_name=row.display_name,
        enabled=row.enabled,
        password_hash=row.password_hash,
        scram=row.scram,
        quota_bytes=row.quota_bytes,
        quota_messages=row.quota_messages,
        used_bytes=row.used_bytes,
        used_messages=row.used_messages,
        created_at=row.created_at,
    )


# Built once: the look-ups of every RCPT and every delivery are executed, not
# rebuilt (building one costs more than SQLite takes to run it).
_CATCH_ALL = sa.select(domains.c.catch_all).where(domains.c.name == sa.bindparam("b_name"))
_ACCOUNT_ID = sa.select(accounts.c.id).where(accounts.c.address == sa.bindparam("b_address"))
_ACCOUNT = sa.select(accounts).where(accounts.c.address == sa.bindparam("b_address"))


class DirectoryStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Which names are ours is asked several times for every message and
        # changes rarely: remembered for a few seconds, forgotten at once when
        # this node changes a domain (other nodes see it within the TTL).
        self._local_domains: dict[str, tuple[str | None, float]] = {}
        # Where an address leads is asked at RCPT and again at delivery.
        self._resolutions: dict[tuple[str, str], tuple[Resolution | None, float]] = {}
        # Whether an address is an enabled account is asked for every chat message.
        self._enabled: dict[str, tuple[bool, float]] = {}

    def _changed(self, tx: Tx) -> None:
        """A change that may move mail elsewhere: forget what is cached, now
        and again once it commits (a read meanwhile saw the old state)."""
        tx.after_commit(self._forget)
        self._forget()

    def _forget(self) -> None:
        self._local_domains.clear()
        self._resolutions.clear()
        self._enabled.clear()

    # --- domains

    async def add_domain(self, tx: Tx, name: str) -> Domain:
        self._changed(tx)
        name = normalise_domain(name)
        if await self._domain_id(tx, name) is not None or await self._alias_domain(tx, name):
            raise AlreadyExists(f"domain {name} exists already")
        row = (
            await tx.execute(
                domains.insert()
                .values(name=name, created_at=self._clock.now())
                .returning(*domains.c)
            )
        ).one()
        return Domain(row.id, row.name, row.catch_all, row.created_at)

    async def domains(self, tx: Tx) -> list[Domain]:
        rows = await tx.execute(sa.select(domains).order_by(domains.c.name))
        return [Domain(r.id, r.name, r.catch_all, r.created_at) for r in rows]

    async def domain(self, tx: Tx, name: str) -> Domain:
        name = normalise_domain(name)
        row = (await tx.execute(sa.select(domains).where(domains.c.name == name))).one_or_none()
        if row is None:
            raise NotFound(f"no domain {name}")
        return Domain(row.id, row.name, row.catch_all, row.created_at)

    async def remove_domain(self, tx: Tx, name: str) -> None:
        self._changed(tx)
        domain = await self.domain(tx, name)
        users = await tx.scalar(
            sa.select(sa.func.count())
            .select_from(accounts)
            .where(accounts.c.domain_id == domain.id)
        )
        if users:
            raise AlreadyExists(
                f"domain {domain.name} still has {users} account(s): remove them first"
            )
        await tx.execute(aliases.delete().where(aliases.c.domain_id == domain.id))
        await tx.execute(domains.delete().where(domains.c.id == domain.id))

    async def set_catch_all(self, tx: Tx, name: str, target: str | None) -> None:
        self._changed(tx)
        domain = await self.domain(tx, name)
        value = normalise_address(target) if target else None
        await tx.execute(domains.update().where(domains.c.id == domain.id).values(catch_all=value))

    async def _domain_id(self, tx: Tx, name: str) -> int | None:
        value = await tx.scalar(sa.select(domains.c.id).where(domains.c.name == name))
        return int(value) if value is not None else None

    async def _alias_domain(self, tx: Tx, name: str) -> str | None:
        value = await tx.scalar(
            sa.select(domains.c.name)
            .join(domain_aliases, domain_aliases.c.domain_id == domains.c.id)
            .where(domain_aliases.c.name == name)
        )
        return str(value) if value is not None else None

    async def local_domain(self, tx: Tx, name: str) -> str | None:
        """The domain that `name` is or is an alias of, or None if not ours."""
        now = self._clock.monotonic()
        cached = self._local_domains.get(name)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            normalised = normalise_domain(name)
        except InvalidName:
            return None
        found: str | None = normalised
        if await self._domain_id(tx, normalised) is None:
            found = await self._alias_domain(tx, normalised)
        if len(self._local_domains) > MAX_CACHED_DOMAINS:
            self._local_domains.clear()
        self._local_domains[name] = (found, now + DOMAIN_CACHE_TTL_S)
        return found

    # --- domain aliases

    async def add_domain_alias(self, tx: Tx, alias: str, target: str) -> DomainAlias:
        self._changed(tx)
        alias = normalise_domain(alias)
        domain = await self.domain(tx, target)
        if await self.local_domain(tx, alias) is not None:
            raise AlreadyExists(f"{alias} is already a domain or a domain alias")
        now = self._clock.now()
        await tx.execute(
            domain_aliases.insert().values(name=alias, domain_id=domain.id, created_at=now)
        )
        return DomainAlias(alias, domain.name, now)

    async def domain_aliases(self, tx: Tx) -> list[DomainAlias]:
        rows = await tx.execute(
            sa.select(
                domain_aliases.c.name, domains.c.name.label("domain"), domain_aliases.c.created_at
            )
            .join(domains, domains.c.id == domain_aliases.c.domain_id)
            .order_by(domain_aliases.c.name)
        )
        return [DomainAlias(r.name, r.domain, r.created_at) for r in rows]

    async def remove_domain_alias(self, tx: Tx, alias: str) -> None:
        self._changed(tx)
        result = await tx.execute(
            domain_aliases.delete().where(domain_aliases.c.name == normalise_domain(alias))
        )
        if not result.rowcount:
            raise NotFound(f"no domain alias {alias}")

    # --- accounts

    async def add_account(
        self,
        tx: Tx,
        address: str,
        *,
        display_name: str,
        password_hash: str,
        scram: str,
        quota_bytes: int = 0,
        quota_messages: int = 0,
    ) -> Account:
        self._changed(tx)
        address = normalise_address(address)
        domain_name = address.rpartition("@")[2]
        domain_id = await self._domain_id(tx, domain_name)
        if domain_id is None:
            raise NotFound(f"no domain {domain_name}: add it first")
        if await self._address_taken(tx, address):
            raise AlreadyExists(f"{address} is already an account or an alias")
        row = (
            await tx.execute(
                accounts.insert()
                .values(
                    address=address,
                    domain_id=domain_id,
                    display_name=display_name,
                    enabled=True,
                    password_hash=password_hash,
                    scram=scram,
                    quota_bytes=quota_bytes,
                    quota_messages=quota_messages,
                    used_bytes=0,
                    used_messages=0,
                    created_at=self._clock.now(),
                )
                .returning(*accounts.c)
            )
        ).one()
        for local in ROLE_LOCAL_PARTS:
            role = f"{local}@{domain_name}"
            if not await self._address_taken(tx, role):
                await self._insert_alias(tx, role, domain_id, (address,))
        return _account(row)

    async def _address_taken(self, tx: Tx, address: str) -> bool:
        account = await tx.scalar(sa.select(accounts.c.id).where(accounts.c.address == address))
        alias = await tx.scalar(sa.select(aliases.c.id).where(aliases.c.address == address))
        return account is not None or alias is not None

    async def account(self, tx: Tx, address: str) -> Account:
        found = await self.find_account(tx, address)
        if found is None:
            raise NotFound(f"no account {address}")
        return found

    async def find_account(self, tx: Tx, address: str) -> Account | None:
        try:
            address = normalise_address(address)
        except InvalidName:
            return None
        row = (await tx.execute(_ACCOUNT, {"b_address": address})).one_or_none()
        return _account(row) if row is not None else None

    def known_enabled(self, address: str) -> bool | None:
        """Whether `address` is an enabled account, if this node read it in
        the last `DOMAIN_CACHE_TTL_S` (and has changed no account since);
        None when it must ask the store (`account_enabled`)."""
        cached = self._enabled.get(address)
        if cached is not None and cached[1] > self._clock.monotonic():
            return cached[0]
        return None

    async def account_enabled(self, tx: Tx, address: str) -> bool:
        """Is `address` an enabled account? Remembered for `known_enabled`."""
        account = await self.find_account(tx, address)
        found = account is not None and account.enabled
        if len(self._enabled) > MAX_CACHED_RESOLUTIONS:
            self._enabled.clear()
        self._enabled[address] = (found, self._clock.monotonic() + DOMAIN_CACHE_TTL_S)
        return found

    async def account_by_id(self, tx: Tx, account_id: int) -> Account:
        row = (
            await tx.execute(sa.select(accounts).where(accounts.c.id == account_id))
        ).one_or_none()
        if row is None:
            raise NotFound(f"no account with id {account_id}")
        return _account(row)

    async def accounts(self, tx: Tx, domain: str | None = None) -> list[Account]:
        query = sa.select(accounts).order_by(accounts.c.address)
        if domain is not None:
            found = await self.domain(tx, domain)
            query = query.where(accounts.c.domain_id == found.id)
        return [_account(r) for r in await tx.execute(query)]

    async def set_password(self, tx: Tx, address: str, password_hash: str, scram: str) -> None:
        account = await self.account(tx, address)
        await tx.execute(
            accounts.update()
            .where(accounts.c.id == account.id)
            .values(password_hash=password_hash, scram=scram)
        )

    async def set_enabled(self, tx: Tx, address: str, enabled: bool) -> None:
        self._changed(tx)
        account = await self.account(tx, address)
        await tx.execute(
            accounts.update().where(accounts.c.id == account.id).values(enabled=enabled)
        )

    async def set_quota(self, tx: Tx, address: str, quota_bytes: int, quota_messages: int) -> None:
        account = await self.account(tx, address)
        await tx.execute(
            accounts.update()
            .where(accounts.c.id == account.id)
            .values(quota_bytes=quota_bytes, quota_messages=quota_messages)
        )

    async def remove_account_row(self, tx: Tx, account_id: int) -> None:
        """Delete the account row; its mailboxes must be gone already (see control)."""
        self._changed(tx)
        await tx.execute(accounts.delete().where(accounts.c.id == account_id))

    # --- aliases

    async def add_alias(self, tx: Tx, address: str, targets: tuple[str, ...]) -> Alias:
        self._changed(tx)
        address = normalise_address(address)
        if not targets:
            raise InvalidName("an alias needs at least one target")
        normalised = tuple(dict.fromkeys(normalise_address(t) for t in targets))
        domain_name = address.rpartition("@")[2]
        domain_id = await self._domain_id(tx, domain_name)
        if domain_id is None:
            raise NotFound(f"no domain {domain_name}: add it first")
        if await self._address_taken(tx, address):
            raise AlreadyExists(f"{address} is already an account or an alias")
        return await self._insert_alias(tx, address, domain_id, normalised)

    async def _insert_alias(
        self, tx: Tx, address: str, domain_id: int, targets: tuple[str, ...]
    ) -> Alias:
        now = self._clock.now()
        alias_id = await tx.scalar(
            aliases.insert()
            .values(address=address, domain_id=domain_id, created_at=now)
            .returning(aliases.c.id)
        )
        await tx.execute(
            alias_targets.insert(), [{"alias_id": alias_id, "target": t} for t in targets]
        )
        return Alias(int(alias_id), address, targets, now)

    async def set_alias_targets(self, tx: Tx, address: str, targets: tuple[str, ...]) -> Alias:
        self._changed(tx)
        alias = await self.alias(tx, address)
        if not targets:
            raise InvalidName("an alias needs at least one target")
        normalised = tuple(dict.fromkeys(normalise_address(t) for t in targets))
        await tx.execute(alias_targets.delete().where(alias_targets.c.alias_id == alias.id))
        await tx.execute(
            alias_targets.insert(), [{"alias_id": alias.id, "target": t} for t in normalised]
        )
        return Alias(alias.id, alias.address, normalised, alias.created_at)

    async def alias(self, tx: Tx, address: str) -> Alias:
        address = normalise_address(address)
        found = await self._aliases(tx, aliases.c.address == address)
        if not found:
            raise NotFound(f"no alias {address}")
        return found[0]

    async def aliases(self, tx: Tx, domain: str | None = None) -> list[Alias]:
        condition: sa.ColumnElement[bool] = sa.true()
        if domain is not None:
            condition = aliases.c.domain_id == (await self.domain(tx, domain)).id
        return await self._aliases(tx, condition)

    async def _aliases(self, tx: Tx, condition: sa.ColumnElement[bool]) -> list[Alias]:
        rows = await tx.execute(
            sa.select(aliases, alias_targets.c.target)
            .join(alias_targets, alias_targets.c.alias_id == aliases.c.id)
            .where(condition)
            .order_by(aliases.c.address, alias_targets.c.target)
        )
        grouped: dict[int, tuple[Any, list[str]]] = {}
        for row in rows:
            grouped.setdefault(row.id, (row, []))[1].append(row.target)
        return [Alias(r.id, r.address, tuple(t), r.created_at) for r, t in grouped.values()]

    async def aliases_of(self, tx: Tx, address: str) -> list[str]:
        """Aliases that deliver to `address` directly (the addresses a user may send as)."""
        rows = await tx.execute(
            sa.select(aliases.c.address)
            .join(alias_targets, alias_targets.c.alias_id == aliases.c.id)
            .where(alias_targets.c.target == normalise_address(address))
            .order_by(aliases.c.address)
        )
        return [row.address for row in rows]

    async def remove_alias(self, tx: Tx, address: str) -> None:
        self._changed(tx)
        address = normalise_address(address)
        if address.partition("@")[0] in ROLE_LOCAL_PARTS:
            raise InvalidName(
                f"{address} is required by RFC 5321 §4.5.1: "
                "point it elsewhere instead of removing it"
            )
        result = await tx.execute(aliases.delete().where(aliases.c.address == address))
        if not result.rowcount:
            raise NotFound(f"no alias {address}")

    async def replace_target(self, tx: Tx, old: str, new: str | None) -> None:
        """Point alias targets at `new` (or drop them) when an account goes away."""
        self._changed(tx)
        rows = await tx.execute(sa.select(alias_targets).where(alias_targets.c.target == old))
        for row in rows.all():
            await tx.execute(
                alias_targets.delete().where(
                    alias_targets.c.alias_id == row.alias_id, alias_targets.c.target == old
                )
            )
            if new is not None:
                exists = await tx.scalar(
                    sa.select(alias_targets.c.target).where(
                        alias_targets.c.alias_id == row.alias_id, alias_targets.c.target == new
                    )
                )
                if exists is None:
                    await tx.execute(
                        alias_targets.insert().values(alias_id=row.alias_id, target=new)
                    )
        # An alias left without targets is removed.
        empty = sa.select(aliases.c.id).where(
            ~sa.exists().where(alias_targets.c.alias_id == aliases.c.id)
        )
        await tx.execute(aliases.delete().where(aliases.c.id.in_(empty)))

    # --- resolution

    async def resolve(
        self, tx: Tx, address: str, delimiter: str, *, path: tuple[str, ...] = ()
    ) -> Resolution | None:
        """Where mail for `address` goes, or None if it is not ours or unknown.

        Order: exact account, exact alias, then without the +tag, then the
        domain's catch-all. Domain aliases map to their domain first. An alias
        that leads back to itself, or chains deeper than `MAX_ALIAS_DEPTH`,
        is reported as a loop.
        """
        if path:
            return await self._resolve(tx, address, delimiter, path)
        key = (address, delimiter)
        now = self._clock.monotonic()
        cached = self._resolutions.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await self._resolve(tx, address, delimiter, path)
        if len(self._resolutions) > MAX_CACHED_RESOLUTIONS:
            self._resolutions.clear()
        self._resolutions[key] = (found, now + DOMAIN_CACHE_TTL_S)
        return found

    async def _resolve(
        self, tx: Tx, address: str, delimiter: str, path: tuple[str, ...]
    ) -> Resolution | None:
        try:
            address = normalise_address(address)
        except InvalidName:
            return None
        local, _, domain_name = address.rpartition("@")
        domain = await self.local_domain(tx, domain_name)
        if domain is None:
            return None
        candidates = [f"{local}@{domain}"]
        if delimiter and delimiter in local:
            candidates.append(f"{local.split(delimiter, 1)[0]}@{domain}")
        catch_all = await tx.scalar(_CATCH_ALL, {"b_name": domain})
        if catch_all:
            candidates.append(catch_all)
        for candidate in candidates:
            found = await self._resolve_exact(tx, candidate, delimiter, path)
            if found is not None:
                return Resolution(address, *found)
        return None

    async def _resolve_exact(
        self, tx: Tx, address: str, delimiter: str, path: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...], bool] | None:
        account = await tx.scalar(_ACCOUNT_ID, {"b_address": address})
        if account is not None:
            return (address,), (), False
        found = await self._aliases(tx, aliases.c.address == address)
        if not found:
            return None
        if address in path or len(path) >= MAX_ALIAS_DEPTH:
            return (), (), True
        local_accounts: list[str] = []
        forwards: list[str] = []
        loop = False
        for target in found[0].targets:
            target_domain = target.rpartition("@")[2]
            if await self.local_domain(tx, target_domain) is None:
                forwards.append(target)
                continue
            inner = await self.resolve(tx, target, delimiter, path=(*path, address))
            if inner is not None:
                local_accounts.extend(inner.accounts)
                forwards.extend(inner.forwards)
                loop = loop or inner.loop
        return tuple(dict.fromkeys(local_accounts)), tuple(dict.fromkeys(forwards)), loop

    # --- admins and API tokens

    async def add_admin(self, tx: Tx, name: str, password_hash: str, *, must_change: bool) -> Admin:
        name = normalise_admin_name(name)
        if await tx.scalar(sa.select(admins.c.id).where(admins.c.name == name)) is not None:
            raise AlreadyExists(f"admin {name} exists already")
        row = (
            await tx.execute(
                admins.insert()
                .values(
                    name=name,
                    password_hash=password_hash,
                    must_change_password=must_change,
                    created_at=self._clock.now(),
                )
                .returning(*admins.c)
            )
        ).one()
        return Admin(row.id, row.name, row.password_hash, row.must_change_password, row.created_at)

    async def admins(self, tx: Tx) -> list[Admin]:
        rows = await tx.execute(sa.select(admins).order_by(admins.c.name))
        return [
            Admin(r.id, r.name, r.password_hash, r.must_change_password, r.created_at) for r in rows
        ]

    async def admin(self, tx: Tx, name: str) -> Admin:
        row = (
            await tx.execute(sa.select(admins).where(admins.c.name == normalise_admin_name(name)))
        ).one_or_none()
        if row is None:
            raise NotFound(f"no admin {name}")
        return Admin(row.id, row.name, row.password_hash, row.must_change_password, row.created_at)

    async def set_admin_password(
        self, tx: Tx, name: str, password_hash: str, *, must_change: bool
    ) -> None:
        admin = await self.admin(tx, name)
        await tx.execute(
            admins.update()
            .where(admins.c.id == admin.id)
            .values(password_hash=password_hash, must_change_password=must_change)
        )

    async def remove_admin(self, tx: Tx, name: str) -> None:
        admin = await self.admin(tx, name)
        await tx.execute(api_tokens.delete().where(api_tokens.c.admin_id == admin.id))
        await tx.execute(admins.delete().where(admins.c.id == admin.id))

    async def add_token(self, tx: Tx, admin_name: str, name: str, token_hash: str) -> ApiToken:
        admin = await self.admin(tx, admin_name)
        exists = await tx.scalar(
            sa.select(api_tokens.c.id).where(
                api_tokens.c.admin_id == admin.id, api_tokens.c.name == name
            )
        )
        if exists is not None:
            raise AlreadyExists(f"admin {admin.name} has a token named {name!r} already")
        now = self._clock.now()
        token_id = await tx.scalar(
            api_tokens.insert()
            .values(admin_id=admin.id, name=name, token_hash=token_hash, created_at=now)
            .returning(api_tokens.c.id)
        )
        return ApiToken(int(token_id), admin.name, name, now, None)

    async def tokens(self, tx: Tx, admin_name: str | None = None) -> list[ApiToken]:
        query = (
            sa.select(api_tokens, admins.c.name.label("admin"))
            .join(admins, admins.c.id == api_tokens.c.admin_id)
            .order_by(admins.c.name, api_tokens.c.name)
        )
        if admin_name is not None:
            query = query.where(admins.c.name == normalise_admin_name(admin_name))
        rows = await tx.execute(query)
        return [ApiToken(r.id, r.admin, r.name, r.created_at, r.last_used_at) for r in rows]

    async def token_by_hash(self, tx: Tx, token_hash: str) -> ApiToken | None:
        row = (
            await tx.execute(
                sa.select(api_tokens, admins.c.name.label("admin"))
                .join(admins, admins.c.id == api_tokens.c.admin_id)
                .where(api_tokens.c.token_hash == token_hash)
            )
        ).one_or_none()
        if row is None:
            return None
        return ApiToken(row.id, row.admin, row.name, row.created_at, row.last_used_at)

    async def touch_token(self, tx: Tx, token_id: int) -> None:
        await tx.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id)
            .values(last_used_at=self._clock.now())
        )

    async def revoke_token(self, tx: Tx, admin_name: str, name: str) -> None:
        admin = await self.admin(tx, admin_name)
        result = await tx.execute(
            api_tokens.delete().where(api_tokens.c.admin_id == admin.id, api_tokens.c.name == name)
        )
        if not result.rowcount:
            raise NotFound(f"admin {admin.name} has no token named {name!r}")


# --- listing with search and paging (the admin console's Domains, Users and Aliases pages)


@dataclass(frozen=True, slots=True)
class DomainSummary:
    domain: Domain
    accounts: int
    aliases: int


def _contains(column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """`column` contains `text`, case-insensitively, with LIKE's wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(column).like(f"%{escaped}%", escape="\\")


async def search_domains(
    tx: Tx, text: str, *, limit: int, offset: int
) -> tuple[list[DomainSummary], int]:
    """Domains whose name contains `text`, by name, with their counts; and how many match."""
    condition = _contains(domains.c.name, text) if text else sa.true()
    total = int(await tx.scalar(sa.select(sa.func.count()).select_from(domains).where(condition)))
    users = sa.select(sa.func.count()).where(accounts.c.domain_id == domains.c.id).scalar_subquery()
    alias_count = (
        sa.select(sa.func.count()).where(aliases.c.domain_id == domains.c.id).scalar_subquery()
    )
    rows = await tx.execute(
        sa.select(domains, users.label("users"), alias_count.label("alias_count"))
        .where(condition)
        .order_by(domains.c.name)
        .limit(limit)
        .offset(offset)
    )
    found = [
        DomainSummary(Domain(r.id, r.name, r.catch_all, r.created_at), r.users, r.alias_count)
        for r in rows
    ]
    return found, total


async def search_accounts(
    tx: Tx, text: str, *, domain: str | None, limit: int, offset: int
) -> tuple[list[Account], int]:
    """Accounts whose address or display name contains `text`, by address; and how many."""
    condition: sa.ColumnElement[bool] = sa.true()
    if text:
        condition = sa.or_(
            _contains(accounts.c.address, text), _contains(accounts.c.display_name, text)
        )
    if domain:
        condition = sa.and_(
            condition,
            accounts.c.domain_id
            == sa.select(domains.c.id).where(domains.c.name == domain).scalar_subquery(),
        )
    total = int(await tx.scalar(sa.select(sa.func.count()).select_from(accounts).where(condition)))
    rows = await tx.execute(
        sa.select(accounts)
        .where(condition)
        .order_by(accounts.c.address)
        .limit(limit)
        .offset(offset)
    )
    return [_account(r) for r in rows], total


async def search_aliases(
    tx: Tx, text: str, *, domain: str | None, limit: int, offset: int
) -> tuple[list[Alias], int]:
    """Aliases whose address or a target contains `text`, by address; and how many."""
    condition: sa.ColumnElement[bool] = sa.true()
    if text:
        condition = sa.or_(
            _contains(aliases.c.address, text),
            aliases.c.id.in_(
                sa.select(alias_targets.c.alias_id).where(_contains(alias_targets.c.target, text))
            ),
        )
    if domain:
        condition = sa.and_(
            condition,
            aliases.c.domain_id
            == sa.select(domains.c.id).where(domains.c.name == domain).scalar_subquery(),
        )
    total = int(await tx.scalar(sa.select(sa.func.count()).select_from(aliases).where(condition)))
    page = (
        sa.select(aliases.c.id)
        .where(condition)
        .order_by(aliases.c.address)
        .limit(limit)
        .offset(offset)
    )
    ids = [row.id for row in await tx.execute(page)]
    if not ids:
        return [], total
    rows = await tx.execute(
        sa.select(aliases, alias_targets.c.target)
        .join(alias_targets, alias_targets.c.alias_id == aliases.c.id)
        .where(aliases.c.id.in_(ids))
        .order_by(aliases.c.address, alias_targets.c.target)
    )
    grouped: dict[int, tuple[Any, list[str]]] = {}
    for row in rows:
        grouped.setdefault(row.id, (row, []))[1].append(row.target)
    return [Alias(r.id, r.address, tuple(t), r.created_at) for r, t in grouped.values()], total
