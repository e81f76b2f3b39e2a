"""Rebuilding the full-text index: what the API, the CLI (through it) and the
admin console's user page all do, audited in the event log."""

from __future__ import annotations

from dataclasses import dataclass

from roost.control.directory import Actor
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewEvent


@dataclass(frozen=True, slots=True)
class Dropped:
    messages: int
    items: int


async def rebuild_index(store: Store, actor: Actor, user: str | None) -> Dropped:
    """Drop the documents of `user` (or of everyone), messages and groupware
    items, and ask the Indexing service to index them again; audited."""

    async def work(tx: Tx) -> Dropped:
        owner = None if not user else (await store.directory.account(tx, user)).id
        dropped = Dropped(
            await store.search.forget(tx, owner), await store.search.forget_items(tx, owner)
        )
        await store.search.request_rescan(tx)
        await store.events.add(
            tx,
            NewEvent(
                object=f"index:{user.lower() if user else '*'}",
                action="rebuild",
                actor=actor.name,
                source_address=actor.source_address,
                reason=f"{dropped.messages} documents and {dropped.items} item documents dropped",
            ),
        )
        return dropped

    return await store.write(work)
