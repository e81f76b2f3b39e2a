"""Search of a user's groupware items (contacts, events, tasks, notes) for
the webmail and the API, and the one definition of an item's searchable text.

What an item's document holds (`item_document`), read from the stored
vCard (vobject) or iCalendar (icalendar) text:

    contact   title: the formatted name (FN); text: the structured name,
              nickname, e-mail addresses, phone numbers, organisation, job
              title and role, postal addresses, categories, notes
    event     title: the summary; text: location, description, attendees
              and organiser (their names and addresses), categories,
              comments; of the master and of every overridden occurrence
    task      title: the summary; text: description, location, attendees,
              categories, comments
    note      title: the note's title; text: the note (a VJOURNAL in a
              calendar counts as a note: its summary and description)

The Indexing service stores it (`roost.store.search`, beside the messages,
the same engine and folding); `ItemSearch` asks the index, and reads and
tests itself the items the index does not hold yet (Indexing stopped or
behind, or an item edited a moment ago), as the index would test them, up
to `[indexing] search_max_scanned` of them. The query language is the mail
search's (`roost.control.search.parse_query`): words and "phrases", each a
case-insensitive substring of at least three characters, all of which must
be found in the item (AND). The mail-only operators (`from:`, `to:`,
`subject:`, `has:`, `in:`, `before:`, `after:`) narrow a search to mail: a
query holding one finds no item.

Ranking: a title hit counts 4, the rest of the text 1; ties go to the item
changed last.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
import vobject

from roost.control.search import Query, QueryError, Segment, parse_query, snippet
from roost.core.config import IndexingSettings
from roost.store.db import Tx
from roost.store.groupware import Item
from roost.store.search import ItemDocument, ItemField, PendingItem, SearchField, fold
from roost.store.store import Store

__all__ = [
    "ItemHit",
    "ItemKind",
    "ItemPage",
    "ItemSearch",
    "QueryError",
    "item_document",
    "kind_of",
]

TITLE_WEIGHT = 4
TEXT_WEIGHT = 1
MAX_ITEM_TEXT_CHARS = 1_000_000
"""Text kept of one item (a DAV resource is bounded by `[dav] max_resource_bytes`
already; this bounds what a note of the webmail may add)."""

_CARD_PROPERTIES = (
    "n",
    "nickname",
    "email",
    "tel",
    "org",
    "title",
    "role",
    "adr",
    "categories",
    "note",
)
_CALENDAR_PROPERTIES = (
    "LOCATION",
    "DESCRIPTION",
    "ATTENDEE",
    "ORGANIZER",
    "CATEGORIES",
    "COMMENT",
)
_NAME_PARTS = ("prefix", "given", "additional", "family", "suffix")
_ADDRESS_PARTS = ("box", "extended", "street", "city", "region", "code", "country")


class ItemKind(enum.StrEnum):
    """What an item is to a user."""

    CONTACT = "contact"
    EVENT = "event"
    TASK = "task"
    NOTE = "note"


_KINDS = {
    "VCARD": ItemKind.CONTACT,
    "VEVENT": ItemKind.EVENT,
    "VTODO": ItemKind.TASK,
    "VJOURNAL": ItemKind.NOTE,
    "NOTE": ItemKind.NOTE,
}


def kind_of(component: str) -> ItemKind:
    """The kind of an item by its stored component; an unknown one is a note."""
    return _KINDS.get(component.upper(), ItemKind.NOTE)


# --- the searchable text


def item_document(component: str, title: str, data: str) -> ItemDocument:
    """The searchable text of one item; raises ValueError when its stored text
    cannot be read (the indexer records the error, a search skips it)."""
    match kind_of(component):
        case ItemKind.CONTACT:
            return _card_document(data)
        case ItemKind.NOTE if component.upper() == "NOTE":
            return ItemDocument(title=title, body=data[:MAX_ITEM_TEXT_CHARS])
        case _:
            return _calendar_document(component.upper(), data)


def _card_document(data: str) -> ItemDocument:
    try:
        card = vobject.readOne(data)
    except Exception as exc:
        raise ValueError(f"not a readable vCard: {_first_line(exc)}") from None
    contents: dict[str, list[Any]] = card.contents
    title = "\n".join(_flat(line.value) for line in contents.get("fn", ()))
    lines: list[str] = []
    for name in _CARD_PROPERTIES:
        lines += (_flat(line.value) for line in contents.get(name, ()))
    return ItemDocument(title=title, body=_joined(lines))


def _calendar_document(component: str, data: str) -> ItemDocument:
    try:
        # icalendar raises more than ValueError on text it cannot read, and a
        # property it could not parse raises on use: any of it is unreadable.
        return _read_calendar(component, data)
    except Exception as exc:
        raise ValueError(f"not readable iCalendar: {_first_line(exc)}") from None


def _read_calendar(component: str, data: str) -> ItemDocument:
    calendar = icalendar.Calendar.from_ical(data)
    found = [c for c in calendar.walk() if c.name == component]
    if not found:
        raise ValueError(f"the calendar object holds no {component}")
    master = next((c for c in found if "RECURRENCE-ID" not in c), found[0])
    titles = [str(master.get("SUMMARY", ""))]
    lines: list[str] = []
    for part in found:
        titles.append(str(part.get("SUMMARY", "")))
        for name in _CALENDAR_PROPERTIES:
            lines += _calendar_values(part.get(name))
    return ItemDocument(title=_joined(titles), body=_joined(lines))


def _calendar_values(value: Any) -> Iterator[str]:
    if value is None:
        return
    for one in value if isinstance(value, list) else (value,):
        cats = getattr(one, "cats", None)
        if cats is not None:
            yield ", ".join(str(c) for c in cats)
            continue
        params = getattr(one, "params", {})
        name = params.get("CN") if hasattr(params, "get") else None
        text = str(one)
        if text.lower().startswith("mailto:"):
            text = text[len("mailto:") :]
        yield f"{name} <{text}>" if name else text


def _flat(value: Any) -> str:
    """A vCard value as text: structured names and addresses part by part."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(_flat(v) for v in value if v)
    for parts in (_NAME_PARTS, _ADDRESS_PARTS):
        if all(hasattr(value, p) for p in parts):
            return " ".join(t for t in (_flat(getattr(value, p)) for p in parts) if t)
    return str(value)


def _joined(lines: Iterable[str]) -> str:
    """Distinct non-empty lines, in order, within the item's text bound."""
    text = "\n".join(dict.fromkeys(s.strip() for s in lines if s and s.strip()))
    return text[:MAX_ITEM_TEXT_CHARS]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# --- searching


@dataclass(frozen=True, slots=True)
class ItemHit:
    id: int
    kind: ItemKind
    collection: str
    """The collection's name (its path segment under CalDAV and CardDAV)."""
    name: str
    """The item's name in its collection (`….vcf`, `….ics`)."""
    uid: str
    component: str
    """As stored: VCARD, VEVENT, VTODO, VJOURNAL or NOTE."""
    title: str
    score: int
    updated_at: datetime.datetime
    starts_at: datetime.datetime | None
    snippet: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class ItemPage:
    hits: tuple[ItemHit, ...]
    total: int
    page: int
    per_page: int
    unindexed: int
    """Items without a current document (not indexed yet, or failed)."""
    scanned: int
    """Of the `unindexed`, those this search read and tested itself."""

    @property
    def unsearched(self) -> int:
        return self.unindexed - self.scanned


class ItemSearch:
    """Runs a query over one account's groupware items: the index, and a
    scan of what it lacks."""

    def __init__(self, store: Store, limits: IndexingSettings) -> None:
        self._store = store
        self._limits = limits

    def parse(self, text: str) -> Query:
        """The query in `text` (the mail search's language); QueryError if wrong."""
        return parse_query(text, self._limits)

    async def search(
        self,
        account_id: int,
        text: str,
        *,
        kinds: Iterable[ItemKind] | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> ItemPage:
        """The account's items (of `kinds`, or of every kind) that hold every
        word of `text`, best first."""
        query = self.parse(text)
        most = self._limits.search_max_per_page
        if page < 1 or not 1 <= per_page <= most:
            raise QueryError(f"page counts from 1, and per_page from 1 to {most}")
        wanted = frozenset(kinds) if kinds is not None else frozenset(ItemKind)
        if _mail_only(query):
            return ItemPage((), 0, page, per_page, 0, 0)
        needles = [term.text for term in query.terms]
        search = self._store.search
        scan_most = self._limits.search_max_scanned

        async def read(tx: Tx) -> tuple[dict[int, int], list[PendingItem], int]:
            status = await search.item_status(tx, account_id)
            missing: list[PendingItem] = []
            if status.items - status.indexed and scan_most:
                missing = await search.pending_items(
                    tx, account_id=account_id, limit=scan_most, with_failed=True, newest_first=True
                )
            scores: dict[int, int] | None = None
            for needle in needles:
                title = await search.matching_items(tx, account_id, ItemField.TITLE, needle)
                body = await search.matching_items(tx, account_id, ItemField.BODY, needle)
                term = {
                    i: TITLE_WEIGHT * (i in title) + TEXT_WEIGHT * (i in body) for i in title | body
                }
                scores = (
                    term
                    if scores is None
                    else {i: s + term[i] for i, s in scores.items() if i in term}
                )
            return scores or {}, missing, status.items - status.indexed

        scores, scan, unindexed = await self._store.read(read)
        for item in scan:
            score = _scan_score(item, needles)
            if score is not None:
                scores[item.id] = score
        found = await self._store.read(search.items_found, account_id, list(scores))
        ranked = sorted(
            (f for f in found if kind_of(f.item.component) in wanted),
            key=lambda f: (-scores[f.item.id], -f.item.updated_at.timestamp(), -f.item.id),
        )
        chosen = ranked[(page - 1) * per_page : page * per_page]
        hits = tuple(_hit(f.collection, f.item, scores[f.item.id], needles) for f in chosen)
        return ItemPage(hits, len(ranked), page, per_page, unindexed, len(scan))


def _mail_only(query: Query) -> bool:
    """Whether the query holds an operator that only mail has (a word limited
    to From, To or Subject, an attachment, a folder, a date)."""
    return (
        query.has_attachment
        or query.folder is not None
        or query.before is not None
        or query.after is not None
        or any(SearchField.BODY not in term.fields for term in query.terms)
    )


def _scan_score(item: PendingItem, needles: list[str]) -> int | None:
    """The score the index would give the item, or None when a word is missing
    (or the item cannot be read)."""
    try:
        document = item_document(item.component, item.title, item.data)
    except ValueError:
        return None
    title, body = fold(document.title), fold(document.body)
    score = 0
    for needle in needles:
        folded = fold(needle)
        term = TITLE_WEIGHT * (folded in title) + TEXT_WEIGHT * (folded in body)
        if not term:
            return None
        score += term
    return score


def _hit(collection: str, item: Item, score: int, needles: list[str]) -> ItemHit:
    try:
        document = item_document(item.component, item.title, item.data)
        text = document.body
        title = item.title or document.title.split("\n", 1)[0]
    except ValueError:
        text, title = "", item.title
    return ItemHit(
        id=item.id,
        kind=kind_of(item.component),
        collection=collection,
        name=item.name,
        uid=item.uid,
        component=item.component,
        title=title,
        score=score,
        updated_at=item.updated_at,
        starts_at=item.starts_at,
        snippet=snippet(text, needles),
    )
