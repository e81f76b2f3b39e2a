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
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from roost.store.db import Tx
from roost.store.schema import blobs, message_summaries, messages
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


_TOP = "\U0010ffff"
"""Above every sort key: the open end of a descending walk of a summaries index."""

Cursor = tuple[str | int | datetime, int]
"""Where a page ends: the sort value of its last row and that row's UID."""

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
        columns = (
            messages.c.uid,
            messages.c.flags,
            messages.c.size,
            messages.c.internal_date,
            messages.c.blob_hash,
            *_SUMMARY_COLUMNS,
        )
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

    async def same_subject(
        self, tx: Tx, mailbox_id: int, subject_sort: str, limit: int
    ) -> list[ListedMessage]:
        """The folder's messages whose summary has this base subject, oldest first: the
        candidates of a conversation (found by the summaries' subject index, then by
        blob; `mailbox_id + 0` keeps SQLite from walking the folder by date)."""
        same = sa.select(message_summaries.c.blob_hash).where(
            message_summaries.c.subject_sort == subject_sort
        )
        rows = await tx.execute(
            sa.select(
                messages.c.uid,
                messages.c.flags,
                messages.c.size,
                messages.c.internal_date,
                messages.c.blob_hash,
                *_SUMMARY_COLUMNS,
            )
            .select_from(
                messages.join(
                    message_summaries, message_summaries.c.blob_hash == messages.c.blob_hash
                )
            )
            .where(messages.c.mailbox_id + 0 == mailbox_id, messages.c.blob_hash.in_(same))
            .order_by(messages.c.internal_date, messages.c.uid)
            .limit(limit)
        )
        return [_listed(r) for r in rows]

    async def unsummarised(
        self, tx: Tx, mailbox_id: int, limit: int, from_uid: int = 0
    ) -> list[str]:
        """Blobs of the folder's messages (from UID `from_uid` on) that have no summary."""
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
                messages.c.uid >= from_uid,
                message_summaries.c.blob_hash.is_(None),
            )
            .limit(limit)
        )
        return [str(r.blob_hash) for r in rows]

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
