"""The Mail role: mailboxes, messages, flags, UIDs, MODSEQs and the expunge log.

Designed for IMAP (RFC 9051, RFC 7162 CONDSTORE/QRESYNC):

- UIDs are never reused: `uidnext` only grows, and a mailbox deleted and made
  again gets a new UIDVALIDITY.
- UIDs and MODSEQs are allocated by one UPDATE of the mailbox row, which locks
  it until the transaction commits; allocation and commit therefore happen in
  the same order, and a client never sees UID 7 before UID 6 exists.
- One MODSEQ per operation: every message an operation changes gets the
  mailbox's new highest MODSEQ. Expunged UIDs are kept with their MODSEQ for
  QRESYNC's VANISHED.
- A message's bytes are a shared blob plus its own trace headers
  (Return-Path, Delivered-To, the final Received); its size counts both.
- An account's storage and message count are running totals, changed in the
  same unit of work as the messages, so quota checks need no scan.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.core.errors import AlreadyExists, InvalidName, NotFound, QuotaExceeded
from roost.store.blobs import BlobStore
from roost.store.changes import ChangeFeed
from roost.store.db import Tx
from roost.store.schema import (
    accounts,
    blobs,
    counters,
    expunged,
    mailboxes,
    message_keywords,
    messages,
    raw_timestamp,
    utc_timestamp,
)
from roost.store.types import (
    Appended,
    Flag,
    FlagMode,
    Listed,
    Mailbox,
    MessageFlags,
    MessageInfo,
    NewMessage,
    SpecialUse,
    StagedBlob,
)

DELIMITER = "/"
MAX_MAILBOX_NAME_CHARS = 1000

R = TypeVar("R", bound=Any)

UidRanges = Sequence[tuple[int, int]]
"""Inclusive UID ranges, as an IMAP sequence set becomes once resolved."""

MAX_SQL_RANGES = 100
_LISTING = (
    sa.select(messages.c.uid, messages.c.size, messages.c.blob_hash, messages.c.trace)
    .where(messages.c.mailbox_id == sa.bindparam("b_mailbox"))
    .order_by(messages.c.uid)
)
"""More UID ranges than this are filtered after the query, not in it: SQLite
parses ``a OR b OR ...`` into a tree as deep as the list (its limit is 1000)."""


@dataclass(frozen=True, slots=True)
class FlagResult:
    changed: tuple[MessageFlags, ...]
    """Messages whose flags changed, with their new MODSEQ."""
    modified: tuple[int, ...]
    """UIDs left alone because their MODSEQ was above UNCHANGEDSINCE (RFC 7162 §3.1.3)."""


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """Counts IMAP STATUS reports (RFC 9051 §6.3.11), read in one query."""

    messages: int
    unseen: int
    """Messages without \\Seen."""
    deleted: int
    """Messages with \\Deleted (RFC 9051 STATUS DELETED)."""
    size: int
    """Octets of all messages, trace headers included (RFC 8438 STATUS=SIZE)."""


@dataclass(frozen=True, slots=True)
class Found:
    """What `MailStore.find` found: UIDs in order, and their highest MODSEQ
    when it was asked for (else 0)."""

    uids: list[int]
    highest_modseq: int


@dataclass(frozen=True, slots=True)
class Copied:
    source_uids: tuple[int, ...]
    target_uids: tuple[int, ...]
    uidvalidity: int


def normalise_mailbox_name(name: str) -> str:
    """INBOX is case-insensitive (RFC 9051 §5.1); every other name is as given."""
    if not name or len(name) > MAX_MAILBOX_NAME_CHARS:
        raise InvalidName(f"mailbox name must have 1 to {MAX_MAILBOX_NAME_CHARS} characters")
    parts = name.split(DELIMITER)
    if any(not part for part in parts):
        raise InvalidName(f"mailbox name {name!r} has an empty level")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise InvalidName(f"mailbox name {name!r} has a control character")
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    return DELIMITER.join(parts)


def _mailbox(row: Any) -> Mailbox:
    return Mailbox(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        special_use=SpecialUse(row.special_use) if row.special_use else None,
        subscribed=row.subscribed,
        uidvalidity=row.uidvalidity,
        uidnext=row.uidnext,
        highest_modseq=row.highest_modseq,
        message_count=row.message_count,
    )


_FLAG_VALUES = tuple(Flag(value) for value in range(int(max(Flag)) * 2))
"""Every stored flag set, made once: building an IntFlag costs more than the
rest of a row (IMAP SELECT and SEARCH read whole mailboxes)."""
_NO_KEYWORDS: frozenset[str] = frozenset()
NO_FLAGS = Flag(0)


def _flag(value: int) -> Flag:
    return _FLAG_VALUES[value] if 0 <= value < len(_FLAG_VALUES) else Flag(value)


def _keywords_of(keywords: dict[int, list[str]], message_id: int) -> frozenset[str]:
    found = keywords.get(message_id)
    return _NO_KEYWORDS if found is None else frozenset(found)


def _bounds(ranges: UidRanges | None) -> UidRanges:
    """One range around all of ``ranges``: what SQL filters when the ranges
    are too many to name one by one (the rest is filtered after)."""
    if not ranges:
        return []
    return [(min(low for low, _ in ranges), max(high for _, high in ranges))]


def _within(uids: list[int], ranges: UidRanges) -> list[int]:
    """The sorted ``uids`` that fall in the inclusive ``ranges``."""
    spans: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if spans and low <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(spans[-1][1], high))
        else:
            spans.append((low, high))
    starts = [low for low, _ in spans]
    out = []
    for uid in uids:
        at = bisect.bisect_right(starts, uid) - 1
        if at >= 0 and uid <= spans[at][1]:
            out.append(uid)
    return out


def _uid_filter(ranges: UidRanges | None) -> sa.ColumnElement[bool]:
    """The messages in ``ranges`` (all for None); past `MAX_SQL_RANGES` a
    superset, which `_in_ranges` then narrows."""
    if ranges is None:
        return sa.true()
    if len(ranges) > MAX_SQL_RANGES:
        ranges = _bounds(ranges)
    return sa.or_(sa.false(), *(messages.c.uid.between(low, high) for low, high in ranges))


def _in_ranges(rows: Sequence[R], ranges: UidRanges | None) -> Sequence[R]:
    """Rows (with a ``uid``) of a query `_uid_filter` widened, narrowed again."""
    if ranges is None or len(ranges) <= MAX_SQL_RANGES:
        return rows
    keep = set(_within(sorted(row.uid for row in rows), ranges))
    return [row for row in rows if row.uid in keep]


_MESSAGE_INFO = (
    messages.c.id,
    messages.c.mailbox_id,
    messages.c.uid,
    messages.c.modseq,
    messages.c.flags,
    messages.c.blob_hash,
    messages.c.trace,
    messages.c.size,
    raw_timestamp(messages.c.internal_date, "internal_date"),
    raw_timestamp(messages.c.saved_at, "saved_at"),
)
"""The columns of a `MessageInfo`, in its fields' order."""

# Built once: the statements every delivery runs are executed, not rebuilt
# (building one costs more than SQLite takes to run it).
_COUNT: sa.BindParameter[int] = sa.bindparam("b_count", type_=sa.Integer)
_ALLOCATE_UIDS = (
    mailboxes.update()
    .where(mailboxes.c.id == sa.bindparam("b_id"))
    .values(
        uidnext=mailboxes.c.uidnext + _COUNT,
        highest_modseq=mailboxes.c.highest_modseq + 1,
        message_count=mailboxes.c.message_count + _COUNT,
    )
    .returning(mailboxes.c.account_id, mailboxes.c.uidnext, mailboxes.c.highest_modseq)
)
_INSERT_MESSAGE = messages.insert()
_KEEP_THREAD = (
    messages.update()
    .where(messages.c.id == sa.bindparam("b_row"))
    .values(thread_key=sa.bindparam("b_key"))
)
_IDS_OF_UIDS = (
    sa.select(messages.c.id, messages.c.uid)
    .where(
        messages.c.mailbox_id == sa.bindparam("b_id"),
        messages.c.uid.between(sa.bindparam("b_first"), sa.bindparam("b_last")),
    )
    .order_by(messages.c.uid)
)
_CHARGE = (
    accounts.update()
    .where(accounts.c.id == sa.bindparam("b_id"))
    .values(
        used_bytes=accounts.c.used_bytes + sa.bindparam("b_size", type_=sa.BigInteger),
        used_messages=accounts.c.used_messages + _COUNT,
    )
    .returning(
        accounts.c.used_bytes,
        accounts.c.used_messages,
        accounts.c.quota_bytes,
        accounts.c.quota_messages,
    )
)
_RANKED = (
    sa.select(
        messages.c.uid,
        (messages.c.uid - sa.func.row_number().over(order_by=messages.c.uid)).label("run"),
    )
    .where(messages.c.mailbox_id == sa.bindparam("b_id"))
    .subquery()
)
_UID_RUNS = (
    sa.select(sa.func.min(_RANKED.c.uid).label("first"), sa.func.max(_RANKED.c.uid).label("last"))
    .group_by(_RANKED.c.run)
    .order_by(sa.func.min(_RANKED.c.uid))
)
_MAILBOX = sa.select(mailboxes).where(
    mailboxes.c.account_id == sa.bindparam("b_account"),
    mailboxes.c.name == sa.bindparam("b_name"),
)


class MailStore:
    def __init__(self, blobs: BlobStore, feed: ChangeFeed, clock: Clock) -> None:
        self._blobs = blobs
        self._feed = feed
        self._clock = clock

    # --- mailboxes

    async def create_mailbox(
        self,
        tx: Tx,
        account_id: int,
        name: str,
        special_use: SpecialUse | None = None,
        *,
        subscribed: bool = True,
    ) -> Mailbox:
        name = normalise_mailbox_name(name)
        exists = await tx.scalar(
            sa.select(mailboxes.c.id).where(
                mailboxes.c.account_id == account_id, mailboxes.c.name == name
            )
        )
        if exists is not None:
            raise AlreadyExists(f"mailbox {name!r} exists already")
        uidvalidity = await self._next_uidvalidity(tx)
        row = (
            await tx.execute(
                mailboxes.insert()
                .values(
                    account_id=account_id,
                    name=name,
                    special_use=special_use.value if special_use else None,
                    subscribed=subscribed,
                    uidvalidity=uidvalidity,
                    uidnext=1,
                    highest_modseq=1,
                    message_count=0,
                    created_at=self._clock.now(),
                )
                .returning(*mailboxes.c)
            )
        ).one()
        await self._feed.append(tx, account_id, row.id, "mailbox-create", None)
        return _mailbox(row)

    async def _next_uidvalidity(self, tx: Tx) -> int:
        floor = int(self._clock.now().timestamp())
        value = await tx.scalar(
            counters.update()
            .where(counters.c.name == "uidvalidity")
            .values(value=sa.case((counters.c.value < floor, floor), else_=counters.c.value + 1))
            .returning(counters.c.value)
        )
        return int(value)

    async def mailboxes(self, tx: Tx, account_id: int) -> list[Mailbox]:
        rows = await tx.execute(
            sa.select(mailboxes)
            .where(mailboxes.c.account_id == account_id)
            .order_by(mailboxes.c.name)
        )
        return [_mailbox(r) for r in rows]

    async def mailbox(self, tx: Tx, account_id: int, name: str) -> Mailbox:
        name = normalise_mailbox_name(name)
        row = (await tx.execute(_MAILBOX, {"b_account": account_id, "b_name": name})).one_or_none()
        if row is None:
            raise NotFound(f"no mailbox {name!r}")
        return _mailbox(row)

    async def mailbox_by_id(self, tx: Tx, mailbox_id: int) -> Mailbox:
        row = (
            await tx.execute(sa.select(mailboxes).where(mailboxes.c.id == mailbox_id))
        ).one_or_none()
        if row is None:
            raise NotFound(f"no mailbox with id {mailbox_id}")
        return _mailbox(row)

    async def rename_mailbox(self, tx: Tx, account_id: int, old: str, new: str) -> Mailbox:
        """Rename a mailbox and its children. INBOX cannot be renamed here:
        IMAP's RENAME INBOX moves its messages instead (RFC 9051 §6.3.6)."""
        box = await self.mailbox(tx, account_id, old)
        new = normalise_mailbox_name(new)
        if box.name == "INBOX":
            raise InvalidName("INBOX cannot be renamed")
        if new == "INBOX" or new.startswith(box.name + DELIMITER):
            raise InvalidName(f"cannot rename {box.name!r} to {new!r}")
        taken = await tx.scalar(
            sa.select(mailboxes.c.id).where(
                mailboxes.c.account_id == account_id, mailboxes.c.name == new
            )
        )
        if taken is not None:
            raise AlreadyExists(f"mailbox {new!r} exists already")
        prefix = box.name + DELIMITER
        rows = await tx.execute(
            sa.select(mailboxes.c.id, mailboxes.c.name).where(
                mailboxes.c.account_id == account_id,
                sa.or_(
                    mailboxes.c.id == box.id, mailboxes.c.name.startswith(prefix, autoescape=True)
                ),
            )
        )
        for row in rows.all():
            mailbox_id = row.id
            renamed = new if mailbox_id == box.id else new + DELIMITER + row.name[len(prefix) :]
            await tx.execute(
                mailboxes.update().where(mailboxes.c.id == mailbox_id).values(name=renamed)
            )
            await self._feed.append(tx, account_id, mailbox_id, "mailbox-rename", None)
        return await self.mailbox_by_id(tx, box.id)

    async def delete_mailbox(self, tx: Tx, account_id: int, name: str) -> None:
        box = await self.mailbox(tx, account_id, name)
        if box.name == "INBOX":
            raise InvalidName("INBOX cannot be deleted")
        await self._remove_messages(tx, box, None)
        await tx.execute(mailboxes.delete().where(mailboxes.c.id == box.id))
        await self._feed.append(tx, account_id, box.id, "mailbox-delete", None)

    async def remove_account_mailboxes(self, tx: Tx, account_id: int) -> None:
        """Remove every mailbox of an account, INBOX too, releasing their blobs."""
        for box in await self.mailboxes(tx, account_id):
            await self._remove_messages(tx, box, None)
            await tx.execute(mailboxes.delete().where(mailboxes.c.id == box.id))
            await self._feed.append(tx, account_id, box.id, "mailbox-delete", None)

    async def set_subscribed(self, tx: Tx, account_id: int, name: str, subscribed: bool) -> None:
        box = await self.mailbox(tx, account_id, name)
        await tx.execute(
            mailboxes.update().where(mailboxes.c.id == box.id).values(subscribed=subscribed)
        )

    # --- messages

    async def append(
        self, tx: Tx, mailbox_id: int, items: Sequence[NewMessage], *, enforce_quota: bool = True
    ) -> list[Appended]:
        """Add messages at the end of a mailbox, in one allocation of UIDs."""
        if not items:
            return []
        count = len(items)
        alloc = (
            await tx.execute(_ALLOCATE_UIDS, {"b_id": mailbox_id, "b_count": count})
        ).one_or_none()
        if alloc is None:
            raise NotFound(f"no mailbox with id {mailbox_id}")
        first_uid = alloc.uidnext - count
        modseq = alloc.highest_modseq
        sizes = [len(item.trace) + item.blob.size for item in items]
        await self._charge(tx, alloc.account_id, sum(sizes), count, enforce_quota)
        await self._blobs.ref_many(tx, Counter(item.blob for item in items))
        now = self._clock.now()
        await tx.execute(
            _INSERT_MESSAGE,
            [
                {
                    "mailbox_id": mailbox_id,
                    "uid": first_uid + i,
                    "modseq": modseq,
                    "flags": int(item.flags),
                    "blob_hash": item.blob.hash,
                    "trace": item.trace,
                    "size": sizes[i],
                    "internal_date": item.internal_date or now,
                    "saved_at": now,
                }
                for i, item in enumerate(items)
            ],
        )
        # The UIDs are known: one SELECT gives the ids, instead of RETURNING,
        # which SQLAlchemy sends row by row on SQLite.
        rows = (
            await tx.execute(
                _IDS_OF_UIDS,
                {"b_id": mailbox_id, "b_first": first_uid, "b_last": first_uid + count - 1},
            )
        ).all()
        keyword_rows = [
            {"message_id": row.id, "keyword": keyword}
            for row, item in zip(rows, items, strict=True)
            for keyword in sorted(item.keywords)
        ]
        if keyword_rows:
            await tx.execute(message_keywords.insert(), keyword_rows)
        await self._feed.append(tx, alloc.account_id, mailbox_id, "append", modseq)
        return [Appended(row.id, row.uid, modseq) for row in rows]

    async def _charge(self, tx: Tx, account_id: int, size: int, count: int, enforce: bool) -> None:
        usage = (
            await tx.execute(_CHARGE, {"b_id": account_id, "b_size": size, "b_count": count})
        ).one()
        if not enforce or (size <= 0 and count <= 0):
            return
        if usage.quota_bytes and usage.used_bytes > usage.quota_bytes:
            raise QuotaExceeded(f"storage quota of {usage.quota_bytes} bytes would be exceeded")
        if usage.quota_messages and usage.used_messages > usage.quota_messages:
            raise QuotaExceeded(f"quota of {usage.quota_messages} messages would be exceeded")

    async def messages(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> list[MessageInfo]:
        rows = (
            await tx.execute(
                sa.select(*_MESSAGE_INFO)
                .where(messages.c.mailbox_id == mailbox_id, _uid_filter(uids))
                .order_by(messages.c.uid)
            )
        ).all()
        rows = _in_ranges(rows, uids)
        keywords = await self._keywords(tx, mailbox_id, uids)
        # Unpacked by position: a Row's attributes cost more than building the info.
        return [
            MessageInfo(
                id_,
                box,
                uid,
                modseq,
                _flag(flags),
                _keywords_of(keywords, id_),
                blob,
                bytes(trace),
                size,
                utc_timestamp(internal),
                None if saved is None else utc_timestamp(saved),
            )
            for id_, box, uid, modseq, flags, blob, trace, size, internal, saved in rows
        ]

    async def arrivals(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> list[tuple[int, datetime]]:
        """UID and internal date of messages, in UID order: what ranking a
        search's hits needs, without the rest of each row."""
        rows = (
            await tx.execute(
                sa.select(messages.c.uid, raw_timestamp(messages.c.internal_date, "internal_date"))
                .where(messages.c.mailbox_id == mailbox_id, _uid_filter(uids))
                .order_by(messages.c.uid)
            )
        ).all()
        return [(uid, utc_timestamp(when)) for uid, when in _in_ranges(rows, uids)]

    async def listing(self, tx: Tx, mailbox_id: int) -> list[Listed]:
        """Every message of a mailbox in UID order, with only what a POP listing
        and RETR need (a fifth of the time of `messages` for a large mailbox)."""
        rows = await tx.execute(_LISTING, {"b_mailbox": mailbox_id})
        return [Listed(uid, size, blob, bytes(trace)) for uid, size, blob, trace in rows]

    async def flags(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None, changed_since: int = 0
    ) -> list[MessageFlags]:
        """UIDs with their flags, keywords and MODSEQ, in UID order."""
        query = (
            sa.select(messages.c.id, messages.c.uid, messages.c.modseq, messages.c.flags)
            .where(messages.c.mailbox_id == mailbox_id, _uid_filter(uids))
            .order_by(messages.c.uid)
        )
        if changed_since:
            query = query.where(messages.c.modseq > changed_since)
        rows = _in_ranges((await tx.execute(query)).all(), uids)
        keywords = await self._keywords(tx, mailbox_id, uids)
        return [
            MessageFlags(uid, modseq, _flag(flags), _keywords_of(keywords, id_))
            for id_, uid, modseq, flags in rows
        ]

    async def _keywords(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None
    ) -> dict[int, list[str]]:
        rows = await tx.execute(
            sa.select(message_keywords.c.message_id, message_keywords.c.keyword)
            .join(messages, messages.c.id == message_keywords.c.message_id)
            .where(messages.c.mailbox_id == mailbox_id, _uid_filter(uids))
        )
        out: dict[int, list[str]] = defaultdict(list)
        for message_id, keyword in rows:
            out[message_id].append(keyword)
        return out

    async def store_flags(
        self,
        tx: Tx,
        mailbox_id: int,
        uids: UidRanges | None,
        mode: FlagMode,
        flags: Flag,
        keywords: Iterable[str] = (),
        *,
        unchanged_since: int | None = None,
    ) -> FlagResult:
        """Change flags and keywords (IMAP STORE), one new MODSEQ for the lot."""
        wanted = frozenset(keywords)
        current = await self.flags(tx, mailbox_id, uids)
        id_rows = await tx.execute(
            sa.select(messages.c.uid, messages.c.id).where(
                messages.c.mailbox_id == mailbox_id, _uid_filter(uids)
            )
        )
        ids: dict[int, int] = {row.uid: row.id for row in id_rows}
        modified: list[int] = []
        updates: list[tuple[MessageFlags, Flag, frozenset[str]]] = []
        for message in current:
            if unchanged_since is not None and message.modseq > unchanged_since:
                modified.append(message.uid)
                continue
            match mode:
                case FlagMode.ADD:
                    new_flags, new_keywords = message.flags | flags, message.keywords | wanted
                case FlagMode.REMOVE:
                    new_flags, new_keywords = message.flags & ~flags, message.keywords - wanted
                case FlagMode.REPLACE:
                    new_flags, new_keywords = flags, wanted
            if new_flags != message.flags or new_keywords != message.keywords:
                updates.append((message, new_flags, new_keywords))
        if not updates:
            return FlagResult((), tuple(modified))
        modseq = await self._bump_modseq(tx, mailbox_id)
        await tx.execute(
            messages.update()
            .where(messages.c.id == sa.bindparam("b_id"))
            .values(flags=sa.bindparam("b_flags"), modseq=modseq),
            [{"b_id": ids[m.uid], "b_flags": int(f)} for m, f, _ in updates],
        )
        removed = [
            {"b_id": ids[m.uid], "b_kw": kw} for m, _, kws in updates for kw in m.keywords - kws
        ]
        added = [
            {"message_id": ids[m.uid], "keyword": kw}
            for m, _, kws in updates
            for kw in kws - m.keywords
        ]
        if removed:
            await tx.execute(
                message_keywords.delete().where(
                    message_keywords.c.message_id == sa.bindparam("b_id"),
                    message_keywords.c.keyword == sa.bindparam("b_kw"),
                ),
                removed,
            )
        if added:
            await tx.execute(message_keywords.insert(), added)
        account_id = await self._account_of(tx, mailbox_id)
        await self._feed.append(tx, account_id, mailbox_id, "flags", modseq)
        changed = tuple(MessageFlags(m.uid, modseq, f, k) for m, f, k in updates)
        return FlagResult(changed, tuple(modified))

    async def _bump_modseq(self, tx: Tx, mailbox_id: int) -> int:
        value = await tx.scalar(
            mailboxes.update()
            .where(mailboxes.c.id == mailbox_id)
            .values(highest_modseq=mailboxes.c.highest_modseq + 1)
            .returning(mailboxes.c.highest_modseq)
        )
        if value is None:
            raise NotFound(f"no mailbox with id {mailbox_id}")
        return int(value)

    async def _account_of(self, tx: Tx, mailbox_id: int) -> int:
        return int(
            await tx.scalar(sa.select(mailboxes.c.account_id).where(mailboxes.c.id == mailbox_id))
        )

    async def expunge(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None, *, deleted_only: bool = True
    ) -> list[int]:
        """Remove messages (by default those flagged \\Deleted); returns their UIDs."""
        box = await self.mailbox_by_id(tx, mailbox_id)
        return await self._remove_messages(tx, box, uids, deleted_only=deleted_only)

    async def _remove_messages(
        self, tx: Tx, box: Mailbox, uids: UidRanges | None, *, deleted_only: bool = False
    ) -> list[int]:
        query = sa.select(
            messages.c.id, messages.c.uid, messages.c.blob_hash, messages.c.size
        ).where(messages.c.mailbox_id == box.id, _uid_filter(uids))
        if deleted_only:
            query = query.where(messages.c.flags.op("&")(int(Flag.DELETED)) != 0)
        rows = _in_ranges((await tx.execute(query.order_by(messages.c.uid))).all(), uids)
        if not rows:
            return []
        modseq = await self._bump_modseq(tx, box.id)
        await tx.execute(
            messages.delete().where(messages.c.id == sa.bindparam("b_id")),
            [{"b_id": r.id} for r in rows],
        )
        await tx.execute(
            expunged.insert(),
            [{"mailbox_id": box.id, "uid": r.uid, "modseq": modseq} for r in rows],
        )
        await tx.execute(
            mailboxes.update()
            .where(mailboxes.c.id == box.id)
            .values(message_count=mailboxes.c.message_count - len(rows))
        )
        await self._charge(tx, box.account_id, -sum(r.size for r in rows), -len(rows), False)
        await self._blobs.unref_many(tx, Counter(r.blob_hash for r in rows))
        await self._feed.append(tx, box.account_id, box.id, "expunge", modseq)
        return [r.uid for r in rows]

    async def mailbox_status(self, tx: Tx, mailbox_id: int) -> MailboxStatus:
        """The counts of one mailbox for IMAP STATUS, without reading its messages."""
        flags = messages.c.flags

        def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
            return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

        row = (
            await tx.execute(
                sa.select(
                    sa.func.count().label("total"),
                    count_if(flags.op("&")(int(Flag.SEEN)) == 0).label("unseen"),
                    count_if(flags.op("&")(int(Flag.DELETED)) != 0).label("deleted"),
                    sa.func.coalesce(sa.func.sum(messages.c.size), 0).label("octets"),
                ).where(messages.c.mailbox_id == mailbox_id)
            )
        ).one()
        return MailboxStatus(int(row.total), int(row.unseen), int(row.deleted), int(row.octets))

    async def uid_runs(self, tx: Tx, mailbox_id: int) -> list[tuple[int, int]]:
        """The mailbox's UIDs as runs of consecutive UIDs, ``(first, last)`` in
        order: all IMAP SELECT needs to number the messages, read as one row per
        run (a UID minus its rank is the same all along a run) instead of one
        per message."""
        rows = await tx.execute(_UID_RUNS, {"b_id": mailbox_id})
        return [(row.first, row.last) for row in rows.all()]

    async def keywords_in_use(self, tx: Tx, mailbox_id: int) -> list[str]:
        """The keywords set on some message of the mailbox, sorted (IMAP FLAGS)."""
        rows = await tx.execute(
            sa.select(message_keywords.c.keyword)
            .distinct()
            .join(messages, messages.c.id == message_keywords.c.message_id)
            .where(messages.c.mailbox_id == mailbox_id)
            .order_by(message_keywords.c.keyword)
        )
        return [row.keyword for row in rows]

    async def find(
        self,
        tx: Tx,
        mailbox_id: int,
        *,
        with_flags: Flag = NO_FLAGS,
        without_flags: Flag = NO_FLAGS,
        with_keywords: Iterable[str] = (),
        without_keywords: Iterable[str] = (),
        min_modseq: int = 0,
        first_only: bool = False,
        highest_modseq: bool = False,
    ) -> Found:
        """The UIDs of the messages that have all of ``with_flags`` and
        ``with_keywords``, none of ``without_flags`` and ``without_keywords``,
        and a MODSEQ of at least ``min_modseq``, in UID order; the first only
        with ``first_only``; with ``highest_modseq`` also the highest MODSEQ
        among them. The searches IMAP clients send most (UNSEEN, FLAGGED,
        UNDELETED, KEYWORD, MODSEQ), run by the database."""
        flags = messages.c.flags
        columns = (messages.c.uid, messages.c.modseq) if highest_modseq else (messages.c.uid,)
        query = sa.select(*columns).where(messages.c.mailbox_id == mailbox_id)
        if with_flags:
            query = query.where(flags.op("&")(int(with_flags)) == int(with_flags))
        if without_flags:
            query = query.where(flags.op("&")(int(without_flags)) == 0)
        if min_modseq:
            query = query.where(messages.c.modseq >= min_modseq)
        for keyword, present in [
            *((k, True) for k in with_keywords),
            *((k, False) for k in without_keywords),
        ]:
            has = sa.exists().where(
                message_keywords.c.message_id == messages.c.id,
                sa.func.lower(message_keywords.c.keyword) == keyword.lower(),
            )
            query = query.where(has if present else ~has)
        query = query.order_by(messages.c.uid)
        if first_only:
            query = query.limit(1)
        result = await tx.execute(query)
        if not highest_modseq:
            # One column, no row objects: a whole mailbox costs little.
            return Found(list(result.scalars()), 0)
        rows = result.all()
        return Found([row.uid for row in rows], max((row.modseq for row in rows), default=0))

    async def structures(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> dict[int, str | None]:
        """The MIME structure kept with each message's blob at delivery (the
        JSON of `MessageStructure.to_json`, None where none was kept), by UID:
        what SORT and THREAD compare, read in one query instead of one per
        message."""
        query = (
            sa.select(messages.c.uid, blobs.c.structure)
            .join(blobs, blobs.c.hash == messages.c.blob_hash)
            .where(messages.c.mailbox_id == mailbox_id)
        )
        rows = (await tx.execute(query.where(_uid_filter(uids)).order_by(messages.c.uid))).all()
        return {row.uid: row.structure for row in _in_ranges(rows, uids)}

    async def vanished(
        self, tx: Tx, mailbox_id: int, since_modseq: int, uids: UidRanges | None = None
    ) -> list[int]:
        """UIDs expunged after a MODSEQ (RFC 7162 §3.2.5.1, VANISHED (EARLIER)),
        in UID order; ``uids`` keeps those in the ranges (the client's known UIDs,
        or the set of a UID FETCH, RFC 7162 §3.2.6)."""
        query = sa.select(expunged.c.uid).where(
            expunged.c.mailbox_id == mailbox_id, expunged.c.modseq > since_modseq
        )
        in_sql = uids is not None and len(uids) <= MAX_SQL_RANGES
        if uids is not None:
            spans = uids if in_sql else _bounds(uids)
            query = query.where(
                sa.or_(sa.false(), *(expunged.c.uid.between(a, b) for a, b in spans))
            )
        found = [uid for (uid,) in await tx.execute(query.order_by(expunged.c.uid))]
        if uids is None or in_sql:
            return found
        return _within(found, uids)

    async def copy(
        self, tx: Tx, source_id: int, uids: UidRanges, target_id: int, *, enforce_quota: bool = True
    ) -> Copied:
        """Copy messages to another mailbox (IMAP COPY; MOVE adds an expunge)."""
        infos = await self.messages(tx, source_id, uids)
        appended = await self.append(
            tx,
            target_id,
            [
                NewMessage(
                    blob=StagedBlob(m.blob_hash, m.size - len(m.trace)),
                    trace=m.trace,
                    flags=m.flags,
                    keywords=m.keywords,
                    internal_date=m.internal_date,
                )
                for m in infos
            ],
            enforce_quota=enforce_quota,
        )
        # A copy stays in its conversation (store/mail_list.py): no header to read again.
        keyed = await tx.execute(
            sa.select(messages.c.uid, messages.c.thread_key).where(
                messages.c.mailbox_id == source_id,
                _uid_filter(uids),
                messages.c.thread_key.is_not(None),
            )
        )
        keys = {int(r.uid): int(r.thread_key) for r in keyed}
        kept = [
            {"b_row": a.message_id, "b_key": keys[m.uid]}
            for m, a in zip(infos, appended, strict=True)
            if m.uid in keys
        ]
        if kept:
            await tx.execute(_KEEP_THREAD, kept)
        target = await self.mailbox_by_id(tx, target_id)
        return Copied(
            tuple(m.uid for m in infos), tuple(a.uid for a in appended), target.uidvalidity
        )
