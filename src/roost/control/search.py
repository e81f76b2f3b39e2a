"""Mail search for the webmail and the API: a query language over the
full-text index, ranked results with highlighted snippets, paging.

The query language (case-insensitive operators, everything else literal):

    quarterly report          messages holding both words (AND), each word
                              anywhere: header, body or attachment text
    "quarterly report"        the phrase, as typed (a substring)
    from:ann  to:bob          a word (or "phrase") in From / To or Cc
    subject:"budget 2025"     in Subject
    has:attachment            with at least one attachment
    in:Archive                one folder (default: every folder)
    before:2025-06-01         received before that day (UTC)
    after:2025-01-01          received on or after that day

Matching is the index's: a case-insensitive substring of at least
`MIN_INDEXED_CHARS` characters (`roost.store.search`), so `JDG2-04711`
and part of a word match. An operator Roost does not know (`foo:bar`)
and FTS syntax (`AND`, `*`, `NEAR(`) are taken literally, as words;
an unbalanced quote, an empty or too short word, a bad date or an
unknown folder is a `QueryError` whose message says what to fix.

Messages without a current document (Indexing stopped or behind) are
scanned: read and tested as the index would test them (the same searchable
text, header fields and folding), newest first, up to
`[indexing] search_max_scanned` of them; a scanned message's attachments
match by file name only (their text is the indexer's work). The answer says
how many messages were not indexed (`SearchPage.unindexed`), how many of
those were scanned and how many were left out (`unsearched`), and how far
the indexer is behind, so a page can say so rather than pretend. IMAP
SEARCH, which must be complete, scans every one (`services/imap/search.py`).

Ranking: a subject hit counts 4, From/To/Cc 2, the body 1, an
attachment 1; ties go to the newer message. Only the newest
`[indexing] search_max_ranked` matching messages are ranked (newest by
arrival: by UID in a folder, and across folders in the order they came):
the index tests candidates newest first and stops there, so that a word
in nearly every message costs that many exact tests rather than one per
message. The answer says when more match (`SearchPage.more`); with fewer,
every match is ranked, as ever. Snippets come from the
message's own searchable text (`roost.proto.mime.searchtext`), as
segments marked hit or not, so that a face escapes them itself.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from roost.control.mail_list import has_attachments
from roost.core.config import IndexingSettings
from roost.core.errors import RoostError
from roost.proto.mime import MessageStructure, PartKind, parse_bytes
from roost.proto.mime.searchtext import (
    MAX_SEARCH_TEXT_CHARS,
    SEARCHED_FIELDS,
    SearchText,
    header_field_values,
    message_search_text,
)
from roost.store.db import Tx
from roost.store.search import (
    MIN_INDEXED_CHARS,
    SearchDocument,
    SearchField,
    SearchTerm,
    fold,
    indexable,
)
from roost.store.store import Store
from roost.store.types import Mailbox, MessageInfo

SNIPPET_CHARS = 200
SNIPPET_READ_OCTETS = 2 * 1024 * 1024
"""Octets of a message read to show it in the results, or to scan it."""
SNIPPET_SOURCE_CHARS = 200_000
"""Body text looked at for a snippet: the start of a long message is enough."""
_OPERATORS = frozenset({"from", "to", "subject", "has", "in", "before", "after"})
_TOKEN = re.compile(r'\s*(?:(?P<op>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s"]+))?')
_WEIGHTS = {
    SearchField.SUBJECT: 4,
    SearchField.FROM: 2,
    SearchField.TO: 2,
    SearchField.CC: 2,
    SearchField.BODY: 1,
    SearchField.ATTACHMENTS: 1,
}


class QueryError(RoostError):
    """A search query that cannot be run, with what to change in words."""


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    fields: tuple[SearchField, ...]
    """Where it may match (any of them)."""


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...] = ()
    has_attachment: bool = False
    folder: str | None = None
    before: datetime.date | None = None
    after: datetime.date | None = None


_ANYWHERE = (
    SearchField.SUBJECT,
    SearchField.FROM,
    SearchField.TO,
    SearchField.CC,
    SearchField.HEADER,
    SearchField.BODY,
    SearchField.ATTACHMENTS,
)
_FIELDS = {
    "from": (SearchField.FROM,),
    "to": (SearchField.TO, SearchField.CC),
    "subject": (SearchField.SUBJECT,),
}


def parse_query(text: str, limits: IndexingSettings) -> Query:
    """The query in `text`; raises `QueryError` with what is wrong."""
    if len(text) > limits.search_max_query_chars:
        raise QueryError(f"the query is longer than {limits.search_max_query_chars} characters")
    if text.count('"') % 2:
        raise QueryError('a quote (") is not closed: close it, or leave it out')
    terms: list[Term] = []
    has_attachment = False
    folder = None
    before = after = None
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # every part of the pattern is optional
        if m.end() == pos:
            break
        pos = m.end()
        op = (m.group("op") or "").lower()
        value = m.group("phrase") if m.group("phrase") is not None else m.group("word")
        if op and op not in _OPERATORS:
            # Not ours (a URL's "https:", "foo:bar"): the whole token is a word.
            value = f"{m.group('op')}:{value or ''}"
            op = ""
        if value is None or value == "":
            if op:
                raise QueryError(f"{op}: needs a value (like {op}:word)")
            continue
        match op:
            case "has":
                if value.lower() not in ("attachment", "attachments"):
                    raise QueryError(f"has:{value} is not known; has:attachment is")
                has_attachment = True
            case "in":
                folder = value
            case "before" | "after":
                day = _date(op, value)
                before, after = (day, after) if op == "before" else (before, day)
            case _:
                if len(value.casefold()) < MIN_INDEXED_CHARS:
                    raise QueryError(
                        f"{value!r} is too short: words of fewer than {MIN_INDEXED_CHARS} "
                        "characters are not searched"
                    )
                if not indexable(value):
                    raise QueryError(f"{value!r} holds a line break or a control character")
                terms.append(Term(value, _FIELDS.get(op, _ANYWHERE)))
    if len(terms) > limits.search_max_terms:
        raise QueryError(f"at most {limits.search_max_terms} words or phrases are searched at once")
    query = Query(tuple(terms), has_attachment, folder, before, after)
    if not terms and not has_attachment and before is None and after is None:
        raise QueryError("the query is empty: type a word, a phrase or an operator")
    return query


def _date(op: str, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{op}:{value} is not a date (write {op}:2025-06-30)") from None


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hit: bool


@dataclass(frozen=True, slots=True)
class SearchHit:
    mailbox: str
    uid: int
    score: int
    internal_date: datetime.datetime
    size: int
    subject: str
    sender: str
    snippet: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    total: int
    page: int
    per_page: int
    unindexed: int
    """Messages of the searched folders without a current document."""
    lag_changes: int
    """Changes the indexer has not handled yet."""
    scanned: int = 0
    """Of the `unindexed`, those this search read and tested itself."""
    more: bool = False
    """More messages match than were ranked: `total` is `max_ranked`, the
    newest of them."""
    max_ranked: int = 0
    """The most matches ranked (`[indexing] search_max_ranked`)."""

    @property
    def unsearched(self) -> int:
        """Messages not searched at all: unindexed, past the scan's limit."""
        return self.unindexed - self.scanned


_Found = tuple[Mailbox, int, datetime.datetime, int]
"""A message of a folder (its UID and internal date) and its score: all that
ranking needs, so that only the page's messages are read whole."""


_Waiting = tuple[Mailbox, MessageInfo]
"""A message the index lacks, to be scanned."""


@dataclass(frozen=True, slots=True)
class _Read:
    """The start of a message, parsed: what a hit shows and a scan tests."""

    structure: MessageStructure
    text: SearchText
    header: bytes


class MailSearch:
    """Runs a `Query` over one account's mail: the index, and a scan of what it lacks."""

    def __init__(self, store: Store, limits: IndexingSettings) -> None:
        self._limits = limits
        self._store = store

    async def search(
        self, account_id: int, query: Query, *, page: int = 1, per_page: int = 20
    ) -> SearchPage:
        most = self._limits.search_max_per_page
        if page < 1 or not 1 <= per_page <= most:
            raise QueryError(f"page counts from 1, and per_page from 1 to {most}")
        store = self._store
        scan_most = self._limits.search_max_scanned
        bound = self._limits.search_max_ranked

        async def read(tx: Tx) -> tuple[list[_Found], bool, list[_Waiting], int, int]:
            boxes = await self._folders(tx, account_id, query.folder)
            waiting: list[_Waiting] = []  # to scan
            unindexed = 0
            searched = []
            for box in boxes:
                if not box.message_count:
                    continue
                searched.append(box)
                missing = await store.search.unindexed_in(tx, box.id)
                unindexed += len(missing)
                newest = sorted(missing)[-scan_most:] if scan_most else []
                if newest:
                    rows = await store.mail.messages(tx, box.id, _ranges(newest))
                    waiting += [(box, r) for r in rows]
            found, more = await self._newest(tx, searched, query, bound + 1)
            latest = await store.changes.latest(tx)
            lag = max(0, latest - await store.search.cursor(tx))
            return found, more, waiting, unindexed, lag

        found, more, waiting, unindexed, lag = await store.read(read)
        waiting.sort(key=lambda item: item[1].internal_date, reverse=True)
        scan = waiting[:scan_most]
        infos: dict[tuple[int, int], MessageInfo] = {}
        for box, info in scan:
            if not _in_dates(info.internal_date, query):
                continue
            message = await self._read(info)
            score = _scan_score(message, query)
            if score is None or (query.has_attachment and not has_attachments(message.structure)):
                continue
            found.append((box, info.uid, info.internal_date, score))
            infos[box.id, info.uid] = info
        if more or len(found) > bound:
            # The newest are ranked: the index's (newest first already) and
            # the scan's (mail the index has not reached: newer still) by date.
            found.sort(key=lambda item: (-item[2].timestamp(), -item[0].id, -item[1]))
            more, found = True, found[:bound]
        found.sort(key=lambda item: (-item[3], -item[2].timestamp(), -item[1]))
        chosen = found[(page - 1) * per_page : page * per_page]
        infos.update(
            await store.read(self._infos, [c for c in chosen if (c[0].id, c[1]) not in infos])
        )
        hits = [
            await self._hit(box, infos[box.id, uid], score, query)
            for box, uid, _, score in chosen
            if (box.id, uid) in infos  # not expunged since
        ]
        return SearchPage(
            tuple(hits),
            len(found),
            page,
            per_page,
            unindexed,
            lag,
            len(scan),
            more=more,
            max_ranked=bound,
        )

    async def _infos(self, tx: Tx, chosen: list[_Found]) -> dict[tuple[int, int], MessageInfo]:
        """The whole rows of the page's messages, one query per folder."""
        by_box: dict[int, list[int]] = {}
        for box, uid, _, _ in chosen:
            by_box.setdefault(box.id, []).append(uid)
        out: dict[tuple[int, int], MessageInfo] = {}
        for box_id, uids in by_box.items():
            for info in await self._store.mail.messages(tx, box_id, _ranges(sorted(uids))):
                out[box_id, info.uid] = info
        return out

    async def _folders(self, tx: Tx, account_id: int, name: str | None) -> list[Mailbox]:
        boxes = await self._store.mail.mailboxes(tx, account_id)
        if name is None:
            return boxes
        wanted = name.casefold()
        chosen = [b for b in boxes if b.name.casefold() == wanted]
        if not chosen:
            raise QueryError(f"there is no folder named {name!r}")
        return chosen

    async def _newest(
        self, tx: Tx, boxes: list[Mailbox], query: Query, most: int
    ) -> tuple[list[_Found], bool]:
        """The newest `most` indexed messages of the folders that every term
        matches and the filters let through, scored; and whether there may
        be more (exactly `most` were found). The index answers newest first
        and stops at what is asked; a date filter that drops some has it
        asked again past the last, for more each time."""
        by_id = {box.id: box for box in boxes}
        terms = [SearchTerm(t.text, t.fields) for t in query.terms]
        # A term has a handful of fields: the score of every mask, once.
        score_of = [_mask_scores(t.fields) for t in query.terms]
        found: list[_Found] = []
        below = None
        ask = most
        while len(found) < most:
            matches = await self._store.search.newest_matching(
                tx,
                list(by_id),
                terms,
                limit=ask,
                below=below,
                with_attachment=query.has_attachment,
            )
            by_box: dict[int, list[int]] = {}
            for m in matches:
                by_box.setdefault(m.mailbox_id, []).append(m.uid)
            when: dict[tuple[int, int], datetime.datetime] = {}
            for box_id, uids in by_box.items():
                for uid, at in await self._store.mail.arrivals(tx, box_id, _ranges(sorted(uids))):
                    when[box_id, uid] = at
            for m in matches:
                arrived = when.get((m.mailbox_id, m.uid))  # None: expunged since
                if arrived is not None and _in_dates(arrived, query) and len(found) < most:
                    score = sum(s[mask] for s, mask in zip(score_of, m.masks, strict=True))
                    found.append((by_id[m.mailbox_id], m.uid, arrived, score))
            if len(matches) < ask:
                break
            below = matches[-1].message_id
            ask *= 2
        return found, len(found) >= most

    async def _read(self, info: MessageInfo, max_chars: int = MAX_SEARCH_TEXT_CHARS) -> _Read:
        # The start of the message is enough for its envelope and first
        # text; a 100 MB attachment further on is never read.
        head = bytearray()
        # Left early, the generator is closed by the loop's async-generator
        # hooks (its file with it).
        async for chunk in self._store.message_chunks(info):
            head += chunk
            if len(head) >= SNIPPET_READ_OCTETS:
                break
        data = bytes(head[:SNIPPET_READ_OCTETS])
        structure = parse_bytes(data)
        text = message_search_text(data, structure, max_chars=max_chars)
        return _Read(structure, text, data[: structure.root.header_end])

    async def _hit(self, box: Mailbox, info: MessageInfo, score: int, query: Query) -> SearchHit:
        message = await self._read(info, SNIPPET_SOURCE_CHARS)
        structure, text = message.structure, message.text
        envelope = structure.envelope
        sender = ""
        senders = envelope.from_.mailboxes() if envelope.from_ is not None else ()
        if senders:
            sender = senders[0].display_name or senders[0].addr_spec
        return SearchHit(
            mailbox=box.name,
            uid=info.uid,
            score=score,
            internal_date=info.internal_date,
            size=info.size,
            subject=envelope.subject_text or "",
            sender=sender,
            snippet=snippet(text.body or text.header, [t.text for t in query.terms]),
        )


def _mask_scores(fields: tuple[SearchField, ...]) -> list[int]:
    """The score of each bit mask of `fields` (bit i: ``fields[i]`` holds the term)."""
    weights = [_WEIGHTS.get(field, 0) for field in fields]
    return [
        sum(w for i, w in enumerate(weights) if mask >> i & 1) for mask in range(1 << len(weights))
    ]


def _ranges(uids: list[int]) -> list[tuple[int, int]]:
    """Sorted UIDs as the fewest ranges."""
    out: list[tuple[int, int]] = []
    for uid in uids:
        if out and out[-1][1] == uid - 1:
            out[-1] = (out[-1][0], uid)
        else:
            out.append((uid, uid))
    return out


def _document(message: _Read) -> SearchDocument:
    """What the indexer would store for the message, but for attachment text:
    attachments are known by their file names alone."""
    fields = header_field_values(message.header, SEARCHED_FIELDS)

    def joined(name: str) -> str:
        return "\n".join(fields.get(name, ()))

    names = [
        part.filename
        for part in message.structure.parts
        if part.kind is PartKind.LEAF and part.index and part.filename
    ]
    return SearchDocument(
        header=message.text.header,
        body=message.text.body,
        subject=joined("subject"),
        from_field=joined("from"),
        to_field=joined("to"),
        cc_field=joined("cc"),
        bcc_field=joined("bcc"),
        attachments="\n".join(names),
    )


def _scan_score(message: _Read, query: Query) -> int | None:
    """The score the index would give a message it holds, or None when a
    term does not match: the same fields, weights and folding."""
    document = _document(message)
    folded: dict[SearchField, str] = {}
    score = 0
    for term in query.terms:
        needle = fold(term.text)
        hit = False
        for field in term.fields:
            if field not in folded:
                folded[field] = fold(document.column(field))
            if needle in folded[field]:
                score += _WEIGHTS.get(field, 0)
                hit = True
        if not hit:
            return None
    return score


def _in_dates(when: datetime.datetime, query: Query) -> bool:
    day = when.date()
    if query.before is not None and day >= query.before:
        return False
    return not (query.after is not None and day < query.after)


def snippet(text: str, needles: list[str], chars: int = SNIPPET_CHARS) -> tuple[Segment, ...]:
    """About `chars` characters of `text` around the first hit, with every
    hit of every needle marked (case-insensitive)."""
    flat = " ".join(text.split())
    wanted = [n for n in needles if n]
    if not wanted:
        return (Segment(flat[:chars], False),) if flat else ()
    pattern = re.compile("|".join(re.escape(n) for n in wanted), re.IGNORECASE)
    first = pattern.search(flat)
    start = 0 if first is None else max(0, first.start() - chars // 3)
    window = flat[start : start + chars]
    out: list[Segment] = []
    if start:
        out.append(Segment("…", False))
    pos = 0
    for m in pattern.finditer(window):
        if m.start() > pos:
            out.append(Segment(window[pos : m.start()], False))
        out.append(Segment(m.group(), True))
        pos = m.end()
    if pos < len(window):
        out.append(Segment(window[pos:], False))
    if start + chars < len(flat):
        out.append(Segment("…", False))
    return tuple(out)
