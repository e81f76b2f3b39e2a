"""What an administrator does to the queue, each action with its audit event."""

from __future__ import annotations

import enum

from roost.control.directory import Actor
from roost.control.intake import Intake
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewEvent, RecipientState

ADMIN_BOUNCE_REPLY = "550 5.0.0 returned to the sender by the administrator"


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


class QueueAdmin:
    def __init__(self, store: Store, intake: Intake) -> None:
        self._store = store
        self._intake = intake

    async def apply(self, actor: Actor, action: QueueAction, entry_id: int) -> None:
        store = self._store

        async def work(tx: Tx) -> None:
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

        await store.write(work)
        self._intake.wakeup.set()
