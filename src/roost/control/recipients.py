"""Address completion for the compose page: who the user may mean by "ann".

Three sources, each bounded by a `[webmail]` setting: the recipients of the
newest messages in the user's Sent folder (read from the MIME structure kept
at delivery, no message bytes), the accounts of the user's own domain (the
domain directory), and the e-mail addresses of the user's contacts (their
CardDAV address books). A match is a substring of the name or the address,
case-insensitive; recent recipients come first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from roost.control.compose_mime import valid_address
from roost.control.groupware import card_values
from roost.proto.mime import MessageStructure, StructureDecodeError
from roost.proto.mime.parser import parse_bytes
from roost.store.db import Tx
from roost.store.groupware import ADDRESSBOOK
from roost.store.store import Store
from roost.store.types import SpecialUse

MAX_QUERY_CHARS = 100
MAX_CACHED_ACCOUNTS = 100


@dataclass(frozen=True, slots=True)
class Suggestion:
    name: str
    address: str
    source: str
    """`recent`, `directory` or `contacts`."""


@dataclass(frozen=True, slots=True)
class CompletionLimits:
    scan_messages: int
    max_contacts: int
    max_results: int


class Recipients:
    def __init__(self, store: Store, limits: CompletionLimits) -> None:
        self._store = store
        self._limits = limits
        self._contacts: dict[int, tuple[tuple[int, ...], list[Suggestion]]] = {}
        """Parsed cards by account, kept while the address books' tokens stay the same."""

    async def complete(self, account_id: int, address: str, query: str) -> list[Suggestion]:
        wanted = query.strip().casefold()[:MAX_QUERY_CHARS]
        if not wanted:
            return []
        found: list[Suggestion] = []
        seen: set[str] = {address.lower()}
        for source in (
            await self._recent(account_id),
            await self._directory(address),
            await self._contacts_of(account_id),
        ):
            for s in source:
                key = s.address.lower()
                if key in seen or (wanted not in key and wanted not in s.name.casefold()):
                    continue
                seen.add(key)
                found.append(s)
                if len(found) >= self._limits.max_results:
                    return found
        return found

    async def _recent(self, account_id: int) -> list[Suggestion]:
        mail = self._store.mail
        limit = self._limits.scan_messages

        async def work(tx: Tx) -> tuple[dict[int, str | None], list[str]]:
            boxes = await mail.mailboxes(tx, account_id)
            sent = next((b for b in boxes if b.special_use is SpecialUse.SENT), None)
            if sent is None or sent.uidnext <= 1:
                return {}, []
            uids = [(max(1, sent.uidnext - limit), sent.uidnext - 1)]
            structures = await mail.structures(tx, sent.id, uids)
            missing = [(u, u) for u, raw in structures.items() if raw is None]
            # A message put there without a kept structure (an old import): its bytes.
            infos = await mail.messages(tx, sent.id, missing) if missing else []
            return structures, [i.blob_hash for i in infos]

        structures, unparsed = await self._store.read(work)
        envelopes = []
        for uid in sorted(structures, reverse=True):
            raw = structures[uid]
            if raw is None:
                continue
            try:
                envelopes.append(MessageStructure.from_json(raw).envelope)
            except StructureDecodeError:
                continue
        if unparsed:
            blobs = await self._store.blobs.read_many(unparsed)
            parsed = await asyncio.to_thread(lambda: [parse_bytes(b).envelope for b in blobs])
            envelopes += reversed(parsed)
        out: list[Suggestion] = []
        for envelope in envelopes:
            for field in (envelope.to, envelope.cc, envelope.bcc):
                for a in field.mailboxes() if field else ():
                    if valid_address(a.addr_spec):
                        out.append(Suggestion(a.display_name or "", a.addr_spec, "recent"))
        return out

    async def _directory(self, address: str) -> list[Suggestion]:
        domain = address.rpartition("@")[2]
        accounts = await self._store.read(self._store.directory.accounts, domain)
        return [Suggestion(a.display_name, a.address, "directory") for a in accounts if a.enabled]

    async def _contacts_of(self, account_id: int) -> list[Suggestion]:
        groupware = self._store.groupware
        books = await self._store.read(groupware.collections, account_id, ADDRESSBOOK)
        key = tuple(b.modseq for b in books)
        cached = self._contacts.get(account_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        limit = self._limits.max_contacts

        async def work(tx: Tx) -> list[str]:
            cards: list[str] = []
            for book in books:
                if len(cards) >= limit:
                    break
                cards += [item.data for item in await groupware.items(tx, book.id)]
            return cards[:limit]

        out = await asyncio.to_thread(_suggestions, await self._store.read(work))
        if len(self._contacts) >= MAX_CACHED_ACCOUNTS:
            self._contacts.pop(next(iter(self._contacts)))
        self._contacts[account_id] = (key, out)
        return out


def _suggestions(cards: list[str]) -> list[Suggestion]:
    """Each card's e-mail addresses with its FN (vobject parses: in a thread)."""
    out: list[Suggestion] = []
    for card in cards:
        values = card_values(card)
        name = (values.get("FN") or [""])[0]
        for email in values.get("EMAIL", []):
            if valid_address(email.strip()):
                out.append(Suggestion(name, email.strip(), "contacts"))
    return out
