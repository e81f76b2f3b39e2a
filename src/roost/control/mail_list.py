"""A folder's message list for the webmail, and what the list can do to messages.

Reading: one page at a time in keyset order (see `roost.store.mail_list`),
each message with its summary: sender, subject, whether it has attachments,
decoded from the MIME structure kept at delivery (RFC 2047 words and every
charset through `roost.proto.mime`). A message without a summary gets one
when a page first shows it; sorting by sender or subject first summarises
the whole folder, in batches.

Conversations: a folder can be listed one row per conversation (the user's
choice), newest conversation first. A message's conversation is a key kept
with it (`roost.store.mail_list` explains the key and how conversations
join); this module reads the message IDs from the header, by the one rule
the read pane's threading uses too (`thread_ids`), and threads a folder's
messages that have no key yet the way it summarises: a few at once when a
page needs them, a whole folder in the background, batch by batch. The read
pane shows the conversation of a message as a tree (RFC 5256 REFERENCES over
the conversation's messages in the folder).

Changing: flags, moves, deleting to Trash, emptying Trash and Junk, marking
as junk, on chosen UIDs, on every message of chosen conversations, or on
every message of the folder. Every change goes
through the Mail role in one unit of work, so IMAP clients see it (MODSEQ
and the change feed wake IDLE and CONDSTORE clients).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime

from roost.core.errors import InvalidName, NotFound
from roost.proto.imap.threads import Thread, ThreadItem, message_ids, references
from roost.proto.mime import MessageStructure, PartKind, StructureDecodeError, decode_header
from roost.proto.mime.headers import split_fields
from roost.proto.mime.parser import parse_bytes
from roost.store.db import Tx
from roost.store.mail import UidRanges
from roost.store.mail_list import (
    ConversationStats,
    Cursor,
    ListedMessage,
    SortKey,
    Summary,
    ThreadIds,
    Unthreaded,
)
from roost.store.store import Store
from roost.store.types import Flag, FlagMode, Mailbox, SpecialUse

log = logging.getLogger(__name__)

JUNK_KEYWORD = "$Junk"
NOT_JUNK_KEYWORD = "$NotJunk"
MAX_CURSOR_CHARS = 1200
MAX_FROM_CHARS = 500
MAX_SUBJECT_CHARS = 1000
MAX_SORT_CHARS = 200
SUMMARY_FIRST_MIN_MESSAGES = 2000
"""From this many messages a folder's sender or subject order walks the summaries'
index (a page costs a page) instead of sorting the folder (a cost that grows with it,
about 1 ms a thousand messages)."""
MAX_HEADER_OCTETS = 65_536
"""The most of a message's header a conversation reads for its Message-ID and References."""
CONVERSATION_WALK_STEP = 5000
"""Messages of the folder one query of the list by conversation walks past at most."""
MAX_THREAD_REFS = 20
"""The references of one message that thread it: the first (the conversation's root)
and the last ones (its parent and theirs). A hostile References naming every ID of a
mailbox could otherwise join all its conversations into one."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
"""Control characters and bidirectional overrides: shown as one space."""
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv|wg|antw)\s*(?:\[\d+\])?\s*:)+\s*", re.I)


class BadCursor(InvalidName):
    """A page link that this list did not make."""


@dataclass(frozen=True, slots=True)
class ConversationEntry:
    """One message of a conversation, in thread order, `depth` replies deep."""

    message: ListedMessage
    depth: int


@dataclass(frozen=True, slots=True)
class Conversation:
    entries: list[ConversationEntry]
    """The thread the message is in, itself included; one entry when it is alone."""
    capped: bool
    """The folder had more messages of that subject than the view considers."""
    complete: bool
    """Every message of the folder had its summary: False while the folder is still
    being summarised, when messages of the conversation may be missing."""


@dataclass(frozen=True, slots=True)
class ConversationItem:
    """One row of a folder listed by conversation."""

    head: ListedMessage
    """The conversation's newest message in the folder (the row opens it)."""
    stats: ConversationStats
    subject: str
    """The newest message's subject without its Re: and Fwd: prefixes."""


@dataclass(frozen=True, slots=True)
class ConversationPage:
    folder: Mailbox
    conversations: list[ConversationItem]
    next_cursor: str | None
    """The link to the next page, None on the last one."""
    total: int
    """Messages in the folder."""
    waiting: int = 0
    """Messages not yet threaded (in the background); each is alone meanwhile."""


@dataclass(frozen=True, slots=True)
class MessagePage:
    folder: Mailbox
    messages: list[ListedMessage]
    next_cursor: str | None
    """The link to the next page, None on the last one."""
    total: int
    waiting: int = 0
    """Messages not yet in a sender or subject order (summarised in the background);
    the page lists the others meanwhile."""


def clean(text: str, limit: int) -> str:
    return _CONTROL.sub(" ", text).strip()[:limit]


def summarise(structure: MessageStructure) -> Summary:
    """What the list shows of a message, from its MIME structure."""
    envelope = structure.envelope
    sender = envelope.from_.mailboxes() if envelope.from_ else ()
    if sender:
        first = sender[0]
        address = clean(first.addr_spec, 320)
        from_text = clean(first.display_name or "", MAX_FROM_CHARS) or address
    else:
        address = ""
        from_text = clean(envelope.from_.raw, MAX_FROM_CHARS) if envelope.from_ else ""
    subject = clean(envelope.subject_text or "", MAX_SUBJECT_CHARS)
    return Summary(
        from_text=from_text,
        from_address=address,
        from_sort=from_text.casefold()[:MAX_SORT_CHARS],
        subject=subject,
        subject_sort=_REPLY_PREFIX.sub("", subject).casefold()[:MAX_SORT_CHARS],
        sent_at=envelope.date_parsed,
        has_attachments=has_attachments(structure),
    )


def has_attachments(structure: MessageStructure) -> bool:
    """A leaf part marked as an attachment, or one with a file name that is not
    an inline part of the body (a `cid:` image)."""
    for part in structure.parts:
        if part.kind is not PartKind.LEAF or (part.index == 0 and part.filename is None):
            continue
        disposition = part.disposition.type.lower() if part.disposition else None
        if disposition == "attachment":
            return True
        if part.filename and disposition != "inline" and part.content_id is None:
            return True
    return False


def _date_cursor(when: datetime, uid: int) -> str:
    """A link that goes on after this date and UID, as `encode_cursor` writes it."""
    raw = json.dumps([SortKey.DATE.value, when.isoformat(), uid], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_cursor(key: SortKey, message: ListedMessage) -> str:
    value: str | int
    match key:
        case SortKey.DATE:
            value = message.internal_date.isoformat()
        case SortKey.SIZE:
            value = message.size
        case SortKey.SENDER:
            value = message.summary.from_sort if message.summary else ""
        case SortKey.SUBJECT:
            value = message.summary.subject_sort if message.summary else ""
    raw = json.dumps([key.value, value, message.uid], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, key: SortKey) -> Cursor:
    """The keyset a page link names; BadCursor for anything this list did not make."""
    try:
        if len(text) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        kind, value, uid = data
        if kind != key.value or not isinstance(uid, int) or isinstance(uid, bool) or uid < 0:
            raise ValueError("not this list's")
        match key:
            case SortKey.DATE:
                when = datetime.fromisoformat(value)
                if when.tzinfo is None:
                    raise ValueError("naive")
                return (when, uid)
            case SortKey.SIZE:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("size")
                return (value, uid)
            case _:
                if not isinstance(value, str):
                    raise ValueError("text")
                return (value, uid)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise BadCursor("That page link is not valid: start again from the first page.") from exc


def _structure(raw: str | None) -> MessageStructure | None:
    if raw is None:
        return None
    try:
        return MessageStructure.from_json(raw)
    except StructureDecodeError:
        return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else decode_header(value)


def thread_ids(header: bytes) -> tuple[str | None, tuple[str, ...]]:
    """A message's own Message-ID and its references, from its header: the IDs of
    References, or without it the first of In-Reply-To (RFC 5256 §3 REFERENCES
    step 1). The one rule of both the read pane's tree and the list's conversations."""
    fields = dict(reversed(split_fields(header.splitlines(True))))
    own = message_ids(_text(fields.get("message-id")))
    refs = message_ids(_text(fields.get("references")))
    if not refs:
        refs = message_ids(_text(fields.get("in-reply-to")))[:1]
    return (own[0] if own else None), refs


def key_ids(own: str | None, refs: tuple[str, ...]) -> tuple[str, ...]:
    """The IDs that file a message in a conversation: its own, then at most
    `MAX_THREAD_REFS` references (the first and the last ones)."""
    if len(refs) > MAX_THREAD_REFS:
        refs = (refs[0], *refs[len(refs) - MAX_THREAD_REFS + 1 :])
    return ((own,) if own else ()) + refs


def _alone(message: ListedMessage) -> ConversationStats:
    """The row of a message that is not threaded yet: a conversation of one."""
    summary = message.summary
    name = (summary.from_text or summary.from_address) if summary else ""
    return ConversationStats(
        count=1,
        unread=0 if Flag.SEEN in message.flags else 1,
        flagged=Flag.FLAGGED in message.flags,
        attachment=bool(summary and summary.has_attachments),
        size=message.size,
        participants=(name,) if name else (),
        more_participants=0,
    )


def _flatten(node: Thread, depth: int, by_uid: dict[int, ListedMessage]) -> list[ConversationEntry]:
    """A thread tree in reading order; a dummy (a message not in the folder) adds no row."""
    entries: list[ConversationEntry] = []
    if node.item is not None:
        entries.append(ConversationEntry(by_uid[node.item.number], depth))
    below = depth + 1 if node.item is not None else depth
    for child in node.children:
        entries.extend(_flatten(child, below, by_uid))
    return entries


def uid_ranges(uids: Sequence[int]) -> UidRanges:
    """UIDs as inclusive runs, as the Mail role takes them."""
    runs: list[tuple[int, int]] = []
    for uid in sorted(set(uids)):
        if runs and runs[-1][1] + 1 == uid:
            runs[-1] = (runs[-1][0], uid)
        else:
            runs.append((uid, uid))
    return runs


class MailList:
    def __init__(
        self,
        store: Store,
        page_size: int,
        summary_batch: int,
        max_conversation: int = 100,
        max_walk: int = 20_000,
        thread_batch: int = 100,
    ) -> None:
        self._store = store
        self._thread_batch = thread_batch
        """Messages one background threading step files (`[webmail] thread_batch`)."""
        self._max_walk = max_walk
        """Messages one page of the list by conversation walks past at most
        (`[webmail] conversation_max_walk`)."""
        self._page_size = page_size
        self._summary_batch = summary_batch
        self._max_conversation = max_conversation
        self._background: dict[tuple[int, int], asyncio.Task[None]] = {}
        """Folders being summarised, by (account id, mailbox id)."""
        self._whole: dict[int, int] = {}
        """Folders found wholly summarised: mailbox id -> its UIDNEXT then."""
        self._threading: dict[tuple[int, int], asyncio.Task[None]] = {}
        """Folders being threaded, by (account id, mailbox id)."""
        self._threaded: dict[int, int] = {}
        """Folders found wholly threaded: mailbox id -> its UIDNEXT then."""
        self._thread_locks: dict[int, asyncio.Lock] = {}
        """One threading unit of work at a time per account id."""

    async def folder(self, account_id: int, name: str) -> Mailbox:
        return await self._store.read(self._store.mail.mailbox, account_id, name)

    async def page(
        self,
        account_id: int,
        folder: str,
        key: SortKey,
        *,
        descending: bool,
        cursor: str | None,
    ) -> MessagePage:
        """One page of the folder. A sort by sender or subject needs every message's
        summary: a few missing are made here; more are made in the background
        (`summarising`), and until then the page holds the summarised messages only
        and says how many wait."""
        box = await self.folder(account_id, folder)
        after = decode_cursor(cursor, key) if cursor else None
        waiting = 0
        if key in (SortKey.SENDER, SortKey.SUBJECT):
            waiting = await self._prepare_folder(account_id, box)
        listing = self._store.mail_list
        limit = self._page_size

        async def read() -> list[ListedMessage]:
            return await self._store.read(
                listing.page,
                box.id,
                key,
                descending=descending,
                after=after,
                limit=limit + 1,
                by_summary=waiting > 0 or box.message_count >= SUMMARY_FIRST_MIN_MESSAGES,
            )

        rows = await read()
        missing = [r.blob_hash for r in rows if r.summary is None]
        if missing:
            await self._summarise(missing)
            rows = await read()
        shown = rows[:limit]
        more = len(rows) > limit and shown
        return MessagePage(
            box,
            shown,
            encode_cursor(key, shown[-1]) if more else None,
            box.message_count,
            waiting,
        )

    async def _prepare_folder(self, account_id: int, box: Mailbox) -> int:
        """Make the folder's missing summaries now when they are few (one batch);
        else start making them in the background. How many still wait (at least).

        A folder found whole is remembered with its UIDNEXT: later only messages
        from there on are looked at (a summary stays as long as its blob), so a
        page does not scan the whole folder each time."""
        since = self._whole.get(box.id, 0)
        missing = await self._store.read(
            self._store.mail_list.unsummarised, box.id, self._summary_batch + 1, since
        )
        if len(missing) <= self._summary_batch:
            if missing:
                await self._summarise(missing)
            self._whole[box.id] = box.uidnext
            return 0
        self.start_summarising(account_id, box)
        return len(missing)

    def summarising(self, account_id: int) -> bool:
        """Whether a folder of the account is being summarised or threaded in the
        background."""
        return any(key[0] == account_id for key in (*self._background, *self._threading))

    def start_summarising(self, account_id: int, box: Mailbox) -> None:
        """Summarise a whole folder in the background, batch by batch (once at a time)."""
        key = (account_id, box.id)
        if key in self._background:
            return
        task = asyncio.get_running_loop().create_task(
            self._summarise_quietly(box), name=f"summarise mailbox {box.id}"
        )
        self._background[key] = task
        task.add_done_callback(lambda _: self._background.pop(key, None))

    async def _summarise_quietly(self, box: Mailbox) -> None:
        try:
            await self.summarise_folder(box.id)
            self._whole[box.id] = box.uidnext
        except asyncio.CancelledError:
            raise
        except Exception:  # the folder went, or the store closed: the next page retries
            log.warning("summarising mailbox %s stopped", box.id, exc_info=True)

    async def summarise_folder(self, mailbox_id: int) -> None:
        """Give every message of the folder its summary (once; then a no-op query)."""
        while True:
            missing = await self._store.read(
                self._store.mail_list.unsummarised, mailbox_id, self._summary_batch
            )
            if not missing:
                return
            await self._summarise(missing)

    async def _summarise(self, blob_hashes: list[str]) -> None:
        kept = await self._store.read(self._store.mail_list.structures, blob_hashes)
        made: list[tuple[str, Summary]] = []
        for blob_hash in blob_hashes:
            structure = None
            raw = kept.get(blob_hash)
            if raw is not None:
                try:
                    structure = MessageStructure.from_json(raw)
                except StructureDecodeError:
                    structure = None
            if structure is None:
                data = await self._store.blobs.read(blob_hash)
                structure = await asyncio.to_thread(parse_bytes, data)
            made.append((blob_hash, summarise(structure)))
        await self._store.write(self._store.mail_list.put_summaries, made)

    # --- conversations

    async def conversations(
        self, account_id: int, folder: str, *, cursor: str | None
    ) -> ConversationPage:
        """One page of the folder by conversation, the newest conversation first.

        Messages not yet threaded are threaded first: a few here, a whole folder in
        the background (`summarising`); until then each waiting message is a
        conversation of its own and the page says how many wait."""
        box = await self.folder(account_id, folder)
        after = decode_cursor(cursor, SortKey.DATE) if cursor else None
        waiting = await self._prepare_threads(account_id, box)
        store = self._store
        limit = self._page_size
        bound: tuple[datetime, int] | None = None
        if after is not None:
            when, uid = after
            if not isinstance(when, datetime):
                raise BadCursor("That page link is not valid: start again from the first page.")
            bound = (when, uid)

        heads, edge = await self._walk(box.id, bound)
        keys = [h.thread_key for h in heads if h.thread_key is not None]
        missing = [h.blob_hash for h in heads if h.summary is None]
        missing += await store.read(
            self._store.mail_list.thread_unsummarised, box.id, keys, self._summary_batch
        )
        if missing:
            await self._summarise(sorted(set(missing)))
            heads, edge = await self._walk(box.id, bound)
            keys = [h.thread_key for h in heads if h.thread_key is not None]
        stats = await store.read(self._store.mail_list.conversation_stats, box.id, keys)
        shown = heads[:limit]
        items = [
            ConversationItem(
                head,
                stats.get(head.thread_key, _alone(head))
                if head.thread_key is not None
                else _alone(head),
                _REPLY_PREFIX.sub("", head.summary.subject) if head.summary else "",
            )
            for head in shown
        ]
        if len(heads) > limit:
            next_cursor: str | None = encode_cursor(SortKey.DATE, shown[-1])
        else:
            next_cursor = None if edge is None else _date_cursor(*edge)
        return ConversationPage(box, items, next_cursor, box.message_count, waiting)

    async def _walk(
        self, mailbox_id: int, after: tuple[datetime, int] | None
    ) -> tuple[list[ListedMessage], tuple[datetime, int] | None]:
        """Up to a page and one of conversation heads after `after`, walking at most
        `max_walk` messages; and where a walk cut short stopped."""
        heads: list[ListedMessage] = []
        walked = 0
        edge = after
        while walked < self._max_walk:
            found, edge = await self._store.read(
                self._store.mail_list.conversation_heads,
                mailbox_id,
                after=edge,
                limit=self._page_size + 1 - len(heads),
                scan=CONVERSATION_WALK_STEP,
            )
            heads += found
            walked += CONVERSATION_WALK_STEP
            if len(heads) > self._page_size or edge is None:
                return heads, None
        return heads, edge

    async def conversation_uids(
        self, account_id: int, folder: str, keys: Sequence[int]
    ) -> list[int]:
        """Every message of these conversations in the folder, by UID."""
        box = await self.folder(account_id, folder)
        return await self._store.read(self._store.mail_list.thread_uids, box.id, keys)

    async def _prepare_threads(self, account_id: int, box: Mailbox) -> int:
        """Thread the folder's messages that have no conversation yet, now when they are
        few (one batch), else in the background. How many still wait (at least).

        As with summaries, a folder found whole is remembered with its UIDNEXT: a
        message keeps its key, so later only new UIDs are looked at."""
        since = self._threaded.get(box.id, 0)
        missing = await self._store.read(
            self._store.mail_list.unthreaded, box.id, self._summary_batch + 1, since
        )
        if len(missing) <= self._summary_batch:
            if missing:
                await self._thread(account_id, missing)
            self._threaded[box.id] = box.uidnext
            return 0
        self.start_threading(account_id, box)
        return len(missing)

    def start_threading(self, account_id: int, box: Mailbox) -> None:
        """Thread a whole folder in the background, batch by batch (once at a time)."""
        key = (account_id, box.id)
        if key in self._threading:
            return
        task = asyncio.get_running_loop().create_task(
            self._thread_quietly(account_id, box), name=f"thread mailbox {box.id}"
        )
        self._threading[key] = task
        task.add_done_callback(lambda _: self._threading.pop(key, None))

    async def _thread_quietly(self, account_id: int, box: Mailbox) -> None:
        try:
            await self.thread_folder(account_id, box.id)
            self._threaded[box.id] = box.uidnext
        except asyncio.CancelledError:
            raise
        except Exception:  # the folder went, or the store closed: the next page retries
            log.warning("threading mailbox %s stopped", box.id, exc_info=True)

    async def thread_folder(self, account_id: int, mailbox_id: int) -> None:
        """Give every message of the folder its conversation (then a no-op query), in
        batches of `thread_batch`: a page that must thread a message of its own
        waits for the batch in hand, so the batches are kept short."""
        while True:
            missing = await self._store.read(
                self._store.mail_list.unthreaded, mailbox_id, self._thread_batch
            )
            if not missing:
                return
            await self._thread(account_id, missing)

    async def _thread(self, account_id: int, messages: Sequence[Unthreaded]) -> None:
        """Read the messages' IDs from their headers and file them in the account's
        conversations (one unit of work; one at a time per account, so two batches
        never both make a conversation for the same ID)."""
        headers = await asyncio.gather(*(self._header(m.blob_hash) for m in messages))
        items = [
            ThreadIds(m.message_row, key_ids(*thread_ids(header)))
            for m, header in zip(messages, headers, strict=True)
        ]
        lock = self._thread_locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            await self._store.write(self._store.mail_list.assign_threads, account_id, items)

    async def conversation(self, account_id: int, folder: str, uid: int) -> Conversation:
        """The conversation of a message among the folder's messages, as a tree by the
        REFERENCES algorithm of RFC 5256 §3 (the IMAP THREAD command's,
        `roost.proto.imap.threads`).

        The messages are those of its conversation key, the oldest `max_conversation`
        (and the message itself); the algorithm then links them by Message-ID,
        References and In-Reply-To. Messages it cannot link under one root (their
        link went with a deleted message) follow as further roots."""
        store = self._store
        box = await self.folder(account_id, folder)
        message = await store.read(self._store.mail_list.listed, box.id, uid)
        if message is None:
            raise NotFound(f"There is no message {uid} in {box.name!r} (it may have moved).")
        complete = await self._prepare_threads(account_id, box) == 0
        if message.thread_key is None:
            await self._thread(
                account_id, [await self._unthreaded_row(box.id, message.uid, message.blob_hash)]
            )
            message = await store.read(self._store.mail_list.listed, box.id, uid)
        if message is None or message.thread_key is None:
            return Conversation([], capped=False, complete=complete)
        limit = self._max_conversation
        candidates = await store.read(
            self._store.mail_list.thread_messages, box.id, message.thread_key, limit + 1
        )
        capped = len(candidates) > limit
        candidates = candidates[:limit]
        if uid not in {c.uid for c in candidates}:
            candidates = [*candidates[: limit - 1], message]
        missing = [c.blob_hash for c in candidates if c.summary is None]
        if missing:
            await self._summarise(sorted(set(missing)))
            candidates = [
                found
                for c in candidates
                if (found := await store.read(self._store.mail_list.listed, box.id, c.uid))
                is not None
            ]
        items = [await self._thread_item(c) for c in candidates]
        by_uid = {c.uid: c for c in candidates}
        entries: list[ConversationEntry] = []
        for root in references(items):
            entries.extend(_flatten(root, 0, by_uid))
        return Conversation(entries, capped=capped, complete=complete)

    async def _unthreaded_row(self, mailbox_id: int, uid: int, blob_hash: str) -> Unthreaded:
        found = await self._store.read(self._store.mail.messages, mailbox_id, [(uid, uid)])
        if not found:
            raise NotFound(f"There is no message {uid} here (it may have moved).")
        return Unthreaded(found[0].id, uid, blob_hash)

    async def _thread_item(self, message: ListedMessage) -> ThreadItem:
        own, refs = thread_ids(await self._header(message.blob_hash))
        sent = message.summary.sent_at if message.summary else None
        return ThreadItem(
            number=message.uid,
            order=message.uid,
            sent=sent or message.internal_date,
            subject=message.summary.subject if message.summary else "",
            message_id=own,
            references=refs,
        )

    async def _header(self, blob_hash: str) -> bytes:
        """A blob's header: up to its first empty line, at most `MAX_HEADER_OCTETS`.
        A blob that cannot be read gives none (its message is then alone)."""
        read = bytearray()
        try:
            chunks = self._store.blobs.chunks(blob_hash)
            async for chunk in chunks:
                read += chunk
                if len(read) >= MAX_HEADER_OCTETS or _HEADER_END.search(read):
                    break
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()
        except (NotFound, OSError):
            log.warning("blob %s could not be read for its header", blob_hash)
            return b""
        found = _HEADER_END.search(read)
        return bytes(read[: found.start() if found else MAX_HEADER_OCTETS])

    # --- changes, each through the Mail role

    async def set_flag(
        self, account_id: int, folder: str, uids: Sequence[int] | None, flag: Flag, on: bool
    ) -> int:
        mail = self._store.mail

        async def work(tx: Tx) -> int:
            box = await mail.mailbox(tx, account_id, folder)
            ranges = None if uids is None else uid_ranges(uids)
            mode = FlagMode.ADD if on else FlagMode.REMOVE
            done = await mail.store_flags(tx, box.id, ranges, mode, flag)
            return len(done.changed)

        return await self._store.write(work)

    async def move(
        self, account_id: int, folder: str, uids: Sequence[int] | None, target: str
    ) -> int:
        async def work(tx: Tx) -> int:
            source = await self._store.mail.mailbox(tx, account_id, folder)
            destination = await self._store.mail.mailbox(tx, account_id, target)
            if destination.id == source.id:
                raise InvalidName(f"The messages are in {source.name!r} already.")
            return len(await self._move(tx, source, uids, destination, ()))

        return await self._store.write(work)

    async def delete(self, account_id: int, folder: str, uids: Sequence[int] | None) -> str:
        """To Trash; in Trash (or with no Trash folder), for good. Says which it was."""

        async def work(tx: Tx) -> str:
            source = await self._store.mail.mailbox(tx, account_id, folder)
            trash = await self._special(tx, account_id, SpecialUse.TRASH)
            if trash is None or trash.id == source.id:
                removed = await self._store.mail.expunge(
                    tx, source.id, None if uids is None else uid_ranges(uids), deleted_only=False
                )
                return f"{len(removed)} deleted for good"
            moved = await self._move(tx, source, uids, trash, ())
            return f"{len(moved)} moved to {trash.name}"

        return await self._store.write(work)

    async def junk(self, account_id: int, folder: str, uids: Sequence[int] | None) -> int:
        """Mark as junk: into the Junk folder with the `$Junk` keyword (RFC 5788)."""

        async def work(tx: Tx) -> int:
            source = await self._store.mail.mailbox(tx, account_id, folder)
            junk = await self._special(tx, account_id, SpecialUse.JUNK)
            if junk is None:
                raise NotFound("There is no Junk folder: make one (or ask your administrator).")
            if junk.id == source.id:
                raise InvalidName("These messages are in the Junk folder already.")
            return len(await self._move(tx, source, uids, junk, (JUNK_KEYWORD,)))

        return await self._store.write(work)

    async def empty(self, account_id: int, folder: str) -> int:
        """Delete every message of Trash or Junk for good."""

        async def work(tx: Tx) -> int:
            box = await self._store.mail.mailbox(tx, account_id, folder)
            if box.special_use not in (SpecialUse.TRASH, SpecialUse.JUNK):
                raise InvalidName("Only Trash and Junk can be emptied: delete messages instead.")
            return len(await self._store.mail.expunge(tx, box.id, None, deleted_only=False))

        return await self._store.write(work)

    async def _special(self, tx: Tx, account_id: int, use: SpecialUse) -> Mailbox | None:
        boxes = await self._store.mail.mailboxes(tx, account_id)
        return next((b for b in boxes if b.special_use is use), None)

    async def _move(
        self,
        tx: Tx,
        source: Mailbox,
        uids: Sequence[int] | None,
        target: Mailbox,
        keywords: tuple[str, ...],
    ) -> tuple[int, ...]:
        """Copy then expunge, as IMAP MOVE does (RFC 6851 §3.3); the quota is not
        charged twice for what only changes folder."""
        mail = self._store.mail
        ranges = uid_ranges(uids) if uids is not None else [(1, max(source.uidnext - 1, 1))]
        copied = await mail.copy(tx, source.id, ranges, target.id, enforce_quota=False)
        if not copied.source_uids:
            return ()
        await mail.expunge(tx, source.id, uid_ranges(copied.source_uids), deleted_only=False)
        if keywords:
            new = uid_ranges(copied.target_uids)
            await mail.store_flags(tx, target.id, new, FlagMode.ADD, Flag(0), keywords)
            await mail.store_flags(
                tx, target.id, new, FlagMode.REMOVE, Flag(0), (NOT_JUNK_KEYWORD,)
            )
        return copied.source_uids
