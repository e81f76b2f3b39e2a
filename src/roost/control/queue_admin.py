"""What an administrator does to the queue, each action with its audit event.

An action names entries one by one (a row, the ticked rows, the API's list)
or by a filter ("all matching" on the Spool page). Many entries are worked
on in batches of `BATCH_ENTRIES`, one unit of work each, so that a bulk
action on tens of thousands of entries never holds the writer for long;
every entry touched gets its own audit event. An entry that is gone by the
time its turn comes (delivered meanwhile) is counted, not an error.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from roost.control.directory import Actor
from roost.control.intake import Intake
from roost.core.errors import NotFound
from roost.store.db import Tx
from roost.store.queue import QueueFilter, matching_ids
from roost.store.store import Store
from roost.store.types import NewEvent, RecipientState

ADMIN_BOUNCE_REPLY = "550 5.0.0 returned to the sender by the administrator"
BATCH_ENTRIES = 500
"""Entries per unit of work in a bulk action: big enough to be quick, small
enough that SMTP's own commits are never kept waiting long."""


class QueueAction(enum.StrEnum):
    RETRY = "retry"
    """Try again now."""
    RESET = "reset"
    """Try again now, counting attempts from zero."""
    HOLD = "hold"
    RELEASE = "release"
    DELETE = "delete"
    """Remove without telling anyone."""
    BOUNCE = "bounce"
    """Fail every pending recipient now; the sender gets a failure notice."""


@dataclass(frozen=True, slots=True)
class BulkResult:
    done: int
    """Entries the action was applied to."""
    gone: int
    """Entries that no longer existed when their turn came."""


class QueueAdmin:
    def __init__(self, store: Store, intake: Intake) -> None:
        self._store = store
        self._intake = intake

    async def apply(self, actor: Actor, action: QueueAction, entry_id: int) -> None:
        async def work(tx: Tx) -> None:
            await self._apply_one(tx, actor, action, entry_id)

        await self._store.write(work)
        self._intake.wakeup.set()

    async def apply_many(
        self, actor: Actor, action: QueueAction, entry_ids: Sequence[int]
    ) -> BulkResult:
        """The action on each of `entry_ids`; those already gone are counted in `gone`."""
        unique = list(dict.fromkeys(entry_ids))
        done = gone = 0
        for first in range(0, len(unique), BATCH_ENTRIES):
            batch_done, batch_gone = await self._store.write(
                self._apply_batch, actor, action, unique[first : first + BATCH_ENTRIES]
            )
            done += batch_done
            gone += batch_gone
        self._intake.wakeup.set()
        return BulkResult(done, gone)

    async def apply_matching(
        self, actor: Actor, action: QueueAction, where: QueueFilter
    ) -> BulkResult:
        """The action on every entry the filter matches (bound it with `upto_id`)."""
        done = gone = 0
        after: int | None = None
        while True:
            ids = await self._store.read(matching_ids, where, after_id=after, limit=BATCH_ENTRIES)
            if not ids:
                break
            batch_done, batch_gone = await self._store.write(self._apply_batch, actor, action, ids)
            done += batch_done
            gone += batch_gone
            after = ids[-1]
        self._intake.wakeup.set()
        return BulkResult(done, gone)

    async def _apply_batch(
        self, tx: Tx, actor: Actor, action: QueueAction, entry_ids: Sequence[int]
    ) -> tuple[int, int]:
        done = gone = 0
        for entry_id in entry_ids:
            try:
                await self._apply_one(tx, actor, action, entry_id)
            except NotFound:
                # Every step raises before it changes anything: nothing to undo.
                gone += 1
            else:
                done += 1
        return done, gone

    async def _apply_one(self, tx: Tx, actor: Actor, action: QueueAction, entry_id: int) -> None:
        store = self._store
        match action:
            case QueueAction.RETRY:
                await store.queue.retry_now(tx, entry_id)
            case QueueAction.RESET:
                await store.queue.retry_now(tx, entry_id, reset=True)
            case QueueAction.HOLD:
                await store.queue.hold(tx, entry_id)
            case QueueAction.RELEASE:
                await store.queue.release_hold(tx, entry_id)
            case QueueAction.DELETE:
                await store.queue.remove(tx, entry_id)
            case QueueAction.BOUNCE:
                entry = await store.queue.entry(tx, entry_id)
                for recipient in entry.recipients:
                    if recipient.state is RecipientState.PENDING:
                        await store.queue.set_recipient_result(
                            tx,
                            entry_id,
                            recipient.id,
                            RecipientState.FAILED,
                            ADMIN_BOUNCE_REPLY,
                        )
                await store.queue.release_hold(tx, entry_id)
        await store.events.add(
            tx,
            NewEvent(
                object=f"queue:{entry_id}",
                action=action.value,
                actor=actor.name,
                source_address=actor.source_address,
            ),
        )
