"""Admin sessions, two-step secrets and event filters, on both backends."""

from __future__ import annotations

from datetime import timedelta

from roost.core.clock import ManualClock
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewEvent


async def _admin(store: Store, name: str = "root") -> int:
    admin = await store.write(store.directory.add_admin, name, "hash", must_change=False)
    return admin.id


async def test_sessions_live_and_die(store: Store, clock: ManualClock) -> None:
    access = store.admin_access
    root = await _admin(store)
    await store.write(access.add_session, "a" * 64, root, "csrf-a", "127.0.0.1")
    clock.advance(10)
    await store.write(access.add_session, "b" * 64, root, "csrf-b", None)
    found = await store.read(access.session, "a" * 64)
    assert found is not None and found.admin == "root" and found.csrf_token == "csrf-a"
    assert found.source_address == "127.0.0.1" and not found.must_change_password
    assert [s.id_hash[0] for s in await store.read(access.sessions_of, root)] == ["a", "b"]
    clock.advance(100)
    await store.write(access.touch_session, "b" * 64)
    touched = await store.read(access.session, "b" * 64)
    assert touched is not None and touched.last_seen_at == clock.now()
    removed = await store.write(
        access.remove_expired_sessions,
        idle_before=clock.now() - timedelta(seconds=50),
        created_before=clock.now() - timedelta(days=1),
    )
    assert removed == 1 and await store.read(access.session, "a" * 64) is None
    assert await store.write(access.remove_sessions, root, keep="b" * 64) == 0
    assert await store.write(access.remove_sessions, root) == 1
    assert not await store.write(access.remove_session, "b" * 64)


async def test_removing_an_admin_removes_their_sessions(store: Store) -> None:
    root = await _admin(store)
    await _admin(store, "other")
    await store.write(store.admin_access.add_session, "c" * 64, root, "t", None)
    await store.write(store.admin_access.set_totp, root, "SECRET", enabled=True)
    await store.write(store.directory.remove_admin, "root")
    assert await store.read(store.admin_access.session, "c" * 64) is None
    assert await store.read(store.admin_access.totp, root) is None


async def test_a_totp_step_is_used_once(store: Store) -> None:
    access = store.admin_access
    root = await _admin(store)
    assert await store.read(access.totp, root) is None
    await store.write(access.set_totp, root, "FIRST", enabled=False)
    await store.write(access.set_totp, root, "SECOND", enabled=True)
    second = await store.read(access.totp, root)
    assert second is not None and second.secret == "SECOND" and second.enabled
    assert await store.write(access.use_totp_step, root, 100)
    assert not await store.write(access.use_totp_step, root, 100)
    assert not await store.write(access.use_totp_step, root, 99)
    assert await store.write(access.use_totp_step, root, 101)
    assert await store.write(access.remove_totp, root)


async def test_event_filters_and_pruning(store: Store, clock: ManualClock) -> None:
    async def add(tx: Tx, obj: str, actor: str) -> None:
        await store.events.add(tx, NewEvent(object=obj, action="x", actor=actor))

    await store.write(add, "service:smtp", "Admin:Root")
    clock.advance(60)
    await store.write(add, "service:spool", "cli:alice")
    await store.write(add, "service_%:odd", "50%_off")
    clock.advance(60)
    await store.write(add, "user:a@b.c", "supervisor")
    events = store.events

    async def objects(**kwargs: object) -> list[str]:
        return [e.object for e in await store.read(events.list, **kwargs)]  # type: ignore[arg-type]

    assert await objects(object_prefix="service:") == ["service:spool", "service:smtp"]
    assert await objects(object_prefix="service_%") == ["service_%:odd"]
    assert await objects(actor_contains="admin:root") == ["service:smtp"]
    assert await objects(actor_contains="%_") == ["service_%:odd"]
    start = clock.now() - timedelta(seconds=120)
    assert await objects(since=start + timedelta(seconds=60), until=clock.now()) == [
        "service_%:odd",
        "service:spool",
    ]
    assert await store.write(events.prune, start + timedelta(seconds=1)) == 1
    assert await objects() == ["user:a@b.c", "service_%:odd", "service:spool"]
