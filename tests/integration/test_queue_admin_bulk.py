"""Queue actions in bulk: batches, audit per entry, entries gone meanwhile."""

from __future__ import annotations

from pathlib import Path

from roost.control import queue_admin
from roost.control.directory import Actor
from roost.control.intake import Intake
from roost.control.queue_admin import QueueAction, QueueAdmin
from roost.core.clock import ManualClock
from roost.store.queue import QueueFilter
from roost.store.store import open_store
from roost.store.types import NewRecipient, QueueState
from tests.conftest import make_config

ACTOR = Actor("admin:root", "192.0.2.1")


async def test_many_and_matching_in_batches(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(queue_admin, "BATCH_ENTRIES", 3)
    config = make_config(tmp_path)
    clock = ManualClock()
    store = await open_store(config, clock)
    try:
        admin = QueueAdmin(store, Intake(store, config.spool, clock))
        blob = await store.blobs.stage(b"Subject: x\r\n\r\nx\r\n")
        ids = [
            await store.write(
                store.queue.enqueue,
                blob,
                "s@example.net",
                [NewRecipient("r@example.org")],
                source="smtp",
            )
            for _ in range(8)
        ]
        result = await admin.apply_many(ACTOR, QueueAction.HOLD, [*ids[:5], ids[0], 999_999])
        assert (result.done, result.gone) == (5, 1)
        entries = await store.read(store.queue.entries, limit=20)
        assert [e.state for e in entries] == [QueueState.HELD] * 5 + [QueueState.QUEUED] * 3
        where = QueueFilter(states=(QueueState.HELD,), upto_id=ids[3])
        result = await admin.apply_matching(ACTOR, QueueAction.DELETE, where)
        assert (result.done, result.gone) == (4, 0)
        left = [e.id for e in await store.read(store.queue.entries, limit=20)]
        assert left == ids[4:]
        events = await store.read(store.events.list, limit=50, object_prefix="queue:")
        assert len(events) == 9
        assert {(e.actor, e.source_address) for e in events} == {("admin:root", "192.0.2.1")}
    finally:
        await store.close()
