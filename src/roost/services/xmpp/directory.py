"""The directory as XMPP sees it: hosted domains, accounts, the domain roster.

Every enabled account of a hosted mail domain is a chat account with the
same address (as its bare JID) and password. The hosted domains are read
when a stream opens, so a domain added in the console serves the next
connection. With ``[xmpp] domain_roster`` on (the default), a user's
roster holds every other enabled account of the domain, subscribed both
ways, beside the contacts the user stored (`roost.services.xmpp.roster`).
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.core.config import XmppServiceSettings
from roost.proto.xmpp import Jid, JidMalformed
from roost.store.db import Tx
from roost.store.store import Store


@dataclass(frozen=True, slots=True)
class Contact:
    jid: Jid
    name: str


class XmppDirectory:
    def __init__(self, store: Store, settings: XmppServiceSettings, fallback: str) -> None:
        self._store = store
        self._roster_on = settings.domain_roster
        self._roster_off = frozenset(d.lower() for d in settings.domain_roster_off)
        self._fallback = fallback
        self._domains: frozenset[str] = frozenset()

    async def refresh(self) -> tuple[str, ...]:
        """The hosted domains, read now; never empty (the stream core needs a
        name for itself, so with no domain yet the node name stands in)."""
        found = await self._store.read(self._store.directory.domains)
        names = tuple(d.name for d in found)
        self._domains = frozenset(names)
        return names or (self._fallback,)

    def is_local(self, domain: str) -> bool:
        return domain in self._domains

    def domain_roster(self, domain: str) -> bool:
        return self._roster_on and domain not in self._roster_off

    async def exists(self, bare: Jid) -> bool:
        """Is there an enabled account at this bare JID?"""
        if bare.local is None:
            return False
        directory = self._store.directory
        known = directory.known_enabled(str(bare))
        if known is not None:
            return known
        return await self._store.read(directory.account_enabled, str(bare))

    async def alias_members(self, bare: Jid) -> list[Jid]:
        """The enabled accounts a mail alias at ``bare`` delivers to (through
        nested aliases too); empty if ``bare`` is an account or no alias."""
        if bare.local is None or not self.is_local(bare.domain):
            return []
        directory = self._store.directory
        address = str(bare)

        async def look(tx: Tx) -> list[str]:
            if await directory.find_account(tx, address) is not None:
                return []
            found = [a for a in await directory.aliases(tx, bare.domain) if a.address == address]
            if not found:
                return []
            resolution = await directory.resolve(tx, address, "")
            return [] if resolution is None else list(resolution.accounts)

        members = []
        for account in await self._store.read(look):
            try:
                jid = Jid.parse(account)
            except JidMalformed:
                continue
            if await self.exists(jid):
                members.append(jid)
        return members

    async def contacts(self, user: Jid) -> list[Contact]:
        """The roster of ``user`` (RFC 6121 §2.1.2): the domain's other
        enabled accounts while the domain roster is on."""
        if not self.domain_roster(user.domain):
            return []
        found = await self._store.read(self._store.directory.accounts, user.domain)
        contacts = []
        for account in found:
            if not account.enabled or account.address == str(user):
                continue
            try:
                jid = Jid.parse(account.address)
            except JidMalformed:
                continue  # a mail address XMPP cannot name (RFC 7622)
            contacts.append(Contact(jid, account.display_name))
        return contacts
