"""Chat tokens in the store, on both backends: kept hashed, used once, gone with
their webmail session or when expired."""

from __future__ import annotations

from datetime import timedelta

from roost.core.clock import ManualClock
from roost.store.store import Store
from roost.store.types import Account

HASH_A = "a" * 64
HASH_B = "b" * 64
SESSION = "s" * 64


async def _account(store: Store) -> Account:
    await store.write(store.directory.add_domain, "example.test")
    return await store.write(
        store.directory.add_account,
        "ann@example.test",
        display_name="Ann",
        password_hash="hash",
        scram="",
    )


async def test_a_token_is_redeemed_once(store: Store, clock: ManualClock) -> None:
    account = await _account(store)
    tokens = store.chat_tokens
    await store.write(store.webmail_sessions.add_session, SESSION, account.id, "st", "c", None)
    expires = clock.now() + timedelta(seconds=60)
    await store.write(tokens.add_token, HASH_A, account.id, SESSION, expires)
    assert await store.read(tokens.token_count, SESSION) == 1
    found = await store.write(tokens.redeem_token, HASH_A, clock.now())
    assert found is not None and found.account_id == account.id
    assert found.address == "ann@example.test" and found.enabled
    assert await store.write(tokens.redeem_token, HASH_A, clock.now()) is None
    assert await store.write(tokens.redeem_token, HASH_B, clock.now()) is None
    assert await store.read(tokens.token_count, SESSION) == 0


async def test_an_expired_token_is_not_redeemed(store: Store, clock: ManualClock) -> None:
    account = await _account(store)
    tokens = store.chat_tokens
    await store.write(store.webmail_sessions.add_session, SESSION, account.id, "st", "c", None)
    expires = clock.now() + timedelta(seconds=60)
    await store.write(tokens.add_token, HASH_A, account.id, SESSION, expires)
    await store.write(tokens.add_token, HASH_B, account.id, SESSION, expires + timedelta(1))
    assert await store.write(tokens.redeem_token, HASH_A, expires) is None
    assert await store.read(tokens.token_count, SESSION) == 2, "a refused token stays"
    assert await store.write(tokens.remove_expired_tokens, expires) == 1
    assert await store.read(tokens.token_count, SESSION) == 1
    assert await store.write(tokens.remove_expired_tokens, expires + timedelta(2)) == 1


async def test_tokens_go_with_their_session(store: Store, clock: ManualClock) -> None:
    account = await _account(store)
    tokens = store.chat_tokens
    await store.write(store.webmail_sessions.add_session, SESSION, account.id, "st", "c", None)
    expires = clock.now() + timedelta(seconds=60)
    await store.write(tokens.add_token, HASH_A, account.id, SESSION, expires)
    await store.write(store.webmail_sessions.remove_session, SESSION)
    assert await store.read(tokens.token_count, SESSION) == 0
    assert await store.write(tokens.redeem_token, HASH_A, clock.now()) is None
