"""The Search role: the full-text index of messages, on SQLite and PostgreSQL.

Theory of operation. IMAP SEARCH matches a case-insensitive substring
(RFC 9051 §6.4.4); Roost keeps that meaning when the index answers, so a
hyphenated token such as `JDG2-04711`, or part of a word, matches exactly as
a scan would. The index therefore stores, per message, the texts the scan
looks in (the Indexing service builds them with `roost.proto.mime.searchtext`
and the scan's own header decoding) after `fold`: Python's `str.casefold`,
the very folding the scan applies to both sides, and NUL replaced by U+FFFD
(PostgreSQL text cannot hold NUL). Both maps work character by character, so
`fold(needle) in fold(text)` holds exactly when the scan's test does, for
every needle that contains neither NUL nor U+FFFD.

- SQLite: an FTS5 table with the `trigram` tokenizer (case-sensitive, since
  the text is folded already) and `detail=column` (no token positions: less
  than half the size of a full index, and twice as fast to write) finds the
  candidates for a needle of three or more characters, as the AND of its
  distinct trigrams (at most `MAX_QUERY_TRIGRAMS` of them, spread over the
  needle), and `instr` on the stored text keeps only the exact matches.
- PostgreSQL: a plain table with pg_trgm GIN indexes; `LIKE '%needle%'` on
  the folded text (with `%`, `_` and `\\` escaped) is the exact test, and
  the trigram index makes it fast.

Header fields (SUBJECT, FROM, TO, CC, BCC) match value by value in a scan;
the index keeps each field's values joined by LF, which a needle without LF
cannot straddle. SEARCH TEXT looks in the header lines and the body; a
needle without LF cannot straddle the LF between them either. A needle the
index cannot answer (shorter than `MIN_INDEXED_CHARS` after folding, or
holding LF, NUL or U+FFFD) is the caller's to scan: `indexable` says which.

`search_docs` (in the shared schema) says which messages have a current
document: a row per message, removed with the message by the foreign key,
carrying the message's mailbox, the document `VERSION` and, for a message
that could not be indexed, the error. A message never changes mailbox (COPY
and MOVE make new rows), so comparing the count of a mailbox's current
documents with the mailbox's `message_count` tells at once,
whether the index holds the whole mailbox; only when it does not are the
messages without a document listed (`unindexed_in`). The count is kept by
triggers in `search_counts` (one lookup instead of counting 100,000 index
entries); a count below the truth only sends a search the slow, exact way.

The engine tables (`search_text`: an FTS5 virtual table on SQLite, a table
on PostgreSQL) are created by migrations 0006 and 0013 and kept out of the
shared metadata, since the two engines' shapes differ. On SQLite an FTS row
can outlive its message (no foreign keys on a virtual table): it is never
used without its `search_docs` row, is replaced when its id is indexed
again, and `collect_orphans` removes it.

Groupware items (contacts, events, tasks, notes) are indexed beside the
messages, by the same engine and the same folding: `search_item_docs` (a row
per item, removed with it) and the engine table `search_text_items` with two
columns, the item's title (a contact's name, an event's or a task's summary,
a note's title) and the rest of its text (`roost.control.item_search` says
which properties). An item is edited in place, keeping its id: its document
is current only while it carries the item's `modseq` (every write raises
it), so an edited item counts as not indexed until the indexer has read it
again, and a search scans it meanwhile.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import AnyResult, Tx
from roost.store.groupware import Item
from roost.store.schema import (
    accounts,
    blobs,
    gw_collections,
    gw_items,
    mailboxes,
    messages,
    search_counts,
    search_cursor,
    search_docs,
    search_item_docs,
)

VERSION = 3
"""The document format; raise it when what a document holds changes (the
searchable text's definition included): older documents count as missing
and are indexed again."""
MIN_INDEXED_CHARS = 3
"""The trigram indexes find nothing shorter: such needles are scanned."""
MAX_QUERY_TRIGRAMS = 12
"""Trigrams of a long needle put to FTS5: a dozen narrow the candidates as
well as all of them, and each one more is one more posting list read; the
exact test decides anyway."""
ENGINE_TABLE = "search_text"
"""The engine-specific table (and, on SQLite, the prefix of FTS5's own tables)."""
ERROR_CHARS = 500
ITEM_VERSION = 1
"""The item document format (`roost.control.item_search`); raise it when what
an item's document holds changes."""
ITEM_ENGINE_TABLE = "search_text_items"
"""The engine table of groupware items (its name starts with `ENGINE_TABLE`)."""
_IDS_PER_QUERY = 500
MIN_WINDOW_IDS = 500
"""Message ids whose candidates `SearchStore.newest_matching` tests first
(or its limit, if more); each further window is twice the last."""
WALK_MIN_DENSITY = 16
"""PostgreSQL: the newest messages are walked window by window while at
least one in this many holds the words (so the walk tests at most about
this many times the hits wanted); a rarer word's hits are found by one
query over the rest, planned as `matching_fields`' is (the trigram indexes,
or one scan where the planner prefers it), not window after window."""

_UNINDEXABLE = ("\n", "\x00", "\ufffd")


class SearchField(enum.StrEnum):
    """What a search key looks in, and the column that holds it."""

    HEADER = "header"
    BODY = "body"
    SUBJECT = "subject"
    FROM = "from_field"
    TO = "to_field"
    CC = "cc_field"
    BCC = "bcc_field"
    ATTACHMENTS = "attachments"
    """Attachment names and text: web search only, never IMAP."""
    TEXT = "text"
    """Header and body (SEARCH TEXT): not a column, both columns."""


COLUMNS = (
    SearchField.HEADER,
    SearchField.BODY,
    SearchField.SUBJECT,
    SearchField.FROM,
    SearchField.TO,
    SearchField.CC,
    SearchField.BCC,
    SearchField.ATTACHMENTS,
)


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """The texts of one message, as the scan sees them (not yet folded).
    Header fields hold the decoded values of every field of that name,
    joined by LF."""

    header: str
    body: str
    subject: str
    from_field: str
    to_field: str
    cc_field: str
    bcc_field: str
    attachments: str = ""
    """Attachment file names and text (`services/indexing/attachments.py`)."""

    def column(self, field: SearchField) -> str:
        value: str = getattr(self, field.value)
        return value


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A needle and where it may match (any of `fields`); it must be `indexable`."""

    needle: str
    fields: tuple[SearchField, ...]


@dataclass(frozen=True, slots=True)
class NewestMatch:
    """A message every term of a search matched (`SearchStore.newest_matching`)."""

    message_id: int
    mailbox_id: int
    uid: int
    masks: tuple[int, ...]
    """Per term, the bit mask of its fields that contain it (bit i for
    ``fields[i]``); never 0."""


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message without a current document: what the indexer reads."""

    id: int
    mailbox_id: int
    uid: int
    blob_hash: str
    trace: bytes
    structure: str | None = None
    """The MIME structure kept with the blob at delivery (JSON), if any:
    read with the batch, not one query per message."""


@dataclass(frozen=True, slots=True)
class IndexedMessage:
    """What the indexer made of one message: its document, or why there is none."""

    message_id: int
    mailbox_id: int
    uid: int
    result: SearchDocument | str
    """The document, or the error that kept the message from being indexed."""


@dataclass(frozen=True, slots=True)
class SearchStatus:
    messages: int
    indexed: int
    failed: int

    @property
    def pending(self) -> int:
        return self.messages - self.indexed - self.failed


@dataclass(frozen=True, slots=True)
class AccountSearchStatus:
    """One account's documents: how many of its messages are indexed,
    failed, and still waiting (scanned by searches meanwhile)."""

    account_id: int
    address: str
    status: SearchStatus


@dataclass(frozen=True, slots=True)
class SearchFailure:
    message_id: int
    mailbox_id: int
    error: str
    at: datetime


class ItemField(enum.StrEnum):
    """What an item search looks in: the engine table's columns."""

    TITLE = "title"
    BODY = "body"


ITEM_COLUMNS = (ItemField.TITLE, ItemField.BODY)


@dataclass(frozen=True, slots=True)
class ItemDocument:
    """The texts of one groupware item (not yet folded)."""

    title: str
    body: str

    def column(self, field: ItemField) -> str:
        return self.title if field is ItemField.TITLE else self.body


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A groupware item without a current document: what the indexer reads,
    and what a search scans meanwhile."""

    id: int
    account_id: int
    collection_id: int
    name: str
    component: str
    title: str
    data: str
    modseq: int


@dataclass(frozen=True, slots=True)
class IndexedItem:
    """What the indexer made of one item: its document, or why there is none."""

    item_id: int
    account_id: int
    component: str
    modseq: int
    """The item's modseq when it was read: the document is current while the
    item keeps it."""
    result: ItemDocument | str


@dataclass(frozen=True, slots=True)
class ItemSearchStatus:
    """Groupware items (of an account, or of all): how many there are, how
    many have a current document, how many could not be indexed."""

    items: int
    indexed: int
    failed: int

    @property
    def pending(self) -> int:
        return self.items - self.indexed - self.failed


@dataclass(frozen=True, slots=True)
class FoundItem:
    """An item a search found, with the name of its collection."""

    collection: str
    item: Item


def fold(text: str) -> str:
    """The stored form of a text, and of a needle: see the module docstring."""
    return text.casefold().replace("\x00", "\ufffd")


def indexable(needle: str) -> bool:
    """Whether the index answers a search for `needle` exactly."""
    folded = needle.casefold()
    return len(folded) >= MIN_INDEXED_CHARS and not any(c in folded for c in _UNINDEXABLE)


def _like_pattern(folded: str) -> str:
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_trigrams(folded: str) -> str:
    """An FTS5 query for the candidates holding `folded`: its distinct
    trigrams joined by AND, each a quoted string (every character literal,
    whatever operators it spells). `detail=column` allows no phrases, and
    needs none: the exact test follows."""
    grams = list(dict.fromkeys(folded[i : i + 3] for i in range(len(folded) - 2)))
    if len(grams) > MAX_QUERY_TRIGRAMS:
        step = (len(grams) - 1) / (MAX_QUERY_TRIGRAMS - 1)
        grams = [grams[round(i * step)] for i in range(MAX_QUERY_TRIGRAMS)]
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


@dataclass(frozen=True, slots=True)
class _Tests:
    """The exact tests of some terms in SQL: one boolean per field of each
    term (`columns`, term after term; `sizes` says how many are each
    term's), their parameters, and on SQLite the FTS query for the
    candidates that may pass them all."""

    columns: tuple[str, ...]
    sizes: tuple[int, ...]
    params: dict[str, object]

    @staticmethod
    def of(dialect: str, terms: Sequence[SearchTerm]) -> _Tests:
        columns: list[str] = []
        queries: list[str] = []
        params: dict[str, object] = {}
        for n, term in enumerate(terms):
            folded = fold(term.needle)
            if dialect == "sqlite":
                test = f"instr(t.{{column}}, :needle{n}) > 0"
                params[f"needle{n}"] = folded
            else:
                test = f"t.{{column}} LIKE :pattern{n} ESCAPE '\\'"
                params[f"pattern{n}"] = _like_pattern(folded)
            groups = [
                (SearchField.HEADER, SearchField.BODY) if f is SearchField.TEXT else (f,)
                for f in term.fields
            ]
            columns += [" OR ".join(test.format(column=c.value) for c in g) for g in groups]
            names = " ".join(dict.fromkeys(c.value for g in groups for c in g))
            queries.append(f"({{{names}}} : ({_fts_trigrams(folded)}))")
        if dialect == "sqlite" and queries:
            params["query"] = " AND ".join(queries)
        return _Tests(tuple(columns), tuple(len(t.fields) for t in terms), params)

    def groups(self) -> list[tuple[str, ...]]:
        """Each term's tests."""
        out = []
        at = 0
        for size in self.sizes:
            out.append(self.columns[at : at + size])
            at += size
        return out

    def masks(self, hits: Sequence[object]) -> tuple[int, ...] | None:
        """Each term's bit mask of the fields that hold it, or None when a
        term is in none of them."""
        out = []
        at = 0
        for size in self.sizes:
            mask = sum(1 << i for i, hit in enumerate(hits[at : at + size]) if hit)
            if not mask:
                return None
            out.append(mask)
            at += size
        return tuple(out)


class _Windows:
    """`SearchStore.newest_matching`'s statements over windows of message
    ids: the newest id of the mailboxes (`top`), the exact tests of the
    candidates in a window (`tested`), and on PostgreSQL the newest hits
    under a window in one query (`newest`).

    Windows of ids, not chunks of so many candidates: an FTS5 query read
    newest first (ORDER BY rowid DESC) steps through its terms' posting
    lists backwards, which for a needle mixing rare and common trigrams
    costs as much as reading them all (tens of milliseconds at 100,000
    messages); read forwards within a range of rowids it seeks."""

    def __init__(
        self, tx: Tx, mailbox_ids: Sequence[int], tests: _Tests, with_attachment: bool
    ) -> None:
        self._tx = tx
        self._tests = tests
        self._boxes = list(mailbox_ids)
        self._params = tests.params | {"boxes": self._boxes, "version": VERSION}
        self.by_index = tx.dialect != "sqlite" and bool(tests.sizes)
        """Whether the engine's index finds a rare word's hits better than a
        walk (PostgreSQL); on SQLite the FTS candidates are the walk."""
        current = "d.mailbox_id IN :boxes AND d.version = :version AND d.error IS NULL"
        attachment = "t.attachments != ''" if with_attachment else "1 = 1"
        selected = [f"{t} AS m{i}" for i, t in enumerate(tests.columns)]
        head = "SELECT " + ", ".join(
            ["d.message_id", "d.mailbox_id", "d.uid", f"{attachment} AS a", *selected]
        )
        if tx.dialect == "sqlite" and tests.sizes:
            # FTS candidates in the window, then search_docs, then the exact
            # tests: result columns are computed only for rows that pass the
            # WHERE, so no other mailbox's stored text is read.
            exact = (
                f"{head} FROM {ENGINE_TABLE} t "
                "CROSS JOIN search_docs d ON d.message_id = t.rowid "
                f"WHERE {ENGINE_TABLE} MATCH :query AND t.rowid >= {{low}} AND t.rowid < {{below}} "
                f"AND {current}"
            )
        else:
            key = "t.rowid" if tx.dialect == "sqlite" else "t.message_id"
            words = " AND ".join(f"({' OR '.join(group)})" for group in tests.groups())
            exact = (
                f"{head} FROM search_docs d JOIN {ENGINE_TABLE} t ON {key} = d.message_id "
                f"WHERE {current} AND d.message_id >= {{low}} AND d.message_id < {{below}} "
                # The window on both tables: the planner must not scan all
                # the stored text for a window's few thousand messages.
                f"AND {key} >= {{low}} AND {key} < {{below}}" + (f" AND {words}" if words else "")
            )
        # The window and the limit are written into the statement, not
        # bound: PostgreSQL then plans for the window at hand, where a plan
        # made once for any window (after five runs of a prepared statement)
        # walks every message of the range it cannot see.
        self._exact = exact
        # Whether fewer than so many candidates are left: read forwards,
        # FTS5 lists a rare needle's few in a millisecond.
        self._few = (
            sa.text(
                f"SELECT rowid FROM {ENGINE_TABLE} WHERE {ENGINE_TABLE} MATCH :query "  # noqa: S608
                "AND rowid < :below ORDER BY rowid LIMIT 1 OFFSET :skip"
            )
            if tx.dialect == "sqlite" and tests.sizes
            else None
        )
        # Ordered by `message_id + 0`: the planner may not walk the primary
        # key backwards testing row after row, which for a rare word would
        # read the whole mailbox one row at a time.
        self._newest = f"{exact} ORDER BY d.message_id + 0 DESC LIMIT {{limit}}"

    async def top(self) -> int:
        """One past the newest message id of the mailboxes (0: none).
        Within a mailbox ids rise with UIDs: the UID index finds it."""
        top = 0
        for box in self._boxes:
            newest = await self._tx.scalar(
                sa.select(messages.c.id)
                .where(messages.c.mailbox_id == box)
                .order_by(messages.c.uid.desc())
                .limit(1)
            )
            if newest is not None:
                top = max(top, int(newest) + 1)
        return top

    async def few_left(self, below: int, count: int) -> bool:
        """Whether fewer than `count` candidates are under `below`, as far
        as the engine's index tells cheaply (SQLite; PostgreSQL: unknown)."""
        if self._few is None:
            return False
        params = self._params | {"below": below, "skip": count - 1}
        return await self._tx.scalar(self._few, params) is None

    async def tested(self, low: int, below: int) -> list[NewestMatch]:
        """The hits among the messages with ids from `low` to under `below`,
        newest first."""
        statement = _with_boxes(self._exact.format(low=int(low), below=int(below)))
        rows = await self._tx.execute(statement, self._params)
        return sorted(self._hits(rows), key=lambda m: m.message_id, reverse=True)

    async def newest(self, below: int, limit: int) -> list[NewestMatch]:
        """The newest `limit` hits under `below`, found by the engine's index."""
        statement = self._newest.format(low=0, below=int(below), limit=int(limit))
        return list(self._hits(await self._tx.execute(_with_boxes(statement), self._params)))

    def _hits(self, rows: AnyResult) -> Iterator[NewestMatch]:
        for message_id, mailbox_id, uid, has_attachment, *hits in rows:
            masks = self._tests.masks(hits)
            if masks is not None and has_attachment:
                yield NewestMatch(int(message_id), int(mailbox_id), int(uid), masks)


def _with_boxes(statement: str) -> sa.TextClause:
    """A statement whose `:boxes` (if any) is a list of mailbox ids."""
    text = sa.text(statement)
    return text.bindparams(sa.bindparam("boxes", expanding=True)) if ":boxes" in statement else text


_CURRENT = sa.and_(search_docs.c.version == VERSION, search_docs.c.error.is_(None))
_ITEM_DOC_OF_VERSION = sa.and_(
    search_item_docs.c.version == ITEM_VERSION,
    search_item_docs.c.modseq == gw_items.c.modseq,
)
"""An item's document of this version for the item as it is now (with or
without an error)."""
_COLUMN_LIST = ", ".join(c.value for c in COLUMNS)
_SQLITE_INSERT = sa.text(
    f"INSERT INTO {ENGINE_TABLE} (rowid, {_COLUMN_LIST}) "  # noqa: S608 - fixed names
    f"VALUES (:id, {', '.join(':' + c.value for c in COLUMNS)})"
)
_PG_INSERT = sa.text(
    f"INSERT INTO {ENGINE_TABLE} (message_id, {_COLUMN_LIST}) "  # noqa: S608 - fixed names
    f"VALUES (:id, {', '.join(':' + c.value for c in COLUMNS)})"
)


class SearchStore:
    """The Search role over SQLAlchemy Core; the engine follows the dialect."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    # --- writing documents

    async def put(self, tx: Tx, message_id: int, doc: SearchDocument) -> None:
        """Store (or replace) the document of a message."""
        await self.put_many(tx, [await self._item(tx, message_id, doc)])

    async def put_failed(self, tx: Tx, message_id: int, error: str) -> None:
        """Record that a message could not be indexed: searches scan it."""
        await self.put_many(tx, [await self._item(tx, message_id, error)])

    async def _item(self, tx: Tx, message_id: int, result: SearchDocument | str) -> IndexedMessage:
        row = (
            await tx.execute(
                sa.select(messages.c.mailbox_id, messages.c.uid).where(messages.c.id == message_id)
            )
        ).first()
        if row is None:
            raise LookupError(f"message {message_id} is gone")
        return IndexedMessage(message_id, int(row.mailbox_id), int(row.uid), result)

    async def put_many(self, tx: Tx, items: Sequence[IndexedMessage]) -> None:
        """Store (or replace) the documents of several messages, and the
        errors of those that could not be indexed: a few statements for the
        whole batch, whatever its size."""
        if not items:
            return
        ids = [item.message_id for item in items]
        await self._drop_text(tx, ids)
        await tx.execute(search_docs.delete().where(search_docs.c.message_id.in_(ids)))
        now = self._clock.now()
        await tx.execute(
            search_docs.insert(),
            [
                {
                    "message_id": item.message_id,
                    "mailbox_id": item.mailbox_id,
                    "uid": item.uid,
                    "version": VERSION,
                    "error": (
                        (item.result[:ERROR_CHARS] or "unknown error")
                        if isinstance(item.result, str)
                        else None
                    ),
                    "indexed_at": now,
                }
                for item in items
            ],
        )
        texts: list[dict[str, object]] = []
        for item in items:
            if isinstance(item.result, SearchDocument):
                values: dict[str, object] = {c.value: fold(item.result.column(c)) for c in COLUMNS}
                values["id"] = item.message_id
                texts.append(values)
        if texts:
            await tx.execute(_SQLITE_INSERT if tx.dialect == "sqlite" else _PG_INSERT, texts)

    async def _drop_text(self, tx: Tx, ids: list[int]) -> None:
        key = "rowid" if tx.dialect == "sqlite" else "message_id"
        statement = sa.text(
            f"DELETE FROM {ENGINE_TABLE} WHERE {key} IN :ids"  # noqa: S608 - fixed names
        ).bindparams(sa.bindparam("ids", expanding=True))
        await tx.execute(statement, {"ids": ids})

    async def forget(self, tx: Tx, account_id: int | None = None) -> int:
        """Drop the documents of an account (or all): they are indexed again."""
        query = sa.select(search_docs.c.message_id)
        if account_id is not None:
            query = (
                query.join(messages, messages.c.id == search_docs.c.message_id)
                .join(mailboxes, mailboxes.c.id == messages.c.mailbox_id)
                .where(mailboxes.c.account_id == account_id)
            )
        ids = [int(r[0]) for r in await tx.execute(query)]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await self._drop_text(tx, chunk)
            await tx.execute(search_docs.delete().where(search_docs.c.message_id.in_(chunk)))
        return len(ids)

    async def collect_orphans(self, tx: Tx) -> int:
        """SQLite: remove FTS rows whose message is gone (PostgreSQL cascades)."""
        if tx.dialect != "sqlite":
            return 0
        result = await tx.execute(
            sa.text(
                f"DELETE FROM {ENGINE_TABLE} WHERE rowid IN "  # noqa: S608 - fixed names
                f"(SELECT rowid FROM {ENGINE_TABLE} EXCEPT SELECT message_id FROM search_docs)"
            )
        )
        return int(result.rowcount or 0)

    # --- what needs indexing

    async def pending(
        self,
        tx: Tx,
        *,
        mailbox_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[PendingMessage]:
        """Messages without a document of this version, by id (after `after_id`)."""
        query = (
            sa.select(
                messages.c.id,
                messages.c.mailbox_id,
                messages.c.uid,
                messages.c.blob_hash,
                messages.c.trace,
                blobs.c.structure,
            )
            .select_from(
                messages.outerjoin(search_docs, search_docs.c.message_id == messages.c.id).join(
                    blobs, blobs.c.hash == messages.c.blob_hash
                )
            )
            .where(
                messages.c.id > after_id,
                sa.or_(search_docs.c.message_id.is_(None), search_docs.c.version != VERSION),
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
        if mailbox_id is not None:
            query = query.where(messages.c.mailbox_id == mailbox_id)
        rows = await tx.execute(query)
        return [
            PendingMessage(r.id, r.mailbox_id, r.uid, r.blob_hash, bytes(r.trace), r.structure)
            for r in rows
        ]

    # --- searching

    async def indexed_in(self, tx: Tx, mailbox_id: int) -> set[int]:
        """UIDs of the mailbox's messages that have a current document."""
        rows = await tx.execute(
            sa.select(search_docs.c.uid).where(search_docs.c.mailbox_id == mailbox_id, _CURRENT)
        )
        return {int(r[0]) for r in rows}

    async def unindexed_in(self, tx: Tx, mailbox_id: int) -> set[int]:
        """UIDs of the mailbox's messages without a current document: those
        a search must scan. Usually none, which two counts on indexes show
        without reading the mailbox's rows."""
        total = await tx.scalar(
            sa.select(mailboxes.c.message_count).where(mailboxes.c.id == mailbox_id)
        )
        current = await tx.scalar(
            sa.select(search_counts.c.current).where(
                search_counts.c.mailbox_id == mailbox_id, search_counts.c.version == VERSION
            )
        )
        if total is not None and int(current or 0) >= int(total):
            return set()
        rows = await tx.execute(
            sa.select(messages.c.uid)
            .select_from(messages.outerjoin(search_docs, search_docs.c.message_id == messages.c.id))
            .where(
                messages.c.mailbox_id == mailbox_id,
                sa.or_(
                    search_docs.c.message_id.is_(None),
                    search_docs.c.version != VERSION,
                    search_docs.c.error.is_not(None),
                ),
            )
        )
        return {int(r[0]) for r in rows}

    async def matching(self, tx: Tx, mailbox_id: int, field: SearchField, needle: str) -> set[int]:
        """UIDs of the mailbox's indexed messages whose `field` contains
        `needle` as the scan tests it. `needle` must be `indexable`."""
        return set(await self.matching_fields(tx, mailbox_id, (field,), needle))

    async def matching_fields(
        self, tx: Tx, mailbox_id: int, fields: Sequence[SearchField], needle: str
    ) -> dict[int, int]:
        """UIDs of the mailbox's indexed messages where any of `fields`
        contains `needle`, each with a bit mask of those that do (bit i for
        ``fields[i]``): one pass over the index for all of them."""
        if not indexable(needle):
            raise ValueError(f"the index cannot answer a search for {needle!r}")
        if not fields:
            return {}
        tests = _Tests.of(tx.dialect, [SearchTerm(needle, tuple(fields))])
        if tx.dialect == "sqlite":
            # CROSS JOIN keeps SQLite's planner from walking the mailbox and
            # running the FTS query once per message: candidates come first.
            # The CASE holds the exact tests back until search_docs has shown
            # the candidate to be in the mailbox: another mailbox's stored
            # text (in an index shared by every mailbox) is never read.
            guard = "CASE WHEN d.mailbox_id = :mailbox THEN ({}) ELSE 0 END"
            source = f"{ENGINE_TABLE} t CROSS JOIN search_docs d ON d.message_id = t.rowid"
            candidates = f"{ENGINE_TABLE} MATCH :query"
        else:
            guard = "({})"
            source = f"{ENGINE_TABLE} t JOIN search_docs d ON d.message_id = t.message_id"
            candidates = f"({' OR '.join(tests.columns)})"
        selected = ", ".join(f"{guard.format(t)} AS m{i}" for i, t in enumerate(tests.columns))
        statement = sa.text(
            f"SELECT d.uid, {selected} FROM {source} "  # noqa: S608 - fixed names
            f"WHERE {candidates} AND d.mailbox_id = :mailbox "
            "AND d.version = :version AND d.error IS NULL"
        )
        params = tests.params | {"mailbox": mailbox_id, "version": VERSION}
        out: dict[int, int] = {}
        for uid, *hits in await tx.execute(statement, params):
            mask = sum(1 << i for i, hit in enumerate(hits) if hit)
            if mask:
                out[int(uid)] = mask
        return out

    async def newest_matching(
        self,
        tx: Tx,
        mailbox_ids: Sequence[int],
        terms: Sequence[SearchTerm],
        *,
        limit: int,
        below: int | None = None,
        with_attachment: bool = False,
    ) -> list[NewestMatch]:
        """The newest `limit` indexed messages of `mailbox_ids` that every
        term matches (and that have an attachment, if asked), newest first.
        Newest is by message id: the order of arrival, and in a mailbox the
        order of UIDs (a mailbox's messages get their ids and UIDs in one
        step, both rising). `below` (a message id of an earlier answer)
        goes on past it. Without terms: every indexed message (that has an
        attachment, if asked).

        Unlike `matching_fields` (IMAP SEARCH, which needs every hit), the
        exact tests do not run over every candidate: candidates are taken
        newest first, a chunk at a time, and testing stops once `limit`
        messages have passed, so that a word in nearly every message costs
        about `limit` tests, not one per message. A message counts only
        when every term passes its exact test in it."""
        if limit < 1:
            raise ValueError(f"the limit is at least 1, not {limit}")
        for term in terms:
            if not indexable(term.needle):
                raise ValueError(f"the index cannot answer a search for {term.needle!r}")
            if not term.fields:
                raise ValueError(f"the term {term.needle!r} names no field")
        if not mailbox_ids:
            return []
        windows = _Windows(tx, mailbox_ids, _Tests.of(tx.dialect, terms), with_attachment)
        top = await windows.top() if below is None else below
        size = max(MIN_WINDOW_IDS, limit)
        found: list[NewestMatch] = []
        while top > 0 and len(found) < limit:
            # A rare needle's few candidates are tested at once, not window
            # by window down to the oldest message.
            low = 0 if await windows.few_left(top, size) else max(0, top - size)
            hits = await windows.tested(low, top)
            found += hits[: limit - len(found)]
            top = low
            if windows.by_index and len(hits) * WALK_MIN_DENSITY < size and top > 0:
                # PostgreSQL: the words are not common among the newest
                # messages; one query over the rest finds them faster.
                found += await windows.newest(top, limit - len(found))
                break
            size *= 2
        return found

    # --- the indexer's place in the change feed

    async def cursor(self, tx: Tx) -> int:
        """The last change the indexer has handled."""
        value = await tx.scalar(sa.select(search_cursor.c.change_id).where(search_cursor.c.id == 1))
        return int(value or 0)

    async def set_cursor(self, tx: Tx, change_id: int) -> None:
        updated = await tx.execute(
            search_cursor.update().where(search_cursor.c.id == 1).values(change_id=change_id)
        )
        if not updated.rowcount:
            await tx.execute(search_cursor.insert().values(id=1, change_id=change_id, rescan=False))

    async def request_rescan(self, tx: Tx) -> None:
        """Ask the indexer to look for messages without a document (after `forget`)."""
        updated = await tx.execute(
            search_cursor.update().where(search_cursor.c.id == 1).values(rescan=True)
        )
        if not updated.rowcount:
            await tx.execute(search_cursor.insert().values(id=1, change_id=0, rescan=True))

    async def take_rescan(self, tx: Tx) -> bool:
        """True once after `request_rescan`."""
        updated = await tx.execute(
            search_cursor.update()
            .where(search_cursor.c.id == 1, search_cursor.c.rescan.is_(True))
            .values(rescan=False)
        )
        return bool(updated.rowcount)

    # --- status

    async def status(self, tx: Tx, account_id: int | None = None) -> SearchStatus:
        total = sa.select(sa.func.count()).select_from(messages)
        done = (
            sa.select(
                sa.func.count(),
                sa.func.count(search_docs.c.error),
            )
            .select_from(messages)
            .join(search_docs, search_docs.c.message_id == messages.c.id)
            .where(search_docs.c.version == VERSION)
        )
        if account_id is not None:
            total = total.join(mailboxes, mailboxes.c.id == messages.c.mailbox_id).where(
                mailboxes.c.account_id == account_id
            )
            done = done.join(mailboxes, mailboxes.c.id == messages.c.mailbox_id).where(
                mailboxes.c.account_id == account_id
            )
        count = int(await tx.scalar(total) or 0)
        documents, failed = (int(v) for v in (await tx.execute(done)).one())
        return SearchStatus(messages=count, indexed=documents - failed, failed=failed)

    async def accounts(self, tx: Tx) -> list[AccountSearchStatus]:
        """Every account's status, by address: message counts from the
        mailboxes' `message_count`, documents from `search_docs`."""
        totals = await tx.execute(
            sa.select(
                accounts.c.id,
                accounts.c.address,
                sa.func.coalesce(sa.func.sum(mailboxes.c.message_count), 0),
            )
            .select_from(accounts.outerjoin(mailboxes, mailboxes.c.account_id == accounts.c.id))
            .group_by(accounts.c.id, accounts.c.address)
            .order_by(accounts.c.address)
        )
        docs = await tx.execute(
            sa.select(
                mailboxes.c.account_id,
                sa.func.count(),
                sa.func.count(search_docs.c.error),
            )
            .select_from(search_docs)
            .join(mailboxes, mailboxes.c.id == search_docs.c.mailbox_id)
            .where(search_docs.c.version == VERSION)
            .group_by(mailboxes.c.account_id)
        )
        done: dict[int, tuple[int, int]] = {}
        for row in docs:
            owner, documents, failed = (int(v) for v in tuple(row))
            done[owner] = (documents, failed)
        out = []
        for row in totals:
            account_id, address, total = tuple(row)
            documents, failed = done.get(int(account_id), (0, 0))
            out.append(
                AccountSearchStatus(
                    int(account_id),
                    str(address),
                    SearchStatus(messages=int(total), indexed=documents - failed, failed=failed),
                )
            )
        return out

    async def account_of_mailbox(self, tx: Tx, mailbox_id: int) -> int | None:
        value = await tx.scalar(
            sa.select(mailboxes.c.account_id).where(mailboxes.c.id == mailbox_id)
        )
        return None if value is None else int(value)

    async def failures(
        self, tx: Tx, account_id: int | None = None, limit: int = 20
    ) -> list[SearchFailure]:
        """The most recent messages that could not be indexed, newest first."""
        query = (
            sa.select(
                search_docs.c.message_id,
                messages.c.mailbox_id,
                search_docs.c.error,
                search_docs.c.indexed_at,
            )
            .join(messages, messages.c.id == search_docs.c.message_id)
            .where(search_docs.c.error.is_not(None), search_docs.c.version == VERSION)
            .order_by(search_docs.c.indexed_at.desc(), search_docs.c.message_id.desc())
            .limit(limit)
        )
        if account_id is not None:
            query = query.join(mailboxes, mailboxes.c.id == messages.c.mailbox_id).where(
                mailboxes.c.account_id == account_id
            )
        rows = await tx.execute(query)
        return [SearchFailure(r.message_id, r.mailbox_id, r.error, r.indexed_at) for r in rows]

    # --- groupware items

    async def put_items(self, tx: Tx, items: Sequence[IndexedItem]) -> None:
        """Store (or replace) the documents of groupware items, and the errors
        of those that could not be indexed. An item deleted since it was read
        is left out."""
        if not items:
            return
        ids = [item.item_id for item in items]
        alive = {
            int(r[0])
            for r in await tx.execute(sa.select(gw_items.c.id).where(gw_items.c.id.in_(ids)))
        }
        await self._drop_item_text(tx, ids)
        await tx.execute(search_item_docs.delete().where(search_item_docs.c.item_id.in_(ids)))
        kept = [item for item in items if item.item_id in alive]
        if not kept:
            return
        now = self._clock.now()
        await tx.execute(
            search_item_docs.insert(),
            [
                {
                    "item_id": item.item_id,
                    "account_id": item.account_id,
                    "component": item.component,
                    "modseq": item.modseq,
                    "version": ITEM_VERSION,
                    "error": (
                        (item.result[:ERROR_CHARS] or "unknown error")
                        if isinstance(item.result, str)
                        else None
                    ),
                    "indexed_at": now,
                }
                for item in kept
            ],
        )
        texts = [
            {
                "id": item.item_id,
                **{c.value: fold(item.result.column(c)) for c in ITEM_COLUMNS},
            }
            for item in kept
            if isinstance(item.result, ItemDocument)
        ]
        if texts:
            key = "rowid" if tx.dialect == "sqlite" else "item_id"
            names = ", ".join(c.value for c in ITEM_COLUMNS)
            values = ", ".join(":" + c.value for c in ITEM_COLUMNS)
            await tx.execute(
                sa.text(
                    f"INSERT INTO {ITEM_ENGINE_TABLE} ({key}, {names}) "  # noqa: S608 - fixed names
                    f"VALUES (:id, {values})"
                ),
                texts,
            )

    async def _drop_item_text(self, tx: Tx, ids: Sequence[int]) -> None:
        key = "rowid" if tx.dialect == "sqlite" else "item_id"
        statement = sa.text(
            f"DELETE FROM {ITEM_ENGINE_TABLE} WHERE {key} IN :ids"  # noqa: S608 - fixed names
        ).bindparams(sa.bindparam("ids", expanding=True))
        for start in range(0, len(ids), _IDS_PER_QUERY):
            await tx.execute(statement, {"ids": list(ids[start : start + _IDS_PER_QUERY])})

    async def forget_items(self, tx: Tx, account_id: int | None = None) -> int:
        """Drop the item documents of an account (or all): they are indexed again."""
        query = sa.select(search_item_docs.c.item_id)
        if account_id is not None:
            query = query.where(search_item_docs.c.account_id == account_id)
        ids = [int(r[0]) for r in await tx.execute(query)]
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            await self._drop_item_text(tx, chunk)
            await tx.execute(search_item_docs.delete().where(search_item_docs.c.item_id.in_(chunk)))
        return len(ids)

    async def collect_item_orphans(self, tx: Tx) -> int:
        """SQLite: remove item FTS rows whose item is gone (PostgreSQL cascades)."""
        if tx.dialect != "sqlite":
            return 0
        result = await tx.execute(
            sa.text(
                f"DELETE FROM {ITEM_ENGINE_TABLE} WHERE rowid IN "  # noqa: S608 - fixed names
                f"(SELECT rowid FROM {ITEM_ENGINE_TABLE} "
                "EXCEPT SELECT item_id FROM search_item_docs)"
            )
        )
        return int(result.rowcount or 0)

    async def pending_items(
        self,
        tx: Tx,
        *,
        account_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
        with_failed: bool = False,
        newest_first: bool = False,
    ) -> list[PendingItem]:
        """Items without a document of this version for their current state,
        by id (after `after_id`, or from the newest down); `with_failed` adds
        those whose current state could not be indexed (what a search must
        scan)."""
        stale = sa.or_(
            search_item_docs.c.item_id.is_(None),
            search_item_docs.c.version != ITEM_VERSION,
            search_item_docs.c.modseq != gw_items.c.modseq,
        )
        if with_failed:
            stale = sa.or_(stale, search_item_docs.c.error.is_not(None))
        query = (
            sa.select(
                gw_items.c.id,
                gw_collections.c.account_id,
                gw_items.c.collection_id,
                gw_items.c.name,
                gw_items.c.component,
                gw_items.c.title,
                gw_items.c.data,
                gw_items.c.modseq,
            )
            .select_from(
                gw_items.join(
                    gw_collections, gw_collections.c.id == gw_items.c.collection_id
                ).outerjoin(search_item_docs, search_item_docs.c.item_id == gw_items.c.id)
            )
            .where(gw_items.c.id > after_id, stale)
            .order_by(gw_items.c.id.desc() if newest_first else gw_items.c.id)
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(gw_collections.c.account_id == account_id)
        rows = await tx.execute(query)
        return [
            PendingItem(
                id=int(r.id),
                account_id=int(r.account_id),
                collection_id=int(r.collection_id),
                name=str(r.name),
                component=str(r.component),
                title=str(r.title),
                data=str(r.data),
                modseq=int(r.modseq),
            )
            for r in rows
        ]

    async def matching_items(
        self, tx: Tx, account_id: int, field: ItemField | None, needle: str
    ) -> set[int]:
        """Ids of the account's items with a current document whose `field`
        (None: title or body) contains `needle`, as `fold` tests it.
        `needle` must be `indexable`."""
        if not indexable(needle):
            raise ValueError(f"the index cannot answer a search for {needle!r}")
        folded = fold(needle)
        columns = ITEM_COLUMNS if field is None else (field,)
        current = (
            "d.account_id = :account AND d.version = :version AND d.error IS NULL "
            "AND d.modseq = i.modseq"
        )
        if tx.dialect == "sqlite":
            names = " ".join(c.value for c in columns)
            exact = " OR ".join(f"instr(t.{c.value}, :needle) > 0" for c in columns)
            # As for messages: FTS candidates first, and another account's
            # stored text is never read.
            statement = sa.text(
                f"SELECT d.item_id FROM {ITEM_ENGINE_TABLE} t "  # noqa: S608 - fixed names
                "CROSS JOIN search_item_docs d ON d.item_id = t.rowid "
                "JOIN gw_items i ON i.id = d.item_id "
                f"WHERE {ITEM_ENGINE_TABLE} MATCH :query AND {current} "
                f"AND CASE WHEN d.account_id = :account THEN ({exact}) ELSE 0 END"
            )
            params: dict[str, object] = {
                "query": f"{{{names}}} : ({_fts_trigrams(folded)})",
                "needle": folded,
            }
        else:
            exact = " OR ".join(f"t.{c.value} LIKE :pattern ESCAPE '\\'" for c in columns)
            statement = sa.text(
                f"SELECT d.item_id FROM {ITEM_ENGINE_TABLE} t "  # noqa: S608 - fixed names
                "JOIN search_item_docs d ON d.item_id = t.item_id "
                "JOIN gw_items i ON i.id = d.item_id "
                f"WHERE {current} AND ({exact})"
            )
            params = {"pattern": _like_pattern(folded)}
        params |= {"account": account_id, "version": ITEM_VERSION}
        return {int(r[0]) for r in await tx.execute(statement, params)}

    async def item_status(self, tx: Tx, account_id: int | None = None) -> ItemSearchStatus:
        total = sa.select(sa.func.count()).select_from(
            gw_items.join(gw_collections, gw_collections.c.id == gw_items.c.collection_id)
        )
        done = (
            sa.select(sa.func.count(), sa.func.count(search_item_docs.c.error))
            .select_from(
                search_item_docs.join(gw_items, gw_items.c.id == search_item_docs.c.item_id)
            )
            .where(_ITEM_DOC_OF_VERSION)
        )
        if account_id is not None:
            total = total.where(gw_collections.c.account_id == account_id)
            done = done.where(search_item_docs.c.account_id == account_id)
        count = int(await tx.scalar(total) or 0)
        documents, failed = (int(v) for v in (await tx.execute(done)).one())
        return ItemSearchStatus(items=count, indexed=documents - failed, failed=failed)

    async def items_found(self, tx: Tx, account_id: int, ids: Sequence[int]) -> list[FoundItem]:
        """The account's items of these ids that still exist."""
        found: list[FoundItem] = []
        for start in range(0, len(ids), _IDS_PER_QUERY):
            rows = await tx.execute(
                sa.select(gw_items, gw_collections.c.name.label("collection_name"))
                .join(gw_collections, gw_collections.c.id == gw_items.c.collection_id)
                .where(
                    gw_collections.c.account_id == account_id,
                    gw_items.c.id.in_(list(ids[start : start + _IDS_PER_QUERY])),
                )
            )
            found += (
                FoundItem(
                    str(r.collection_name),
                    Item(
                        id=int(r.id),
                        collection_id=int(r.collection_id),
                        name=str(r.name),
                        uid=str(r.uid),
                        component=str(r.component),
                        etag=str(r.etag),
                        data=str(r.data),
                        title=str(r.title),
                        colour=str(r.colour),
                        starts_at=r.starts_at,
                        ends_at=r.ends_at,
                        recurring=bool(r.recurring),
                        modseq=int(r.modseq),
                        updated_at=r.updated_at,
                    ),
                )
                for r in rows
            )
        return found
