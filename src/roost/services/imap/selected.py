"""A session's view of its selected mailbox: sequence numbers, and what it was told.

Message sequence numbers are per session (RFC 9051 §2.3.1.2): message n is
the n-th UID of the view, and the view changes only when the session tells
its client. Other sessions (IMAP, POP, delivery) change the store at any
time; `refresh` reads what changed since the view's HIGHESTMODSEQ from the
store, and `report` tells the client:

- new messages: ``* n EXISTS``, at any response (RFC 9051 §7.4.1);
- flag changes: ``* n FETCH (UID u FLAGS (...) [MODSEQ (m)])``, also at any
  response (RFC 7162 §3.2.4 for the MODSEQ);
- expunges: ``* n EXPUNGE``, or ``* VANISHED uids`` once the client enabled
  QRESYNC (RFC 7162 §3.2.10), only where the command allows it. RFC 9051
  §7.5.1 forbids them while answering FETCH, STORE and SEARCH (and no
  response at all may come when no command is in progress), since the
  client is using sequence numbers then; UID commands, NOOP, IDLE, CHECK,
  EXPUNGE, COPY and MOVE may carry them. Until then an expunged message
  keeps its number: FETCH skips it and says NO [EXPUNGEISSUED] (RFC 5530).
  While an expunge waits, a CONDSTORE client is told ``* OK
  [HIGHESTMODSEQ m]`` with m below the expunge's MODSEQ, so that it never
  records a MODSEQ past a change it has not heard of (RFC 7162 §3.2).

Expunges go out from the highest number down, so no EXPUNGE shifts the
number of one still to come. EXISTS never decreases but by an expunge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roost.core.errors import NotFound, RoostError
from roost.proto.imap.connection import ImapServerConnection
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.sequence import STAR, MessageSet, SavedResult, SequenceSet, sequence_of
from roost.proto.imap.values import Atom, ImapData
from roost.services.imap.uidmap import UidMap
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import Flag, Mailbox, MessageFlags


class MailboxGone(RoostError):
    """The selected mailbox was deleted (or renamed away and made anew) by
    another session: the client is told BYE, as Dovecot does."""


class InvalidSequence(RoostError):
    """A sequence number beyond the last message (RFC 9051 §6.4.5: BAD)."""


@dataclass(frozen=True, slots=True)
class _Changes:
    mailbox: Mailbox
    flags: tuple[MessageFlags, ...]
    vanished: tuple[int, ...]


class SelectedMailbox:
    """The selected mailbox as this session's client knows it."""

    def __init__(
        self,
        mailbox: Mailbox,
        runs: Sequence[tuple[int, int]],
        *,
        read_only: bool,
        mark: int,
    ) -> None:
        """``runs`` are the mailbox's UIDs as `MailRole.uid_runs` gives them."""
        self.id = mailbox.id
        self.name = mailbox.name
        self.uidvalidity = mailbox.uidvalidity
        self.read_only = read_only
        self.highest_modseq = mailbox.highest_modseq
        self.uidnext = mailbox.uidnext
        self._uids = UidMap.from_runs(runs)
        self._own: dict[int, int] = {}
        """MODSEQs of this session's own flag changes, told already (`noted`)."""
        self._gone: set[int] = set()
        self._flag_updates: dict[int, MessageFlags] = {}
        self._told_exists = len(self._uids)
        self._mark = mark
        self._told_modseq = mailbox.highest_modseq
        """HIGHESTMODSEQ before the first expunge not yet told."""

    # --- numbers

    @property
    def exists(self) -> int:
        """Messages the client knows of, those expunged but not yet announced included."""
        return len(self._uids)

    @property
    def last_uid(self) -> int:
        """The highest UID the client knows, 0 for none."""
        return self._uids.last

    def seq_of(self, uid: int) -> int | None:
        return self._uids.seq_of(uid)

    def seqs_of(self, uids: list[int]) -> list[int]:
        """Sequence numbers of sorted UIDs, 0 for those the client does not know."""
        return self._uids.seqs_of(uids)

    def uid_at(self, seq: int) -> int:
        return self._uids.uid_at(seq)

    def known(self, uid: int) -> bool:
        return self._uids.seq_of(uid) is not None

    def resolve(
        self, messages: MessageSet, *, uid: bool, saved: tuple[int, ...], strict: bool = True
    ) -> list[int]:
        """The UIDs a set names, in UID order (RFC 9051 §6.4.8, RFC 5182 for ``$``).

        A sequence set naming a number past the last message is an error
        unless not `strict` (a SEARCH key: it then names no message there, as
        RFC 9051's own ``UID SEARCH 1:5000`` example expects); a UID set
        simply names the UIDs it covers.
        """
        if isinstance(messages, SavedResult):
            return [u for u in saved if self.known(u)]
        out: list[int] = []
        if uid:
            for low, high in messages.resolve(self._uids.last):
                out.extend(self._uids.between_uids(low, high))
            return out
        count = len(self._uids)
        if strict:
            self._check_numbers(messages)
        elif count == 0:
            return out
        for low, high in messages.resolve(count):
            if low <= count:
                out.extend(self._uids.between_seqs(low, min(high, count)))
        return out

    def _check_numbers(self, messages: SequenceSet) -> None:
        count = len(self._uids)
        for item in messages.ranges:
            for number in (item.first, item.last):
                if number is not STAR and number > count:
                    raise InvalidSequence(f"no message {number}: the mailbox has {count}")
            if count == 0 and STAR in (item.first, item.last):
                raise InvalidSequence("the mailbox is empty")

    # --- what this session did itself

    def noted(self, changes: tuple[MessageFlags, ...]) -> None:
        """This session's own STORE reported these: no FETCH for them again."""
        for change in changes:
            if self.known(change.uid):
                self._own[change.uid] = max(self._own.get(change.uid, 0), change.modseq)
            self._flag_updates.pop(change.uid, None)

    # --- what others did

    async def refresh(self, store: Store, *, force: bool = False) -> None:
        """Read what changed in the store since the view's HIGHESTMODSEQ.

        Cheap when nothing changed anywhere: the change feed's latest id is
        compared first, without a query.
        """
        mark = store.changes.latest_seen
        if mark == self._mark and not force:
            return
        self._mark = mark
        changes = await store.read(self._read_changes, store)
        last = self._uids.last
        new: list[int] = []
        for change in changes.flags:
            if change.uid > last:
                new.append(change.uid)
            elif self.known(change.uid) and change.modseq > self._own.get(change.uid, 0):
                self._flag_updates[change.uid] = change
        self._uids.extend(sorted(new))
        if not self._gone:
            self._told_modseq = self.highest_modseq
        self._gone.update(uid for uid in changes.vanished if self.known(uid))
        self.highest_modseq = changes.mailbox.highest_modseq
        self.uidnext = changes.mailbox.uidnext
        # What refresh reads from now on is above this: own changes are told.
        self._own = {u: m for u, m in self._own.items() if m > self.highest_modseq}

    async def _read_changes(self, tx: Tx, store: Store) -> _Changes:
        try:
            box = await store.mail.mailbox_by_id(tx, self.id)
        except NotFound:
            raise MailboxGone(f"mailbox {self.name!r} was deleted") from None
        if box.highest_modseq == self.highest_modseq:
            return _Changes(box, (), ())
        flags = await store.mail.flags(tx, self.id, None, changed_since=self.highest_modseq)
        vanished = await store.mail.vanished(tx, self.id, self.highest_modseq)
        return _Changes(box, tuple(flags), tuple(vanished))

    @property
    def expunges_pending(self) -> bool:
        return bool(self._gone)

    def gone(self, uid: int) -> bool:
        """Expunged in the store; its number stays until the client is told."""
        return uid in self._gone

    def report(self, core: ImapServerConnection, *, expunges: bool, condstore: bool) -> None:
        """Tell the client what `refresh` found: EXPUNGE or VANISHED (when
        allowed), EXISTS, FETCH."""
        if expunges and self._gone:
            gone = sorted(self._gone, reverse=True)
            if core.qresync:
                core.untagged(Atom("VANISHED"), Atom(str(sequence_of(gone))))
            for uid in gone:
                seq = self._uids.seq_of(uid)
                if not core.qresync and seq is not None:
                    # Highest first: no EXPUNGE moves the number of one to come.
                    core.untagged(seq, Atom("EXPUNGE"))
                self._flag_updates.pop(uid, None)
                self._own.pop(uid, None)
            self._uids.remove(gone)
            self._told_exists -= len(gone)
            self._gone.clear()
        if len(self._uids) != self._told_exists:
            core.untagged(len(self._uids), Atom("EXISTS"))
            self._told_exists = len(self._uids)
        for uid in sorted(self._flag_updates):
            change = self._flag_updates[uid]
            seq = self.seq_of(uid)
            if seq is None or uid in self._gone:
                continue
            core.untagged(seq, Atom("FETCH"), fetch_flags_items(change, condstore=condstore))
        self._flag_updates.clear()
        if condstore and self._gone:
            code = ResponseCode("HIGHESTMODSEQ", (self._told_modseq,))
            core.status(Condition.OK, "Expunges not yet told", code)

    def expunge_all_told(self) -> None:
        """CLOSE and a new SELECT drop the view: nothing more is told."""
        self._gone.clear()
        self._flag_updates.clear()


def fetch_flags_items(change: MessageFlags, *, condstore: bool) -> tuple[ImapData, ...]:
    """``UID u FLAGS (...) [MODSEQ (m)]`` for an unsolicited FETCH."""
    flags = tuple(Atom(name) for name in (*Flag(change.flags).names(), *sorted(change.keywords)))
    items: tuple[ImapData, ...] = (Atom("UID"), change.uid, Atom("FLAGS"), flags)
    if condstore:
        items += (Atom("MODSEQ"), (change.modseq,))
    return items


def uid_ranges(uids: list[int]) -> list[tuple[int, int]]:
    """Sorted UIDs as inclusive runs, the form the Mail role takes."""
    runs: list[tuple[int, int]] = []
    for uid in sorted(uids):
        if runs and uid == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], uid)
        elif not runs or uid > runs[-1][1]:
            runs.append((uid, uid))
    return runs
