"""The durable change feed: one global, increasing id per change.

Every unit of work that changes a mailbox appends a row here. The id comes
from a counter row updated inside the same transaction, as its last write,
so ids become visible in increasing order on both backends: a follower that
has read up to id N never later finds a committed change below N.

Followers (IMAP IDLE, POP, Indexing, the web) remember the last id they saw
and wait. Wake-ups come in-process after each commit and, on PostgreSQL,
from other nodes through LISTEN/NOTIFY on the `roost_changes` channel.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Database, Tx
from roost.store.schema import changes, counters
from roost.store.types import Change

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "roost_changes"


def notify_channel(schema: str | None) -> str:
    """One channel per installation: several may share a database in their own schemas."""
    return f"{NOTIFY_CHANNEL}.{schema}" if schema else NOTIFY_CHANNEL


# Built once: statements on the delivery path are executed, not rebuilt.
_NEXT_CHANGE_ID = (
    counters.update()
    .where(counters.c.name == "change")
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)
_INSERT_CHANGE = changes.insert()


class ChangeFeed:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.channel = notify_channel(db.schema)
        self._clock = clock
        self._latest = 0
        self._wakeup = asyncio.Event()

    @property
    def latest_seen(self) -> int:
        return self._latest

    async def load(self) -> None:
        self._latest = await self._db.read(self.latest)

    async def latest(self, tx: Tx) -> int:
        value = await tx.scalar(sa.select(sa.func.max(changes.c.id)))
        return int(value or 0)

    async def append(
        self, tx: Tx, account_id: int, mailbox_id: int | None, kind: str, modseq: int | None
    ) -> int:
        change_id = int(await tx.scalar(_NEXT_CHANGE_ID))
        await tx.execute(
            _INSERT_CHANGE,
            {
                "id": change_id,
                "account_id": account_id,
                "mailbox_id": mailbox_id,
                "kind": kind,
                "modseq": modseq,
                "at": self._clock.now(),
            },
        )
        if tx.dialect == "postgresql":
            await tx.execute(sa.select(sa.func.pg_notify(self.channel, str(change_id))))
        tx.after_commit(lambda: self.notify(change_id))
        return change_id

    async def since(
        self, tx: Tx, after: int, account_id: int | None = None, limit: int = 1000
    ) -> list[Change]:
        query = sa.select(changes).where(changes.c.id > after).order_by(changes.c.id).limit(limit)
        if account_id is not None:
            query = query.where(changes.c.account_id == account_id)
        rows = await tx.execute(query)
        return [Change(r.id, r.account_id, r.mailbox_id, r.kind, r.modseq, r.at) for r in rows]

    def notify(self, change_id: int) -> None:
        """Wake every waiter: a change with this id has committed."""
        if change_id > self._latest:
            self._latest = change_id
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def wait(self, after: int, timeout_s: float) -> bool:
        """Wait until a change newer than `after` is known; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._latest <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return self._latest > after
        return True
