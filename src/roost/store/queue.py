"""The Queue role: spool entries and the state of each recipient.

An entry holds one message (a blob reference) and its envelope; each
recipient has its own state, attempts and last answer. The Spool claims due
entries with a lease (`claimed_by`, `claimed_until`), so several workers, and
later several nodes, never work on the same entry at once; on PostgreSQL the
claim uses `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.core.errors import NotFound
from roost.store.blobs import BlobStore
from roost.store.db import Tx
from roost.store.schema import queue_entries, queue_recipients
from roost.store.types import (
    NewRecipient,
    QueueEntry,
    QueueRecipient,
    QueueState,
    RecipientState,
    StagedBlob,
)

# Built once: the statements every message runs are executed, not rebuilt
# (building one costs more than SQLite takes to run it).
_INSERT_ENTRY = queue_entries.insert().returning(queue_entries.c.id)
_INSERT_RECIPIENT = queue_recipients.insert()
_RECIPIENTS_OF = (
    sa.select(queue_recipients)
    .where(queue_recipients.c.entry_id.in_(sa.bindparam("b_ids", expanding=True)))
    .order_by(queue_recipients.c.id)
)
_SET_RESULT = (
    queue_recipients.update()
    .where(
        queue_recipients.c.id == sa.bindparam("b_id"),
        queue_recipients.c.entry_id == sa.bindparam("b_entry"),
    )
    .values(attempts=queue_recipients.c.attempts + 1)
)
_DELETE_RECIPIENTS = queue_recipients.delete().where(
    queue_recipients.c.entry_id == sa.bindparam("b_id")
)
_DUE = (
    sa.select(queue_entries.c.id)
    .where(
        queue_entries.c.state.in_([QueueState.QUEUED.value, QueueState.DEFERRED.value]),
        queue_entries.c.next_attempt_at <= sa.bindparam("b_now"),
        sa.or_(
            queue_entries.c.claimed_until.is_(None),
            queue_entries.c.claimed_until < sa.bindparam("b_now"),
        ),
    )
    .order_by(queue_entries.c.next_attempt_at)
    .limit(sa.bindparam("b_limit"))
)
_DUE_PG = _DUE.with_for_update(skip_locked=True)
_CLAIM = queue_entries.update().where(queue_entries.c.id.in_(sa.bindparam("b_ids", expanding=True)))
_DELETE_ENTRY = (
    queue_entries.delete()
    .where(queue_entries.c.id == sa.bindparam("b_id"))
    .returning(queue_entries.c.blob_hash)
)


class QueueStore:
    def __init__(self, blobs: BlobStore, clock: Clock) -> None:
        self._blobs = blobs
        self._clock = clock

    async def enqueue(
        self,
        tx: Tx,
        blob: StagedBlob,
        sender: str,
        recipients: Sequence[NewRecipient],
        *,
        source: str,
        envid: str | None = None,
        ret: str | None = None,
        details: str = "{}",
        not_before: datetime | None = None,
    ) -> int:
        """Add an entry; `details` is JSON the Spool keeps with it (client, auth, DSN)."""
        if not recipients:
            raise ValueError("a queue entry needs at least one recipient")
        now = self._clock.now()
        await self._blobs.ref(tx, blob)
        entry_id = await tx.scalar(
            _INSERT_ENTRY,
            {
                "blob_hash": blob.hash,
                "sender": sender,
                "size": blob.size,
                "state": QueueState.QUEUED.value,
                "envid": envid,
                "ret": ret,
                "source": source,
                "details": details,
                "received_at": now,
                "next_attempt_at": not_before or now,
                "attempts": 0,
            },
        )
        await self.add_recipients(tx, int(entry_id), recipients)
        return int(entry_id)

    async def entry(self, tx: Tx, entry_id: int) -> QueueEntry:
        found = await self.entries(tx, ids=[entry_id])
        if not found:
            raise NotFound(f"no queue entry {entry_id}")
        return found[0]

    async def entries(
        self,
        tx: Tx,
        *,
        ids: Sequence[int] | None = None,
        states: Sequence[QueueState] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueueEntry]:
        query = sa.select(queue_entries).order_by(queue_entries.c.id).limit(limit).offset(offset)
        if ids is not None:
            query = query.where(queue_entries.c.id.in_(list(ids)))
        if states is not None:
            query = query.where(queue_entries.c.state.in_([s.value for s in states]))
        rows = (await tx.execute(query)).all()
        recipients = await self._recipients(tx, [r.id for r in rows])
        return [_entry(r, recipients.get(r.id, ())) for r in rows]

    async def search(
        self,
        tx: Tx,
        *,
        states: Sequence[QueueState] | None = None,
        sender: str | None = None,
        domain: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[QueueEntry]]:
        """Entries matching a filter, oldest first, with the number of matches.

        `sender` matches a part of the sender; `domain` a recipient's domain.
        Indexed on state, sender and recipient domain, so paging stays quick
        with tens of thousands of entries.
        """
        condition: sa.ColumnElement[bool] = sa.true()
        if states is not None:
            condition = sa.and_(condition, queue_entries.c.state.in_([s.value for s in states]))
        if sender:
            condition = sa.and_(
                condition,
                sa.func.lower(queue_entries.c.sender).contains(sender.lower(), autoescape=True),
            )
        if domain:
            condition = sa.and_(
                condition,
                sa.exists().where(
                    queue_recipients.c.entry_id == queue_entries.c.id,
                    queue_recipients.c.domain == domain.lower(),
                ),
            )
        total = await tx.scalar(
            sa.select(sa.func.count()).select_from(queue_entries).where(condition)
        )
        ids = [
            row.id
            for row in await tx.execute(
                sa.select(queue_entries.c.id)
                .where(condition)
                .order_by(queue_entries.c.id)
                .limit(limit)
                .offset(offset)
            )
        ]
        found = await self.entries(tx, ids=ids, limit=len(ids)) if ids else []
        return int(total or 0), found

    async def retry_now(self, tx: Tx, entry_id: int, *, reset: bool = False) -> None:
        """Due at once (a held entry stays held); `reset` also forgets past attempts."""
        values: dict[str, Any] = {"next_attempt_at": self._clock.now()}
        if reset:
            values["attempts"] = 0
        result = await tx.execute(
            queue_entries.update().where(queue_entries.c.id == entry_id).values(**values)
        )
        if not result.rowcount:
            raise NotFound(f"no queue entry {entry_id}")

    async def hold(self, tx: Tx, entry_id: int) -> None:
        await self.set_state(tx, entry_id, QueueState.HELD)

    async def release_hold(self, tx: Tx, entry_id: int) -> None:
        """A held entry goes back to the queue, due at once."""
        result = await tx.execute(
            queue_entries.update()
            .where(queue_entries.c.id == entry_id)
            .values(state=QueueState.QUEUED.value, next_attempt_at=self._clock.now())
        )
        if not result.rowcount:
            raise NotFound(f"no queue entry {entry_id}")

    async def count(self, tx: Tx) -> dict[QueueState, int]:
        rows = await tx.execute(
            sa.select(queue_entries.c.state, sa.func.count().label("n")).group_by(
                queue_entries.c.state
            )
        )
        counts = dict.fromkeys(QueueState, 0)
        for row in rows:
            counts[QueueState(row.state)] = int(row.n)
        return counts

    async def _recipients(
        self, tx: Tx, entry_ids: list[int]
    ) -> dict[int, tuple[QueueRecipient, ...]]:
        return await _recipients_of(tx, entry_ids)

    async def oldest_due(self, tx: Tx, now: datetime) -> datetime | None:
        """When the longest-waiting due entry became due (the Spool's probe)."""
        value = await tx.scalar(
            sa.select(sa.func.min(queue_entries.c.next_attempt_at)).where(
                queue_entries.c.state.in_([QueueState.QUEUED.value, QueueState.DEFERRED.value]),
                queue_entries.c.next_attempt_at <= now,
            )
        )
        return _aware(value)

    async def release_claims(self, tx: Tx, worker: str, ids: Sequence[int] | None = None) -> int:
        """Drop leases without counting an attempt: all a worker held before it
        restarted (a crash), or those of `ids` it claimed but will not work on."""
        condition = queue_entries.c.claimed_by == worker
        if ids is not None:
            condition = sa.and_(condition, queue_entries.c.id.in_(list(ids)))
        result = await tx.execute(
            queue_entries.update().where(condition).values(claimed_by=None, claimed_until=None)
        )
        return int(result.rowcount or 0)

    async def claim_due(self, tx: Tx, worker: str, lease_s: float, limit: int) -> list[QueueEntry]:
        """Claim entries whose next attempt is due and that no live lease holds."""
        now = self._clock.now()
        query = _DUE_PG if tx.dialect == "postgresql" else _DUE
        ids = [r.id for r in await tx.execute(query, {"b_now": now, "b_limit": limit})]
        if not ids:
            return []
        await tx.execute(
            _CLAIM,
            {
                "b_ids": ids,
                "claimed_by": worker,
                "claimed_until": now + timedelta(seconds=lease_s),
            },
        )
        return await self.entries(tx, ids=ids, limit=len(ids))

    async def record_attempt(
        self,
        tx: Tx,
        entry_id: int,
        results: dict[int, tuple[RecipientState, str]],
        next_attempt_at: datetime | None,
    ) -> None:
        """Store each recipient's outcome; reschedule or release the entry."""
        for recipient_id, (state, reply) in results.items():
            await self.set_recipient_result(tx, entry_id, recipient_id, state, reply)
        await self.release(tx, entry_id, next_attempt_at)

    async def set_recipient_result(
        self, tx: Tx, entry_id: int, recipient_id: int, state: RecipientState, reply: str
    ) -> None:
        """One recipient's outcome; in the unit that delivered it, so a retry never
        delivers twice."""
        await tx.execute(
            _SET_RESULT,
            {
                "b_id": recipient_id,
                "b_entry": entry_id,
                "state": state.value,
                "last_reply": reply,
                "last_attempt_at": self._clock.now(),
            },
        )

    async def add_recipients(
        self, tx: Tx, entry_id: int, recipients: Sequence[NewRecipient]
    ) -> None:
        """Recipients found while delivering (an alias pointing elsewhere)."""
        if recipients:
            await tx.execute(
                _INSERT_RECIPIENT,
                [
                    {
                        "entry_id": entry_id,
                        "address": r.address,
                        "domain": _domain(r.address),
                        "orcpt": r.orcpt,
                        "notify": r.notify,
                        "state": RecipientState.PENDING.value,
                        "attempts": 0,
                    }
                    for r in recipients
                ],
            )

    async def release(
        self,
        tx: Tx,
        entry_id: int,
        next_attempt_at: datetime | None,
        *,
        details: str | None = None,
    ) -> None:
        """End an attempt: count it, drop the lease, and schedule the next one."""
        values: dict[str, Any] = {
            "attempts": queue_entries.c.attempts + 1,
            "claimed_by": None,
            "claimed_until": None,
        }
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
            values["state"] = QueueState.DEFERRED.value
        if details is not None:
            values["details"] = details
        await tx.execute(
            queue_entries.update().where(queue_entries.c.id == entry_id).values(**values)
        )

    async def set_state(self, tx: Tx, entry_id: int, state: QueueState) -> None:
        result = await tx.execute(
            queue_entries.update().where(queue_entries.c.id == entry_id).values(state=state.value)
        )
        if not result.rowcount:
            raise NotFound(f"no queue entry {entry_id}")

    async def reschedule(
        self, tx: Tx, entry_id: int, at: datetime, *, reset_attempts: bool = False
    ) -> None:
        values: dict[str, Any] = {"next_attempt_at": at, "claimed_by": None, "claimed_until": None}
        if reset_attempts:
            values["attempts"] = 0
        result = await tx.execute(
            queue_entries.update().where(queue_entries.c.id == entry_id).values(**values)
        )
        if not result.rowcount:
            raise NotFound(f"no queue entry {entry_id}")

    async def remove(self, tx: Tx, entry_id: int) -> None:
        """Remove an entry (delivered, bounced or deleted) and release its blob."""
        await tx.execute(_DELETE_RECIPIENTS, {"b_id": entry_id})
        blob_hash = await tx.scalar(_DELETE_ENTRY, {"b_id": entry_id})
        if blob_hash is None:
            raise NotFound(f"no queue entry {entry_id}")
        await self._blobs.unref(tx, blob_hash)


# --- The admin console's listing: filters, keyset paging, counts.


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which entries a listing or an action on "all matching" covers."""

    states: tuple[QueueState, ...] | None = None
    sender: str = ""
    """A part of the sender, without regard to case."""
    domain: str = ""
    """A recipient's domain, exactly (without regard to case)."""
    upto_id: int | None = None
    """Only entries up to this id: an action confirmed on what was shown then
    leaves out what arrived since."""

    def condition(self) -> sa.ColumnElement[bool]:
        condition: sa.ColumnElement[bool] = sa.true()
        if self.states is not None:
            condition = sa.and_(
                condition, queue_entries.c.state.in_([s.value for s in self.states])
            )
        if self.sender:
            condition = sa.and_(
                condition,
                sa.func.lower(queue_entries.c.sender).contains(
                    self.sender.lower(), autoescape=True
                ),
            )
        if self.domain:
            # IN over the domain index: one index range, not a probe per entry.
            condition = sa.and_(
                condition,
                queue_entries.c.id.in_(
                    sa.select(queue_recipients.c.entry_id).where(
                        queue_recipients.c.domain == self.domain.lower()
                    )
                ),
            )
        if self.upto_id is not None:
            condition = sa.and_(condition, queue_entries.c.id <= self.upto_id)
        return condition


@dataclass(frozen=True, slots=True)
class QueuePage:
    total: int
    """Entries matching the filter (on every page)."""
    entries: list[QueueEntry]
    """Oldest first (by id)."""
    has_before: bool
    has_after: bool
    last_id: int | None
    """The newest matching entry: the bound of an action on "all matching"."""


async def list_page(
    tx: Tx,
    where: QueueFilter,
    *,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
) -> QueuePage:
    """One page of matching entries by id (keyset paging: the primary key bounds
    every page, so the last page costs what the first does)."""
    condition = where.condition()
    counted = (
        await tx.execute(
            sa.select(
                sa.func.count().label("n"), sa.func.max(queue_entries.c.id).label("last")
            ).where(condition)
        )
    ).one()
    total, last_id = int(counted.n or 0), counted.last
    ids_query = sa.select(queue_entries.c.id).where(condition)
    if before_id is not None:
        ids_query = ids_query.where(queue_entries.c.id < before_id).order_by(
            queue_entries.c.id.desc()
        )
    else:
        if after_id is not None:
            ids_query = ids_query.where(queue_entries.c.id > after_id)
        ids_query = ids_query.order_by(queue_entries.c.id)
    ids = [row.id for row in await tx.execute(ids_query.limit(limit + 1))]
    more = len(ids) > limit
    ids = sorted(ids[:limit])
    entries = await _entries_by_id(tx, ids)
    if before_id is not None:
        has_before = more
        has_after = bool(ids) and await _exists(tx, condition, queue_entries.c.id > ids[-1])
    else:
        has_after = more
        has_before = bool(ids) and await _exists(tx, condition, queue_entries.c.id < ids[0])
    return QueuePage(total, entries, has_before, has_after, last_id)


async def matching_ids(
    tx: Tx, where: QueueFilter, *, after_id: int | None, limit: int
) -> list[int]:
    """The next `limit` ids matching the filter after `after_id`, for actions in batches."""
    query = sa.select(queue_entries.c.id).where(where.condition())
    if after_id is not None:
        query = query.where(queue_entries.c.id > after_id)
    return [row.id for row in await tx.execute(query.order_by(queue_entries.c.id).limit(limit))]


async def _exists(tx: Tx, condition: sa.ColumnElement[bool], bound: sa.ColumnElement[bool]) -> bool:
    found = await tx.scalar(sa.select(queue_entries.c.id).where(condition, bound).limit(1))
    return found is not None


async def _entries_by_id(tx: Tx, ids: list[int]) -> list[QueueEntry]:
    if not ids:
        return []
    rows = (
        await tx.execute(
            sa.select(queue_entries).where(queue_entries.c.id.in_(ids)).order_by(queue_entries.c.id)
        )
    ).all()
    recipients = await _recipients_of(tx, [r.id for r in rows])
    return [_entry(r, recipients.get(r.id, ())) for r in rows]


async def _recipients_of(tx: Tx, entry_ids: list[int]) -> dict[int, tuple[QueueRecipient, ...]]:
    if not entry_ids:
        return {}
    rows = await tx.execute(_RECIPIENTS_OF, {"b_ids": entry_ids})
    grouped: dict[int, list[QueueRecipient]] = {}
    for r in rows:
        grouped.setdefault(r.entry_id, []).append(
            QueueRecipient(
                r.id,
                r.address,
                r.orcpt,
                r.notify,
                RecipientState(r.state),
                r.attempts,
                r.last_reply,
                r.last_attempt_at,
            )
        )
    return {k: tuple(v) for k, v in grouped.items()}


def _entry(row: Any, recipients: tuple[QueueRecipient, ...]) -> QueueEntry:
    return QueueEntry(
        id=row.id,
        blob_hash=row.blob_hash,
        sender=row.sender,
        size=row.size,
        state=QueueState(row.state),
        envid=row.envid,
        ret=row.ret,
        source=row.source,
        details=row.details,
        received_at=row.received_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        recipients=recipients,
    )


def _aware(value: Any) -> datetime | None:
    """`min()` bypasses the column type: make SQLite's naive UTC value aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()
