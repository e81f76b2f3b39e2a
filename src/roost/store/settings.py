"""Settings (desired service states, spool settings) and the event and audit log."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import events, settings
from roost.store.types import Event, NewEvent

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class SettingsStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def get(self, tx: Tx, key: str) -> JsonValue:
        value = await tx.scalar(sa.select(settings.c.value).where(settings.c.key == key))
        return None if value is None else json.loads(value)

    async def get_prefix(self, tx: Tx, prefix: str) -> dict[str, JsonValue]:
        rows = await tx.execute(
            sa.select(settings.c.key, settings.c.value).where(
                settings.c.key.startswith(prefix, autoescape=True)
            )
        )
        return {row.key: json.loads(row.value) for row in rows}

    async def set(self, tx: Tx, key: str, value: JsonValue) -> None:
        text = json.dumps(value, sort_keys=True)
        now = self._clock.now()
        result = await tx.execute(
            settings.update().where(settings.c.key == key).values(value=text, updated_at=now)
        )
        if not result.rowcount:
            await tx.execute(settings.insert().values(key=key, value=text, updated_at=now))


class EventLog:
    """Who changed what, when, from where and why: the audit trail."""

    def __init__(self, clock: Clock, node: str) -> None:
        self._clock = clock
        self._node = node

    async def add(self, tx: Tx, event: NewEvent) -> int:
        value = await tx.scalar(
            events.insert()
            .values(
                at=self._clock.now(),
                node=self._node,
                object=event.object,
                action=event.action,
                old_state=event.old_state,
                new_state=event.new_state,
                actor=event.actor,
                source_address=event.source_address,
                reason=event.reason,
            )
            .returning(events.c.id)
        )
        return int(value)

    async def list(
        self,
        tx: Tx,
        *,
        limit: int = 100,
        before_id: int | None = None,
        object: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        object_prefix: str | None = None,
        actor_contains: str | None = None,
    ) -> list[Event]:
        """Newest first. `object` matches exactly, `object_prefix` the start of the
        object (`service:` for every service), `actor_contains` any part of the
        actor without regard to case; `since` and `until` bound the time."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(events.c.id < before_id)
        if object is not None:
            query = query.where(events.c.object == object)
        if object_prefix:
            query = query.where(events.c.object.startswith(object_prefix, autoescape=True))
        if actor_contains:
            query = query.where(
                sa.func.lower(events.c.actor).contains(actor_contains.lower(), autoescape=True)
            )
        if since is not None:
            query = query.where(events.c.at >= since)
        if until is not None:
            query = query.where(events.c.at < until)
        rows = await tx.execute(query)
        return [
            Event(
                r.id,
                r.at,
                r.node,
                r.object,
                r.action,
                r.old_state,
                r.new_state,
                r.actor,
                r.source_address,
                r.reason,
            )
            for r in rows
        ]

    async def prune(self, tx: Tx, before: datetime) -> int:
        """Remove the events older than `before` (the retention setting)."""
        done = await tx.execute(events.delete().where(events.c.at < before))
        return int(done.rowcount)
