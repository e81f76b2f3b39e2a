"""Rosters as the service sees them: the stored roster merged with the
domain roster, and the presence audiences both give (RFC 6121 §2, §4).

While ``[xmpp] domain_roster`` is on for a domain, every other user of the
domain is in each user's roster with subscription ``both``; a stored item
for such a contact only adds its name and groups, and removing it leaves
the domain's item. The roster version (RFC 6121 §2.6) combines the stored
roster's counter with a digest of the domain's part, so that a user added
to the domain changes the version too.

Per-user XML (vCard, private storage) is kept serialized and parsed back
with the service's own locked-down parser (`to_text`, `from_text`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from roost.proto.xmpp import Element, Jid, JidMalformed, serialize
from roost.proto.xmpp.parser import ParsedElement, parse_message
from roost.services.xmpp.directory import XmppDirectory
from roost.services.xmpp.subscription import BOTH, sees_presence, shares_presence
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import RosterItem

log = logging.getLogger(__name__)

ROSTER = "jabber:iq:roster"
MAX_STORED_XML_DEPTH = 64
"""Stored XML came from a stanza that passed the stream's depth limit."""


class Rosters:
    def __init__(self, store: Store, directory: XmppDirectory) -> None:
        self._store = store
        self._directory = directory

    def in_domain_roster(self, user: Jid, contact: Jid) -> bool:
        return (
            contact.local is not None
            and contact.resource is None
            and contact.domain == user.domain
            and contact != user
            and self._directory.domain_roster(user.domain)
        )

    async def view(self, user: Jid) -> tuple[str, list[RosterItem]]:
        """The version and the items the user sees."""
        contacts = await self._directory.contacts(user)
        stored = await self._store.read(self._store.xmpp.roster, str(user))
        own = {item.contact: item for item in stored.items}
        items: list[RosterItem] = []
        digest = hashlib.sha256()
        for contact in contacts:
            digest.update(f"{contact.jid}\0{contact.name}\n".encode())
            mine = own.pop(str(contact.jid), None)
            name = (mine.name if mine else None) or contact.name or None
            groups = mine.groups if mine else ()
            items.append(RosterItem(str(contact.jid), name, groups, BOTH))
        items += own.values()
        version = str(stored.version)
        if contacts:
            version += "-" + digest.hexdigest()[:12]
        return version, sorted(items, key=lambda i: i.contact)

    async def effective(self, user: Jid, contact: Jid) -> RosterItem | None:
        """The item for ``contact`` as the user sees it (for a push)."""
        mine = await self._store.read(self._store.xmpp.roster_item, str(user), str(contact))
        if self.in_domain_roster(user, contact) and await self._directory.exists(contact):
            base = RosterItem(str(contact), None, (), BOTH)
            if mine is not None and mine.listed:
                return replace(base, name=mine.name, groups=mine.groups)
            return base
        return mine if mine is not None and mine.listed else None

    async def version(self, user: Jid) -> str:
        return (await self.view(user))[0]

    async def watchers(self, user: Jid) -> set[Jid]:
        """Bare JIDs the user's presence goes to by subscription (stored
        ``from``/``both``); the domain roster's are added by the router."""
        return await self._select(user, shares_presence)

    async def watched(self, user: Jid) -> set[Jid]:
        """Bare JIDs whose presence the user receives by subscription."""
        return await self._select(user, sees_presence)

    async def pending_in(self, user: Jid) -> list[Jid]:
        """Contacts waiting for the user's answer to a subscription request."""
        items = await self._store.read(self._store.xmpp.items_of, str(user))
        return [jid for item in items if item.pending_in and (jid := _jid(item.contact))]

    async def _select(self, user: Jid, keep: object) -> set[Jid]:
        items = await self._store.read(self._store.xmpp.items_of, str(user))
        assert callable(keep)
        return {jid for item in items if keep(item) and (jid := _jid(item.contact)) is not None}


async def item_or_blank(tx: Tx, store: Store, owner: Jid, contact: Jid) -> RosterItem:
    """The stored item, or an unlisted one with no state."""
    found = await store.xmpp.roster_item(tx, str(owner), str(contact))
    return found if found is not None else RosterItem(str(contact), listed=False)


def roster_item_element(item: RosterItem, *, remove: bool = False) -> Element:
    """``<item/>`` of a roster result or push (RFC 6121 §2.1.2)."""
    attributes = {
        "jid": item.contact,
        "name": item.name or None,
        "subscription": "remove" if remove else item.subscription.value,
        "ask": "subscribe" if item.ask and not remove else None,
        "approved": "true" if item.approved and not remove else None,
    }
    groups = [Element.of("group", ROSTER, (), [g]) for g in item.groups] if not remove else []
    return Element.of("item", ROSTER, attributes, groups)


def to_text(element: Element) -> str:
    return serialize(element).decode("utf-8")


def from_text(text: str) -> Element | None:
    """Parse stored XML back; None (and a log line) if it cannot be."""
    data = text.encode("utf-8")
    item = parse_message(data, max_octets=len(data) + 1, max_depth=MAX_STORED_XML_DEPTH)
    if isinstance(item, ParsedElement):
        return item.element
    log.error("stored XMPP XML cannot be parsed back: %s", type(item).__name__)
    return None


def _jid(text: str) -> Jid | None:
    try:
        return Jid.parse(text)
    except JidMalformed:
        return None
