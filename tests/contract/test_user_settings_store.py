"""Contract of the UserSettings role, on SQLite and PostgreSQL: a user's
settings row, the users on vacation by address, and the once-per-period log."""

from __future__ import annotations

from datetime import date, timedelta

from roost.core.clock import ManualClock
from roost.store.store import Store
from roost.store.types import Account
from roost.store.user_settings import StoredSettings


async def make_account(store: Store, address: str) -> Account:
    async def work(tx):  # type: ignore[no-untyped-def]
        domain = address.rpartition("@")[2]
        if await store.directory.local_domain(tx, domain) is None:
            await store.directory.add_domain(tx, domain)
        return await store.directory.add_account(
            tx, address, display_name="A", password_hash="x", scram="{}"
        )

    return await store.write(work)


async def test_settings_are_kept_and_replaced(store: Store) -> None:
    account = await make_account(store, "alice@example.org")
    role = store.user_settings
    assert await store.read(role.get, account.id) is None
    first = StoredSettings(
        display_name="Alice",
        signature="-- \nAlice",
        reply_to="a@example.net",
        time_zone="Europe/Paris",
        vacation_enabled=True,
        vacation_start=date(2026, 7, 1),
        vacation_end=date(2026, 7, 31),
        vacation_subject="Away",
        vacation_text="Back in August.",
        vacation_period_days=5,
    )
    await store.write(role.put, account.id, first)
    assert await store.read(role.get, account.id) == first
    second = StoredSettings(display_name="Alice B")
    await store.write(role.put, account.id, second)
    assert await store.read(role.get, account.id) == second


async def test_active_vacations_by_address(store: Store) -> None:
    alice = await make_account(store, "alice@example.org")
    carol = await make_account(store, "carol@example.org")
    await make_account(store, "dave@example.org")
    role = store.user_settings
    await store.write(role.put, alice.id, StoredSettings(vacation_enabled=True, vacation_text="x"))
    await store.write(role.put, carol.id, StoredSettings(vacation_enabled=False))
    found = await store.read(
        role.active_vacations, ["alice@example.org", "carol@example.org", "dave@example.org"]
    )
    assert [(v.account_id, v.address, v.settings.vacation_text) for v in found] == [
        (alice.id, "alice@example.org", "x")
    ]
    assert await store.read(role.active_vacations, []) == []


async def test_a_reply_is_claimed_once_per_period(store: Store, clock: ManualClock) -> None:
    alice = await make_account(store, "alice@example.org")
    role = store.user_settings
    period = timedelta(days=2)
    assert await store.write(role.claim_reply, alice.id, "bob@example.net", period)
    assert not await store.write(role.claim_reply, alice.id, "bob@example.net", period)
    assert await store.write(role.claim_reply, alice.id, "dave@example.net", period)
    assert await store.read(role.last_reply, alice.id, "bob@example.net") == clock.now()
    clock.advance(period.total_seconds() - 1)
    assert not await store.write(role.claim_reply, alice.id, "bob@example.net", period)
    clock.advance(1)
    assert await store.write(role.claim_reply, alice.id, "bob@example.net", period)
    assert await store.write(role.forget_replies, alice.id) == 2
    assert await store.read(role.last_reply, alice.id, "bob@example.net") is None
