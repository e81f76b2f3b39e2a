"""Notes for the webmail: the items of the user's notes folders.

How a note is stored (a Groupware item of a `notes` collection; this module
is the one that writes them, `roost.control.item_search` reads them):

    component   "NOTE"
    uid         a random UUID; the item's name is the same UUID
    title       the note's title, one line (empty: the first line of the text,
                cut at `TITLE_CHARS`)
    data        the note's text, plain UTF-8 text, LF line ends, as written
    colour      one key of `PALETTE` ("" is the plain colour)

Notes folders are not served over CalDAV or CardDAV (there is no standard
for notes there); the Indexing service indexes them as `note` items, title
and text. Writes take one unit of work each and apply the same rules the
DAV writes do (`roost.control.groupware`): If-Match against the ETag the form
was made from, `[dav] max_items_per_collection`, `[dav] max_collections`,
the change log and the Indexing service's signal (both inside
`GroupwareStore.put_item`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from roost.control.groupware import GroupwareError, check_preconditions
from roost.core.config import DavSettings, WebmailSettings
from roost.core.errors import NotFound, RoostError
from roost.store.db import Tx
from roost.store.groupware import NOTES, Collection, Item, NewItem
from roost.store.store import Store

COMPONENT = "NOTE"
DEFAULT_FOLDER = "notes"
TITLE_CHARS = 200
PREVIEW_CHARS = 240
PREVIEW_LINES = 3
FOLDER_NAME_CHARS = 100
PALETTE = {
    "": "Plain",
    "yellow": "Yellow",
    "green": "Green",
    "blue": "Blue",
    "pink": "Pink",
    "purple": "Purple",
    "grey": "Grey",
}
"""The colours a note may have: key (stored) and the word the page shows."""
_FOLDER_SLUG = re.compile(r"[^a-z0-9]+")
CHANGED_ELSEWHERE = (
    "This note was changed elsewhere (in another window) after you opened it, so your "
    "changes were not saved. Open it again to see the current version."
)


class NoteRefused(RoostError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Note:
    folder: str
    name: str
    etag: str
    title: str
    text: str
    colour: str
    updated_at: datetime

    @property
    def preview(self) -> str:
        """The first lines of the text, for the list."""
        lines = [line for line in self.text.splitlines() if line.strip()]
        if lines and lines[0].strip() == self.title.strip():
            lines = lines[1:]
        shown = "\n".join(lines[:PREVIEW_LINES])
        return shown[:PREVIEW_CHARS] + ("…" if len(shown) > PREVIEW_CHARS else "")


@dataclass(frozen=True, slots=True)
class NoteList:
    folder: Collection
    folders: list[Collection]
    notes: list[Note]
    """The newest first, at most `[webmail] notes_max_listed`."""
    total: int


def note_of(folder: str, item: Item) -> Note:
    return Note(
        folder=folder,
        name=item.name,
        etag=item.etag,
        title=item.title or title_from(item.data),
        text=item.data,
        colour=item.colour if item.colour in PALETTE else "",
        updated_at=item.updated_at,
    )


def title_from(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:TITLE_CHARS] or "(empty note)"


def folder_name_for(display_name: str) -> str:
    """A folder's name (its path segment) from the name the user gave it."""
    slug = _FOLDER_SLUG.sub("-", display_name.casefold()).strip("-")[:60]
    return slug or "folder"


class Notes:
    def __init__(self, store: Store, webmail: WebmailSettings, dav: DavSettings) -> None:
        self._store = store
        self._webmail = webmail
        self._dav = dav

    # --- folders

    async def folders(self, account_id: int) -> list[Collection]:
        role = self._store.groupware
        found = await self._store.read(role.collections, account_id, NOTES)
        if found:
            return found
        count: int = await self._store.read(role.collection_count, account_id)
        if count == 0:
            await self._store.write(role.ensure_defaults, account_id)
            return await self._store.read(role.collections, account_id, NOTES)

        async def default(tx: Tx) -> None:
            await role.create_collection(
                tx, account_id, NOTES, DEFAULT_FOLDER, display_name="Notes", components=[COMPONENT]
            )

        await self._store.write(default)
        return await self._store.read(role.collections, account_id, NOTES)

    async def folder(self, account_id: int, name: str) -> Collection:
        found = await self._store.read(self._store.groupware.collection, account_id, NOTES, name)
        if found is None:
            raise NotFound(f"You have no notes folder {name!r}.")
        return found

    async def add_folder(self, account_id: int, display_name: str) -> Collection:
        display_name = _folder_title(display_name)
        role = self._store.groupware
        limit = self._dav.max_collections

        async def work(tx: Tx) -> Collection:
            if await role.collection_count(tx, account_id) >= limit:
                raise NoteRefused(
                    f"You have the most folders and calendars allowed ({limit}).", 507
                )
            base = folder_name_for(display_name)
            for number in range(1, limit + 2):
                name = base if number == 1 else f"{base}-{number}"
                made = await role.create_collection(
                    tx,
                    account_id,
                    NOTES,
                    name,
                    display_name=display_name,
                    components=[COMPONENT],
                )
                if made is not None:
                    return made
            raise NoteRefused("Choose another name for the folder.", 409)

        return await self._store.write(work)

    async def rename_folder(self, account_id: int, name: str, display_name: str) -> Collection:
        folder = await self.folder(account_id, name)
        made = await self._store.write(
            self._store.groupware.update_collection,
            folder.id,
            display_name=_folder_title(display_name),
        )
        if made is None:
            raise NotFound("That folder was deleted meanwhile.")
        return made

    async def delete_folder(self, account_id: int, name: str) -> None:
        """Delete a folder and its notes; the last notes folder stays."""
        folder = await self.folder(account_id, name)
        if len(await self.folders(account_id)) <= 1:
            raise NoteRefused("This is your only notes folder: it cannot be deleted.", 409)
        await self._store.write(self._store.groupware.delete_collection, folder.id)

    # --- notes

    async def listing(self, account_id: int, folder: str = "") -> NoteList:
        folders = await self.folders(account_id)
        chosen = next((f for f in folders if f.name == folder), None)
        if chosen is None:
            if folder:
                raise NotFound(f"You have no notes folder {folder!r}.")
            chosen = next((f for f in folders if f.name == DEFAULT_FOLDER), folders[0])
        items = await self._store.read(self._store.groupware.items, chosen.id)
        notes = sorted(
            (note_of(chosen.name, i) for i in items if i.component == COMPONENT),
            key=lambda n: n.updated_at,
            reverse=True,
        )
        return NoteList(chosen, folders, notes[: self._webmail.notes_max_listed], len(notes))

    async def note(self, account_id: int, folder: str, name: str) -> Note:
        collection = await self.folder(account_id, folder)
        item = await self._store.read(self._store.groupware.item, collection.id, name)
        if item is None or item.component != COMPONENT:
            raise NotFound("That note does not exist (any more).")
        return note_of(folder, item)

    def checked(self, title: str, text: str, colour: str) -> tuple[str, str, str]:
        title = title.strip()
        if "\n" in title or "\r" in title:
            raise NoteRefused("The title must be one line of text.")
        if len(title) > TITLE_CHARS:
            raise NoteRefused(f"The title is longer than {TITLE_CHARS} characters.")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        limit = self._webmail.notes_max_chars
        if len(text) > limit:
            raise NoteRefused(f"The note is longer than {limit} characters ({len(text)}).", 413)
        if not title and not text.strip():
            raise NoteRefused("Write a title or some text.")
        if colour not in PALETTE:
            raise NoteRefused("Choose one of the colours offered.")
        return title, text, colour

    async def save(
        self,
        account_id: int,
        folder: str,
        name: str | None,
        *,
        title: str,
        text: str,
        colour: str,
        etag: str = "",
    ) -> Note:
        """Create (`name` None) or change a note; a change only while its ETag is `etag`."""
        title, text, colour = self.checked(title, text, colour)
        collection = await self.folder(account_id, folder)
        role = self._store.groupware
        limit = self._dav.max_items_per_collection
        uid = str(uuid.uuid4()) if name is None else ""

        async def work(tx: Tx) -> Item:
            current = None if name is None else await role.item(tx, collection.id, name)
            if name is not None:
                if current is None or current.component != COMPONENT:
                    raise NoteRefused("That note was deleted elsewhere: nothing was saved.", 404)
                try:
                    check_preconditions(current, f'"{etag}"', None)
                except GroupwareError:
                    raise NoteRefused(CHANGED_ELSEWHERE, 412) from None
            elif await role.item_count(tx, collection.id) >= limit:
                raise NoteRefused(f"This folder holds its limit of {limit} notes.", 507)
            new = NewItem(
                name=name or uid,
                uid=current.uid if current else uid,
                component=COMPONENT,
                data=text,
                title=title,
                colour=colour,
            )
            return await role.put_item(tx, collection.id, new)

        return note_of(folder, await self._store.write(work))

    async def delete(self, account_id: int, folder: str, name: str, etag: str) -> None:
        collection = await self.folder(account_id, folder)
        role = self._store.groupware

        async def work(tx: Tx) -> None:
            current = await role.item(tx, collection.id, name)
            if current is None or current.component != COMPONENT:
                raise NoteRefused("That note was deleted elsewhere already.", 404)
            try:
                check_preconditions(current, f'"{etag}"', None)
            except GroupwareError:
                raise NoteRefused(CHANGED_ELSEWHERE, 412) from None
            await role.delete_item(tx, collection.id, name)

        await self._store.write(work)


def _folder_title(display_name: str) -> str:
    display_name = display_name.strip()
    if not display_name:
        raise NoteRefused("Give the folder a name.")
    if "\n" in display_name or "\r" in display_name:
        raise NoteRefused("The folder's name must be one line of text.")
    if len(display_name) > FOLDER_NAME_CHARS:
        raise NoteRefused(f"The folder's name is longer than {FOLDER_NAME_CHARS} characters.")
    return display_name


__all__ = ["PALETTE", "Note", "NoteList", "NoteRefused", "Notes", "folder_name_for", "note_of"]
