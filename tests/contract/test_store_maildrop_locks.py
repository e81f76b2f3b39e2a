"""The maildrop lock role on both backends: one holder at a time, expiry,
renewal, release, and LOGIN-DELAY from the last time it was taken."""

from __future__ import annotations

import asyncio

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.store.maildrop_locks import LockOutcome
from roost.store.store import Store

TTL_S = 120.0


async def inbox(store: Store, config: Config) -> int:
    directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
    await directory.add_domain(Actor("test"), "example.org")
    account, _ = await directory.add_user(Actor("test"), "alice@example.org", "alice-password")
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    return box.id


async def test_one_holder_until_release_or_expiry(
    store: Store, store_config: Config, clock: ManualClock
) -> None:
    box = await inbox(store, store_config)
    locks = store.maildrop_locks
    assert await store.write(locks.take, box, "a", TTL_S) is LockOutcome.TAKEN
    assert await store.write(locks.take, box, "b", TTL_S) is LockOutcome.IN_USE
    assert await store.read(locks.holder, box) == "a"
    assert not await store.write(locks.release, box, "b")
    assert await store.write(locks.release, box, "a")
    assert await store.read(locks.holder, box) is None
    assert await store.write(locks.take, box, "b", TTL_S) is LockOutcome.TAKEN
    # b's node dies: its lock lapses after the TTL unless renewed.
    clock.advance(TTL_S - 1)
    assert await store.write(locks.take, box, "c", TTL_S) is LockOutcome.IN_USE
    clock.advance(2)
    assert await store.read(locks.holder, box) is None
    assert not await store.write(locks.renew, box, "c", TTL_S)
    assert await store.write(locks.take, box, "c", TTL_S) is LockOutcome.TAKEN
    assert not await store.write(locks.renew, box, "b", TTL_S)  # b lost it for good


async def test_renewal_keeps_the_lock(
    store: Store, store_config: Config, clock: ManualClock
) -> None:
    box = await inbox(store, store_config)
    locks = store.maildrop_locks
    assert await store.write(locks.take, box, "a", TTL_S) is LockOutcome.TAKEN
    for _ in range(5):
        clock.advance(TTL_S / 3)
        assert await store.write(locks.renew, box, "a", TTL_S)
    assert await store.write(locks.take, box, "b", TTL_S) is LockOutcome.IN_USE


async def test_racing_takers_get_one_lock(store: Store, store_config: Config) -> None:
    box = await inbox(store, store_config)
    locks = store.maildrop_locks
    outcomes = await asyncio.gather(
        *(store.write(locks.take, box, f"s{i}", TTL_S) for i in range(8))
    )
    assert outcomes.count(LockOutcome.TAKEN) == 1


async def test_login_delay_counts_from_the_last_take(
    store: Store, store_config: Config, clock: ManualClock
) -> None:
    box = await inbox(store, store_config)
    locks = store.maildrop_locks
    assert await store.write(locks.take, box, "a", TTL_S, min_interval_s=60) is LockOutcome.TAKEN
    assert await store.write(locks.release, box, "a")
    clock.advance(30)
    assert await store.write(locks.take, box, "b", TTL_S, min_interval_s=60) is (
        LockOutcome.TOO_SOON
    )
    clock.advance(31)
    assert await store.write(locks.take, box, "b", TTL_S, min_interval_s=60) is LockOutcome.TAKEN


async def test_the_lock_goes_with_its_mailbox(store: Store, store_config: Config) -> None:
    box = await inbox(store, store_config)
    assert await store.write(store.maildrop_locks.take, box, "a", TTL_S) is LockOutcome.TAKEN
    account = await store.read(store.directory.account, "alice@example.org")
    await store.write(store.mail.remove_account_mailboxes, account.id)
    assert await store.read(store.maildrop_locks.holder, box) is None
