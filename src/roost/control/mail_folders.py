"""A mail user's folders as the webmail shows and changes them.

The folders are the IMAP service's mailboxes, read and changed through the
Mail role, so an IMAP client sees every change (the role appends it to the
change feed). The list puts INBOX and the special-use folders first, in the
order users expect (RFC 6154 roles), then the others by name; each carries
its message and unread counts. Deleting a folder removes its messages for
good, so the face asks for a confirmation; INBOX, the special-use folders
and a folder with subfolders are refused with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from roost.core.errors import InvalidName
from roost.store.db import Tx
from roost.store.mail import DELIMITER, normalise_mailbox_name
from roost.store.store import Store
from roost.store.types import Mailbox, SpecialUse

SPECIAL_ORDER: dict[SpecialUse | None, int] = {
    None: 0,  # INBOX (the only folder sorted by this key with a None role)
    SpecialUse.DRAFTS: 1,
    SpecialUse.SENT: 2,
    SpecialUse.ARCHIVE: 3,
    SpecialUse.JUNK: 4,
    SpecialUse.TRASH: 5,
    SpecialUse.FLAGGED: 6,
    SpecialUse.ALL: 7,
}
OTHERS = len(SPECIAL_ORDER)
STATE_CHARS = 24


@dataclass(frozen=True, slots=True)
class Folder:
    id: int
    name: str
    """The full name, levels separated by `DELIMITER`."""
    label: str
    """The last level: what the list shows, indented by `depth`."""
    depth: int
    special_use: SpecialUse | None
    messages: int
    unread: int

    @property
    def special(self) -> bool:
        return self.name == "INBOX" or self.special_use is not None


@dataclass(frozen=True, slots=True)
class Quota:
    used_bytes: int
    limit_bytes: int
    """0: no limit."""
    used_messages: int
    limit_messages: int

    @property
    def percent(self) -> int | None:
        if not self.limit_bytes:
            return None
        return min(100, round(100 * self.used_bytes / self.limit_bytes))


def _sort_key(box: Mailbox) -> tuple[int, str]:
    if box.name == "INBOX":
        return (0, "")
    if box.special_use is not None and "/" not in box.name:
        return (SPECIAL_ORDER[box.special_use], box.name)
    # The others by name, a folder's subfolders right after it.
    return (OTHERS, box.name.casefold().replace(DELIMITER, "\0"))


class MailFolders:
    def __init__(self, store: Store, max_folders: int) -> None:
        self._store = store
        self._max_folders = max_folders

    async def folders(self, account_id: int) -> list[Folder]:
        """Every folder with its counts, special folders first (the count kept on the
        mailbox row, the unread ones in one query over an index)."""
        mail = self._store.mail

        async def work(tx: Tx) -> list[Folder]:
            boxes = sorted(await mail.mailboxes(tx, account_id), key=_sort_key)
            unseen = await self._store.mail_list.unseen_counts(tx, [b.id for b in boxes])
            return [
                Folder(
                    id=box.id,
                    name=box.name,
                    label=box.name.rpartition(DELIMITER)[2],
                    depth=box.name.count(DELIMITER),
                    special_use=box.special_use,
                    messages=box.message_count,
                    unread=unseen.get(box.id, 0),
                )
                for box in boxes
            ]

        return await self._store.read(work)

    async def state(self, account_id: int) -> str:
        """A short token that changes whenever any folder of the account changes: a
        message arrives or goes (UIDNEXT, the count), a flag changes (HIGHESTMODSEQ,
        RFC 7162 §3.1.2.1), a folder is made, renamed or deleted. One query, so an
        open page can ask every few seconds."""
        boxes = await self._store.read(self._store.mail.mailboxes, account_id)
        digest = hashlib.sha256()
        for box in boxes:
            line = (
                f"{box.id}\0{box.name}\0{box.uidnext}\0{box.highest_modseq}\0{box.message_count}\n"
            )
            digest.update(line.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:STATE_CHARS]

    async def quota(self, address: str) -> Quota:
        account = await self._store.read(self._store.directory.account, address)
        return Quota(
            account.used_bytes, account.quota_bytes, account.used_messages, account.quota_messages
        )

    async def create(self, account_id: int, name: str, parent: str = "") -> Mailbox:
        name = _check_level(name)
        full = normalise_mailbox_name(f"{parent}{DELIMITER}{name}" if parent else name)
        mail = self._store.mail

        async def work(tx: Tx) -> Mailbox:
            existing = await mail.mailboxes(tx, account_id)
            if len(existing) >= self._max_folders:
                raise InvalidName(
                    f"You have {len(existing)} folders, the most allowed "
                    f"(webmail max_folders = {self._max_folders})."
                )
            if parent:
                await mail.mailbox(tx, account_id, parent)  # NotFound when it is gone
            return await mail.create_mailbox(tx, account_id, full)

        return await self._store.write(work)

    async def rename(self, account_id: int, old: str, new_label: str) -> Mailbox:
        """Give a folder a new last level; its subfolders move with it."""
        new_label = _check_level(new_label)
        mail = self._store.mail

        async def work(tx: Tx) -> Mailbox:
            box = await mail.mailbox(tx, account_id, old)
            _check_own(box, "renamed")
            parent = box.name.rpartition(DELIMITER)[0]
            new = f"{parent}{DELIMITER}{new_label}" if parent else new_label
            return await mail.rename_mailbox(tx, account_id, box.name, new)

        return await self._store.write(work)

    async def delete(self, account_id: int, name: str) -> int:
        """Delete an empty-of-subfolders folder and its messages; how many messages went."""
        mail = self._store.mail

        async def work(tx: Tx) -> int:
            box = await mail.mailbox(tx, account_id, name)
            _check_own(box, "deleted")
            prefix = box.name + DELIMITER
            if any(b.name.startswith(prefix) for b in await mail.mailboxes(tx, account_id)):
                raise InvalidName(f"{box.name!r} has subfolders: delete or move them first.")
            await mail.delete_mailbox(tx, account_id, box.name)
            return box.message_count

        return await self._store.write(work)


def _check_level(label: str) -> str:
    label = label.strip()
    if not label:
        raise InvalidName("A folder needs a name.")
    if DELIMITER in label:
        raise InvalidName(f"A folder name may not contain {DELIMITER!r}: choose a parent instead.")
    return label


def _check_own(box: Mailbox, verb: str) -> None:
    if box.name == "INBOX" or box.special_use is not None:
        raise InvalidName(f"{box.name!r} is a special folder and cannot be {verb}.")
