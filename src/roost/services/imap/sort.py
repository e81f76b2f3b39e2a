"""SORT and THREAD (RFC 5256), ESORT (RFC 5267) and SORT=DISPLAY (RFC 5957).

The messages come from the search criteria (`search.matching`); their keys
come from the MIME structure kept at delivery, read for the whole set in one
query (`MailRole.structures`), never by parsing the messages again:

- ARRIVAL the internal date, SIZE the RFC822.SIZE;
- DATE the Date: field in UTC, or the internal date when it has none or
  none that parses (RFC 5256 §2.2);
- SUBJECT the base subject (RFC 5256 §2.1, `threads.base_subject`);
- FROM, TO, CC the local part of the first address (RFC 5256 §3);
- DISPLAYFROM, DISPLAYTO the first address's display name decoded, or its
  address when it has none (RFC 5957 §3).

Strings compare as i;ascii-casemap (RFC 4790 §9.2); REVERSE turns one key
around; messages equal on every key keep mailbox order (RFC 5256 §3).

THREAD=REFERENCES also needs the References field, which the structure does
not keep: it reads only each message's header block, through the offsets
the structure gives.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from roost.proto.imap.commands.selected import (
    SearchReturn,
    Sort,
    SortCriterion,
    SortKey,
    Thread,
)
from roost.proto.imap.responses import Condition
from roost.proto.imap.threads import (
    ThreadItem,
    ascii_casemap,
    base_subject,
    message_ids,
    ordered_subject,
    references,
    thread_data,
)
from roost.proto.imap.values import Atom, ImapData, Juxtaposed
from roost.proto.mime import AddressField, MessageStructure, decode_header
from roost.proto.mime.headers import split_fields
from roost.services.imap.bodies import read_range
from roost.services.imap.context import CommandFailed, SessionContext
from roost.services.imap.messages import message_structure, refresh, with_trace
from roost.services.imap.search import matching
from roost.services.imap.selected import SelectedMailbox, uid_ranges
from roost.store.types import MessageInfo

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")
"""RFC 5256 §3, as CAPABILITY announces them (THREAD=...)."""


@dataclass(frozen=True, slots=True)
class _Keys:
    """What SORT and THREAD compare of one message."""

    info: MessageInfo
    seq: int
    sent: datetime.datetime
    subject: str
    structure: MessageStructure


def _aware(when: datetime.datetime) -> datetime.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def _first(field: AddressField | None) -> tuple[str, str]:
    """The first mailbox of an address field: (local part, display form)."""
    boxes = field.mailboxes() if field is not None else ()
    if not boxes:
        return "", ""
    first = boxes[0]
    display = first.display_name
    return first.mailbox, display if display else first.addr_spec


async def _keys(
    ctx: SessionContext, view: SelectedMailbox, found: list[MessageInfo]
) -> list[_Keys]:
    if not found:
        return []
    store = ctx.store
    kept = await store.read(store.mail.structures, view.id, uid_ranges([i.uid for i in found]))
    out: list[_Keys] = []
    for info in found:
        seq = view.seq_of(info.uid)
        if seq is None:
            continue
        raw = kept.get(info.uid)
        if raw is not None:
            structure = with_trace(MessageStructure.from_json(raw), len(info.trace))
        else:
            structure = await message_structure(ctx, info)
        envelope = structure.envelope
        sent = envelope.date_parsed
        when = _aware(sent if sent is not None else info.internal_date)
        subject = envelope.subject_text or ""
        out.append(_Keys(info, seq, when.astimezone(datetime.UTC), subject, structure))
    return out


def _value(key: SortKey, keys: _Keys) -> str | int | datetime.datetime:
    envelope = keys.structure.envelope
    match key:
        case SortKey.ARRIVAL:
            return _aware(keys.info.internal_date)
        case SortKey.DATE:
            return keys.sent
        case SortKey.SIZE:
            return keys.info.size
        case SortKey.SUBJECT:
            return ascii_casemap(base_subject(keys.subject)[0])
        case SortKey.FROM:
            return ascii_casemap(_first(envelope.from_)[0])
        case SortKey.TO:
            return ascii_casemap(_first(envelope.to)[0])
        case SortKey.CC:
            return ascii_casemap(_first(envelope.cc)[0])
        case SortKey.DISPLAYFROM:
            return ascii_casemap(_first(envelope.from_)[1])
        case SortKey.DISPLAYTO:
            return ascii_casemap(_first(envelope.to)[1])


def sort_keys(keys: list[_Keys], criteria: tuple[SortCriterion, ...]) -> list[_Keys]:
    """``keys`` in the order the criteria give, mailbox order on ties."""
    values = {id(k): tuple(_value(criterion.key, k) for criterion in criteria) for k in keys}

    def compare(a: _Keys, b: _Keys) -> int:
        for index, criterion in enumerate(criteria):
            left, right = values[id(a)][index], values[id(b)][index]
            if left != right:
                before = left < right  # type: ignore[operator]  # one key, one type
                outcome = -1 if before else 1
                return -outcome if criterion.reverse else outcome
        return a.seq - b.seq

    return sorted(keys, key=functools.cmp_to_key(compare))


async def sort(ctx: SessionContext, command: Sort) -> None:
    view = ctx.need_selected()
    if command.uid:
        await refresh(ctx, expunges=True)  # allowed in UID SORT (RFC 9051 §7.5.1)
    found, _ = await matching(ctx, view, command.key)
    ordered = sort_keys(await _keys(ctx, view, found), command.criteria)
    numbers = [k.info.uid if command.uid else k.seq for k in ordered]
    returns = command.returns
    if returns is None:
        ctx.core.untagged(Atom("SORT"), *([Atom(" ".join(map(str, numbers)))] if numbers else []))
    else:
        _esort(ctx, command, returns, numbers, [k.info.uid for k in ordered])
    ctx.count("sorted")
    await refresh(ctx, expunges=command.uid)
    ctx.core.finish(Condition.OK, "SORT completed")


def _esort(
    ctx: SessionContext,
    command: Sort,
    returns: frozenset[SearchReturn],
    numbers: list[int],
    uids: list[int],
) -> None:
    """RFC 5267 §3.2: MIN and MAX are the first and last in sort order, ALL
    lists them in sort order; SAVE keeps the set for ``$`` (RFC 5182)."""
    if SearchReturn.SAVE in returns:
        ctx.saved_uids = tuple(sorted(uids))
        returns = returns - {SearchReturn.SAVE}
        if not returns:
            return
    wanted = returns or {SearchReturn.ALL}
    out: list[ImapData] = [Atom("ESEARCH"), (Atom("TAG"), command.tag)]
    if command.uid:
        out.append(Atom("UID"))
    if numbers:
        if SearchReturn.MIN in wanted:
            out += [Atom("MIN"), numbers[0]]
        if SearchReturn.MAX in wanted:
            out += [Atom("MAX"), numbers[-1]]
        if SearchReturn.ALL in wanted:
            out += [Atom("ALL"), Atom(ordered_set(numbers))]
    if SearchReturn.COUNT in wanted:
        out += [Atom("COUNT"), len(numbers)]
    ctx.core.untagged(*out)


def ordered_set(numbers: list[int]) -> str:
    """Numbers in their given order, ascending runs written as ranges."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in runs)


async def thread(ctx: SessionContext, command: Thread) -> None:
    view = ctx.need_selected()
    if command.algorithm not in ALGORITHMS:
        raise CommandFailed(
            f"No threading algorithm {command.algorithm[:32]} here", condition=Condition.BAD
        )
    if command.uid:
        await refresh(ctx, expunges=True)
    found, _ = await matching(ctx, view, command.key)
    keys = await _keys(ctx, view, found)
    with_refs = command.algorithm == "REFERENCES"
    items = [await _thread_item(ctx, k, uid=command.uid, with_refs=with_refs) for k in keys]
    threads = references(items) if with_refs else ordered_subject(items)
    data = thread_data(threads)
    ctx.core.untagged(Atom("THREAD"), *((Juxtaposed(data),) if data else ()))
    ctx.count("threaded")
    await refresh(ctx, expunges=command.uid)
    ctx.core.finish(Condition.OK, "THREAD completed")


async def _thread_item(
    ctx: SessionContext, keys: _Keys, *, uid: bool, with_refs: bool
) -> ThreadItem:
    envelope = keys.structure.envelope
    own = message_ids(envelope.message_id)
    refs: tuple[str, ...] = ()
    if with_refs:
        refs = message_ids(await _references(ctx, keys))
        if not refs:
            refs = message_ids(envelope.in_reply_to)[:1]
    return ThreadItem(
        number=keys.info.uid if uid else keys.seq,
        order=keys.seq,
        sent=keys.sent,
        subject=keys.subject,
        message_id=own[0] if own else None,
        references=refs,
    )


async def _references(ctx: SessionContext, keys: _Keys) -> str | None:
    """The References field, from the message's header block alone."""
    root = keys.structure.root
    chunks = read_range(ctx.store, keys.info, root.header_start, root.header_end)
    header = b"".join([chunk async for chunk in chunks])
    for name, value in split_fields(header.splitlines(True)):
        if name == "references":
            return decode_header(value)
    return None
