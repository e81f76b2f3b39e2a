"""XEP-0163 personal eventing: a pubsub service at every account's bare JID.

What is built (XEP-0060 names; the account disco#info says exactly this):

- publish (§7.1), auto-creating the node (XEP-0163 §3) with the
  publish-options of §7.1.5: ``pubsub#access_model`` (``presence``, the
  default, ``open`` or ``whitelist`` — the owner only), ``pubsub#max_items``
  (a number or ``max``, bounded by ``[xmpp] pep_max_items``),
  ``pubsub#persist_items`` (items are always kept, so only ``true``), and
  ``pubsub#send_last_published_item``. Options that an existing node does
  not satisfy earn ``conflict`` with ``precondition-not-met``;
- retrieve items (§6.5): all, the newest ``max_items``, or by id;
- retract (§7.2), with a retract notification.

Notifications (XEP-0163 §4) go as headline messages to the owner's
available resources and, unless the node is ``whitelist``, to the
available resources of those who see the owner's presence, when their
entity capabilities (`roost.services.xmpp.caps`) list ``node+notify``.
When a session's capabilities become known it is sent the newest item of
each node it wants (§4.3.2), unless the node says ``never``.

XEP-0402 compatibility (§5.3, ``urn:xmpp:bookmarks:1#compat``): XEP-0049
private storage of ``storage:bookmarks`` (XEP-0048) reads from and writes
to the ``urn:xmpp:bookmarks:1`` node, one item per conference.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from roost.core.config import XmppServiceSettings
from roost.proto.xmpp import Element, Jid, StanzaErrorCondition, error_reply, iq_result
from roost.services.xmpp.caps import wants
from roost.services.xmpp.iq import Request
from roost.services.xmpp.roster import from_text, to_text
from roost.services.xmpp.sessions import Outlet, SessionManager
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import PepItem, PepNode

PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
ERRORS = "http://jabber.org/protocol/pubsub#errors"
DATA_FORMS = "jabber:x:data"
PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
CLIENT = "jabber:client"
BOOKMARKS2 = "urn:xmpp:bookmarks:1"
BOOKMARKS_COMPAT = "urn:xmpp:bookmarks:1#compat"
LEGACY_BOOKMARKS = "storage:bookmarks"
ACCESS_MODELS = ("presence", "open", "whitelist")
SEND_LAST = ("never", "on_sub", "on_sub_and_presence")

FEATURES = (
    PUBSUB,
    f"{PUBSUB}#publish",
    f"{PUBSUB}#publish-options",
    f"{PUBSUB}#auto-create",
    f"{PUBSUB}#retrieve-items",
    f"{PUBSUB}#retract-items",
    f"{PUBSUB}#persistent-items",
    f"{PUBSUB}#filtered-notifications",
    f"{PUBSUB}#last-published",
    f"{PUBSUB}#access-presence",
    f"{PUBSUB}#access-open",
    f"{PUBSUB}#access-whitelist",
    BOOKMARKS_COMPAT,
)
"""What an account's disco#info adds (XEP-0163 §6, XEP-0060 §10)."""
IDENTITY = {"category": "pubsub", "type": "pep"}

Watchers = Callable[[Jid], Awaitable[set[Jid]]]
"""Who sees the owner's presence (the router's answer)."""


class PepError(Exception):
    def __init__(
        self, condition: StanzaErrorCondition, text: str | None = None, *, app: str | None = None
    ) -> None:
        super().__init__(text or condition.value)
        self.condition = condition
        self.text = text
        self.app = app
        """A pubsub#errors condition (XEP-0060 §7.1.3) to add, if any."""


@dataclass(frozen=True, slots=True)
class Options:
    access_model: str | None = None
    max_items: int | None = None
    send_last: str | None = None


class Pep:
    def __init__(
        self,
        store: Store,
        sessions: SessionManager,
        config: XmppServiceSettings,
        watchers: Watchers,
        counters: dict[str, int],
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._config = config
        self._watchers = watchers
        self._counters = counters

    def _count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    # --- IQ handlers

    async def set(self, request: Request) -> Element:
        try:
            return await self._set(request)
        except PepError as error:
            return _error(request, error)

    async def get(self, request: Request) -> Element:
        try:
            return await self._items(request)
        except PepError as error:
            return _error(request, error)

    async def _set(self, request: Request) -> Element:
        assert request.iq.payload is not None
        owner = request.account
        if owner is None or not request.own:
            raise PepError(StanzaErrorCondition.FORBIDDEN, "only the owner publishes")
        children = list(request.iq.payload.elements())
        verb = children[0] if children else None
        if verb is not None and verb.matches("publish", PUBSUB):
            options = _options(request.iq.payload, self._config.pep_max_items)
            return await self._publish(request, owner, verb, options)
        if verb is not None and verb.matches("retract", PUBSUB):
            return await self._retract(request, owner, verb)
        raise PepError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "not a PEP operation")

    async def _publish(
        self, request: Request, owner: Jid, verb: Element, options: Options
    ) -> Element:
        node = _node_name(verb)
        items = [e for e in verb.elements() if e.matches("item", PUBSUB)]
        if len(items) != 1 or len(list(items[0].elements())) != 1:
            raise PepError(StanzaErrorCondition.BAD_REQUEST, "one item with one payload")
        item_id = items[0].get("id") or secrets.token_hex(8)
        if len(item_id) > 1024:
            raise PepError(StanzaErrorCondition.NOT_ACCEPTABLE, "item id too long")
        payload = next(items[0].elements())
        await self.publish(owner, node, item_id, payload, options)
        published = Element.of(
            "publish", PUBSUB, {"node": node}, [Element.of("item", PUBSUB, {"id": item_id})]
        )
        return iq_result(request.iq.stanza, Element.of("pubsub", PUBSUB, (), [published]))

    async def publish(
        self, owner: Jid, node: str, item_id: str, payload: Element, options: Options
    ) -> PepNode:
        """Keep the item (creating the node with *options*) and notify."""
        limits = self._config

        async def keep(tx: Tx) -> PepNode:
            found = await self._store.xmpp.pep_node(tx, str(owner), node)
            if found is None:
                if len(await self._store.xmpp.pep_nodes(tx, str(owner))) >= limits.pep_max_nodes:
                    raise PepError(StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many nodes")
                found = PepNode(
                    node,
                    options.access_model or "presence",
                    options.max_items or 1,
                    options.send_last != "never",
                )
                await self._store.xmpp.put_pep_node(tx, str(owner), found)
            elif not _satisfies(found, options):
                raise PepError(
                    StanzaErrorCondition.CONFLICT,
                    "the node is configured otherwise",
                    app="precondition-not-met",
                )
            await self._store.xmpp.publish_pep_item(
                tx, str(owner), node, item_id, to_text(payload), max_items=found.max_items
            )
            return found

        found = await self._store.write(keep)
        self._count("pep_published")
        item = Element.of("item", EVENT, {"id": item_id}, [payload])
        await self._notify(owner, found, Element.of("items", EVENT, {"node": node}, [item]))
        return found

    async def _retract(self, request: Request, owner: Jid, verb: Element) -> Element:
        node = _node_name(verb)
        items = [e for e in verb.elements() if e.matches("item", PUBSUB) and e.get("id")]
        if len(items) != 1:
            raise PepError(StanzaErrorCondition.BAD_REQUEST, "one item id", app="item-required")
        item_id = items[0].get("id") or ""
        found = await self._store.read(self._store.xmpp.pep_node, str(owner), node)
        if found is None:
            raise PepError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        gone = await self._store.write(self._store.xmpp.retract_pep_item, str(owner), node, item_id)
        if not gone:
            raise PepError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such item")
        retract = Element.of("retract", EVENT, {"id": item_id})
        if verb.get("notify") in ("true", "1"):
            await self._notify(owner, found, Element.of("items", EVENT, {"node": node}, [retract]))
        return iq_result(request.iq.stanza, None)

    async def _items(self, request: Request) -> Element:
        assert request.iq.payload is not None
        owner = request.account or request.sender.bare
        if owner.local is None:
            raise PepError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        children = list(request.iq.payload.elements())
        verb = children[0] if len(children) == 1 else None
        if verb is None or not verb.matches("items", PUBSUB):
            raise PepError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "not a PEP operation")
        node = _node_name(verb)
        found = await self._store.read(self._store.xmpp.pep_node, str(owner), node)
        if found is None:
            raise PepError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        await self._check_access(owner, request.sender.bare, found)
        ids = tuple(e.get("id") or "" for e in verb.elements() if e.matches("item", PUBSUB))
        newest = _positive(verb.get("max_items"))
        stored = await self._store.read(
            self._store.xmpp.pep_items, str(owner), node, ids=ids, newest=newest
        )
        elements = [_item_element(PUBSUB, item) for item in stored]
        items = Element.of("items", PUBSUB, {"node": node}, elements)
        return iq_result(request.iq.stanza, Element.of("pubsub", PUBSUB, (), [items]))

    async def _check_access(self, owner: Jid, asker: Jid, node: PepNode) -> None:
        """XEP-0060 §6.5.3 (presence) and §6.5.5 (whitelist)."""
        if asker == owner or node.access_model == "open":
            return
        if node.access_model == "presence" and asker in await self._watchers(owner):
            return
        if node.access_model == "presence":
            raise PepError(
                StanzaErrorCondition.NOT_AUTHORIZED, app="presence-subscription-required"
            )
        raise PepError(StanzaErrorCondition.NOT_ALLOWED, app="closed-node")

    # --- notifications

    async def _audience(self, owner: Jid, node: PepNode) -> list[Outlet]:
        users = [owner]
        if node.access_model != "whitelist":
            users += sorted(await self._watchers(owner), key=str)
        return [s for u in users for s in self._sessions.available(u) if wants(s, node.node)]

    async def _notify(self, owner: Jid, node: PepNode, items: Element) -> None:
        for session in await self._audience(owner, node):
            if session.jid is not None:
                session.deliver(_event(owner, session.jid, items))
                self._count("pep_notifications")

    async def learned(self, session: Outlet) -> None:
        """*session*'s features are known: the newest item of each node it
        now wants, from its own account and those it sees (§4.3.2)."""
        if session.jid is None or not session.available:
            return
        user = session.jid.bare
        owners = [user, *await self._seen_by(user)]
        for owner in owners:
            nodes = await self._store.read(self._store.xmpp.pep_nodes, str(owner))
            for node in nodes:
                if not node.send_last or not wants(session, node.node):
                    continue
                if owner != user and node.access_model == "whitelist":
                    continue
                newest = await self._store.read(
                    self._store.xmpp.pep_items, str(owner), node.node, newest=1
                )
                for item in newest:
                    element = _item_element(EVENT, item)
                    items = Element.of("items", EVENT, {"node": node.node}, [element])
                    session.deliver(_event(owner, session.jid, items))
                    self._count("pep_notifications")

    async def _seen_by(self, user: Jid) -> list[Jid]:
        """Online accounts whose presence *user* sees."""
        seen = []
        for other in self._sessions.users_in(user.domain):
            if other != user and user in await self._watchers(other):
                seen.append(other)
        return seen

    # --- XEP-0402 §5.3: XEP-0049 storage:bookmarks over the PEP node

    async def legacy_bookmarks(self, owner: Jid) -> Element | None:
        """``<storage xmlns='storage:bookmarks'/>`` built from the node, or
        None when the owner has no such node."""
        node = await self._store.read(self._store.xmpp.pep_node, str(owner), BOOKMARKS2)
        if node is None:
            return None
        items = await self._store.read(self._store.xmpp.pep_items, str(owner), BOOKMARKS2)
        conferences = []
        for item in items:
            payload = from_text(item.payload)
            if payload is None or not payload.matches("conference", BOOKMARKS2):
                continue
            attributes = {
                "jid": item.item_id,
                "name": payload.get("name"),
                "autojoin": "true" if payload.get("autojoin") in ("true", "1") else "false",
            }
            children = []
            nick = payload.find("nick", BOOKMARKS2)
            if nick is not None:
                children.append(Element.of("nick", LEGACY_BOOKMARKS, (), [nick.text]))
            password = payload.find("password", BOOKMARKS2)
            if password is not None:
                children.append(Element.of("password", LEGACY_BOOKMARKS, (), [password.text]))
            conferences.append(Element.of("conference", LEGACY_BOOKMARKS, attributes, children))
        return Element.of("storage", LEGACY_BOOKMARKS, (), conferences)

    async def store_legacy_bookmarks(self, owner: Jid, storage: Element) -> str | None:
        """Each ``<conference/>`` becomes an item of the node (whitelist,
        as XEP-0402 §3 asks); items no longer listed are retracted. Why
        not, if the node cannot take them."""
        options = Options("whitelist", self._config.pep_max_items, "never")
        wanted: dict[str, Element] = {}
        for conference in storage.elements():
            jid = conference.get("jid")
            if not conference.matches("conference", LEGACY_BOOKMARKS) or not jid:
                continue
            children = []
            for name in ("nick", "password"):
                child = conference.find(name, LEGACY_BOOKMARKS)
                if child is not None:
                    children.append(Element.of(name, BOOKMARKS2, (), [child.text]))
            autojoin = "true" if conference.get("autojoin") in ("true", "1") else "false"
            attributes = {"name": conference.get("name"), "autojoin": autojoin}
            wanted[jid] = Element.of("conference", BOOKMARKS2, attributes, children)
        existing = await self._store.read(self._store.xmpp.pep_items, str(owner), BOOKMARKS2)
        for item in existing:
            if item.item_id not in wanted:
                await self._store.write(
                    self._store.xmpp.retract_pep_item, str(owner), BOOKMARKS2, item.item_id
                )
        try:
            for jid, payload in wanted.items():
                await self.publish(owner, BOOKMARKS2, jid, payload, options)
        except PepError as error:
            return error.text or error.condition.value
        return None


def _satisfies(node: PepNode, options: Options) -> bool:
    """Does the existing node meet the publish-options (§7.1.5)?"""
    return (
        (options.access_model is None or options.access_model == node.access_model)
        and (options.max_items is None or options.max_items == node.max_items)
        and (options.send_last is None or (options.send_last != "never") == node.send_last)
    )


def _options(pubsub: Element, limit: int) -> Options:
    """The publish-options form (XEP-0060 §7.1.5), checked."""
    container = pubsub.find("publish-options", PUBSUB)
    form = None if container is None else container.find("x", DATA_FORMS)
    if form is None:
        return Options()
    values: dict[str, str] = {}
    for field in form.elements():
        var = field.get("var")
        if field.matches("field", DATA_FORMS) and var:
            value = field.find("value", DATA_FORMS)
            values[var] = "" if value is None else value.text.strip()
    if values.pop("FORM_TYPE", PUBLISH_OPTIONS) != PUBLISH_OPTIONS:
        raise PepError(StanzaErrorCondition.BAD_REQUEST, "not a publish-options form")
    access = values.pop("pubsub#access_model", None)
    if access is not None and access not in ACCESS_MODELS:
        raise _unmet(f"access model {access} is not offered")
    max_items = None
    raw_max = values.pop("pubsub#max_items", None)
    if raw_max is not None:
        max_items = limit if raw_max == "max" else _positive(raw_max)
        if max_items is None or max_items > limit:
            raise _unmet(f"max_items is 1 to {limit} or max")
    persist = values.pop("pubsub#persist_items", None)
    if persist is not None and persist not in ("true", "1"):
        raise _unmet("items are always persisted")
    send_last = values.pop("pubsub#send_last_published_item", None)
    if send_last is not None and send_last not in SEND_LAST:
        raise _unmet(f"send_last_published_item {send_last} is not offered")
    if values:
        raise _unmet(f"option {min(values)} is not offered")
    return Options(access, max_items, send_last)


def _unmet(text: str) -> PepError:
    return PepError(StanzaErrorCondition.CONFLICT, text, app="precondition-not-met")


def _positive(text: str | None) -> int | None:
    if text is None or not text.isdigit() or int(text) < 1:
        return None
    return int(text)


def _node_name(verb: Element) -> str:
    node = verb.get("node")
    if not node:
        raise PepError(StanzaErrorCondition.BAD_REQUEST, "no node", app="nodeid-required")
    if len(node) > 1024:
        raise PepError(StanzaErrorCondition.NOT_ACCEPTABLE, "node name too long")
    return node


def _item_element(namespace: str, item: PepItem) -> Element:
    payload = from_text(item.payload) if item.payload else None
    return Element.of("item", namespace, {"id": item.item_id}, [] if payload is None else [payload])


def _event(owner: Jid, to: Jid, items: Element) -> Element:
    event = Element.of("event", EVENT, (), [items])
    attributes = {"type": "headline", "from": str(owner), "to": str(to)}
    return Element.of("message", CLIENT, attributes, [event])


def _error(request: Request, error: PepError) -> Element:
    reply = error_reply(request.iq.stanza, error.condition, text=error.text)
    if error.app is None:
        return reply
    children = []
    for child in reply.children:
        if isinstance(child, Element) and child.name == "error":
            child = child.with_children([*child.children, Element(error.app, ERRORS)])
        children.append(child)
    return reply.with_children(children)
