"""XEP-0191 blocking command: the block list, its IQs and its checks.

A blocked JID matches as XEP-0191 §3.1 (through XEP-0016 §2.1) says: an
entry that is a domain blocks every JID of the domain, a bare JID every
resource of it, a full JID that resource only.

Effects (§3.3, §3.5): nothing from a blocked JID reaches the user (a
message or presence is dropped, an IQ get or set is answered with
``service-unavailable``), and what the user sends to one is refused with
``not-acceptable`` and ``<blocked xmlns='urn:xmpp:blocking:errors'/>``;
blocking a contact sends it the user's unavailable presence.

Lists are cached per user in this process once read and kept current by
the changes made through it.
"""

from __future__ import annotations

from roost.proto.xmpp import Element, Jid, JidMalformed, StanzaErrorCondition, error_reply
from roost.store.store import Store

BLOCKING = "urn:xmpp:blocking"
BLOCKING_ERRORS = "urn:xmpp:blocking:errors"


class Blocks:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[Jid, frozenset[Jid]] = {}

    async def of(self, user: Jid) -> frozenset[Jid]:
        found = self._cache.get(user)
        if found is None:
            listed = await self._store.read(self._store.xmpp.blocked, str(user))
            found = frozenset(j for text in listed if (j := _jid(text)) is not None)
            self._cache[user] = found
        return found

    async def blocks(self, user: Jid, other: Jid) -> bool:
        """Has ``user`` (bare) blocked ``other``?"""
        entries = await self.of(user)
        if not entries:
            return False
        return other in entries or other.bare in entries or Jid(None, other.domain) in entries

    async def block(self, user: Jid, jids: list[Jid]) -> list[Jid]:
        added = await self._store.write(self._store.xmpp.block, str(user), [str(j) for j in jids])
        self._cache.pop(user, None)
        return [j for text in added if (j := _jid(text)) is not None]

    async def unblock(self, user: Jid, jids: list[Jid] | None) -> list[Jid]:
        texts = None if jids is None else [str(j) for j in jids]
        gone = await self._store.write(self._store.xmpp.unblock, str(user), texts)
        self._cache.pop(user, None)
        return [j for text in gone if (j := _jid(text)) is not None]


def blocked_error(stanza: Element) -> Element:
    """The answer to a stanza the user sent to a JID it blocked (§3.5)."""
    reply = error_reply(stanza, StanzaErrorCondition.NOT_ACCEPTABLE)
    error = next(reply.elements())
    error = error.with_children([*error.children, Element("blocked", BLOCKING_ERRORS)])
    return reply.with_children([error])


def items_of(payload: Element) -> list[Jid] | None:
    """The JIDs of a block or unblock request; None if one is malformed."""
    out: list[Jid] = []
    for item in payload.elements():
        if not item.matches("item", BLOCKING):
            continue
        jid = _jid(item.get("jid") or "")
        if jid is None:
            return None
        out.append(jid)
    return out


def _jid(text: str) -> Jid | None:
    try:
        return Jid.parse(text)
    except JidMalformed:
        return None
