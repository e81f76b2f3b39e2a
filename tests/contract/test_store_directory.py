"""Contract of the Directory role, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from roost.core.clock import ManualClock
from roost.core.errors import AlreadyExists, InvalidName, NotFound
from roost.store.db import Tx
from roost.store.directory import DOMAIN_CACHE_TTL_S
from roost.store.store import Store


async def add_user(store: Store, address: str) -> None:
    async def work(tx: Tx) -> None:
        domain = address.rpartition("@")[2]
        if await store.directory.local_domain(tx, domain) is None:
            await store.directory.add_domain(tx, domain)
        await store.directory.add_account(
            tx, address, display_name="", password_hash="h", scram="{}"
        )

    await store.write(work)


async def test_domains_are_normalised_and_unique(store: Store) -> None:
    domain = await store.write(store.directory.add_domain, "Example.ORG.")
    assert domain.name == "example.org"
    with pytest.raises(AlreadyExists):
        await store.write(store.directory.add_domain, "example.org")
    with pytest.raises(InvalidName):
        await store.write(store.directory.add_domain, "-bad-.org")
    with pytest.raises(InvalidName):
        await store.write(store.directory.add_domain, "localhost")
    idn = await store.write(store.directory.add_domain, "bücher.example")
    assert idn.name == "xn--bcher-kva.example"


async def test_account_lifecycle_and_role_aliases(store: Store) -> None:
    await add_user(store, "Alice@Example.org")
    account = await store.read(store.directory.account, "ALICE@example.org")
    assert account.address == "alice@example.org" and account.enabled
    aliases = {a.address: a.targets for a in await store.read(store.directory.aliases)}
    assert aliases == {
        "abuse@example.org": ("alice@example.org",),
        "postmaster@example.org": ("alice@example.org",),
    }
    with pytest.raises(AlreadyExists):
        await add_user(store, "alice@example.org")
    with pytest.raises(AlreadyExists):
        await add_user(store, "postmaster@example.org")
    with pytest.raises(InvalidName, match="RFC 5321"):
        await store.write(store.directory.remove_alias, "postmaster@example.org")
    await store.write(store.directory.set_enabled, "alice@example.org", False)
    assert not (await store.read(store.directory.account, "alice@example.org")).enabled
    with pytest.raises(NotFound):
        await store.write(
            store.directory.add_account,
            "bob@nowhere.org",
            display_name="",
            password_hash="h",
            scram="{}",
        )


async def test_resolution_with_delimiter_aliases_domain_aliases_and_catch_all(store: Store) -> None:
    await add_user(store, "alice@example.org")
    await add_user(store, "bob@example.org")
    await store.write(
        store.directory.add_alias,
        "team@example.org",
        ("alice@example.org", "Bob@example.org", "ext@other.net"),
    )
    await store.write(store.directory.add_alias, "all@example.org", ("team@example.org",))
    await store.write(store.directory.add_domain_alias, "example.com", "example.org")

    async def resolve(address: str):  # type: ignore[no-untyped-def]
        return await store.read(store.directory.resolve, address, "+")

    plain = await resolve("alice@example.org")
    assert plain is not None and plain.accounts == ("alice@example.org",)
    tagged = await resolve("Alice+news@example.org")
    assert tagged is not None and tagged.accounts == ("alice@example.org",)
    assert tagged.address == "alice+news@example.org"
    team = await resolve("all@example.com")
    assert team is not None
    assert team.accounts == ("alice@example.org", "bob@example.org") and team.forwards == (
        "ext@other.net",
    )
    assert await resolve("nobody@example.org") is None
    assert await resolve("alice@other.net") is None
    assert await resolve("not an address") is None
    await store.write(store.directory.set_catch_all, "example.org", "bob@example.org")
    caught = await resolve("nobody@example.org")
    assert caught is not None and caught.accounts == ("bob@example.org",)
    postmaster = await resolve("postmaster@example.com")
    assert postmaster is not None and postmaster.accounts == ("alice@example.org",)


async def test_every_change_is_seen_by_the_next_resolution(store: Store) -> None:
    """Resolutions are remembered between RCPT and delivery; a change forgets them."""
    await add_user(store, "alice@example.org")
    await add_user(store, "bob@example.org")

    async def accounts(address: str) -> tuple[str, ...] | None:
        found = await store.read(store.directory.resolve, address, "+")
        return None if found is None else found.accounts

    assert await accounts("team@example.org") is None
    await store.write(store.directory.add_alias, "team@example.org", ("alice@example.org",))
    assert await accounts("team@example.org") == ("alice@example.org",)
    await store.write(store.directory.set_alias_targets, "team@example.org", ("bob@example.org",))
    assert await accounts("team@example.org") == ("bob@example.org",)
    await store.write(store.directory.remove_alias, "team@example.org")
    assert await accounts("team@example.org") is None
    bob = await store.read(store.directory.account, "bob@example.org")
    assert await accounts("bob@example.org") == ("bob@example.org",)
    await store.write(store.directory.remove_account_row, bob.id)
    assert await accounts("bob@example.org") is None
    await add_user(store, "bob@example.org")
    assert await accounts("bob+x@example.org") == ("bob@example.org",)


async def test_whether_an_account_is_enabled_is_remembered_until_a_change(
    store: Store, clock: ManualClock
) -> None:
    """Chat asks it for every message: answered from memory, and a change
    on this node (disable, remove, add) is seen at once."""
    directory = store.directory
    assert directory.known_enabled("carol@example.org") is None
    assert await store.read(directory.account_enabled, "carol@example.org") is False
    assert directory.known_enabled("carol@example.org") is False
    await add_user(store, "carol@example.org")
    assert directory.known_enabled("carol@example.org") is None
    assert await store.read(directory.account_enabled, "carol@example.org") is True
    assert directory.known_enabled("carol@example.org") is True
    await store.write(directory.set_enabled, "carol@example.org", False)
    assert directory.known_enabled("carol@example.org") is None
    assert await store.read(directory.account_enabled, "carol@example.org") is False
    await store.write(directory.set_enabled, "carol@example.org", True)
    assert await store.read(directory.account_enabled, "carol@example.org") is True
    clock.advance(DOMAIN_CACHE_TTL_S + 1)  # another node's change shows within the TTL
    assert directory.known_enabled("carol@example.org") is None
    carol = await store.read(directory.account, "carol@example.org")
    await store.read(directory.account_enabled, "carol@example.org")
    await store.write(directory.remove_account_row, carol.id)
    assert directory.known_enabled("carol@example.org") is None


async def test_domain_with_accounts_cannot_be_removed(store: Store) -> None:
    await add_user(store, "alice@example.org")
    with pytest.raises(AlreadyExists, match="still has 1 account"):
        await store.write(store.directory.remove_domain, "example.org")
    await store.write(store.directory.add_domain, "empty.org")
    await store.write(store.directory.remove_domain, "empty.org")
    assert [d.name for d in await store.read(store.directory.domains)] == ["example.org"]


async def test_admins_and_tokens(store: Store) -> None:
    await store.write(store.directory.add_admin, "root", "hash", must_change=True)
    token = await store.write(store.directory.add_token, "root", "ci", "f" * 64)
    assert token.admin == "root"
    found = await store.read(store.directory.token_by_hash, "f" * 64)
    assert found is not None and found.name == "ci"
    with pytest.raises(AlreadyExists):
        await store.write(store.directory.add_token, "root", "ci", "e" * 64)
    await store.write(store.directory.revoke_token, "root", "ci")
    assert await store.read(store.directory.token_by_hash, "f" * 64) is None
    with pytest.raises(InvalidName):
        await store.write(store.directory.add_admin, "bad name!", "h", must_change=False)


async def test_alias_loops_are_reported(store: Store) -> None:
    await add_user(store, "alice@example.org")
    await store.write(store.directory.add_alias, "a@example.org", ("b@example.org",))
    await store.write(
        store.directory.add_alias, "b@example.org", ("a@example.org", "alice@example.org")
    )
    found = await store.read(store.directory.resolve, "a@example.org", "+")
    assert found is not None and found.loop and found.accounts == ("alice@example.org",)
    plain = await store.read(store.directory.resolve, "alice@example.org", "+")
    assert plain is not None and not plain.loop
