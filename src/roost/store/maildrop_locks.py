"""Maildrop locks: one POP3 session per mailbox at a time, across nodes.

RFC 1939 §8 lets a server give a maildrop to one session at a time and
answer any other with ``-ERR [IN-USE]`` (RFC 2449 §8.1.1). The lock is a
row in the store rather than a lock in memory, so two nodes sharing one
PostgreSQL honour it too; it carries an expiry, so the lock of a node
that crashed lapses on its own. A live session renews it well before it
expires (`renew`) and gives it up when it ends (`release`).

A released lock keeps its row, with its expiry set to the release time:
`acquired_at` then says when the mailbox was last opened, which is what
LOGIN-DELAY (RFC 2449 §6.5) needs.

Taking a lock is a read and a conditional write in the caller's unit of
work: the write names the values it read, so of two sessions that race
for an expired lock one updates the row and the other finds it changed.
"""

from __future__ import annotations

import enum
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import maildrop_locks


class LockOutcome(enum.Enum):
    """What `MaildropLockStore.take` found."""

    TAKEN = "taken"
    """The caller holds the lock now."""
    IN_USE = "in-use"
    """Another holder's lock has not expired."""
    TOO_SOON = "too-soon"
    """The mailbox was opened less than the asked interval ago."""


class MaildropLockStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def take(
        self,
        tx: Tx,
        mailbox_id: int,
        holder: str,
        ttl_s: float,
        *,
        min_interval_s: float = 0.0,
    ) -> LockOutcome:
        """Lock a mailbox for ``holder`` until ``ttl_s`` from now.

        Refused while another holder's lock is live, and (LOGIN-DELAY) when
        the mailbox was last locked less than ``min_interval_s`` ago.
        """
        now = self._clock.now()
        expires = now + timedelta(seconds=ttl_s)
        row = (
            await tx.execute(
                sa.select(
                    maildrop_locks.c.holder,
                    maildrop_locks.c.acquired_at,
                    maildrop_locks.c.expires_at,
                ).where(maildrop_locks.c.mailbox_id == mailbox_id)
            )
        ).one_or_none()
        if row is None:
            values = {
                "mailbox_id": mailbox_id,
                "holder": holder,
                "acquired_at": now,
                "expires_at": expires,
            }
            insert = (
                postgresql.insert(maildrop_locks)
                if tx.dialect == "postgresql"
                else sqlite.insert(maildrop_locks)
            )
            done = await tx.execute(insert.values(**values).on_conflict_do_nothing())
            return LockOutcome.TAKEN if done.rowcount == 1 else LockOutcome.IN_USE
        if row.holder != holder and row.expires_at > now:
            return LockOutcome.IN_USE
        if min_interval_s and row.acquired_at > now - timedelta(seconds=min_interval_s):
            return LockOutcome.TOO_SOON
        done = await tx.execute(
            maildrop_locks.update()
            .where(
                maildrop_locks.c.mailbox_id == mailbox_id,
                maildrop_locks.c.holder == row.holder,
                maildrop_locks.c.expires_at == row.expires_at,
            )
            .values(holder=holder, acquired_at=now, expires_at=expires)
        )
        return LockOutcome.TAKEN if done.rowcount == 1 else LockOutcome.IN_USE

    async def renew(self, tx: Tx, mailbox_id: int, holder: str, ttl_s: float) -> bool:
        """Move the expiry of ``holder``'s lock to ``ttl_s`` from now; False if
        it is not theirs any more (it lapsed and another session took it)."""
        expires = self._clock.now() + timedelta(seconds=ttl_s)
        done = await tx.execute(
            maildrop_locks.update()
            .where(maildrop_locks.c.mailbox_id == mailbox_id, maildrop_locks.c.holder == holder)
            .values(expires_at=expires)
        )
        return done.rowcount == 1

    async def holder(self, tx: Tx, mailbox_id: int) -> str | None:
        """Who holds a live lock on the mailbox, if anyone."""
        value = await tx.scalar(
            sa.select(maildrop_locks.c.holder).where(
                maildrop_locks.c.mailbox_id == mailbox_id,
                maildrop_locks.c.expires_at > self._clock.now(),
            )
        )
        return None if value is None else str(value)

    async def release(self, tx: Tx, mailbox_id: int, holder: str) -> bool:
        """Give the lock up; False if ``holder`` did not hold it."""
        now = self._clock.now()
        done = await tx.execute(
            maildrop_locks.update()
            .where(
                maildrop_locks.c.mailbox_id == mailbox_id,
                maildrop_locks.c.holder == holder,
                maildrop_locks.c.expires_at > now,
            )
            .values(expires_at=now)
        )
        return done.rowcount == 1
