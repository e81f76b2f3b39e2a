"""The user's contacts for the webmail: listing and search over every address
book, a contact's change under its ETag, delete, .vcf import and export.

The cards themselves (their fields, the merge of an edit, groups, a file's
cards) are `roost.control.contact_cards`. Every write goes through
`roost.control.groupware.Groupware`, as a CardDAV PUT or DELETE does:
validation, size and count limits (`[dav]`), If-Match against the ETag the
form was made from, the change log and the Indexing service's signal. The
listing reads every card of the user's books (parsed in a thread) and shows
at most `[webmail] contacts_max_listed` of them; a search is a
case-insensitive substring of the name, an e-mail address, a phone number,
the organisation or the job title, every word of the query found.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from roost.control.contact_cards import (
    CHANGED_ELSEWHERE,
    NEW_VERSION,
    Contact,
    ContactFields,
    ContactRefused,
    Group,
    build_card,
    checked,
    completed,
    contact_of,
    export_text,
    groups_of,
    in_group,
    item_name_for,
    version_of,
    with_member,
)
from roost.control.groupware import Groupware, GroupwareError
from roost.control.vcard_text import parse_props, split_cards
from roost.core.config import WebmailSettings
from roost.core.errors import NotFound
from roost.store.groupware import ADDRESSBOOK, Collection, Item
from roost.store.store import Store


@dataclass(frozen=True, slots=True)
class ContactList:
    contacts: list[Contact]
    """Those shown: the first `limit` that match, by name."""
    matched: int
    total: int
    groups: list[Group]
    books: list[Collection]


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int = 0
    updated: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    """(card number in the file, from 1; why it was not imported)."""


# --- the operations


class Contacts:
    """The user's contacts across their address books."""

    def __init__(self, store: Store, groupware: Groupware, settings: WebmailSettings) -> None:
        self._store = store
        self._groupware = groupware
        self._settings = settings

    async def books(self, account_id: int) -> list[Collection]:
        role = self._store.groupware
        found = await self._store.read(role.collections, account_id, ADDRESSBOOK)
        if found:
            return found
        count: int = await self._store.read(role.collection_count, account_id)
        if count:
            return found
        await self._store.write(role.ensure_defaults, account_id)
        return await self._store.read(role.collections, account_id, ADDRESSBOOK)

    async def book(self, account_id: int, name: str) -> Collection:
        found = await self._store.read(
            self._store.groupware.collection, account_id, ADDRESSBOOK, name
        )
        if found is None:
            raise NotFound(f"You have no address book {name!r}.")
        return found

    async def all_cards(self, account_id: int) -> tuple[list[Collection], list[Contact]]:
        books = await self.books(account_id)
        role = self._store.groupware
        items: list[tuple[str, Item]] = []
        for book in books:
            items += [(book.name, i) for i in await self._store.read(role.items, book.id)]
        cards = await asyncio.to_thread(lambda: [contact_of(b, i) for b, i in items])
        return books, cards

    async def listing(self, account_id: int, query: str = "", group: str = "") -> ContactList:
        books, cards = await self.all_cards(account_id)
        words = [w.casefold() for w in query.split()]
        people = [c for c in cards if not c.is_group]
        found = [
            c
            for c in people
            if (not words or c.matches(words)) and (not group or in_group(c, group, cards))
        ]
        found.sort(key=lambda c: (c.display_name.casefold(), c.name))
        limit = self._settings.contacts_max_listed
        return ContactList(found[:limit], len(found), len(people), groups_of(cards), books)

    async def contact(self, account_id: int, book: str, name: str) -> Contact:
        collection = await self.book(account_id, book)
        item = await self._store.read(self._store.groupware.item, collection.id, name)
        if item is None:
            raise NotFound("That contact does not exist (any more).")
        return contact_of(book, item)

    async def save(
        self,
        account_id: int,
        book: str,
        name: str | None,
        fields: ContactFields,
        etag: str,
    ) -> Contact:
        """Create (`name` None) or change a contact; the change only if the card's
        ETag is still `etag`."""
        collection = await self.book(account_id, book)
        role = self._store.groupware
        original: Item | None = None
        if name is not None:
            original = await self._store.read(role.item, collection.id, name)
            if original is None:
                raise ContactRefused("That contact was deleted elsewhere: nothing was saved.", 404)
            if original.etag != etag:
                raise ContactRefused(CHANGED_ELSEWHERE, 412)
        version = version_of(parse_props(original.data)) if original else NEW_VERSION
        fields = checked(fields, version or NEW_VERSION)
        uid = str(uuid.uuid4())
        text = build_card(fields, original.data if original else None, uid)
        target = name or item_name_for(uid)
        try:
            written = await self._groupware.put(
                collection,
                target,
                text,
                if_match=f'"{etag}"' if name is not None else None,
                if_none_match="*" if name is None else None,
            )
        except GroupwareError as exc:
            raise _refused(exc) from None
        return contact_of(book, written.item)

    async def group_cards(self, account_id: int, book: str) -> list[Contact]:
        """The group cards (another app's groups) of one address book, by name."""
        collection = await self.book(account_id, book)
        items = await self._store.read(self._store.groupware.items, collection.id)
        cards = await asyncio.to_thread(lambda: [contact_of(book, i) for i in items])
        return sorted((c for c in cards if c.is_group), key=lambda c: c.display_name.casefold())

    async def set_group_cards(
        self, account_id: int, contact: Contact, changes: dict[str, bool]
    ) -> list[str]:
        """Put the contact in (True) or take it out of (False) the group cards of
        its book that `changes` names (item names); the others are left alone.
        Each group card is written under its ETag as read here. What could not
        be changed, in words."""
        if not changes:
            return []
        collection = await self.book(account_id, contact.book)
        problems: list[str] = []
        for group in await self.group_cards(account_id, contact.book):
            if group.name not in changes:
                continue
            text = await self._text(collection, group.name)
            changed = with_member(text, contact.uid, changes[group.name]) if text else None
            if changed is None:
                continue
            try:
                await self._groupware.put(
                    collection, group.name, changed, if_match=f'"{group.etag}"', if_none_match=None
                )
            except GroupwareError as exc:
                why = "it changed elsewhere meanwhile" if exc.status == 412 else exc.message
                problems.append(f"The group {group.display_name} was not changed: {why}.")
        return problems

    async def _text(self, collection: Collection, name: str) -> str:
        item = await self._store.read(self._store.groupware.item, collection.id, name)
        return item.data if item is not None else ""

    async def delete(self, account_id: int, book: str, name: str, etag: str) -> None:
        collection = await self.book(account_id, book)
        try:
            await self._groupware.delete(collection, name, if_match=f'"{etag}"')
        except GroupwareError as exc:
            raise _refused(exc) from None

    async def import_vcf(self, account_id: int, book: str, data: bytes) -> ImportReport:
        """Each card of a .vcf file into the book: the good ones stored (a card
        whose UID the book has replaces it), the bad ones reported by number."""
        collection = await self.book(account_id, book)
        if len(data) > self._settings.contacts_import_max_bytes:
            raise ContactRefused(
                f"The file is larger than {self._settings.contacts_import_max_bytes} bytes.", 413
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        cards = list(split_cards(text))
        if not cards:
            raise ContactRefused("The file holds no vCard (BEGIN:VCARD … END:VCARD).")
        if len(cards) > self._settings.contacts_import_max_cards:
            raise ContactRefused(
                f"The file holds {len(cards)} cards; one import takes at most "
                f"{self._settings.contacts_import_max_cards}."
            )
        added, updated = 0, 0
        problems: list[tuple[int, str]] = []
        role = self._store.groupware
        for number, card in enumerate(cards, start=1):
            try:
                ready = completed(card)
                uid = self._groupware.parse(collection, ready).uid
                current = await self._store.read(role.item_by_uid, collection.id, uid)
                written = await self._groupware.put(
                    collection,
                    current.name if current else item_name_for(uid),
                    ready,
                    if_match=f'"{current.etag}"' if current else None,
                    if_none_match=None if current else "*",
                )
            except ContactRefused as exc:
                problems.append((number, str(exc)))
            except GroupwareError as exc:
                problems.append((number, exc.message))
            else:
                added += written.created
                updated += not written.created
        return ImportReport(added, updated, problems)

    async def export(self, account_id: int, book: str, name: str | None = None) -> str:
        collection = await self.book(account_id, book)
        role = self._store.groupware
        if name is None:
            return export_text(i.data for i in await self._store.read(role.items, collection.id))
        item = await self._store.read(role.item, collection.id, name)
        if item is None:
            raise NotFound("That contact does not exist (any more).")
        return export_text([item.data])


def _refused(exc: GroupwareError) -> ContactRefused:
    if exc.status == 412:
        return ContactRefused(CHANGED_ELSEWHERE, 412)
    if exc.status == 404:
        return ContactRefused("That contact was deleted elsewhere: nothing was changed.", 404)
    return ContactRefused(exc.message, exc.status if exc.status in (409, 413, 507) else 400)
