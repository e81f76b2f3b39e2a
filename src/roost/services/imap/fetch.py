"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; CONDSTORE, RFC 7162 §3.1.4).

The attributes come from three places: the message row (UID, FLAGS,
INTERNALDATE, RFC822.SIZE, MODSEQ), the MIME structure kept at delivery
(ENVELOPE, BODY, BODYSTRUCTURE, and where each section's octets are), and
the message's octets (sections, RFC822.*), read only when a section is
asked for. A message's response is queued whole, and the output is sent
whenever it passes the flush threshold, so memory stays near one message.

BODY[...] without .PEEK (and RFC822, RFC822.TEXT) sets ``\\Seen`` in a
mailbox opened read-write, and the FETCH response then carries the new
FLAGS (RFC 9051 §6.4.5). A message expunged by another session but not yet
announced is skipped, and the command ends NO [EXPUNGEISSUED] (RFC 5530).
"""

from __future__ import annotations

import dataclasses
import datetime

from roost.net.errors import ConnectionClosed
from roost.proto.imap.bodystructure import build_body, build_bodystructure
from roost.proto.imap.commands.selected import Fetch
from roost.proto.imap.envelope import build_envelope
from roost.proto.imap.fetch import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttr,
    FetchItem,
    response_name,
)
from roost.proto.imap.reader import MONTHS
from roost.proto.imap.responses import Condition
from roost.proto.imap.sections import (
    UNKNOWN_CTE,
    UnknownTransferEncoding,
    resolve_binary,
    resolve_section,
)
from roost.proto.imap.sequence import SavedResult, sequence_of
from roost.proto.imap.values import Atom, ImapData
from roost.proto.imap.writer import write_into
from roost.proto.mime import MessageStructure
from roost.services.imap.bodies import MessageBytes, Streamed
from roost.services.imap.context import EXPUNGEISSUED, CommandFailed, SessionContext, flag_atoms
from roost.services.imap.messages import message_structure, refresh, with_trace
from roost.services.imap.objectid import email_id, object_id
from roost.services.imap.selected import SelectedMailbox, uid_ranges
from roost.store.types import Flag, FlagMode, MessageInfo

STRUCTURES_PER_READ = 500
"""Messages whose stored MIME structures one query reads: one trip to the
store per batch instead of one per message, and a bounded batch in memory."""

_SETS_SEEN = (FetchItem.RFC822, FetchItem.RFC822_TEXT)
_NEEDS_STRUCTURE = (
    FetchItem.ENVELOPE,
    FetchItem.BODY,
    FetchItem.BODYSTRUCTURE,
    FetchItem.RFC822_HEADER,
    FetchItem.RFC822_TEXT,
)
_NEEDS_BYTES = (FetchItem.RFC822, FetchItem.RFC822_HEADER, FetchItem.RFC822_TEXT)


def internal_date(when: datetime.datetime) -> str:
    """RFC 9051 ``date-time``: ``"17-Jul-1996 02:44:25 -0700"`` (day padded with a space)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    offset = when.utcoffset() or datetime.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return (
        f"{when.day:2d}-{MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{hours:02d}{rest:02d}"
    )


def _sets_seen(attr: FetchAttr) -> bool:
    match attr:
        case BodySection(peek=peek) | BinarySection(peek=peek):
            return not peek
    return attr in _SETS_SEEN


async def fetch(ctx: SessionContext, command: Fetch) -> None:
    view = ctx.need_selected()
    attrs = list(command.attrs)
    if FetchItem.MODSEQ in attrs or command.changed_since is not None:
        ctx.core.enable("CONDSTORE")  # RFC 7162 §3.1: using it enables it
        if FetchItem.MODSEQ not in attrs:
            attrs.append(FetchItem.MODSEQ)
    if command.uid and FetchItem.UID not in attrs:
        attrs.insert(0, FetchItem.UID)
    if command.vanished and not ctx.core.qresync:
        raise CommandFailed(
            "VANISHED needs ENABLE QRESYNC first (RFC 7162 section 3.2.6)",
            condition=Condition.BAD,
        )
    if command.uid:
        # A UID command may carry EXPUNGE (RFC 9051 §7.5.1): tell them first.
        await refresh(ctx, expunges=True)
    uids = view.resolve(command.messages, uid=command.uid, saved=ctx.saved_uids)
    store = ctx.store
    if command.vanished and command.changed_since is not None:
        await _vanished_earlier(ctx, view, command, command.changed_since)
    infos = await store.read(store.mail.messages, view.id, uid_ranges(uids)) if uids else []
    missing = len(uids) > len(infos)
    if command.changed_since is not None:
        infos = [info for info in infos if info.modseq > command.changed_since]
    seen_now: set[int] = set()
    if not view.read_only and any(_sets_seen(attr) for attr in attrs):
        infos, seen_now = await _set_seen(ctx, view, infos)
    structured = any(_needs_bytes(a) or a in _NEEDS_STRUCTURE for a in attrs)
    for start in range(0, len(infos), STRUCTURES_PER_READ):
        batch = infos[start : start + STRUCTURES_PER_READ]
        kept: dict[int, str | None] = {}
        if structured:
            kept = await store.read(
                store.mail.structures, view.id, uid_ranges([i.uid for i in batch])
            )
        for info in batch:
            seq = view.seq_of(info.uid)
            if seq is None:
                continue
            try:
                items = await _items(ctx, info, attrs, kept.get(info.uid))
            except UnknownTransferEncoding as exc:
                raise CommandFailed(str(exc), UNKNOWN_CTE) from None
            if info.uid in seen_now and FetchItem.FLAGS not in attrs:
                items += (Atom("FLAGS"), flag_atoms(info.flags, info.keywords))
            await _send(ctx, seq, items)
            await ctx.flush_if_full()
        ctx.count("fetched", len(batch))
    await refresh(ctx, expunges=command.uid)
    if missing:
        ctx.core.finish(Condition.NO, "Some messages were expunged meanwhile", EXPUNGEISSUED)
    else:
        ctx.core.finish(Condition.OK, "FETCH completed")


async def _vanished_earlier(
    ctx: SessionContext, view: SelectedMailbox, command: Fetch, since: int
) -> None:
    """``* VANISHED (EARLIER)``: the UIDs of the set expunged since CHANGEDSINCE
    (RFC 7162 §3.2.6), before the FETCH responses."""
    if isinstance(command.messages, SavedResult):
        ranges = uid_ranges(list(ctx.saved_uids))
    else:
        # ``*`` reaches the last UID ever given, expunged ones included.
        largest = max(view.uidnext - 1, view.uids[-1] if view.uids else 0)
        ranges = list(command.messages.resolve(largest))
    if not ranges:
        return
    store = ctx.store
    gone = await store.read(store.mail.vanished, view.id, since, ranges)
    if gone:
        ctx.core.untagged(Atom("VANISHED"), (Atom("EARLIER"),), Atom(str(sequence_of(gone))))


async def _set_seen(
    ctx: SessionContext, view: SelectedMailbox, infos: list[MessageInfo]
) -> tuple[list[MessageInfo], set[int]]:
    unseen = [info.uid for info in infos if Flag.SEEN not in info.flags]
    if not unseen:
        return infos, set()
    store = ctx.store
    result = await store.write(
        store.mail.store_flags, view.id, uid_ranges(unseen), FlagMode.ADD, Flag.SEEN
    )
    view.noted(result.changed)
    changed = {change.uid: change for change in result.changed}
    updated = [
        info
        if info.uid not in changed
        else _replace_flags(info, changed[info.uid].flags, changed[info.uid].modseq)
        for info in infos
    ]
    return updated, set(changed)


def _replace_flags(info: MessageInfo, flags: Flag, modseq: int) -> MessageInfo:
    return dataclasses.replace(info, flags=flags, modseq=modseq)


async def _items(
    ctx: SessionContext, info: MessageInfo, attrs: list[FetchAttr], kept: str | None
) -> list[ImapData | Streamed]:
    """The FETCH data of one message; ``kept`` is its stored structure, read
    with its batch's."""
    octets = MessageBytes(ctx.store, info, stream_octets=ctx.deps.config.stream_literal_bytes)
    structure: MessageStructure | None = None
    if any(_needs_bytes(a) for a in attrs):
        await octets.load()
    if kept is not None:
        structure = with_trace(MessageStructure.from_json(kept), len(info.trace))
    elif any(_needs_bytes(a) or a in _NEEDS_STRUCTURE for a in attrs):
        structure = await message_structure(ctx, info, octets.data)
    rev2 = ctx.core.rev2
    out: list[ImapData | Streamed] = []
    for attr in attrs:
        out.append(Atom(response_name(attr)))
        match attr:
            case FetchItem.UID:
                out.append(info.uid)
            case FetchItem.FLAGS:
                out.append(flag_atoms(info.flags, info.keywords))
            case FetchItem.INTERNALDATE:
                out.append(internal_date(info.internal_date))
            case FetchItem.RFC822_SIZE:
                out.append(info.size)
            case FetchItem.MODSEQ:
                out.append((info.modseq,))
            case FetchItem.EMAILID:
                out.append(object_id(email_id(info)))
            case FetchItem.THREADID | FetchItem.SAVEDATE:
                out.append(None)  # neither is kept: RFC 8474 §5.2, RFC 8514 §3
            case FetchItem.ENVELOPE:
                assert structure is not None
                out.append(build_envelope(structure.root.envelope))
            case FetchItem.BODYSTRUCTURE:
                assert structure is not None
                out.append(build_bodystructure(structure, message_global=rev2))
            case FetchItem.BODY:
                assert structure is not None
                out.append(build_body(structure, message_global=rev2))
            case FetchItem.RFC822 | FetchItem.RFC822_HEADER | FetchItem.RFC822_TEXT:
                assert structure is not None
                root = structure.root
                start, end = {
                    FetchItem.RFC822: (0, root.body_end),
                    FetchItem.RFC822_HEADER: (0, root.header_end),
                    FetchItem.RFC822_TEXT: (root.body_start, root.body_end),
                }[attr]
                out.append(await octets.octets(start, end))
            case BodySection(section=section, partial=window):
                assert structure is not None
                read = resolve_section(structure, section, message_global=rev2)
                out.append(await octets.section(read, window))
            case BinarySection(part=part, partial=window):
                assert structure is not None
                found = resolve_binary(structure, part, message_global=rev2)
                out.append(await octets.binary(found, window))
            case BinarySize(part=part):
                assert structure is not None
                found = resolve_binary(structure, part, message_global=rev2)
                out.append(await octets.binary_size(found))
            case _:
                raise CommandFailed("unsupported attribute", condition=Condition.BAD)
    return out


def _needs_bytes(attr: FetchAttr) -> bool:
    return isinstance(attr, BodySection | BinarySection | BinarySize) or attr in _NEEDS_BYTES


async def _send(ctx: SessionContext, seq: int, items: list[ImapData | Streamed]) -> None:
    """``* seq FETCH (...)``, its large literals copied from the store as read."""
    utf8 = ctx.core.utf8
    out = bytearray(b"* %d FETCH (" % seq)
    for index, item in enumerate(items):
        if index:
            out += b" "
        if not isinstance(item, Streamed):
            write_into(out, item, utf8=utf8)
            continue
        out += b"~{%d}\r\n" % item.length if item.binary else b"{%d}\r\n" % item.length
        ctx.core.send(bytes(out))
        out.clear()
        sent = 0
        async for chunk in item.chunks():
            ctx.core.send(chunk)
            sent += len(chunk)
            await ctx.flush_if_full()
        if sent != item.length:
            # The literal's length went out first: a short read cannot be mended.
            raise ConnectionClosed(f"message changed while being sent ({sent} of {item.length})")
    out += b")\r\n"
    ctx.core.send(bytes(out))
