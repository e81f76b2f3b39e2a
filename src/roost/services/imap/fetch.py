"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; CONDSTORE, RFC 7162 §3.1.4;
VANISHED, RFC 7162 §3.2.6).

Messages are read in batches: their rows in one query, the MIME structures
the batch needs in another; `fetch_data` builds each message's response
(where each attribute comes from is told there). A message's response is
queued whole, or with its large literals streamed, and the output is sent
whenever it passes the flush threshold, so memory stays near one message.

BODY[...] without .PEEK (and RFC822, RFC822.TEXT) sets ``\\Seen`` in a
mailbox opened read-write, and the FETCH response then carries the new
FLAGS (RFC 9051 §6.4.5). A message expunged by another session but not yet
announced is skipped, and the command ends NO [EXPUNGEISSUED] (RFC 5530).
"""

from __future__ import annotations

import dataclasses

from roost.proto.imap.commands.selected import Fetch
from roost.proto.imap.fetch import BinarySection, BodySection, FetchAttr, FetchItem
from roost.proto.imap.responses import Condition
from roost.proto.imap.sections import UNKNOWN_CTE, UnknownTransferEncoding
from roost.proto.imap.sequence import SavedResult, sequence_of
from roost.proto.imap.values import Atom
from roost.services.imap.bodies import read_small
from roost.services.imap.context import EXPUNGEISSUED, CommandFailed, SessionContext, flag_atoms
from roost.services.imap.fetch_data import SummaryWriter, Wanted, items, send
from roost.services.imap.messages import refresh
from roost.services.imap.selected import SelectedMailbox, uid_ranges
from roost.store.types import Flag, FlagMode, MessageInfo

STRUCTURES_PER_READ = 500
"""Messages whose stored MIME structures one query reads: one trip to the
store per batch instead of one per message, and a bounded batch in memory."""

_SETS_SEEN = (FetchItem.RFC822, FetchItem.RFC822_TEXT)


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
    wanted = Wanted.of(attrs)
    summary = SummaryWriter(ctx, wanted) if SummaryWriter.applies(wanted) else None
    for start in range(0, len(infos), STRUCTURES_PER_READ):
        batch = infos[start : start + STRUCTURES_PER_READ]
        unknown = [info.uid for info in batch if wanted.needs_structure(ctx, info)]
        kept: dict[int, str | None] = {}
        if unknown:
            kept = await store.read(store.mail.structures, view.id, uid_ranges(unknown))
        budget = ctx.deps.config.stream_literal_bytes if wanted.octets else 0
        async for group, octets in read_small(store, batch, budget_octets=budget):
            for info in group:
                seq = view.seq_of(info.uid)
                if seq is None:
                    continue
                if summary is not None:
                    ctx.core.send(await summary.line(seq, info, kept.get(info.uid)))
                    await ctx.flush_if_full()
                    continue
                try:
                    data = await items(ctx, info, wanted, kept.get(info.uid), octets.get(info.uid))
                except UnknownTransferEncoding as exc:
                    raise CommandFailed(str(exc), UNKNOWN_CTE) from None
                if info.uid in seen_now and FetchItem.FLAGS not in attrs:
                    data += (Atom("FLAGS"), flag_atoms(info.flags, info.keywords))
                await send(ctx, seq, data)
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
        largest = max(view.uidnext - 1, view.last_uid)
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
