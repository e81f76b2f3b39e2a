"""The IQs the server answers itself, on its own behalf or on an account's.

Dispatch is a dict from the payload's (namespace, name, type) to a
handler; everything else is ``service-unavailable`` (RFC 6120 §8.4;
clients wait for an answer to every get and set). What is here is
exactly what XEP-0030 disco#info advertises:

- XEP-0030 service discovery: disco#info and disco#items;
- XEP-0199 ping;
- XEP-0092 software version (the server's name and version, not its OS);
- RFC 6121 §2 roster get, set and push, with versioning (§2.6): the
  stored roster merged with the domain roster (`roost.services.xmpp.roster`);
- XEP-0191 blocking command;
- XEP-0054 vcard-temp and XEP-0049 private XML storage;
- XEP-0280 message carbons (enable and disable; the copies are the
  router's);
- XEP-0160 offline messages (the router's), advertised as ``msgoffline``.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import roost
from roost.core.config import XmppServiceSettings
from roost.proto.xmpp import (
    Element,
    Iq,
    Jid,
    JidMalformed,
    StanzaErrorCondition,
    error_reply,
    iq_result,
)
from roost.services.xmpp import blocking, caps
from roost.services.xmpp.roster import (
    ROSTER,
    Rosters,
    from_text,
    item_or_blank,
    roster_item_element,
    to_text,
)
from roost.services.xmpp.sessions import ChatState, Outlet, SessionManager
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import RosterItem

DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
PING = "urn:xmpp:ping"
VERSION = "jabber:iq:version"
VCARD = "vcard-temp"
PRIVATE = "jabber:iq:private"
CARBONS = "urn:xmpp:carbons:2"
OFFLINE = "msgoffline"

SERVER_FEATURES = (DISCO_INFO, DISCO_ITEMS, PING, VERSION, CARBONS, OFFLINE)
"""disco#info of the server (XEP-0030 §3.1): only what a test exercises."""
ACCOUNT_FEATURES = (DISCO_INFO, DISCO_ITEMS, blocking.BLOCKING, VCARD, PRIVATE)
"""disco#info of an account's bare JID: what the server does for it."""
SOFTWARE_NAME = "Roost"
CAPS_NODE = "urn:x-roost:server"
"""The XEP-0115 ``node`` of the server's own capabilities (§4: a URI
naming the software)."""
CAPS = "http://jabber.org/protocol/caps"
MAX_ROSTER_NAME_CHARS = 1024
MAX_JID_CHARS = 1024
"""Roster and block-list JIDs are stored in columns of this size."""

_push_ids = itertools.count(1)


class LegacyBookmarks(Protocol):
    """XEP-0402 §5.3: private storage of ``storage:bookmarks`` kept in PEP."""

    async def legacy_bookmarks(self, owner: Jid) -> Element | None: ...

    async def store_legacy_bookmarks(self, owner: Jid, storage: Element) -> str | None:
        """Keep them; why not, if they cannot be kept."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    """An IQ get or set the server answers: to the server (``account`` None)
    or to an account (``account`` its bare JID), from ``session``."""

    iq: Iq
    sender: Jid
    account: Jid | None
    session: Outlet | None = None

    @property
    def own(self) -> bool:
        """Is the IQ for the sender's own account?"""
        return self.account is not None and self.account == self.sender.bare


Handler = Callable[[Request], Awaitable[Element]]


class ServerIqs:
    def __init__(
        self,
        store: Store,
        rosters: Rosters,
        blocks: blocking.Blocks,
        sessions: SessionManager,
        config: XmppServiceSettings,
    ) -> None:
        self._store = store
        self._rosters = rosters
        self._blocks = blocks
        self._sessions = sessions
        self._config = config
        self._server_features: tuple[str, ...] = SERVER_FEATURES
        self._account_features: tuple[str, ...] = ACCOUNT_FEATURES
        self._account_identities: tuple[dict[str, str], ...] = (
            {"category": "account", "type": "registered"},
        )
        self._items: tuple[str, ...] = ()
        """Labels of the components under each hosted domain (disco#items)."""
        self.bookmarks: LegacyBookmarks | None = None
        """Where ``storage:bookmarks`` lives instead of private storage."""
        self.on_block: Callable[[Jid, list[Jid]], Awaitable[None]] | None = None
        """Called after a user blocked JIDs (the router sends unavailable)."""
        self.on_remove: Callable[[Jid, Jid, RosterItem], Awaitable[None]] | None = None
        """Called after a roster remove with the item that was removed (the
        router cancels the subscriptions both ways, RFC 6121 §2.5.2)."""
        self._handlers: dict[tuple[str, str, str], Handler] = {
            (DISCO_INFO, "query", "get"): self._disco_info,
            (DISCO_ITEMS, "query", "get"): self._disco_items,
            (PING, "ping", "get"): self._ping,
            (VERSION, "query", "get"): self._version,
            (ROSTER, "query", "get"): self._roster_get,
            (ROSTER, "query", "set"): self._roster_set,
            (blocking.BLOCKING, "blocklist", "get"): self._blocklist,
            (blocking.BLOCKING, "block", "set"): self._block,
            (blocking.BLOCKING, "unblock", "set"): self._unblock,
            (VCARD, "vCard", "get"): self._vcard_get,
            (VCARD, "vCard", "set"): self._vcard_set,
            (PRIVATE, "query", "get"): self._private_get,
            (PRIVATE, "query", "set"): self._private_set,
            (CARBONS, "enable", "set"): self._carbons_enable,
            (CARBONS, "disable", "set"): self._carbons_disable,
        }

    async def answer(self, request: Request) -> Element:
        """The result or error for a get or set; never raises for the client."""
        payload = request.iq.payload
        handler = None
        if payload is not None:
            handler = self._handlers.get((payload.namespace, payload.name, request.iq.type))
        if handler is None:
            return error_reply(request.iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        return await handler(request)

    def add(self, namespace: str, name: str, kind: str, handler: Handler) -> None:
        """Answer IQs of *kind* whose payload is ``{namespace}name`` (an extension's)."""
        self._handlers[(namespace, name, kind)] = handler

    def advertise(
        self,
        *,
        account: tuple[str, ...] = (),
        server: tuple[str, ...] = (),
        account_identity: dict[str, str] | None = None,
    ) -> None:
        """Features (and an identity) an extension adds to disco#info (XEP-0030 §3.1)."""
        self._account_features += account
        self._server_features += server
        if account_identity is not None:
            self._account_identities += (account_identity,)

    def add_item(self, label: str) -> None:
        """List ``<label>.<domain>`` in the domain's disco#items (XEP-0030 §4)."""
        self._items += (label,)

    def push(self, user: Jid, payload: Element, wants: Callable[[ChatState], bool]) -> None:
        """An IQ set from the account to each of its sessions that ``wants`` it
        (RFC 6121 §2.1.6; XEP-0191 §3.3)."""
        for session in self._sessions.resources(user):
            if session.jid is not None and wants(session.chat):
                attributes = {
                    "type": "set",
                    "id": f"push-{next(_push_ids)}",
                    "from": str(user),
                    "to": str(session.jid),
                }
                session.deliver(Element.of("iq", "jabber:client", attributes, [payload]))

    async def push_roster_item(self, user: Jid, contact: Jid) -> None:
        """Tell the user's interested resources how ``contact``'s item is now."""
        item = await self._rosters.effective(user, contact)
        version = await self._rosters.version(user)
        element = (
            roster_item_element(RosterItem(str(contact)), remove=True)
            if item is None
            else roster_item_element(item)
        )
        query = Element.of("query", ROSTER, {"ver": version}, [element])
        self.push(user, query, lambda chat: chat.roster_requested)

    # --- disco, ping, version

    def server_info(self, node: str | None = None) -> Element:
        """The server's disco#info (XEP-0030 §3.1), under ``node`` if given."""
        identity = {"category": "server", "type": "im", "name": SOFTWARE_NAME}
        return _info(node, (identity,), self._server_features)

    def server_caps(self) -> Element:
        """``<c/>`` for the server's stream features (XEP-0115 §6.3), once
        every extension has advertised its features."""
        ver = caps.ver_of(self.server_info(), "sha-1")
        assert ver is not None
        return Element.of("c", CAPS, {"hash": "sha-1", "node": CAPS_NODE, "ver": ver})

    async def _disco_info(self, request: Request) -> Element:
        assert request.iq.payload is not None
        node = request.iq.payload.get("node")
        if request.account is None:
            # XEP-0115 §6.2: the info behind the ``ver`` of our stream features.
            if node is not None and node != f"{CAPS_NODE}#{self.server_caps().get('ver')}":
                return error_reply(request.iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
            return _result(request, self.server_info(node))
        if node is not None:
            return error_reply(request.iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
        info = _info(None, self._account_identities, self._account_features)
        return _result(request, info)

    async def _disco_items(self, request: Request) -> Element:
        assert request.iq.payload is not None
        if request.iq.payload.get("node") is not None:
            return error_reply(request.iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
        items = []
        if request.account is None:
            domain = (request.iq.to or request.sender).domain
            items = [Element.of("item", DISCO_ITEMS, {"jid": f"{x}.{domain}"}) for x in self._items]
        return _result(request, Element.of("query", DISCO_ITEMS, (), items))

    async def _ping(self, request: Request) -> Element:
        return _result(request, None)

    async def _version(self, request: Request) -> Element:
        if request.account is not None:
            # XEP-0092 asks the software of an entity; an account has none.
            return error_reply(request.iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        children = [
            Element.of("name", VERSION, (), [SOFTWARE_NAME]),
            Element.of("version", VERSION, (), [roost.__version__]),
        ]
        return _result(request, Element.of("query", VERSION, (), children))

    # --- roster (RFC 6121 §2)

    async def _roster_get(self, request: Request) -> Element:
        if not request.own:
            return _refuse(request, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        assert request.account is not None and request.iq.payload is not None
        if request.session is not None:
            request.session.chat.roster_requested = True
        version, items = await self._rosters.view(request.account)
        if request.iq.payload.get("ver") == version:
            return _result(request, None)  # §2.6.3: nothing changed, pushes follow
        query = Element.of("query", ROSTER, {"ver": version}, map(roster_item_element, items))
        return _result(request, query)

    async def _roster_set(self, request: Request) -> Element:
        """§2.3 and §2.5: exactly one item; ``subscription`` only ``remove``."""
        if not request.own:
            return _refuse(request, StanzaErrorCondition.FORBIDDEN)
        user = request.account
        assert user is not None and request.iq.payload is not None
        items = [e for e in request.iq.payload.elements() if e.matches("item", ROSTER)]
        if len(items) != 1:
            return _refuse(request, StanzaErrorCondition.BAD_REQUEST, "one item per roster set")
        element = items[0]
        try:
            contact = Jid.parse(element.get("jid") or "")
        except JidMalformed as exc:
            return _refuse(request, StanzaErrorCondition.JID_MALFORMED, str(exc))
        if len(str(contact)) > MAX_JID_CHARS or contact.bare == user:
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "not a roster contact")
        subscription = element.get("subscription")
        if subscription == "remove":
            return await self._roster_remove(request, user, contact)
        if subscription not in (None, "none", "to", "from", "both"):
            return _refuse(request, StanzaErrorCondition.BAD_REQUEST, "unknown subscription")
        name = element.get("name") or None
        groups = tuple(dict.fromkeys(g.text for g in element.elements() if g.name == "group"))
        if any(not g.strip() or "\n" in g for g in groups):
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "empty group name")
        if name is not None and len(name) > MAX_ROSTER_NAME_CHARS:
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "name too long")

        async def update(tx: Tx) -> None:
            found = await item_or_blank(tx, self._store, user, contact)
            changed = replace(found, name=name, groups=groups, listed=True)
            await self._store.xmpp.put_roster_item(tx, str(user), changed)

        await self._store.write(update)
        await self.push_roster_item(user, contact)
        return _result(request, None)

    async def _roster_remove(self, request: Request, user: Jid, contact: Jid) -> Element:
        """§2.5.2: the item goes, and the subscriptions both ways with it."""
        found = await self._store.read(self._store.xmpp.roster_item, str(user), str(contact))
        if found is None or not found.listed:
            if not self._rosters.in_domain_roster(user, contact):
                return _refuse(request, StanzaErrorCondition.ITEM_NOT_FOUND)
            return _result(request, None)  # the domain roster's item stays
        await self._store.write(self._store.xmpp.remove_roster_item, str(user), str(contact))
        if self.on_remove is not None:
            await self.on_remove(user, contact, found)
        await self.push_roster_item(user, contact)
        return _result(request, None)

    # --- XEP-0191 blocking

    async def _blocklist(self, request: Request) -> Element:
        if not request.own:
            return _refuse(request, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        assert request.account is not None
        if request.session is not None:
            request.session.chat.blocklist_requested = True
        entries = sorted(await self._blocks.of(request.account), key=str)
        items = [Element.of("item", blocking.BLOCKING, {"jid": str(j)}) for j in entries]
        return _result(request, Element.of("blocklist", blocking.BLOCKING, (), items))

    async def _block(self, request: Request) -> Element:
        jids = self._block_items(request)
        if isinstance(jids, Element):
            return jids
        if not jids:
            return _refuse(request, StanzaErrorCondition.BAD_REQUEST, "no item to block")
        user = request.account
        assert user is not None
        added = await self._blocks.block(user, jids)
        if added:
            items = [Element.of("item", blocking.BLOCKING, {"jid": str(j)}) for j in added]
            payload = Element.of("block", blocking.BLOCKING, (), items)
            self.push(user, payload, lambda chat: chat.blocklist_requested)
            if self.on_block is not None:
                await self.on_block(user, added)
        return _result(request, None)

    async def _unblock(self, request: Request) -> Element:
        jids = self._block_items(request)
        if isinstance(jids, Element):
            return jids
        user = request.account
        assert user is not None
        gone = await self._blocks.unblock(user, jids or None)
        if gone:
            items = (
                []
                if not jids
                else [Element.of("item", blocking.BLOCKING, {"jid": str(j)}) for j in gone]
            )
            payload = Element.of("unblock", blocking.BLOCKING, (), items)
            self.push(user, payload, lambda chat: chat.blocklist_requested)
        return _result(request, None)

    def _block_items(self, request: Request) -> list[Jid] | Element:
        if not request.own:
            return _refuse(request, StanzaErrorCondition.FORBIDDEN)
        assert request.iq.payload is not None
        jids = blocking.items_of(request.iq.payload)
        if jids is None:
            return _refuse(request, StanzaErrorCondition.JID_MALFORMED)
        if any(len(str(j)) > MAX_JID_CHARS for j in jids):
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "JID too long")
        return jids

    # --- XEP-0054 vcard-temp

    async def _vcard_get(self, request: Request) -> Element:
        """Anyone's vCard may be read (XEP-0054 §3.2); none is an empty one."""
        owner = request.account or request.sender.bare
        if request.account is None or owner.local is None:
            return _refuse(request, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        stored = await self._store.read(self._store.xmpp.user_xml, str(owner), "vcard")
        element = from_text(stored) if stored else None
        return _result(request, element or Element("vCard", VCARD))

    async def _vcard_set(self, request: Request) -> Element:
        if not request.own:
            return _refuse(request, StanzaErrorCondition.FORBIDDEN)
        assert request.account is not None and request.iq.payload is not None
        xml = to_text(request.iq.payload)
        if len(xml.encode()) > self._config.max_vcard_bytes:
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "vCard too large")
        await self._store.write(self._store.xmpp.put_user_xml, str(request.account), "vcard", xml)
        return _result(request, None)

    # --- XEP-0049 private XML storage

    async def _private_get(self, request: Request) -> Element:
        found = self._private_child(request)
        if isinstance(found, tuple):
            return found[0]
        assert request.account is not None
        if self.bookmarks is not None and found.matches("storage", "storage:bookmarks"):
            kept = await self.bookmarks.legacy_bookmarks(request.account)
            if kept is not None:
                return _result(request, Element.of("query", PRIVATE, (), [kept]))
        key = _private_key(found)
        stored = await self._store.read(self._store.xmpp.user_xml, str(request.account), key)
        element = (from_text(stored) if stored else None) or found
        return _result(request, Element.of("query", PRIVATE, (), [element]))

    async def _private_set(self, request: Request) -> Element:
        found = self._private_child(request)
        if isinstance(found, tuple):
            return found[0]
        assert request.account is not None
        xml = to_text(found)
        if len(xml.encode()) > self._config.max_private_bytes:
            return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "private XML too large")
        if self.bookmarks is not None and found.matches("storage", "storage:bookmarks"):
            refused = await self.bookmarks.store_legacy_bookmarks(request.account, found)
            if refused is not None:
                return _refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, refused)
            return _result(request, None)
        key = _private_key(found)
        await self._store.write(self._store.xmpp.put_user_xml, str(request.account), key, xml)
        return _result(request, None)

    def _private_child(self, request: Request) -> Element | tuple[Element]:
        """The one child to store or fetch (XEP-0049 §2), or the error."""
        if not request.own:
            return (_refuse(request, StanzaErrorCondition.FORBIDDEN),)
        assert request.iq.payload is not None
        children = list(request.iq.payload.elements())
        if len(children) != 1:
            return (_refuse(request, StanzaErrorCondition.BAD_REQUEST, "one child element"),)
        child = children[0]
        if not child.namespace or child.namespace.startswith("jabber:"):
            # §3: a namespace of the protocol itself cannot be stored.
            return (_refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "reserved namespace"),)
        if len(child.namespace) + len(child.name) > MAX_JID_CHARS:
            return (_refuse(request, StanzaErrorCondition.NOT_ACCEPTABLE, "namespace too long"),)
        return child

    # --- XEP-0280 carbons

    async def _carbons_enable(self, request: Request) -> Element:
        return self._carbons(request, enabled=True)

    async def _carbons_disable(self, request: Request) -> Element:
        return self._carbons(request, enabled=False)

    def _carbons(self, request: Request, *, enabled: bool) -> Element:
        if request.session is None or (request.account is not None and not request.own):
            return _refuse(request, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        request.session.chat.carbons = enabled
        return _result(request, None)


def _private_key(element: Element) -> str:
    return f"private {element.namespace} {element.name}"


def _refuse(request: Request, condition: StanzaErrorCondition, text: str | None = None) -> Element:
    return error_reply(request.iq.stanza, condition, text=text)


def _result(request: Request, payload: Element | None) -> Element:
    """A result from the address the IQ was sent to (the server's domain or
    the account), to the sender's full JID."""
    return iq_result(request.iq.stanza, payload)


def ping(to: Jid, sender: str, iq_id: str) -> Element:
    """A server-to-client ping (XEP-0199 §4.2)."""
    attributes = {"type": "get", "id": iq_id, "from": sender, "to": str(to)}
    return Element.of("iq", "jabber:client", attributes, [Element("ping", PING)])


def _info(
    node: str | None, identities: tuple[dict[str, str], ...], features: tuple[str, ...]
) -> Element:
    children = [Element.of("identity", DISCO_INFO, i) for i in identities]
    children += [Element.of("feature", DISCO_INFO, {"var": var}) for var in features]
    return Element.of("query", DISCO_INFO, {"node": node}, children)
