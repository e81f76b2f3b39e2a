"""Commands that change messages: APPEND, STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE, CLOSE.

Each runs as one unit of work in the store, so a MOVE is a copy and an
expunge that no other session can see half done (RFC 6851 §3.3). UIDPLUS
response codes (RFC 4315) report the UIDs given: APPENDUID and COPYUID.

Also here: how a stored message is read for FETCH and SEARCH. A message is
its trace header fields followed by a shared blob (`Store.message_chunks`);
the MIME structure kept with the blob at delivery has offsets into the blob,
so `with_trace` moves them behind the trace, whose lines become part of the
top-level header.
"""

from __future__ import annotations

import dataclasses

from roost.core.errors import NotFound
from roost.proto.imap.commands.auth import Append
from roost.proto.imap.commands.selected import Copy, Expunge, Move, Store, StoreMode, UidExpunge
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.sequence import sequence_of
from roost.proto.imap.values import Atom, ImapData
from roost.proto.mime import MessageStructure, parse_bytes
from roost.services.imap.context import (
    CANNOT,
    TRYCREATE,
    CommandFailed,
    SessionContext,
    flag_atoms,
    parse_flags,
)
from roost.services.imap.selected import SelectedMailbox, uid_ranges
from roost.store.db import Tx
from roost.store.mail import Copied, FlagResult
from roost.store.types import FlagMode, Mailbox, MessageFlags, MessageInfo, NewMessage

READ_ONLY = ResponseCode("READ-ONLY")

_MODES = {StoreMode.ADD: FlagMode.ADD, StoreMode.REMOVE: FlagMode.REMOVE}


def with_trace(structure: MessageStructure, trace_octets: int) -> MessageStructure:
    """The blob's structure for the message as served: trace fields first."""
    if not trace_octets:
        return structure
    parts = tuple(
        dataclasses.replace(
            part,
            header_start=0 if part.index == 0 else part.header_start + trace_octets,
            header_end=part.header_end + trace_octets,
            body_start=part.body_start + trace_octets,
            body_end=part.body_end + trace_octets,
        )
        for part in structure.parts
    )
    return dataclasses.replace(structure, parts=parts, size=structure.size + trace_octets)


async def message_structure(
    ctx: SessionContext, info: MessageInfo, data: bytes | None = None
) -> MessageStructure:
    """The MIME structure kept at delivery; parsed now (and kept) for a blob
    stored without one."""
    store = ctx.store
    raw = await store.read(store.blobs.structure, info.blob_hash)
    if raw is not None:
        return with_trace(MessageStructure.from_json(raw), len(info.trace))
    if data is None:
        data = await store.message_bytes(info)
    structure = parse_bytes(data[len(info.trace) :])
    await store.write(store.blobs.set_structure, info.blob_hash, structure.to_json())
    return with_trace(structure, len(info.trace))


def writable(view: SelectedMailbox) -> None:
    if view.read_only:
        raise CommandFailed("The mailbox is open read-only (EXAMINE)", READ_ONLY)


# --- APPEND (RFC 9051 §6.3.12, RFC 4315 APPENDUID)


async def append(ctx: SessionContext, command: Append) -> None:
    store = ctx.store
    flags, keywords = parse_flags(command.flags)
    structure = parse_bytes(command.message).to_json()
    blob = await store.blobs.stage(command.message)
    item = NewMessage(blob, flags=flags, keywords=keywords, internal_date=command.internal_date)

    async def work(tx: Tx) -> tuple[Mailbox, int]:
        try:
            box = await store.mail.mailbox(tx, ctx.account_id, command.mailbox)
        except NotFound:
            raise CommandFailed("No such mailbox", TRYCREATE) from None
        (appended,) = await store.mail.append(tx, box.id, [item])
        await store.blobs.set_structure(tx, blob.hash, structure)
        return box, appended.uid

    box, uid = await store.write(work)
    ctx.count("appended")
    await refresh(ctx, expunges=False)
    code = ResponseCode("APPENDUID", (box.uidvalidity, uid))
    ctx.core.finish(Condition.OK, "APPEND completed", code)


# --- STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3)


async def store_flags(ctx: SessionContext, command: Store) -> None:
    view = ctx.need_selected()
    writable(view)
    if command.unchanged_since is not None:
        ctx.core.enable("CONDSTORE")
    if command.uid:
        await refresh(ctx, expunges=True)  # allowed in UID STORE (RFC 9051 §7.5.1)
    uids = view.resolve(command.messages, uid=command.uid, saved=ctx.saved_uids)
    flags, keywords = parse_flags(command.flags)
    mode = _MODES.get(command.mode, FlagMode.REPLACE)
    ranges = uid_ranges(uids)
    store = ctx.store

    async def work(tx: Tx) -> tuple[FlagResult, list[MessageFlags]]:
        result = await store.mail.store_flags(
            tx, view.id, ranges, mode, flags, keywords, unchanged_since=command.unchanged_since
        )
        return result, await store.mail.flags(tx, view.id, ranges)

    result = FlagResult((), ())
    current: list[MessageFlags] = []
    if uids:
        result, current = await store.write(work)
    view.noted(result.changed)
    modified = set(result.modified)
    changed = {m.uid for m in result.changed}
    for message in current:
        seq = view.seq_of(message.uid)
        if seq is None or message.uid in modified:
            continue
        if command.silent and not (ctx.condstore and message.uid in changed):
            continue
        items: tuple[ImapData, ...] = ()
        if not command.silent:
            items += (Atom("FLAGS"), flag_atoms(message.flags, message.keywords))
        if command.uid or ctx.condstore:
            # RFC 7162 §3.1 (errata 1807): UID and MODSEQ once CONDSTORE is on.
            items = (Atom("UID"), message.uid, *items)
        if ctx.condstore:
            items += (Atom("MODSEQ"), (message.modseq,))
        ctx.core.untagged(seq, Atom("FETCH"), items)
    await refresh(ctx, expunges=command.uid)
    if modified:
        numbers = sorted(modified) if command.uid else _seqs(view, modified)
        code = ResponseCode("MODIFIED", (Atom(str(sequence_of(numbers))),))
        ctx.core.finish(Condition.OK, "Conditional STORE failed for some messages", code)
    else:
        ctx.core.finish(Condition.OK, "STORE completed")


def _seqs(view: SelectedMailbox, uids: set[int]) -> list[int]:
    return [seq for uid in uids if (seq := view.seq_of(uid)) is not None]


# --- COPY and MOVE (RFC 9051 §6.4.7, §6.4.8, RFC 6851, RFC 4315 COPYUID)


async def copy(ctx: SessionContext, command: Copy | Move) -> None:
    view = ctx.need_selected()
    move = isinstance(command, Move)
    if move:
        writable(view)
    uids = view.resolve(command.messages, uid=command.uid, saved=ctx.saved_uids)
    ranges = uid_ranges(uids)
    store = ctx.store

    async def work(tx: Tx) -> Copied | None:
        try:
            target = await store.mail.mailbox(tx, ctx.account_id, command.mailbox)
        except NotFound:
            raise CommandFailed("No such mailbox", TRYCREATE) from None
        if move and target.id == view.id:
            raise CommandFailed("Cannot move messages to the mailbox they are in", CANNOT)
        if not ranges:
            return None
        copied = await store.mail.copy(tx, view.id, ranges, target.id)
        if move:
            await store.mail.expunge(tx, view.id, ranges, deleted_only=False)
        return copied

    copied = await store.write(work)
    code = None
    if copied is not None and copied.source_uids:
        code = ResponseCode(
            "COPYUID",
            (
                copied.uidvalidity,
                Atom(str(sequence_of(copied.source_uids))),
                Atom(str(sequence_of(copied.target_uids))),
            ),
        )
    if move:
        # RFC 6851 §4.3: COPYUID in an untagged OK, before the EXPUNGEs.
        if code is not None:
            ctx.core.status(Condition.OK, "Moved", code)
        ctx.count("moved", len(uids))
        await refresh(ctx, expunges=True, force=True)
        ctx.core.finish(Condition.OK, "MOVE completed")
    else:
        ctx.count("copied", len(uids))
        await refresh(ctx, expunges=True)
        ctx.core.finish(Condition.OK, "COPY completed", code)


# --- EXPUNGE, UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9) and CLOSE (§6.4.1)


async def expunge(ctx: SessionContext, command: Expunge | UidExpunge) -> None:
    view = ctx.need_selected()
    writable(view)
    ranges: list[tuple[int, int]] | None = None
    if isinstance(command, UidExpunge):
        ranges = uid_ranges(view.resolve(command.uids, uid=True, saved=ctx.saved_uids))
    if ranges != []:
        removed = await ctx.store.write(ctx.store.mail.expunge, view.id, ranges)
        ctx.count("expunged", len(removed))
    await refresh(ctx, expunges=True, force=True)
    ctx.core.finish(Condition.OK, f"{command.NAME} completed")


async def close(ctx: SessionContext, *, expunge_deleted: bool) -> None:
    """CLOSE expunges silently (RFC 9051 §6.4.1); UNSELECT does not (§6.4.2)."""
    view = ctx.need_selected()
    ctx.selected = None
    ctx.core.unselected()
    if expunge_deleted and not view.read_only:
        await ctx.store.write(ctx.store.mail.expunge, view.id, None)
    ctx.core.finish()


async def refresh(ctx: SessionContext, *, expunges: bool, force: bool = False) -> None:
    """Tell the client what changed in its selected mailbox, if one is selected."""
    view = ctx.selected
    if view is None:
        return
    await view.refresh(ctx.store, force=force)
    view.report(ctx.core, expunges=expunges, condstore=ctx.condstore)
