"""The Groupware role: address books, calendars, task lists and notes folders.

A collection belongs to one account and has a kind (`addressbook`,
`calendar`, `notes`) and a name (its path segment under CalDAV and CardDAV).
An item is kept as the client's text (vCard, iCalendar, or a note's text)
beside the fields queries need: UID, component, start and end in UTC,
whether it recurs. Parsing and its limits live in `roost.control.groupware`;
this role stores what it is given.

Sync (RFC 6578): every change to a collection takes the next number of the
collection's `modseq` and writes it on the item and on the item name's row
in `gw_changes`, which stays after a delete as a tombstone. A sync token is
that number: the changes since token N are the rows above N.

Every item write also raises the global counter `groupware` (in `counters`,
inside the same unit of work) and, after the commit, calls the callbacks given
to `listen`: the Indexing service reads that one number to tell whether any
item changed since it last looked, and is woken at once on this node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import counters, gw_changes, gw_collections, gw_items

ADDRESSBOOK = "addressbook"
CALENDAR = "calendar"
NOTES = "notes"
KINDS = (ADDRESSBOOK, CALENDAR, NOTES)

_NAMES_PER_QUERY = 500
"""Names asked about in one IN list (SQLite allows 32766 parameters)."""
CHANGE_COUNTER = "groupware"
"""The row of `counters` that every item write raises (migration 0021)."""
_NEXT_CHANGE = (
    counters.update()
    .where(counters.c.name == CHANGE_COUNTER)
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)


@dataclass(frozen=True, slots=True)
class Collection:
    id: int
    account_id: int
    kind: str
    name: str
    display_name: str
    description: str
    colour: str
    components: tuple[str, ...]
    """What a calendar holds (`VEVENT`, `VTODO`); `VCARD` or `NOTE` otherwise."""
    modseq: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewItem:
    name: str
    uid: str
    component: str
    data: str
    title: str = ""
    colour: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    recurring: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    collection_id: int
    name: str
    uid: str
    component: str
    etag: str
    data: str
    title: str
    colour: str
    starts_at: datetime | None
    ends_at: datetime | None
    recurring: bool
    modseq: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Changes:
    modseq: int
    """The collection's token now."""
    changed: tuple[str, ...]
    deleted: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DefaultCollection:
    kind: str
    name: str
    display_name: str
    components: tuple[str, ...]


DEFAULTS = (
    DefaultCollection(ADDRESSBOOK, "contacts", "Contacts", ("VCARD",)),
    DefaultCollection(CALENDAR, "calendar", "Calendar", ("VEVENT",)),
    DefaultCollection(CALENDAR, "tasks", "Tasks", ("VTODO",)),
    DefaultCollection(NOTES, "notes", "Notes", ("NOTE",)),
)
"""What every user starts with: an address book, a calendar, a task list, a notes folder."""


def etag_of(data: str) -> str:
    """A strong entity tag: the same text always has the same tag."""
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _collection(row: sa.Row[Any]) -> Collection:
    return Collection(
        id=int(row.id),
        account_id=int(row.account_id),
        kind=str(row.kind),
        name=str(row.name),
        display_name=str(row.display_name),
        description=str(row.description),
        colour=str(row.colour),
        components=tuple(c for c in str(row.components).split(",") if c),
        modseq=int(row.modseq),
        created_at=row.created_at,
    )


def _item(row: sa.Row[Any]) -> Item:
    return Item(
        id=int(row.id),
        collection_id=int(row.collection_id),
        name=str(row.name),
        uid=str(row.uid),
        component=str(row.component),
        etag=str(row.etag),
        data=str(row.data),
        title=str(row.title),
        colour=str(row.colour),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        recurring=bool(row.recurring),
        modseq=int(row.modseq),
        updated_at=row.updated_at,
    )


class GroupwareStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    # --- the change signal (for the Indexing service)

    async def change_mark(self, tx: Tx) -> int:
        """The number of item writes so far (it only grows)."""
        value = await tx.scalar(
            sa.select(counters.c.value).where(counters.c.name == CHANGE_COUNTER)
        )
        return int(value or 0)

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after each commit that changed an item on this
        node; returns the function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    async def _count_change(self, tx: Tx) -> None:
        if await tx.scalar(_NEXT_CHANGE) is None:
            await tx.execute(counters.insert().values(name=CHANGE_COUNTER, value=1))
        tx.after_commit(self._changed)

    # --- collections

    async def ensure_defaults(self, tx: Tx, account_id: int) -> list[Collection]:
        """The user's collections, creating the defaults on first use (when the
        user has none at all: one who deleted a default does not get it back)."""
        found = await self.collections(tx, account_id)
        if found:
            return found
        for default in DEFAULTS:
            await self.create_collection(
                tx,
                account_id,
                default.kind,
                default.name,
                display_name=default.display_name,
                components=default.components,
            )
        return await self.collections(tx, account_id)

    async def collections(
        self, tx: Tx, account_id: int, kind: str | None = None
    ) -> list[Collection]:
        query = sa.select(gw_collections).where(gw_collections.c.account_id == account_id)
        if kind is not None:
            query = query.where(gw_collections.c.kind == kind)
        rows = await tx.execute(query.order_by(gw_collections.c.kind, gw_collections.c.name))
        return [_collection(r) for r in rows]

    async def collection(self, tx: Tx, account_id: int, kind: str, name: str) -> Collection | None:
        row = (
            await tx.execute(
                sa.select(gw_collections).where(
                    gw_collections.c.account_id == account_id,
                    gw_collections.c.kind == kind,
                    gw_collections.c.name == name,
                )
            )
        ).one_or_none()
        return None if row is None else _collection(row)

    async def collection_by_id(self, tx: Tx, collection_id: int) -> Collection | None:
        row = (
            await tx.execute(sa.select(gw_collections).where(gw_collections.c.id == collection_id))
        ).one_or_none()
        return None if row is None else _collection(row)

    async def create_collection(
        self,
        tx: Tx,
        account_id: int,
        kind: str,
        name: str,
        *,
        display_name: str = "",
        description: str = "",
        colour: str = "",
        components: Sequence[str] = (),
    ) -> Collection | None:
        """A new collection, or None when the user has one of that kind and name."""
        if kind not in KINDS:
            raise ValueError(f"unknown collection kind {kind!r}")
        if await self.collection(tx, account_id, kind, name) is not None:
            return None
        await tx.execute(
            gw_collections.insert().values(
                account_id=account_id,
                kind=kind,
                name=name,
                display_name=display_name or name,
                description=description,
                colour=colour,
                components=",".join(components),
                modseq=0,
                created_at=self._clock.now(),
            )
        )
        return await self.collection(tx, account_id, kind, name)

    async def update_collection(
        self,
        tx: Tx,
        collection_id: int,
        *,
        display_name: str | None = None,
        description: str | None = None,
        colour: str | None = None,
    ) -> Collection | None:
        values = {
            key: value
            for key, value in (
                ("display_name", display_name),
                ("description", description),
                ("colour", colour),
            )
            if value is not None
        }
        if values:
            await tx.execute(
                gw_collections.update().where(gw_collections.c.id == collection_id).values(values)
            )
        return await self.collection_by_id(tx, collection_id)

    async def delete_collection(self, tx: Tx, collection_id: int) -> bool:
        await self._count_change(tx)
        await tx.execute(gw_changes.delete().where(gw_changes.c.collection_id == collection_id))
        await tx.execute(gw_items.delete().where(gw_items.c.collection_id == collection_id))
        done = await tx.execute(gw_collections.delete().where(gw_collections.c.id == collection_id))
        return bool(done.rowcount)

    async def collection_count(self, tx: Tx, account_id: int) -> int:
        found = await tx.execute(
            sa.select(sa.func.count()).where(gw_collections.c.account_id == account_id)
        )
        return int(found.scalar_one())

    # --- items

    async def item_count(self, tx: Tx, collection_id: int) -> int:
        found = await tx.execute(
            sa.select(sa.func.count()).where(gw_items.c.collection_id == collection_id)
        )
        return int(found.scalar_one())

    async def items(self, tx: Tx, collection_id: int) -> list[Item]:
        rows = await tx.execute(
            sa.select(gw_items)
            .where(gw_items.c.collection_id == collection_id)
            .order_by(gw_items.c.name)
        )
        return [_item(r) for r in rows]

    async def item(self, tx: Tx, collection_id: int, name: str) -> Item | None:
        row = (
            await tx.execute(
                sa.select(gw_items).where(
                    gw_items.c.collection_id == collection_id, gw_items.c.name == name
                )
            )
        ).one_or_none()
        return None if row is None else _item(row)

    async def items_named(self, tx: Tx, collection_id: int, names: Sequence[str]) -> list[Item]:
        """The items of these names that exist, in name order."""
        found: list[Item] = []
        wanted = sorted(set(names))
        for start in range(0, len(wanted), _NAMES_PER_QUERY):
            rows = await tx.execute(
                sa.select(gw_items).where(
                    gw_items.c.collection_id == collection_id,
                    gw_items.c.name.in_(wanted[start : start + _NAMES_PER_QUERY]),
                )
            )
            found.extend(_item(r) for r in rows)
        return sorted(found, key=lambda i: i.name)

    async def item_by_uid(self, tx: Tx, collection_id: int, uid: str) -> Item | None:
        row = (
            await tx.execute(
                sa.select(gw_items)
                .where(gw_items.c.collection_id == collection_id, gw_items.c.uid == uid)
                .limit(1)
            )
        ).one_or_none()
        return None if row is None else _item(row)

    async def items_in_range(
        self,
        tx: Tx,
        collection_id: int,
        component: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[Item]:
        """Items of one component that may overlap [start, end): every recurring
        one (its instances are checked by the caller), those without a start, and
        those whose stored span meets the range."""
        query = sa.select(gw_items).where(
            gw_items.c.collection_id == collection_id, gw_items.c.component == component
        )
        overlap = []
        if end is not None:
            overlap.append(sa.or_(gw_items.c.starts_at.is_(None), gw_items.c.starts_at < end))
        if start is not None:
            overlap.append(
                sa.or_(
                    gw_items.c.ends_at.is_(None),
                    gw_items.c.ends_at > start,
                    sa.and_(
                        gw_items.c.ends_at == gw_items.c.starts_at, gw_items.c.ends_at >= start
                    ),
                )
            )
        if overlap:
            query = query.where(sa.or_(gw_items.c.recurring.is_(True), sa.and_(*overlap)))
        rows = await tx.execute(query.order_by(gw_items.c.name))
        return [_item(r) for r in rows]

    async def put_item(self, tx: Tx, collection_id: int, new: NewItem) -> Item:
        """Create or replace the item of this name; the collection's next change."""
        modseq = await self._next_modseq(tx, collection_id)
        values = {
            "uid": new.uid,
            "component": new.component,
            "etag": etag_of(new.data),
            "data": new.data,
            "title": new.title,
            "colour": new.colour,
            "starts_at": new.starts_at,
            "ends_at": new.ends_at,
            "recurring": new.recurring,
            "modseq": modseq,
            "updated_at": self._clock.now(),
        }
        done = await tx.execute(
            gw_items.update()
            .where(gw_items.c.collection_id == collection_id, gw_items.c.name == new.name)
            .values(values)
        )
        if not done.rowcount:
            await tx.execute(
                gw_items.insert().values(collection_id=collection_id, name=new.name, **values)
            )
        await self._log(tx, collection_id, new.name, modseq, deleted=False)
        item = await self.item(tx, collection_id, new.name)
        assert item is not None
        return item

    async def delete_item(self, tx: Tx, collection_id: int, name: str) -> bool:
        done = await tx.execute(
            gw_items.delete().where(
                gw_items.c.collection_id == collection_id, gw_items.c.name == name
            )
        )
        if not done.rowcount:
            return False
        modseq = await self._next_modseq(tx, collection_id)
        await self._log(tx, collection_id, name, modseq, deleted=True)
        return True

    async def changes_since(self, tx: Tx, collection_id: int, modseq: int) -> Changes | None:
        """What changed after token `modseq`; None for a token this collection never gave."""
        current = await tx.execute(
            sa.select(gw_collections.c.modseq).where(gw_collections.c.id == collection_id)
        )
        now = current.scalar_one_or_none()
        if now is None or modseq < 0 or modseq > int(now):
            return None
        rows = await tx.execute(
            sa.select(gw_changes.c.name, gw_changes.c.deleted)
            .where(gw_changes.c.collection_id == collection_id, gw_changes.c.modseq > modseq)
            .order_by(gw_changes.c.modseq)
        )
        changed: list[str] = []
        deleted: list[str] = []
        for row in rows:
            (deleted if row.deleted else changed).append(str(row.name))
        return Changes(int(now), tuple(changed), tuple(deleted))

    async def _next_modseq(self, tx: Tx, collection_id: int) -> int:
        await tx.execute(
            gw_collections.update()
            .where(gw_collections.c.id == collection_id)
            .values(modseq=gw_collections.c.modseq + 1)
        )
        found = await tx.execute(
            sa.select(gw_collections.c.modseq).where(gw_collections.c.id == collection_id)
        )
        value = found.scalar_one_or_none()
        if value is None:
            raise LookupError(f"no collection {collection_id}")
        return int(value)

    async def _log(
        self, tx: Tx, collection_id: int, name: str, modseq: int, *, deleted: bool
    ) -> None:
        await self._count_change(tx)
        done = await tx.execute(
            gw_changes.update()
            .where(gw_changes.c.collection_id == collection_id, gw_changes.c.name == name)
            .values(modseq=modseq, deleted=deleted)
        )
        if not done.rowcount:
            await tx.execute(
                gw_changes.insert().values(
                    collection_id=collection_id, name=name, modseq=modseq, deleted=deleted
                )
            )
