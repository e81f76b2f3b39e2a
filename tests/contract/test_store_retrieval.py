"""The Retrieval role on both backends: external accounts, fetched keys that
commit with the queue entry or not at all, status and UIDVALIDITY re-keying."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Envelope, Intake
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.core.errors import NotFound
from roost.store.db import Tx
from roost.store.retrieval import (
    ImapKey,
    NewRetrieval,
    RetrievalProtocol,
    TlsMode,
)
from roost.store.store import Store
from roost.store.types import NewRecipient, QueueState


async def alice(store: Store, config: Config) -> int:
    directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
    await directory.add_domain(Actor("test"), "example.org")
    account, _ = await directory.add_user(Actor("test"), "alice@example.org", "alice-password")
    return account.id


def spec(protocol: RetrievalProtocol = RetrievalProtocol.POP3) -> NewRetrieval:
    return NewRetrieval(
        protocol=protocol,
        host="127.0.0.1",
        port=1110,
        tls=TlsMode.NONE,
        username="remote-alice",
        password_encrypted="gAAAA-opaque",
        folder="Fetched",
        remote_folders=("INBOX", "Archive/2026"),
    )


async def test_accounts_round_trip(store: Store, store_config: Config) -> None:
    owner = await alice(store, store_config)
    role = store.retrieval
    pop = await store.write(role.add, owner, spec())
    imap = await store.write(role.add, owner, spec(RetrievalProtocol.IMAP))
    got = await store.read(role.get, pop.id)
    assert got.spec == spec()
    assert got.account_id == owner
    assert [r.id for r in await store.read(role.accounts, account_id=owner)] == [pop.id, imap.id]
    only_imap = await store.read(role.accounts, protocol=RetrievalProtocol.IMAP)
    assert [r.id for r in only_imap] == [imap.id]
    await store.write(role.update, pop.id, replace(spec(), enabled=False))
    assert [r.id for r in await store.read(role.accounts, enabled_only=True)] == [imap.id]
    await store.write(role.remove, pop.id)
    with pytest.raises(NotFound):
        await store.read(role.get, pop.id)
    with pytest.raises(NotFound):
        await store.write(role.remove, pop.id)


async def test_status_counts_and_failures(
    store: Store, store_config: Config, clock: ManualClock
) -> None:
    owner = await alice(store, store_config)
    role = store.retrieval
    account = await store.write(role.add, owner, spec())
    await store.write(role.record_attempt, account.id, fetched=3, error=None)
    first = clock.now()
    clock.advance(60)
    await store.write(role.record_attempt, account.id, fetched=0, error="authentication failed")
    await store.write(role.record_attempt, account.id, fetched=0, error="authentication failed")
    status = (await store.read(role.get, account.id)).status
    assert status.failures == 2
    assert status.last_error == "authentication failed"
    assert status.last_success_at == first
    assert status.last_attempt_at == clock.now()
    assert (status.last_fetched, status.total_fetched) == (0, 3)
    await store.write(role.record_attempt, account.id, fetched=2, error=None)
    status = (await store.read(role.get, account.id)).status
    assert (status.failures, status.last_error, status.total_fetched) == (0, None, 5)


async def test_pop_key_commits_with_the_queue_entry(
    store: Store, store_config: Config, clock: ManualClock
) -> None:
    owner = await alice(store, store_config)
    role = store.retrieval
    account = await store.write(role.add, owner, spec())
    intake = Intake(store, store_config.spool, clock)
    envelope = Envelope(
        "", (NewRecipient("alice@example.org", notify="NEVER"),), source="pop-retrieval"
    )

    async def key(tx: Tx) -> None:
        await role.add_pop_key(tx, account.id, "uidl-1")

    await intake.accept_bytes(b"Subject: one\r\n\r\nbody\r\n", envelope, key)
    assert await store.read(role.pop_keys, account.id) == {"uidl-1"}

    # The same key again fails the unit: no second queue entry either.
    with pytest.raises(Exception):  # noqa: B017 - each backend names the conflict its own way
        await intake.accept_bytes(b"Subject: one\r\n\r\nbody\r\n", envelope, key)
    counts = await store.read(store.queue.count)
    assert sum(counts.values()) == 1
    assert counts.get(QueueState.QUEUED, 0) + counts.get(QueueState.HELD, 0) <= 1

    assert await store.write(role.forget_pop_keys, account.id, set()) == 1
    assert await store.read(role.pop_keys, account.id) == set()


async def test_imap_keys_and_uidvalidity_rekey(store: Store, store_config: Config) -> None:
    owner = await alice(store, store_config)
    role = store.retrieval
    account = await store.write(role.add, owner, spec(RetrievalProtocol.IMAP))
    for uid, fp in ((1, "a" * 64), (2, "b" * 64), (3, "c" * 64)):
        await store.write(role.add_imap_key, account.id, ImapKey("INBOX", 7, uid, fp))
    await store.write(role.add_imap_key, account.id, ImapKey("Other", 9, 1, "d" * 64))
    keys = await store.read(role.imap_keys, account.id, "INBOX")
    assert [(k.uidvalidity, k.uid) for k in keys] == [(7, 1), (7, 2), (7, 3)]
    # The folder was rebuilt: b and c are still there under new UIDs, a is gone.
    await store.write(role.rekey_imap, account.id, "INBOX", 8, {"b" * 64: [10], "c" * 64: [11]})
    keys = await store.read(role.imap_keys, account.id, "INBOX")
    assert [(k.uidvalidity, k.uid, k.fingerprint[0]) for k in keys] == [(8, 10, "b"), (8, 11, "c")]
    assert len(await store.read(role.imap_keys, account.id, "Other")) == 1
    await store.write(role.remove, account.id)
    assert await store.read(role.imap_keys, account.id, "Other") == []
