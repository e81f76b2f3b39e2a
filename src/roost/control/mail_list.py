"""A folder's message list for the webmail, and what the list can do to messages.

Reading: one page at a time in keyset order (see `roost.store.mail_list`),
each message with its summary: sender, subject, whether it has attachments,
decoded from the MIME structure kept at delivery (RFC 2047 words and every
charset through `roost.proto.mime`). A message without a summary gets one
when a page first shows it; sorting by sender or subject first summarises
the whole folder, in batches.

Changing: flags, moves, deleting to Trash, emptying Trash and Junk, marking
as junk, on chosen UIDs or on every message of the folder. Every change goes
through the Mail role in one unit of work, so IMAP clients see it (MODSEQ
and the change feed wake IDLE and CONDSTORE clients).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from roost.core.errors import InvalidName, NotFound
from roost.proto.imap.threads import Thread, ThreadItem, message_ids, references
from roost.proto.mime import MessageStructure, PartKind, StructureDecodeError, decode_header
from roost.proto.mime.headers import split_fields
from roost.proto.mime.parser import parse_bytes
from roost.store.db import Tx
from roost.store.mail import UidRanges
from roost.store.mail_list import Cursor, ListedMessage, SortKey, Summary
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
"""Control characters and bidirectional overrides: shown as one space."""
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
        self, store: Store, page_size: int, summary_batch: int, max_conversation: int = 100
    ) -> None:
        self._store = store
        self._page_size = page_size
        self._summary_batch = summary_batch
        self._max_conversation = max_conversation
        self._background: dict[tuple[int, int], asyncio.Task[None]] = {}
        """Folders being summarised, by (account id, mailbox id)."""
        self._whole: dict[int, int] = {}
        """Folders found wholly summarised: mailbox id -> its UIDNEXT then."""

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
        """Whether a folder of the account is being summarised in the background."""
        return any(key[0] == account_id for key in self._background)

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

    async def conversation(self, account_id: int, folder: str, uid: int) -> Conversation:
        """The thread of a message among the folder's messages, by the REFERENCES
        algorithm of RFC 5256 §3 (the IMAP THREAD command's, `roost.proto.imap.threads`).

        The candidates are the folder's messages with the same base subject (an
        index on the summaries finds them), at most `max_conversation`; the
        algorithm then links them by Message-ID, References and In-Reply-To.
        """
        store = self._store
        box = await self.folder(account_id, folder)
        found = await store.read(store.mail.messages, box.id, [(uid, uid)])
        if not found:
            raise NotFound(f"There is no message {uid} in {box.name!r} (it may have moved).")
        blob_hash = found[0].blob_hash
        summary = await self._summary_of(blob_hash)
        complete = await self._prepare_folder(account_id, box) == 0
        if not summary.subject_sort:
            return Conversation([], capped=False, complete=complete)
        limit = self._max_conversation
        candidates = await store.read(
            store.mail_list.same_subject, box.id, summary.subject_sort, limit + 1
        )
        if uid not in {c.uid for c in candidates}:
            await self._store.write(self._store.mail_list.put_summaries, [(blob_hash, summary)])
            candidates = await store.read(
                store.mail_list.same_subject, box.id, summary.subject_sort, limit + 1
            )
        capped = len(candidates) > limit
        candidates = candidates[:limit]
        if uid not in {c.uid for c in candidates}:
            return Conversation([], capped=capped, complete=complete)
        items = [await self._thread_item(c) for c in candidates]
        by_uid = {c.uid: c for c in candidates}
        for root in references(items):
            entries = _flatten(root, 0, by_uid)
            if any(e.message.uid == uid for e in entries):
                return Conversation(entries, capped=capped, complete=complete)
        return Conversation([], capped=capped, complete=complete)

    async def _summary_of(self, blob_hash: str) -> Summary:
        kept = await self._store.read(self._store.mail_list.structures, [blob_hash])
        structure = _structure(kept.get(blob_hash))
        if structure is None:
            data = await self._store.blobs.read(blob_hash)
            structure = await asyncio.to_thread(parse_bytes, data)
        return summarise(structure)

    async def _thread_item(self, message: ListedMessage) -> ThreadItem:
        kept = await self._store.read(self._store.mail_list.structures, [message.blob_hash])
        structure = _structure(kept.get(message.blob_hash))
        end = structure.root.header_end if structure is not None else MAX_HEADER_OCTETS
        header = await self._header(message.blob_hash, end)
        fields = dict(reversed(split_fields(header.splitlines(True))))
        own = message_ids(_text(fields.get("message-id")))
        refs = message_ids(_text(fields.get("references")))
        if not refs:
            refs = message_ids(_text(fields.get("in-reply-to")))[:1]
        sent = message.summary.sent_at if message.summary else None
        return ThreadItem(
            number=message.uid,
            order=message.uid,
            sent=sent or message.internal_date,
            subject=message.summary.subject if message.summary else "",
            message_id=own[0] if own else None,
            references=refs,
        )

    async def _header(self, blob_hash: str, end: int) -> bytes:
        """The first `end` octets of a blob (at most `MAX_HEADER_OCTETS`): its header."""
        end = min(end, MAX_HEADER_OCTETS)
        read = bytearray()
        async for chunk in self._store.blobs.chunks(blob_hash):
            read += chunk
            if len(read) >= end:
                break
        return bytes(read[:end])

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
