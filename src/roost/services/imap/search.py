"""SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES
(RFC 5182) and the MODSEQ key (RFC 7162 §3.1.5), by scanning the mailbox.

Keys on the message row (flags, keywords, sizes, dates, UIDs, MODSEQ) need
no message octets. Header keys (FROM, TO, CC, BCC, SUBJECT, HEADER, the
SENT dates) read the header block, decoded as `roost.proto.mime` decodes
RFC 2047 words; BODY and TEXT use `roost.proto.mime.searchtext`, the one
definition of a message's searchable text the Indexing service shares, so
an indexed search and this scan agree. Matching is a case-insensitive
substring test (RFC 9051 §6.4.4).

A plain SEARCH answers ``* SEARCH``; with RETURN, or once the client has
enabled IMAP4rev2 (RFC 9051 §7.3.4), ``* ESEARCH``.

With the Indexing service's index (`roost.store.search`), TEXT, BODY,
SUBJECT, FROM, TO, CC and BCC keys are answered from the index for every
message that has a current document; the rest of the mailbox (messages not
indexed yet, or that failed to index, or every message while Indexing is
stopped and behind) is scanned as above, and so is any key the index cannot
answer (fewer than three characters, or a line break). The index answers
exactly what the scan would (see `roost.store.search`), so the answer is
the same either way; only the time differs.

A search made of such text keys, sequence and UID sets, ALL, NOT, OR and
AND (the usual ``UID SEARCH BODY word``) is answered from UID sets: the
index's hits, combined as the keys say, and a scan of the messages without
a current document alone. No row of the mailbox is read, so the time grows
with the hits, not with the mailbox (`_on_sets`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from roost.proto.imap.commands.selected import Search, SearchReturn
from roost.proto.imap.responses import Condition
from roost.proto.imap.search import (
    AgeKey,
    AllKey,
    And,
    DateKey,
    DateRelation,
    DateSource,
    FlagKey,
    HeaderKey,
    ModSeqKey,
    Not,
    ObjectIdKey,
    Or,
    SaveDateSupportedKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextField,
    TextKey,
    UidKey,
)
from roost.proto.imap.sequence import STAR, SeqRange, SequenceSet, sequence_of
from roost.proto.imap.values import Atom, ImapData
from roost.proto.mime import MessageStructure
from roost.proto.mime.searchtext import SearchText, header_field_values, message_search_text
from roost.services.imap.bodies import read_range
from roost.services.imap.context import SessionContext
from roost.services.imap.messages import message_structure, refresh
from roost.services.imap.objectid import email_id
from roost.services.imap.selected import SelectedMailbox
from roost.store.db import Tx
from roost.store.search import SearchField, indexable
from roost.store.types import Flag, MessageFlags, MessageInfo

RowT = TypeVar("RowT", MessageInfo, MessageFlags)

_HEADER_FIELDS = {
    TextField.FROM: "from",
    TextField.TO: "to",
    TextField.CC: "cc",
    TextField.BCC: "bcc",
    TextField.SUBJECT: "subject",
}
_INDEX_FIELDS = {
    TextField.BODY: SearchField.BODY,
    TextField.TEXT: SearchField.TEXT,
    TextField.SUBJECT: SearchField.SUBJECT,
    TextField.FROM: SearchField.FROM,
    TextField.TO: SearchField.TO,
    TextField.CC: SearchField.CC,
    TextField.BCC: SearchField.BCC,
}


@dataclass(frozen=True, slots=True)
class _IndexAnswers:
    """What the index said, in the same snapshot as the mailbox's rows."""

    unindexed: set[int]
    """UIDs of the messages without a current document (scanned)."""
    hits: dict[int, set[int]]
    """By `id()` of a text key: the UIDs of the indexed messages it matches."""


@dataclass(slots=True)
class _Message:
    """One message being tested, with what was read of it so far."""

    info: MessageInfo | MessageFlags
    """The flags alone when the keys need nothing else (`_on_flags`)."""
    structure: MessageStructure | None = None
    fields: dict[str, list[str]] | None = None
    text: SearchText | None = None
    indexed: bool = False
    """The index answers this message's indexable text keys."""


@dataclass(slots=True)
class _Needs:
    structure: bool = False
    """The SENT dates: the envelope kept at delivery is enough."""
    header: bool = False
    text: bool = False
    modseq: bool = False
    sets: list[SequenceKey | UidKey] = field(default_factory=list)


def _walk(key: SearchKey, needs: _Needs, answered: frozenset[int] = frozenset()) -> None:
    """What `key` needs read of a message; keys in `answered` (by `id()`)
    need nothing, the index answers them."""
    match key:
        case TextKey() if id(key) in answered:
            pass
        case TextKey(field=TextField.BODY | TextField.TEXT):
            needs.text = True
        case TextKey() | HeaderKey():
            needs.header = True
        case DateKey(source=DateSource.SENT):
            needs.structure = True
        case ModSeqKey():
            needs.modseq = True
        case SequenceKey() | UidKey():
            needs.sets.append(key)
        case Not(key=inner):
            _walk(inner, needs, answered)
        case Or(left=left, right=right):
            _walk(left, needs, answered)
            _walk(right, needs, answered)
        case And(keys=keys):
            for inner in keys:
                _walk(inner, needs, answered)


class _Matcher:
    def __init__(
        self,
        view: SelectedMailbox,
        sets: dict[int, frozenset[int]],
        now: datetime.datetime,
        index: _IndexAnswers | None = None,
    ) -> None:
        self._view = view
        self._sets = sets
        self._now = now
        self._hits = index.hits if index is not None else {}

    def __call__(self, key: SearchKey, m: _Message) -> bool:
        info = m.info
        match key:
            case AllKey():
                return True
            case FlagKey(flag=name, present=present):
                return _has_flag(info, name) == present
            case SizeKey(larger=larger, octets=octets):
                assert isinstance(info, MessageInfo)
                return info.size > octets if larger else info.size < octets
            case AgeKey(older=older, seconds=seconds):
                assert isinstance(info, MessageInfo)
                age = (self._now - _aware(info.internal_date)).total_seconds()
                return age >= seconds if older else age <= seconds
            case DateKey(source=source, relation=relation, date=day):
                return _date_matches(_date_of(m, source), relation, day)
            case SequenceKey() | UidKey():
                return info.uid in self._sets[id(key)]
            case ModSeqKey(modseq=modseq):
                return info.modseq >= modseq
            case TextKey() if m.indexed and id(key) in self._hits:
                return info.uid in self._hits[id(key)]
            case TextKey(field=TextField.BODY, value=value):
                return m.text is not None and _contains(m.text.body, value)
            case TextKey(field=TextField.TEXT, value=value):
                return m.text is not None and _contains(m.text.text, value)
            case TextKey(field=text_field, value=value):
                values = (m.fields or {}).get(_HEADER_FIELDS[text_field], [])
                return any(_contains(v, value) for v in values)
            case HeaderKey(name=name, value=value):
                values = (m.fields or {}).get(name.lower(), [])
                return bool(values) if not value else any(_contains(v, value) for v in values)
            case ObjectIdKey(field="EMAILID", value=value):
                assert isinstance(info, MessageInfo)
                return email_id(info) == value
            case SaveDateSupportedKey():
                return True  # every mailbox keeps save dates (RFC 8514 §4)
            case ObjectIdKey():
                return False  # no THREADID (RFC 8474 §5.2)
            case Not(key=inner):
                return not self(inner, m)
            case Or(left=left, right=right):
                return self(left, m) or self(right, m)
            case And(keys=keys):
                return all(self(inner, m) for inner in keys)


def _has_flag(info: MessageInfo | MessageFlags, name: str) -> bool:
    system = Flag.parse(name)
    if system is not None:
        return system in info.flags
    if name.startswith("\\"):
        return False  # \Recent and unknown system flags are never set here
    folded = name.casefold()
    return any(keyword.casefold() == folded for keyword in info.keywords)


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _aware(when: datetime.datetime) -> datetime.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def _date_of(m: _Message, source: DateSource) -> datetime.date | None:
    if source is DateSource.SENT:
        sent = m.structure.envelope.date_parsed if m.structure is not None else None
        return sent.date() if sent is not None else None
    if source is DateSource.SAVED:
        return _saved_date(m)
    assert isinstance(m.info, MessageInfo)
    return m.info.internal_date.date()


# --- SAVEDATE (RFC 8514 §4): SAVEDBEFORE, SAVEDON, SAVEDSINCE


def _saved_date(m: _Message) -> datetime.date:
    """The save date; a message saved before Roost kept one is searched by
    its internal date, as RFC 8514 §4 does where save dates are missing."""
    assert isinstance(m.info, MessageInfo)
    return (m.info.saved_at or m.info.internal_date).date()


def _date_matches(when: datetime.date | None, relation: DateRelation, day: datetime.date) -> bool:
    if when is None:
        return False
    match relation:
        case DateRelation.BEFORE:
            return when < day
        case DateRelation.ON:
            return when == day
        case DateRelation.SINCE:
            return when >= day


async def _prepare(ctx: SessionContext, m: _Message, needs: _Needs) -> None:
    """Read what the keys need: the header block alone for header keys, the
    whole message only for BODY and TEXT."""
    info = m.info
    assert isinstance(info, MessageInfo)  # `_on_flags` keys never come here
    data = await ctx.store.message_bytes(info) if needs.text else None
    structure = await message_structure(ctx, info, data)
    m.structure = structure
    if needs.header:
        end = structure.root.header_end
        if data is not None:
            header = data[:end]
        else:
            header = b"".join([c async for c in read_range(ctx.store, info, 0, end)])
        m.fields = header_field_values(header)
    if data is not None:
        m.text = message_search_text(data, structure)


async def search(ctx: SessionContext, command: Search) -> None:
    view = ctx.need_selected()
    if command.uid:
        await refresh(ctx, expunges=True)  # allowed in UID SEARCH (RFC 9051 §7.5.1)
    store = ctx.store
    criteria = command.criteria
    wanted = _in_database(criteria)
    if wanted is not None:
        # A conjunction of flag tests: the database runs it.
        if wanted.modseq_used:
            ctx.core.enable("CONDSTORE")
        result = await store.read(
            store.mail.find,
            view.id,
            with_flags=wanted.with_flags,
            without_flags=wanted.without_flags,
            with_keywords=wanted.with_keywords,
            without_keywords=wanted.without_keywords,
            min_modseq=wanted.min_modseq,
            highest_modseq=wanted.modseq_used,
        )
        seqs = view.seqs_of(result.uids)
        uids = [uid for uid, seq in zip(result.uids, seqs, strict=True) if seq]
        if view.expunges_pending:
            uids = [uid for uid in uids if not view.gone(uid)]
        highest = result.highest_modseq if wanted.modseq_used and uids else None
        _answer(ctx, view, command, uids, highest)
    elif _on_flags(criteria):
        # Flags, UIDs and MODSEQs only: the light rows do.
        flagged, modseq = await _scan(
            ctx, view, criteria, await store.read(store.mail.flags, view.id)
        )
        _answer(ctx, view, command, [r.uid for r in flagged], _highest(flagged, modseq))
    else:
        uids, highest = await _matching_uids(ctx, view, criteria)
        _answer(ctx, view, command, uids, highest)
    await refresh(ctx, expunges=command.uid)
    ctx.core.finish(Condition.OK, "SEARCH completed")


@dataclass(slots=True)
class _Find:
    """A search the Mail role's `find` runs: every test must hold."""

    with_flags: Flag = Flag(0)
    without_flags: Flag = Flag(0)
    with_keywords: set[str] = field(default_factory=set)
    without_keywords: set[str] = field(default_factory=set)
    min_modseq: int = 0
    modseq_used: bool = False
    """A MODSEQ key was given: the answer carries the highest (RFC 7162 §3.1.5)."""


def _in_database(key: SearchKey) -> _Find | None:
    """The search as a `_Find`, when it is ALL, flag tests and MODSEQ joined
    by AND (UNSEEN, UNDELETED FLAGGED, KEYWORD $Junk, MODSEQ n ...); else None.
    Flags Roost never sets (``\\Recent``) match nothing, or everything
    when negated."""
    keys = key.keys if isinstance(key, And) else (key,)
    wanted = _Find()
    for inner in keys:
        match inner:
            case AllKey():
                pass
            case ModSeqKey(modseq=modseq):
                wanted.min_modseq = max(wanted.min_modseq, modseq)
                wanted.modseq_used = True
            case FlagKey(flag=name, present=present):
                system = Flag.parse(name)
                if system is not None:
                    if present:
                        wanted.with_flags |= system
                    else:
                        wanted.without_flags |= system
                elif name.startswith("\\"):
                    if present:
                        return None  # never set: the scan answers it, cheaply enough
                elif present:
                    wanted.with_keywords.add(name)
                else:
                    wanted.without_keywords.add(name)
            case _:
                return None
    return wanted


def _on_flags(key: SearchKey, answered: frozenset[int] = frozenset()) -> bool:
    """Whether a search looks at nothing but flags, UIDs, sets and MODSEQ
    (and text keys in `answered`, by `id()`, which the index answers)."""
    match key:
        case AllKey() | FlagKey() | SequenceKey() | UidKey() | ModSeqKey():
            return True
        case TextKey() if id(key) in answered:
            return True
        case Not(key=inner):
            return _on_flags(inner, answered)
        case Or(left=left, right=right):
            return _on_flags(left, answered) and _on_flags(right, answered)
        case And(keys=keys):
            return all(_on_flags(inner, answered) for inner in keys)
    return False


async def _index_answers(
    ctx: SessionContext, tx: Tx, view: SelectedMailbox, keys: list[TextKey]
) -> _IndexAnswers | None:
    store = ctx.store
    if not keys:
        return None
    unindexed = await store.search.unindexed_in(tx, view.id)
    if len(unindexed) >= view.exists:
        return None  # nothing indexed: the scan answers alone
    hits = {
        id(key): await store.search.matching(tx, view.id, _INDEX_FIELDS[key.field], key.value)
        for key in keys
    }
    return _IndexAnswers(unindexed, hits)


async def _matching_uids(
    ctx: SessionContext, view: SelectedMailbox, criteria: SearchKey
) -> tuple[list[int], int | None]:
    """The UIDs `matching` would give, and their highest MODSEQ when the
    criteria used MODSEQ; from UID sets when the keys allow (`_on_sets`),
    from the light rows when the index holds every message and answers
    every key that is not about flags."""
    store = ctx.store
    keys = _indexable_keys(criteria) if ctx.deps.use_index else []
    answered = frozenset(id(key) for key in keys)
    light = bool(keys) and _on_flags(criteria, answered)
    by_sets = bool(keys) and _on_sets(criteria, answered)

    async def read(
        tx: Tx,
    ) -> tuple[list[MessageFlags] | None, list[MessageInfo] | None, _IndexAnswers | None]:
        index = await _index_answers(ctx, tx, view, keys)
        if by_sets and index is not None:
            # Only the messages the index cannot answer are read.
            ranges = [(uid, uid) for uid in sorted(index.unindexed)]
            scanned = await store.mail.messages(tx, view.id, ranges) if ranges else []
            return None, scanned, index
        if light and index is not None:
            flags = await store.mail.flags(tx, view.id)
            if not any(row.uid in index.unindexed for row in flags):
                return flags, None, index
        return None, await store.mail.messages(tx, view.id), index

    flags, rows, index = await store.read(read)
    if index is not None:
        ctx.count("search_index_used")
    if by_sets and index is not None:
        assert rows is not None
        scanned, _ = await _scan(ctx, view, criteria, rows)
        return _from_sets(ctx, view, criteria, index, scanned), None
    if flags is not None:
        light_found, modseq = await _scan(ctx, view, criteria, flags, index)
        return [r.uid for r in light_found], _highest(light_found, modseq)
    assert rows is not None
    found, modseq = await _scan(ctx, view, criteria, rows, index)
    return [r.uid for r in found], _highest(found, modseq)


async def matching(
    ctx: SessionContext, view: SelectedMailbox, criteria: SearchKey
) -> tuple[list[MessageInfo], bool]:
    """The messages of the view that ``criteria`` matches, in UID order, and
    whether the criteria used MODSEQ (the answer then carries one)."""
    store = ctx.store
    keys = _indexable_keys(criteria) if ctx.deps.use_index else []

    async def read(tx: Tx) -> tuple[list[MessageInfo], _IndexAnswers | None]:
        return await store.mail.messages(tx, view.id), await _index_answers(ctx, tx, view, keys)

    rows, index = await store.read(read)
    if index is not None:
        ctx.count("search_index_used")
    return await _scan(ctx, view, criteria, rows, index)


def _on_sets(key: SearchKey, answered: frozenset[int]) -> bool:
    """Whether a search is text keys in `answered` (by `id()`), sets and ALL,
    combined by NOT, OR and AND: UID sets answer it (`_from_sets`)."""
    match key:
        case AllKey() | SequenceKey() | UidKey():
            return True
        case TextKey() if id(key) in answered:
            return True
        case Not(key=inner):
            return _on_sets(inner, answered)
        case Or(left=left, right=right):
            return _on_sets(left, answered) and _on_sets(right, answered)
        case And(keys=keys):
            return all(_on_sets(inner, answered) for inner in keys)
    return False


_EVERY_UID = SequenceSet((SeqRange(1, STAR),))


def _from_sets(
    ctx: SessionContext,
    view: SelectedMailbox,
    criteria: SearchKey,
    index: _IndexAnswers,
    scanned: list[MessageInfo],
) -> list[int]:
    """The answer to an `_on_sets` search, in UID order: the indexed
    messages that the keys' UID sets select, and the scanned ones
    (`scanned`, matched by the scan already)."""
    everything: set[int] | None = None

    def universe() -> set[int]:
        nonlocal everything
        if everything is None:
            everything = set(view.resolve(_EVERY_UID, uid=True, saved=ctx.saved_uids))
        return everything

    def uids_of(key: SearchKey) -> set[int]:
        match key:
            case AllKey():
                return universe()
            case SequenceKey(messages=messages):
                return set(view.resolve(messages, uid=False, saved=ctx.saved_uids, strict=False))
            case UidKey(uids=uids):
                return set(view.resolve(uids, uid=True, saved=ctx.saved_uids))
            case TextKey():
                return index.hits[id(key)]
            case Not(key=inner):
                return universe() - uids_of(inner)
            case Or(left=left, right=right):
                return uids_of(left) | uids_of(right)
            case And(keys=keys):
                found = [uids_of(inner) for inner in keys]
                found.sort(key=len)
                return set(found[0]).intersection(*found[1:]) if found else universe()
        raise AssertionError(f"not a search on sets: {key!r}")

    chosen = uids_of(criteria) - index.unindexed
    chosen.update(row.uid for row in scanned)
    return sorted(uid for uid in chosen if view.known(uid) and not view.gone(uid))


def _indexable_keys(key: SearchKey) -> list[TextKey]:
    """The text keys of `key` that the index can answer."""
    match key:
        case TextKey(value=value) if indexable(value):
            return [key]
        case Not(key=inner):
            return _indexable_keys(inner)
        case Or(left=left, right=right):
            return _indexable_keys(left) + _indexable_keys(right)
        case And(keys=keys):
            return [found for inner in keys for found in _indexable_keys(inner)]
    return []


async def _scan(
    ctx: SessionContext,
    view: SelectedMailbox,
    criteria: SearchKey,
    rows: list[RowT],
    index: _IndexAnswers | None = None,
) -> tuple[list[RowT], bool]:
    needs = _Needs()
    _walk(criteria, needs)
    answered = frozenset(index.hits) if index is not None else frozenset()
    needs_indexed = _Needs()
    _walk(criteria, needs_indexed, answered)
    if needs.modseq:
        ctx.core.enable("CONDSTORE")
    sets = {
        id(key): frozenset(
            view.resolve(
                key.messages if isinstance(key, SequenceKey) else key.uids,
                uid=isinstance(key, UidKey),
                saved=ctx.saved_uids,
                strict=False,
            )
        )
        for key in needs.sets
    }
    matcher = _Matcher(view, sets, ctx.deps.clock.now(), index)
    found: list[RowT] = []
    for row in rows:
        if not view.known(row.uid) or view.gone(row.uid):
            continue
        message = _Message(row)
        wanted = needs
        if index is not None and row.uid not in index.unindexed:
            message.indexed = True
            wanted = needs_indexed
        if wanted.structure or wanted.header or wanted.text:
            await _prepare(ctx, message, wanted)
        if matcher(criteria, message):
            found.append(row)
    return found, needs.modseq


def _highest(rows: Sequence[MessageInfo | MessageFlags], modseq: bool) -> int | None:
    """The highest MODSEQ of the matches, for a search that used MODSEQ."""
    return max((row.modseq for row in rows), default=None) if modseq else None


def _answer(
    ctx: SessionContext,
    view: SelectedMailbox,
    command: Search,
    uids: list[int],
    highest: int | None,
) -> None:
    """``uids`` are the matches, in UID order; ``highest`` their highest MODSEQ
    when the search used MODSEQ (RFC 7162 §3.1.5), else None."""
    numbers = uids if command.uid else [seq for seq in view.seqs_of(uids) if seq]
    returns = command.returns
    if returns is not None and SearchReturn.SAVE in returns:
        ctx.saved_uids = _saved(returns, uids)
        returns = returns - {SearchReturn.SAVE}
        if not returns:
            return  # RFC 5182 §2.1: SAVE alone gives no ESEARCH
    if returns is None and not ctx.core.rev2:
        # The numbers as one atom: the same octets, written at once.
        items: list[ImapData] = [Atom("SEARCH")]
        if numbers:
            items.append(Atom(" ".join(map(str, numbers))))
        if highest is not None:
            items.append((Atom("MODSEQ"), highest))
        ctx.core.untagged(*items)
        return
    wanted = returns or {SearchReturn.ALL}
    out: list[ImapData] = [Atom("ESEARCH"), (Atom("TAG"), command.tag)]
    if command.uid:
        out.append(Atom("UID"))
    if numbers:
        if SearchReturn.MIN in wanted:
            out += [Atom("MIN"), min(numbers)]
        if SearchReturn.MAX in wanted:
            out += [Atom("MAX"), max(numbers)]
        if SearchReturn.ALL in wanted:
            out += [Atom("ALL"), Atom(str(sequence_of(numbers)))]
    if SearchReturn.COUNT in wanted:
        out += [Atom("COUNT"), len(numbers)]
    if highest is not None:
        out += [Atom("MODSEQ"), highest]
    ctx.core.untagged(*out)


def _saved(returns: frozenset[SearchReturn], uids: list[int]) -> tuple[int, ...]:
    """What SAVE keeps (RFC 5182 §2.4): MIN and/or MAX alone when asked, else all."""
    if not uids:
        return ()
    picks = returns & {SearchReturn.MIN, SearchReturn.MAX}
    if picks and not returns & {SearchReturn.ALL, SearchReturn.COUNT}:
        chosen = set()
        if SearchReturn.MIN in picks:
            chosen.add(min(uids))
        if SearchReturn.MAX in picks:
            chosen.add(max(uids))
        return tuple(sorted(chosen))
    return tuple(uids)
