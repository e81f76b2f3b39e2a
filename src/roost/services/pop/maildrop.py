"""A user's maildrop as one POP3 session holds it: INBOX, locked, listed once.

RFC 1939 §8: the maildrop is fixed when the session enters the
TRANSACTION state. `OpenMaildrop.open` locks the user's INBOX in the store
(one POP session per mailbox, across nodes), then reads its messages once;
the core answers STAT, LIST, UIDL, DELE and RSET from that listing, and
RETR streams the message the listing names even if an IMAP session has
moved it since (the blob stays pinned while it is read).

Unique-ids (RFC 1939 §7 UIDL) are made from the mailbox's UIDVALIDITY and
the message's UID, as Dovecot's default ``%08Xu%08Xv`` does: both come
from counters that only grow (`roost.store.mail`), so a message keeps its
unique-id forever and no other message ever gets it, across restarts.

Sizes are the store's: trace headers plus blob, which is exactly what
`Store.message_chunks` sends (RFC 1939 §5 LIST).

`commit` is the UPDATE state (RFC 1939 §6): the marked messages are
expunged through the Mail role in one unit of work, so the change feed
tells IMAP sessions, and the lock is released in the same unit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from roost.core.clock import Clock
from roost.core.errors import RoostError
from roost.proto.pop3 import EncodedMessage, Maildrop
from roost.services.pop.readahead import ReadAhead
from roost.store.db import Tx
from roost.store.maildrop_locks import LockOutcome
from roost.store.store import Store
from roost.store.types import Listed

log = logging.getLogger(__name__)

INBOX = "INBOX"

MAX_RANGES_PER_EXPUNGE = 500
"""UID ranges in one expunge statement: SQLite refuses expressions deeper
than 1,000 terms, and a client may delete every other message."""


class MaildropBusy(RoostError):
    """Another session holds the maildrop lock (RFC 2449 §8.1.1 IN-USE)."""


class LoginTooSoon(RoostError):
    """The mailbox was opened less than LOGIN-DELAY ago (RFC 2449 §8.1.2)."""


class LockLost(RoostError):
    """The lock lapsed and another session holds it now: commit nothing."""


def unique_id(uidvalidity: int, uid: int) -> str:
    """RFC 1939 §7 unique-id of a message: UID then UIDVALIDITY, in lowercase
    hex, as Dovecot's default ``%08Xu%08Xv`` prints them (so a mailbox moved
    from Dovecot with its UIDs and UIDVALIDITY keeps its unique-ids)."""
    return f"{uid:08x}{uidvalidity:08x}"


def uid_ranges(uids: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted UIDs as inclusive ranges of consecutive values."""
    ranges: list[tuple[int, int]] = []
    for uid in sorted(set(uids)):
        if ranges and ranges[-1][1] == uid - 1:
            ranges[-1] = (ranges[-1][0], uid)
        else:
            ranges.append((uid, uid))
    return ranges


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """How long the maildrop lock lasts, the LOGIN-DELAY to enforce, and how
    far small messages are read ahead."""

    ttl_s: float
    login_delay_s: float
    read_ahead_octets: int = 0

    @property
    def renew_every_s(self) -> float:
        """A live session renews its lock three times per lifetime."""
        return self.ttl_s / 3


class OpenMaildrop:
    """The INBOX of one user, locked for one session; make it with `open`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: LockPolicy,
        holder: str,
        mailbox_id: int,
        uidvalidity: int,
        messages: list[Listed],
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._holder = holder
        self._mailbox_id = mailbox_id
        self._messages = messages
        self._renewed_at = clock.monotonic()
        self._released = False
        self._ahead = ReadAhead(store.blobs, messages, policy.read_ahead_octets)
        self.maildrop = Maildrop.of((m.size, unique_id(uidvalidity, m.uid)) for m in messages)

    @classmethod
    async def open(
        cls, store: Store, clock: Clock, policy: LockPolicy, holder: str, address: str
    ) -> OpenMaildrop:
        """Lock the user's INBOX and list it.

        Raises `MaildropBusy`, `LoginTooSoon`, `NotFound` (no INBOX) or
        another `RoostError` from the store.
        """

        async def lock(tx: Tx) -> tuple[int, int]:
            account = await store.directory.account(tx, address)
            box = await store.mail.mailbox(tx, account.id, INBOX)
            outcome = await store.maildrop_locks.take(
                tx, box.id, holder, policy.ttl_s, min_interval_s=policy.login_delay_s
            )
            if outcome is LockOutcome.IN_USE:
                raise MaildropBusy(f"the INBOX of {address} is in use by another POP session")
            if outcome is LockOutcome.TOO_SOON:
                raise LoginTooSoon(f"the INBOX of {address} was opened too recently")
            return box.id, box.uidvalidity

        mailbox_id, uidvalidity = await store.write(lock)
        try:
            messages = await store.read(store.mail.listing, mailbox_id)
            return cls(store, clock, policy, holder, mailbox_id, uidvalidity, messages)
        except BaseException:
            await store.write(store.maildrop_locks.release, mailbox_id, holder)
            raise

    @property
    def mailbox_id(self) -> int:
        return self._mailbox_id

    def message(self, number: int) -> Listed:
        """Message ``number`` (from 1) of the listing."""
        return self._messages[number - 1]

    async def small_message(self, number: int) -> EncodedMessage | None:
        """Message ``number`` as RETR sends it when it is small (read and
        encoded ahead with the ones after it, see
        `roost.services.pop.readahead`), else None: stream it. Raises
        `NotFound` or `OSError` when the blob cannot be read."""
        if not self._ahead.small(number):
            return None
        return await self._ahead.message(number)

    def renew_in_s(self) -> float:
        """Seconds until the lock should be renewed (never, once released)."""
        if self._released:
            return float("inf")
        elapsed = self._clock.monotonic() - self._renewed_at
        return max(self._policy.renew_every_s - elapsed, 0.0)

    async def renew_if_due(self) -> None:
        """Renew the lock if a third of its lifetime has passed. A store that
        cannot be reached is logged, not fatal: `commit` checks the lock."""
        if self._released or self.renew_in_s() > 0:
            return
        self._renewed_at = self._clock.monotonic()
        try:
            held = await self._store.write(
                self._store.maildrop_locks.renew, self._mailbox_id, self._holder, self._policy.ttl_s
            )
        except (RoostError, OSError) as exc:
            log.warning("%s: cannot renew the maildrop lock: %s", self._holder, exc)
            return
        if not held:
            log.warning("%s: the maildrop lock lapsed", self._holder)

    async def commit(self, numbers: Sequence[int]) -> list[int]:
        """The UPDATE state: expunge the marked messages and release the lock,
        in one unit of work. Returns the UIDs removed (an IMAP session may
        have removed some already). Raises `LockLost` or a store error; then
        nothing was removed and the lock lapses on its own."""
        uids = [self._messages[n - 1].uid for n in numbers]
        locks = self._store.maildrop_locks
        mail = self._store.mail

        async def work(tx: Tx) -> list[int]:
            holder = await locks.holder(tx, self._mailbox_id)
            if holder not in (None, self._holder):
                raise LockLost(f"{holder} holds the maildrop lock now")
            removed: list[int] = []
            ranges = uid_ranges(uids)
            for start in range(0, len(ranges), MAX_RANGES_PER_EXPUNGE):
                part = ranges[start : start + MAX_RANGES_PER_EXPUNGE]
                removed += await mail.expunge(tx, self._mailbox_id, part, deleted_only=False)
            await locks.release(tx, self._mailbox_id, self._holder)
            return removed

        await self._ahead.close()
        removed = await self._store.write(work)
        self._released = True
        return removed

    async def release(self) -> None:
        """End the session without removing anything (RFC 1939 §6)."""
        if self._released:
            return
        self._released = True
        await self._ahead.close()
        try:
            await self._store.write(
                self._store.maildrop_locks.release, self._mailbox_id, self._holder
            )
        except (RoostError, OSError) as exc:
            log.warning("%s: cannot release the maildrop lock (it lapses): %s", self._holder, exc)
