"""The webmail's message list: one page of a folder, in keyset order, with summaries.

A page is read with a keyset (the sort value and the UID of the last row
shown, "seek" paging) rather than an offset, so the 2,000th page of a
100,000-message folder costs what the first does. Date order (the messages'
internal date) and size order run on the indexes `ix_messages_mailbox_date`
and `ix_messages_mailbox_size`; sender and subject order join the
summaries and sort.

A summary (`message_summaries`) is what the list shows of a message,
decoded once per blob by `roost.control.mail_list`: the messages of a folder
that have none are found with `unsummarised` and filled with
`put_summaries`. Rows are keyed by the blob, so a copy or a move needs no new
one, and go with the blob.

Conversations. Each message carries a conversation key (`messages.thread_key`,
NULL until it is threaded), and `ix_messages_mailbox_thread` (mailbox, key,
date, UID) serves the list by conversation: the folder is walked newest first
and a message stands for its conversation when none of its conversation in
the folder is newer (`conversation_heads`), so a page costs a page plus the
older messages of the conversations already shown, a walk the caller bounds.

The key follows the message IDs a message names, by the rules of the read
pane's threading (RFC 5256 §3 REFERENCES step 1, in `roost.control.mail_list`):
its own Message-ID, and its References (or, without them, the first
In-Reply-To). `conversation_refs` maps each ID an account's messages named
(hashed: IDs may be long) to its conversation. Threading a message
(`assign_threads`) unites its IDs with those already known:

- none known: a new conversation, and its IDs point to it;
- known under one key: the message joins it, and its new IDs point to it too;
- known under several keys (the message links two conversations, such as a
  reply that named only its parent arrived before the message that names
  the root): the conversations become one, the lowest key; the other keys'
  IDs and messages (in every folder of the account) move to it.

So a reply that arrives before its parent starts a conversation under the
parent's ID, and the parent, naming its own ID, joins it; a parent that
arrives later still finds its children. The map is never pruned when
messages go: an ID once seen keeps linking what names it. A message that
names no ID is a conversation of its own, and messages are never joined by
subject alone (unrelated mails called "Hello" stay apart). The key is kept
per message, so IMAP copies and moves get a key from the source message
(`roost.store.mail`'s `copy`) or, else, when the webmail threads the folder.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from roost.store.db import Tx
from roost.store.schema import (
    blobs,
    conversation_refs,
    counters,
    mailboxes,
    message_summaries,
    messages,
)
from roost.store.types import Flag


class SortKey(enum.StrEnum):
    DATE = "date"
    SENDER = "sender"
    SUBJECT = "subject"
    SIZE = "size"


@dataclass(frozen=True, slots=True)
class Summary:
    from_text: str
    from_address: str
    from_sort: str
    subject: str
    subject_sort: str
    sent_at: datetime | None
    has_attachments: bool


@dataclass(frozen=True, slots=True)
class ListedMessage:
    uid: int
    flags: Flag
    size: int
    internal_date: datetime
    blob_hash: str
    summary: Summary | None
    """None until the message is summarised."""
    thread_key: int | None = None
    """Its conversation; None until the message is threaded."""


@dataclass(frozen=True, slots=True)
class Unthreaded:
    """A message without a conversation yet: its row, UID and blob."""

    message_row: int
    uid: int
    blob_hash: str


@dataclass(frozen=True, slots=True)
class ThreadIds:
    """The message IDs a message names (its own first), to thread it."""

    message_row: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConversationStats:
    count: int
    unread: int
    flagged: bool
    attachment: bool
    size: int
    participants: tuple[str, ...]
    """Senders' names by their first message in the conversation, at most
    `MAX_PARTICIPANTS`."""
    more_participants: int


THREAD_COUNTER = "thread"
"""The row of `counters` that allocates conversation keys (migration 0022)."""
MAX_PARTICIPANTS = 3
"""Senders a conversation's row names; the others are counted."""
_REFS_PER_QUERY = 500
_Node = tuple[str, int | str]


def ref_hash(message_id: str) -> str:
    """The key of a message ID in `conversation_refs` (IDs run to hundreds of octets)."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


_TOP = "\U0010ffff"
"""Above every sort key: the open end of a descending walk of a summaries index."""

Cursor = tuple[str | int | datetime, int]
"""Where a page ends: the sort value of its last row and that row's UID."""

_MESSAGE_COLUMNS = (
    messages.c.uid,
    messages.c.flags,
    messages.c.size,
    messages.c.internal_date,
    messages.c.blob_hash,
    messages.c.thread_key,
)
_SUMMARY_COLUMNS = (
    message_summaries.c.from_text,
    message_summaries.c.from_address,
    message_summaries.c.from_sort,
    message_summaries.c.subject,
    message_summaries.c.subject_sort,
    message_summaries.c.sent_at,
    message_summaries.c.has_attachments,
)


def _sort_column(key: SortKey) -> sa.ColumnElement[Any]:
    match key:
        case SortKey.DATE:
            return messages.c.internal_date
        case SortKey.SIZE:
            return messages.c.size
        case SortKey.SENDER:
            return sa.func.coalesce(message_summaries.c.from_sort, "")
        case SortKey.SUBJECT:
            return sa.func.coalesce(message_summaries.c.subject_sort, "")


def _listed(row: sa.Row[Any]) -> ListedMessage:
    summary = None
    if row.from_sort is not None:
        summary = Summary(
            from_text=str(row.from_text),
            from_address=str(row.from_address),
            from_sort=str(row.from_sort),
            subject=str(row.subject),
            subject_sort=str(row.subject_sort),
            sent_at=row.sent_at,
            has_attachments=bool(row.has_attachments),
        )
    return ListedMessage(
        uid=int(row.uid),
        flags=Flag(int(row.flags)),
        size=int(row.size),
        internal_date=row.internal_date,
        blob_hash=str(row.blob_hash),
        summary=summary,
        thread_key=None if row.thread_key is None else int(row.thread_key),
    )


class MailListStore:
    async def page(
        self,
        tx: Tx,
        mailbox_id: int,
        key: SortKey,
        *,
        descending: bool,
        after: Cursor | None,
        limit: int,
        by_summary: bool = False,
    ) -> list[ListedMessage]:
        """Up to `limit` messages after `after` in the order asked for.

        `by_summary` (sender and subject order only) lists only summarised
        messages, walking the summaries' index in that order and finding each
        one's message in the folder by its blob: a page of a large folder then
        costs a page, not a sort of the whole folder. (`mailbox_id + 0` keeps
        SQLite's planner from starting at the folder instead.)"""
        column = _sort_column(key)
        summary_first = by_summary and key in (SortKey.SENDER, SortKey.SUBJECT)
        columns = (*_MESSAGE_COLUMNS, *_SUMMARY_COLUMNS)
        if summary_first:
            column = (
                message_summaries.c.from_sort
                if key is SortKey.SENDER
                else message_summaries.c.subject_sort
            )
            query = (
                sa.select(*columns)
                .select_from(
                    message_summaries.join(
                        messages, messages.c.blob_hash == message_summaries.c.blob_hash
                    )
                )
                .where(messages.c.mailbox_id + 0 == mailbox_id)
            )
            if after is None:
                query = query.where(column <= _TOP if descending else column >= "")
        else:
            query = (
                sa.select(*columns)
                .select_from(
                    messages.outerjoin(
                        message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
                    )
                )
                .where(messages.c.mailbox_id == mailbox_id)
            )
        if after is not None:
            value, uid = after
            seek = sa.tuple_(column, messages.c.uid)
            bound = sa.tuple_(sa.literal(value, type_=column.type), sa.literal(uid))
            query = query.where(seek < bound if descending else seek > bound)
            if summary_first:
                edge = sa.literal(value, type_=column.type)
                query = query.where(column <= edge if descending else column >= edge)
        if descending:
            query = query.order_by(column.desc(), messages.c.uid.desc())
        else:
            query = query.order_by(column.asc(), messages.c.uid.asc())
        rows = await tx.execute(query.limit(limit))
        return [_listed(r) for r in rows]

    async def unseen_counts(self, tx: Tx, mailbox_ids: Sequence[int]) -> dict[int, int]:
        """Unread messages of each folder (`ix_messages_mailbox_flags` covers it)."""
        if not mailbox_ids:
            return {}
        rows = await tx.execute(
            sa.select(messages.c.mailbox_id, sa.func.count().label("unseen"))
            .where(
                messages.c.mailbox_id.in_(list(mailbox_ids)),
                messages.c.flags.op("&")(int(Flag.SEEN)) == 0,
            )
            .group_by(messages.c.mailbox_id)
        )
        return {int(r.mailbox_id): int(r.unseen) for r in rows}

    async def unsummarised(
        self, tx: Tx, mailbox_id: int, limit: int, from_uid: int = 0
    ) -> list[str]:
        """Blobs of the folder's messages (from UID `from_uid` on) that have no summary."""
        return await _unsummarised(tx, mailbox_id, messages.c.uid >= from_uid, limit)

    async def put_summaries(self, tx: Tx, items: Sequence[tuple[str, Summary]]) -> None:
        """Store summaries; one already there (another request made it) is kept."""
        if not items:
            return
        values = [
            {
                "blob_hash": blob_hash,
                "from_text": s.from_text,
                "from_address": s.from_address,
                "from_sort": s.from_sort,
                "subject": s.subject,
                "subject_sort": s.subject_sort,
                "sent_at": s.sent_at,
                "has_attachments": s.has_attachments,
            }
            for blob_hash, s in items
        ]
        if tx.dialect == "postgresql":
            statement: sa.Executable = (
                postgresql.insert(message_summaries).values(values).on_conflict_do_nothing()
            )
        else:
            statement = sqlite.insert(message_summaries).values(values).on_conflict_do_nothing()
        await tx.execute(statement)

    async def structures(self, tx: Tx, blob_hashes: Sequence[str]) -> dict[str, str | None]:
        """The MIME structure kept at delivery (JSON) of each blob, None where none was."""
        rows = await tx.execute(
            sa.select(blobs.c.hash, blobs.c.structure).where(blobs.c.hash.in_(list(blob_hashes)))
        )
        return {str(r.hash): r.structure for r in rows}

    # --- conversations

    async def unthreaded(
        self, tx: Tx, mailbox_id: int, limit: int, from_uid: int = 0
    ) -> list[Unthreaded]:
        """Up to `limit` of the folder's messages (from UID `from_uid` on) that have no
        conversation yet, in no order: `ix_messages_mailbox_thread` finds them, or
        with `from_uid` (a folder threaded up to there) the UIDs from there on."""
        query = sa.select(messages.c.id, messages.c.uid, messages.c.blob_hash).where(
            messages.c.mailbox_id == mailbox_id, messages.c.thread_key.is_(None)
        )
        if from_uid:
            query = query.where(messages.c.uid >= from_uid)
        rows = await tx.execute(query.limit(limit))
        return [Unthreaded(int(r.id), int(r.uid), str(r.blob_hash)) for r in rows]

    async def assign_threads(self, tx: Tx, account_id: int, items: Sequence[ThreadIds]) -> None:
        """Give each message its conversation, from the message IDs it names (its own
        and its references): the rules in the module's docstring. IDs that name two
        conversations join them, for the whole account, here."""
        if not items:
            return
        named = [(item.message_row, [ref_hash(i) for i in item.ids]) for item in items]
        every = sorted({h for _, hashes in named for h in hashes})
        known: dict[str, int] = {}
        for start in range(0, len(every), _REFS_PER_QUERY):
            rows = await tx.execute(
                sa.select(conversation_refs.c.ref_hash, conversation_refs.c.thread_key).where(
                    conversation_refs.c.account_id == account_id,
                    conversation_refs.c.ref_hash.in_(every[start : start + _REFS_PER_QUERY]),
                )
            )
            known.update((str(r.ref_hash), int(r.thread_key)) for r in rows)
        links = _Links()
        for row_id, hashes in named:
            links.add(("m", row_id))
            for h in hashes:
                links.join(("m", row_id), ("h", h))
        for h, key in known.items():
            links.join(("h", h), ("k", key))
        groups = links.groups()
        fresh = sum(1 for members in groups if not any(kind == "k" for kind, _ in members))
        new_keys = iter(await self._new_keys(tx, fresh))
        merges: dict[int, list[int]] = {}
        new_refs: list[dict[str, object]] = []
        placed: list[dict[str, object]] = []
        for members in groups:
            keys = sorted(int(value) for kind, value in members if kind == "k")
            key = keys[0] if keys else next(new_keys)
            if len(keys) > 1:
                merges[key] = keys[1:]
            for kind, value in members:
                if kind == "h" and value not in known:
                    new_refs.append(
                        {"account_id": account_id, "ref_hash": value, "thread_key": key}
                    )
                elif kind == "m":
                    placed.append({"b_row": value, "b_key": key})
        boxes = sa.select(mailboxes.c.id).where(mailboxes.c.account_id == account_id)
        for key, olds in merges.items():
            await tx.execute(
                conversation_refs.update()
                .where(
                    conversation_refs.c.account_id == account_id,
                    conversation_refs.c.thread_key.in_(olds),
                )
                .values(thread_key=key)
            )
            await tx.execute(
                messages.update()
                .where(messages.c.mailbox_id.in_(boxes), messages.c.thread_key.in_(olds))
                .values(thread_key=key)
            )
        if new_refs:
            insert = (
                postgresql.insert(conversation_refs)
                if tx.dialect == "postgresql"
                else sqlite.insert(conversation_refs)
            )
            await tx.execute(insert.on_conflict_do_nothing(), new_refs)
        await tx.execute(_PLACE_MESSAGE, placed)

    async def _new_keys(self, tx: Tx, count: int) -> list[int]:
        """`count` conversation keys never given before (the `thread` counter)."""
        if count == 0:
            return []
        top = await tx.scalar(
            counters.update()
            .where(counters.c.name == THREAD_COUNTER)
            .values(value=counters.c.value + count)
            .returning(counters.c.value)
        )
        if top is None:  # a store made without migration 0022's row
            await tx.execute(counters.insert().values(name=THREAD_COUNTER, value=count))
            top = count
        return list(range(int(top) - count + 1, int(top) + 1))

    async def conversation_heads(
        self,
        tx: Tx,
        mailbox_id: int,
        *,
        after: tuple[datetime, int] | None,
        limit: int,
        scan: int,
    ) -> tuple[list[ListedMessage], tuple[datetime, int] | None]:
        """The newest message of each conversation of the folder, newest first: up to
        `limit` after the keyset `after` (the date and UID of the last row shown),
        among the next `scan` messages of the folder.

        The folder is walked by date (`ix_messages_mailbox_date`); a message is a
        head when no message of its conversation in the folder is newer (one probe
        of `ix_messages_mailbox_thread`). A message not yet threaded is its own
        conversation. Old messages of conversations shown already are walked past,
        so `scan` bounds the walk: the second value is the date and UID of the last
        message walked, where the next walk starts, or None when fewer than `scan`
        messages were left."""
        position = sa.tuple_(messages.c.internal_date, messages.c.uid)
        where: list[sa.ColumnElement[bool]] = [messages.c.mailbox_id == mailbox_id]
        if after is not None:
            when, uid = after
            bound = sa.tuple_(
                sa.literal(when, type_=messages.c.internal_date.type), sa.literal(uid)
            )
            where.append(position < bound)
        newest_first = (messages.c.internal_date.desc(), messages.c.uid.desc())
        edge_row = (
            await tx.execute(
                sa.select(messages.c.internal_date, messages.c.uid)
                .where(*where)
                .order_by(*newest_first)
                .offset(scan - 1)
                .limit(1)
            )
        ).one_or_none()
        edge = None if edge_row is None else (edge_row.internal_date, int(edge_row.uid))
        if edge is not None:
            where.append(
                position
                >= sa.tuple_(
                    sa.literal(edge[0], type_=messages.c.internal_date.type),
                    sa.literal(edge[1]),
                )
            )
        newer = messages.alias("newer")
        later = sa.exists().where(
            newer.c.mailbox_id == messages.c.mailbox_id,
            newer.c.thread_key == messages.c.thread_key,
            sa.tuple_(newer.c.internal_date, newer.c.uid) > position,
        )
        rows = await tx.execute(
            sa.select(*_MESSAGE_COLUMNS, *_SUMMARY_COLUMNS)
            .select_from(
                messages.outerjoin(
                    message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
                )
            )
            .where(*where, ~later)
            .order_by(*newest_first)
            .limit(limit)
        )
        return [_listed(r) for r in rows], edge

    async def conversation_stats(
        self, tx: Tx, mailbox_id: int, keys: Sequence[int]
    ) -> dict[int, ConversationStats]:
        """What the list shows of each conversation: its messages in the folder, how
        many are unread, whether one is flagged or has attachments, their size, and
        the senders (by the date of their first message in it)."""
        if not keys:
            return {}
        wanted = sorted(set(keys))
        unseen = sa.case((messages.c.flags.op("&")(int(Flag.SEEN)) == 0, 1), else_=0)
        flagged = sa.case((messages.c.flags.op("&")(int(Flag.FLAGGED)) != 0, 1), else_=0)
        attached = sa.case((message_summaries.c.has_attachments.is_(True), 1), else_=0)
        joined = messages.outerjoin(
            message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
        )
        where = (messages.c.mailbox_id == mailbox_id, messages.c.thread_key.in_(wanted))
        rows = await tx.execute(
            sa.select(
                messages.c.thread_key,
                messages.c.internal_date,
                unseen.label("unseen"),
                flagged.label("flagged"),
                attached.label("attached"),
                messages.c.size,
                message_summaries.c.from_text,
                message_summaries.c.from_address,
            )
            .select_from(joined)
            .where(*where)
            .order_by(messages.c.thread_key, messages.c.internal_date, messages.c.uid)
        )
        made: dict[int, _Tally] = {}
        for r in rows:
            tally = made.setdefault(int(r.thread_key), _Tally())
            tally.count += 1
            tally.unread += int(r.unseen)
            tally.flagged = tally.flagged or bool(r.flagged)
            tally.attachment = tally.attachment or bool(r.attached)
            tally.size += int(r.size)
            name = str(r.from_text or r.from_address or "")
            if name and name not in tally.senders and len(tally.senders) < MAX_PARTICIPANTS:
                tally.senders.append(name)
            elif name and name not in tally.senders:
                tally.more_senders.add(name)
        return {
            key: ConversationStats(
                count=t.count,
                unread=t.unread,
                flagged=t.flagged,
                attachment=t.attachment,
                size=t.size,
                participants=tuple(t.senders),
                more_participants=len(t.more_senders),
            )
            for key, t in made.items()
        }

    async def thread_unsummarised(
        self, tx: Tx, mailbox_id: int, keys: Sequence[int], limit: int
    ) -> list[str]:
        """Blobs of the conversations' messages in the folder that have no summary."""
        if not keys:
            return []
        chosen = messages.c.thread_key.in_(sorted(set(keys)))
        return await _unsummarised(tx, mailbox_id, chosen, limit)

    async def thread_messages(
        self, tx: Tx, mailbox_id: int, thread_key: int, limit: int
    ) -> list[ListedMessage]:
        """A conversation's messages in the folder, oldest first."""
        rows = await tx.execute(
            sa.select(*_MESSAGE_COLUMNS, *_SUMMARY_COLUMNS)
            .select_from(
                messages.outerjoin(
                    message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
                )
            )
            .where(messages.c.mailbox_id == mailbox_id, messages.c.thread_key == thread_key)
            .order_by(messages.c.internal_date, messages.c.uid)
            .limit(limit)
        )
        return [_listed(r) for r in rows]

    async def thread_uids(self, tx: Tx, mailbox_id: int, keys: Sequence[int]) -> list[int]:
        """The UIDs of every message of these conversations in the folder."""
        found: list[int] = []
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), _REFS_PER_QUERY):
            rows = await tx.execute(
                sa.select(messages.c.uid).where(
                    messages.c.mailbox_id == mailbox_id,
                    messages.c.thread_key.in_(wanted[start : start + _REFS_PER_QUERY]),
                )
            )
            found += [int(r.uid) for r in rows]
        return sorted(found)

    async def listed(self, tx: Tx, mailbox_id: int, uid: int) -> ListedMessage | None:
        """One message of the folder as the list shows it."""
        row = (
            await tx.execute(
                sa.select(*_MESSAGE_COLUMNS, *_SUMMARY_COLUMNS)
                .select_from(
                    messages.outerjoin(
                        message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
                    )
                )
                .where(messages.c.mailbox_id == mailbox_id, messages.c.uid == uid)
            )
        ).one_or_none()
        return None if row is None else _listed(row)


_PLACE_MESSAGE = (
    messages.update()
    .where(messages.c.id == sa.bindparam("b_row"))
    .values(thread_key=sa.bindparam("b_key"))
)


@dataclass(slots=True)
class _Tally:
    count: int = 0
    unread: int = 0
    flagged: bool = False
    attachment: bool = False
    size: int = 0
    senders: list[str] = field(default_factory=list)
    more_senders: set[str] = field(default_factory=set)


class _Links:
    """Union-find over messages, message IDs and conversation keys (path halving)."""

    def __init__(self) -> None:
        self._parent: dict[_Node, _Node] = {}

    def add(self, node: _Node) -> None:
        self._parent.setdefault(node, node)

    def find(self, node: _Node) -> _Node:
        self.add(node)
        while (up := self._parent[node]) != node:
            self._parent[node] = self._parent[up]
            node = up
        return node

    def join(self, a: _Node, b: _Node) -> None:
        self._parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[_Node]]:
        out: dict[_Node, list[_Node]] = {}
        for node in list(self._parent):
            out.setdefault(self.find(node), []).append(node)
        return list(out.values())


async def _unsummarised(
    tx: Tx, mailbox_id: int, chosen: sa.ColumnElement[bool], limit: int
) -> list[str]:
    """Blobs of the folder's *chosen* messages that have no summary yet."""
    rows = await tx.execute(
        sa.select(messages.c.blob_hash)
        .distinct()
        .select_from(
            messages.outerjoin(
                message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
            )
        )
        .where(
            messages.c.mailbox_id == mailbox_id,
            chosen,
            message_summaries.c.blob_hash.is_(None),
        )
        .limit(limit)
    )
    return [str(r.blob_hash) for r in rows]
