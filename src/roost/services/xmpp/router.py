"""Where a stanza from a bound client goes (RFC 6120 §10, RFC 6121 §8.5).

- Another domain: no federation yet, so ``remote-server-not-found`` at
  once (RFC 6120 §10.4.3), and an error or result is dropped.
- The server's domain, or an account: the server answers IQs
  (`roost.services.xmpp.iq`).
- A local full JID: that session, if bound; else as §8.5.3.2 says
  (messages fall back to the bare JID, IQs get ``service-unavailable``,
  presence is dropped).
- A mail alias of the directory (a bare JID that is no account): a
  message goes to each member account's bare JID, as below.
- A local bare JID (§8.5.2): a chat or normal message to the available
  resources of the highest non-negative priority, a headline to all of
  them; with none, a chat or normal message is kept offline (XEP-0160,
  stamped with XEP-0203 ``<delay/>``) up to ``[xmpp] offline_max_messages``
  per user, after which it earns ``service-unavailable`` (§8.5.2.2.1).
  Offline messages go to the next resource that sends available presence
  with a non-negative priority.

Presence (RFC 6121 §3, §4): subscription requests and answers change both
rosters (`roost.services.xmpp.subscription`) and are pushed; presence
without ``to`` goes to the user's own resources and to its watchers (the
stored ``from``/``both`` contacts, and every online user of the domain
while the domain roster is on); initial presence is answered with the
current presence of those the user watches (the probe, answered locally)
and with the subscription requests that wait; directed presence is
remembered so that unavailable follows it (§4.6.3).

Message carbons (XEP-0280) copy chat messages to the sender's and the
recipient's other resources that enabled them; the block list (XEP-0191)
stops stanzas both ways. Delivery never waits: `Outlet.deliver` queues or
closes a stalled client; answers to the sender's own stanzas go out with
`Outlet.reply`, in order with what the sender reads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC
from typing import Protocol

from roost.core.config import XmppServiceSettings
from roost.proto.xmpp import (
    Element,
    Iq,
    Jid,
    JidMalformed,
    Message,
    Presence,
    StanzaErrorCondition,
    error_reply,
)
from roost.services.xmpp import subscription
from roost.services.xmpp.archive import Archive
from roost.services.xmpp.blocking import Blocks, blocked_error
from roost.services.xmpp.caps import CapsCache
from roost.services.xmpp.iq import CARBONS, Request, ServerIqs
from roost.services.xmpp.roster import Rosters, from_text, item_or_blank, to_text
from roost.services.xmpp.sessions import Outlet, SessionManager
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import RosterItem

log = logging.getLogger(__name__)

_UNAVAILABLE = StanzaErrorCondition.SERVICE_UNAVAILABLE
DELAY = "urn:xmpp:delay"
FORWARD = "urn:xmpp:forward:0"
HINTS = "urn:xmpp:hints"
CLIENT = "jabber:client"


class Accounts(Protocol):
    """What the router asks the directory."""

    def is_local(self, domain: str) -> bool: ...

    def domain_roster(self, domain: str) -> bool: ...

    async def exists(self, bare: Jid) -> bool: ...

    async def alias_members(self, bare: Jid) -> list[Jid]: ...


class Component(Protocol):
    """A service at ``<label>.<hosted domain>`` (an upload service, a
    multi-user chat service): it gets every stanza a client sends to that
    domain or to a JID under it, and answers through ``sender``."""

    async def receive(self, sender: Outlet, event: Message | Presence | Iq) -> None: ...


class Router:
    def __init__(
        self,
        sessions: SessionManager,
        accounts: Accounts,
        iqs: ServerIqs,
        rosters: Rosters,
        blocks: Blocks,
        store: Store,
        config: XmppServiceSettings,
        counters: dict[str, int],
        archive: Archive,
        caps: CapsCache,
    ) -> None:
        self._sessions = sessions
        self._caps = caps
        self._archive = archive
        self._accounts = accounts
        self._iqs = iqs
        self._rosters = rosters
        self._blocks = blocks
        self._store = store
        self._config = config
        self._counters = counters
        iqs.on_block = self._blocked
        iqs.on_remove = self._removed
        self._components: dict[str, Component] = {}
        self._departures: list[Callable[[Outlet], Awaitable[None]]] = []

    def add_component(self, label: str, component: Component) -> None:
        """Route stanzas for ``<label>.<domain>`` of every hosted domain to
        *component*, and list that address in the domain's disco#items."""
        self._components[label] = component
        self._iqs.add_item(label)

    def on_departure(self, hook: Callable[[Outlet], Awaitable[None]]) -> None:
        """Call *hook* when a session sends unavailable presence or ends
        (a chat room's occupant leaves it)."""
        self._departures.append(hook)

    async def _to_component(self, sender: Outlet, event: Message | Presence | Iq) -> bool:
        """Hand a stanza for a component's domain to it; True if it was one."""
        if event.to is None or not self._components or self._accounts.is_local(event.to.domain):
            return False  # a hosted domain named like a component stays a domain
        label, _, parent = event.to.domain.partition(".")
        component = self._components.get(label)
        if component is None or not self._accounts.is_local(parent):
            return False
        await component.receive(sender, event)
        return True

    def _count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    def _deliver(self, target: Outlet, stanza: Element) -> None:
        if target.deliver(stanza):
            self._count("stanzas_routed")

    def _bounce(self, sender: Outlet, stanza: Element, condition: StanzaErrorCondition) -> None:
        """Answer with an error, never an error to an error (RFC 6120 §8.3.1)."""
        if stanza.get("type") != "error":
            sender.reply(error_reply(stanza, condition))

    def _remote(self, sender: Outlet, stanza: Element) -> bool:
        """Refuse a stanza for another domain; True if it was one."""
        to = stanza.get("to")
        if to is None or self._accounts.is_local(Jid.parse(to).domain):
            return False
        self._count("remote_refused")
        if stanza.get("type") not in ("error", "result"):
            self._bounce(sender, stanza, StanzaErrorCondition.REMOTE_SERVER_NOT_FOUND)
        return True

    async def _blocked_either_way(self, sender: Outlet, stanza: Element, to: Jid) -> bool:
        """XEP-0191 §3.3, §3.5: True when the stanza must go no further
        (the sender has had its answer, if any)."""
        assert sender.jid is not None
        if to.local is not None and to.bare == sender.jid.bare:
            return False
        if await self._blocks.blocks(sender.jid.bare, to):
            if stanza.name != "presence" and stanza.get("type") not in ("error", "result"):
                sender.reply(blocked_error(stanza))
            return True
        if to.local is not None and await self._blocks.blocks(to.bare, sender.jid):
            if stanza.name == "iq" and stanza.get("type") in ("get", "set"):
                self._bounce(sender, stanza, _UNAVAILABLE)
            return True
        return False

    # Messages (RFC 6121 §8.5.2.1.1, §8.5.3.1).

    async def message(self, sender: Outlet, event: Message) -> None:
        stanza = event.stanza
        if await self._to_component(sender, event) or self._remote(sender, stanza):
            return
        assert sender.jid is not None
        to = event.to or sender.jid.bare
        kind = stanza.get("type") or "normal"
        if await self._blocked_either_way(sender, stanza, to):
            return
        if to.local is None:
            self._bounce(sender, stanza, _UNAVAILABLE)
            return
        if to.resource is None and kind in ("chat", "normal", "headline"):
            members = await self._accounts.alias_members(to)
            if members:
                await self._to_alias(sender, stanza, kind, members)
                return
        if self._archive.enabled and kind in ("chat", "normal") and _worth_keeping(stanza):
            local = await self._accounts.exists(to.bare)
            stanza = await self._archive.record(sender.jid, to, stanza, local)
        self._carbon_sent(sender, stanza, kind)
        if to.resource is not None:
            target = self._sessions.get(to)
            if target is not None:
                self._deliver(target, stanza)
                self._carbon_received(to.bare, stanza, kind, [target])
                return
            if kind in ("error", "headline"):
                return
            if kind == "groupchat":
                self._bounce(sender, stanza, _UNAVAILABLE)
                return
        await self._to_bare(sender, stanza, to.bare, kind)

    async def _to_alias(
        self, sender: Outlet, stanza: Element, kind: str, members: list[Jid]
    ) -> None:
        """A message to a mail alias goes to each member (the accounts the
        alias delivers mail to) as if sent to the member's bare JID: its
        online resources, else offline storage. Each copy is addressed to
        the member; the sender hears of no member's failure."""
        assert sender.jid is not None
        self._count("alias_messages")
        for member in members:
            if member == sender.jid.bare or await self._blocks.blocks(member, sender.jid):
                continue
            copy = stanza.with_attribute("to", str(member))
            if self._archive.enabled and kind in ("chat", "normal") and _worth_keeping(copy):
                copy = await self._archive.record(sender.jid, member, copy, True)
            await self._to_bare(sender, copy, member, kind, quiet=True)

    async def _to_bare(
        self, sender: Outlet, stanza: Element, bare: Jid, kind: str, *, quiet: bool = False
    ) -> None:
        """*quiet*: one of several recipients (an alias's), whose failure
        the sender is not told about."""
        candidates = [s for s in self._sessions.available(bare) if s.priority >= 0]
        if kind in ("chat", "normal") and candidates:
            best = max(s.priority for s in candidates)
            candidates = [s for s in candidates if s.priority == best]
        if kind in ("groupchat", "error"):
            candidates = []
        for target in candidates:
            self._deliver(target, stanza)
        if candidates:
            self._carbon_received(bare, stanza, kind, candidates)
        if candidates or kind in ("headline", "error"):
            return
        if kind in ("chat", "normal") and await self._accounts.exists(bare):
            if not _worth_keeping(stanza):
                return  # XEP-0160 §3: chat states and receipts alone are not kept
            if await self._keep_offline(bare, stanza):
                return
        self._count("undeliverable")
        if not quiet:
            self._bounce(sender, stanza, _UNAVAILABLE)

    async def _keep_offline(self, bare: Jid, stanza: Element) -> bool:
        stamp = self._store.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        delay = Element.of(
            "delay", DELAY, {"from": bare.domain, "stamp": stamp}, ["Offline Storage"]
        )
        # Back from a session that never acknowledged it: the first stamp holds.
        stamped = stanza.find("delay", DELAY) is not None
        kept = stanza if stamped else stanza.with_children([*stanza.children, delay])
        stored = await self._store.write(
            self._store.xmpp.store_offline,
            str(bare),
            to_text(kept),
            limit=self._config.offline_max_messages,
        )
        self._count("offline_stored" if stored else "offline_full")
        return stored

    async def _deliver_offline(self, session: Outlet) -> None:
        """XEP-0160 §3: waiting messages go to the first resource that is
        available with a non-negative priority."""
        assert session.jid is not None
        taken = await self._store.write(self._store.xmpp.take_offline, str(session.jid.bare))
        for message in taken:
            element = from_text(message.stanza)
            if element is not None:
                session.reply(element.with_attribute("to", str(session.jid)))
                self._count("offline_delivered")

    def _carbon_sent(self, sender: Outlet, stanza: Element, kind: str) -> None:
        assert sender.jid is not None
        if not _carbon_eligible(stanza, kind):
            return
        user = sender.jid.bare
        for other in self._sessions.resources(user):
            if other is not sender and other.chat.carbons and other.jid is not None:
                self._deliver(other, _wrap("sent", user, other.jid, stanza))

    def _carbon_received(
        self, user: Jid, stanza: Element, kind: str, delivered: Iterable[Outlet]
    ) -> None:
        if not _carbon_eligible(stanza, kind):
            return
        skip = set(map(id, delivered))
        for other in self._sessions.resources(user):
            if id(other) not in skip and other.chat.carbons and other.jid is not None:
                self._deliver(other, _wrap("received", user, other.jid, stanza))

    # Presence (RFC 6121 §3, §4).

    async def presence(self, sender: Outlet, event: Presence) -> None:
        stanza = event.stanza
        if await self._to_component(sender, event) or self._remote(sender, stanza):
            return
        assert sender.jid is not None
        kind = stanza.get("type")
        if event.to is None:
            if kind is None or kind == "unavailable":
                await self._broadcast(sender, stanza, initial=not sender.available)
            return
        to = event.to
        if await self._blocked_either_way(sender, stanza, to):
            return
        match kind:
            case "probe":
                if await self._sees(sender.jid.bare, to.bare):
                    self._send_current(sender, to.bare)
            case "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed":
                assert kind is not None
                await self._subscription(sender, stanza, kind, to.bare)
            case _:
                # Directed presence (RFC 6121 §4.6) and presence errors.
                if kind is None and to.local is not None:
                    sender.chat.directed.add(to)
                elif kind == "unavailable":
                    sender.chat.directed.discard(to)
                if to.resource is not None:
                    target = self._sessions.get(to)
                    if target is not None:
                        self._deliver(target, stanza)
                elif kind != "error":
                    for target in self._sessions.available(to):
                        self._deliver(target, stanza)

    async def _sees(self, user: Jid, contact: Jid) -> bool:
        if self._rosters.in_domain_roster(user, contact):
            return True
        return contact in await self._rosters.watched(user)

    async def _subscription(self, sender: Outlet, stanza: Element, kind: str, contact: Jid) -> None:
        """One subscription stanza from the user to the contact (RFC 6121 §3)."""
        assert sender.jid is not None
        user = sender.jid.bare
        if contact.local is None or contact == user:
            return
        if self._rosters.in_domain_roster(user, contact) and await self._accounts.exists(contact):
            # Everyone in the domain roster is subscribed both ways already.
            if kind == "subscribe":
                self._deliver_all(user, _presence("subscribed", contact, user))
                self._send_current(sender, contact)
            return
        exists = await self._accounts.exists(contact)

        async def exchange(tx: Tx) -> tuple[RosterItem, bool, RosterItem, RosterItem, bool]:
            mine = await item_or_blank(tx, self._store, user, contact)
            mine_after, mine_changed = subscription.outbound(kind, mine)
            theirs = await item_or_blank(tx, self._store, contact, user)
            theirs_after, theirs_changed = (
                subscription.inbound(kind, theirs) if exists else (theirs, False)
            )
            if mine_changed:
                await self._store.xmpp.put_roster_item(tx, str(user), mine_after)
            if theirs_changed:
                await self._store.xmpp.put_roster_item(tx, str(contact), theirs_after)
            return mine_after, mine_changed, theirs, theirs_after, theirs_changed

        _mine, mine_changed, theirs, theirs_after, theirs_changed = await self._store.write(
            exchange
        )
        if mine_changed:
            await self._iqs.push_roster_item(user, contact)
        if theirs_changed and (theirs.listed or theirs_after.listed):
            await self._iqs.push_roster_item(contact, user)
        if not exists:
            # §3.1.3: no such contact; answer for it, so the request ends.
            if kind == "subscribe":
                await self._answer_for(contact, user, "unsubscribed")
            return
        match kind:
            case "subscribe":
                if subscription.shares_presence(theirs_after):
                    # Already subscribed, or pre-approved (§3.1.3, §3.4.2).
                    await self._answer_for(contact, user, "subscribed")
                elif theirs_changed or theirs.pending_in:
                    self._deliver_all(contact, stanza, available_only=True)
            case "subscribed" if theirs_changed:
                self._deliver_all(contact, stanza, available_only=True)
                self._present_to(user, contact)
            case "unsubscribe" if theirs_changed:
                self._deliver_all(contact, stanza, available_only=True)
                self._absent_to(contact, user)
            case "unsubscribed" if theirs_changed:
                self._deliver_all(contact, stanza, available_only=True)
                self._absent_to(user, contact)
            case _:
                pass

    async def _answer_for(self, contact: Jid, user: Jid, kind: str) -> None:
        """The server answers the user's request on the contact's behalf:
        the user's item takes the answer in, the user hears it."""

        async def take(tx: Tx) -> bool:
            mine = await item_or_blank(tx, self._store, user, contact)
            after, changed = subscription.inbound(kind, mine)
            if changed:
                await self._store.xmpp.put_roster_item(tx, str(user), after)
            return changed

        if await self._store.write(take):
            await self._iqs.push_roster_item(user, contact)
        self._deliver_all(user, _presence(kind, contact, user))
        if kind == "subscribed":
            self._present_to(contact, user)

    async def _removed(self, user: Jid, contact: Jid, item: RosterItem) -> None:
        """RFC 6121 §2.5.2: removing an item cancels both subscriptions."""
        if await self._accounts.exists(contact):
            for kind, applies in (
                ("unsubscribe", subscription.sees_presence(item) or item.ask),
                ("unsubscribed", subscription.shares_presence(item) or item.pending_in),
            ):
                if not applies:
                    continue

                async def inbound(tx: Tx, kind: str = kind) -> bool:
                    theirs = await item_or_blank(tx, self._store, contact, user)
                    after, changed = subscription.inbound(kind, theirs)
                    if changed:
                        await self._store.xmpp.put_roster_item(tx, str(contact), after)
                    return changed and (theirs.listed or after.listed)

                if await self._store.write(inbound):
                    await self._iqs.push_roster_item(contact, user)
                self._deliver_all(contact, _presence(kind, user, contact), available_only=True)
        if subscription.shares_presence(item):
            self._absent_to(user, contact)

    async def _blocked(self, user: Jid, jids: list[Jid]) -> None:
        """XEP-0191 §3.3.1: the blocked see the user go unavailable."""
        for jid in jids:
            if jid.local is not None:
                self._absent_to(user, jid)

    def _deliver_all(self, user: Jid, stanza: Element, *, available_only: bool = False) -> None:
        """To each resource of ``user`` (the available ones, or all bound)."""
        targets = (
            self._sessions.available(user) if available_only else self._sessions.resources(user)
        )
        for target in targets:
            if target.jid is not None:
                self._deliver(target, stanza.with_attribute("to", str(target.jid)))

    def _present_to(self, source: Jid, to: Jid) -> None:
        """The current presence of ``source``'s resources to ``to``'s."""
        for session in self._sessions.available(source):
            if session.presence is not None:
                self._deliver_all(to, session.presence, available_only=True)

    def _absent_to(self, source: Jid, to: Jid) -> None:
        """Unavailable from ``source``'s available resources to ``to``
        (a bare JID, or one resource)."""
        for session in self._sessions.available(source):
            if session.jid is None:
                continue
            gone = _presence("unavailable", session.jid, to)
            if to.resource is not None:
                target = self._sessions.get(to)
                if target is not None:
                    self._deliver(target, gone)
            else:
                self._deliver_all(to, gone, available_only=True)

    async def watchers(self, user: Jid) -> set[Jid]:
        """Who receives the user's presence broadcast (RFC 6121 §4.2.2)."""
        found = await self._rosters.watchers(user)
        if self._accounts.domain_roster(user.domain):
            found.update(u for u in self._sessions.users_in(user.domain) if u != user)
        blocked = [j for j in found if await self._blocks.blocks(user, j)]
        blocked += [j for j in found if await self._blocks.blocks(j, user)]
        return found - set(blocked)

    async def _audience(self, sender: Outlet) -> list[Outlet]:
        """The available sessions that see the sender's presence: its own
        and its watchers'."""
        assert sender.jid is not None
        user = sender.jid.bare
        users = [user, *await self.watchers(user)]
        return [s for u in users for s in self._sessions.available(u)]

    async def _broadcast(self, sender: Outlet, stanza: Element, *, initial: bool) -> None:
        assert sender.jid is not None
        available = stanza.get("type") is None
        if not available and not sender.available:
            return
        sender.presence_changed(stanza if available else None)
        for target in await self._audience(sender):
            if target.jid is not None:
                self._deliver(target, stanza.with_attribute("to", str(target.jid)))
        if not available:
            for hook in self._departures:
                await hook(sender)
            # RFC 6121 §4.5.2: the sender's own resource gets it too, and
            # those it sent directed presence (§4.6.3).
            sender.reply(stanza)
            for to in sender.chat.directed:
                self._deliver_directed(to, stanza)
            sender.chat.directed.clear()
            return
        if initial:
            await self._probe_all(sender)
            for contact in await self._rosters.pending_in(sender.jid.bare):
                sender.reply(_presence("subscribe", contact, sender.jid))
        if sender.priority >= 0:
            await self._deliver_offline(sender)
        await self._caps.observe(sender, stanza, sender.jid.domain)

    def _deliver_directed(self, to: Jid, stanza: Element) -> None:
        if to.resource is not None:
            target = self._sessions.get(to)
            if target is not None:
                self._deliver(target, stanza.with_attribute("to", str(to)))
        else:
            for target in self._sessions.available(to):
                if target.jid is not None:
                    self._deliver(target, stanza.with_attribute("to", str(target.jid)))

    async def _probe_all(self, sender: Outlet) -> None:
        """Answer initial presence with the current presence of everyone the
        user watches (§4.2.2, the probe answered locally)."""
        assert sender.jid is not None
        user = sender.jid.bare
        watched = await self._rosters.watched(user)
        if self._accounts.domain_roster(user.domain):
            watched.update(u for u in self._sessions.users_in(user.domain) if u != user)
        watched.add(user)
        for contact in watched:
            if contact != user and (
                await self._blocks.blocks(user, contact) or await self._blocks.blocks(contact, user)
            ):
                continue
            self._send_current(sender, contact)

    def _send_current(self, sender: Outlet, bare: Jid) -> None:
        for target in self._sessions.available(bare):
            if target is not sender:
                self._forward_presence(target, sender)

    def _forward_presence(self, source: Outlet, to: Outlet) -> None:
        """Answer ``to``'s probe with ``source``'s presence."""
        if source.presence is not None and to.jid is not None:
            to.reply(source.presence.with_attribute("to", str(to.jid)))

    async def departed(self, session: Outlet) -> None:
        """The session ended: unavailable to whoever saw it (§4.5.2)."""
        self._caps.forget(session)
        for hook in self._departures:
            await hook(session)
        if not session.available or session.jid is None:
            return
        unavailable = _presence("unavailable", session.jid, None)
        audience = await self._audience(session)
        session.presence_changed(None)
        for target in audience:
            if target is not session and target.jid is not None:
                self._deliver(target, unavailable.with_attribute("to", str(target.jid)))
        for to in session.chat.directed:
            self._deliver_directed(to, unavailable)
        session.chat.directed.clear()

    async def unacknowledged(self, session: Outlet, stanzas: Iterable[Element]) -> None:
        """XEP-0198 §5: a stream-managed session ended for good with
        ``stanzas`` never acknowledged. A chat or normal message with
        content goes to offline storage (keeping the stamp of one that came
        from there before); an IQ request, or a message offline storage
        refuses, goes back to its sender as ``recipient-unavailable``;
        presence and the rest are dropped."""
        jid = session.jid
        if jid is None:
            return
        for stanza in stanzas:
            if await self._keep_unacknowledged(jid.bare, stanza):
                self._count("unacked_stored")
            elif _bounceable(stanza):
                self._return(jid, stanza)

    async def _keep_unacknowledged(self, bare: Jid, stanza: Element) -> bool:
        kind = stanza.get("type") or "normal"
        keep = stanza.name == "message" and kind in ("chat", "normal") and _worth_keeping(stanza)
        return keep and await self._keep_offline(bare, stanza)

    def _return(self, recipient: Jid, stanza: Element) -> None:
        """Send a ``recipient-unavailable`` error to a stanza's local sender."""
        sender = stanza.get("from")
        if sender is None:
            return
        try:
            origin = Jid.parse(sender)
        except JidMalformed:
            return
        if origin.domain == recipient.domain and origin.local is None:
            return  # the server's own stanza (a ping, a caps query)
        error = error_reply(
            stanza.with_attribute("to", str(recipient)),
            StanzaErrorCondition.RECIPIENT_UNAVAILABLE,
        )
        targets = [self._sessions.get(origin)] if origin.resource else []
        if not targets or targets[0] is None:
            targets = list(self._sessions.available(origin.bare))
        for target in targets:
            if target is not None:
                self._deliver(target, error)
        self._count("unacked_bounced")

    # IQs (RFC 6120 §8.2.3, RFC 6121 §8.5).

    async def iq(self, sender: Outlet, event: Iq) -> None:
        stanza = event.stanza
        if await self._to_component(sender, event) or self._remote(sender, stanza):
            return
        assert sender.jid is not None
        to = event.to
        asks = event.type in ("get", "set")
        if to is None or to == sender.jid.bare or to.local is None:
            if not asks and to is not None and to.local is None:
                await self._caps.answered(sender, stanza)
            if asks:
                account = None if to is not None and to.local is None else sender.jid.bare
                request = Request(event, sender.jid, account, sender)
                sender.reply(await self._iqs.answer(request))
            return
        if await self._blocked_either_way(sender, stanza, to):
            return
        if to.resource is None:
            if asks:
                sender.reply(await self._iqs.answer(Request(event, sender.jid, to, sender)))
            return
        target = self._sessions.get(to)
        if target is not None:
            self._deliver(target, stanza)
        elif asks:
            self._bounce(sender, stanza, _UNAVAILABLE)


def _presence(kind: str, source: Jid, to: Jid | None) -> Element:
    attributes = {"type": kind, "from": str(source), "to": None if to is None else str(to)}
    return Element.of("presence", CLIENT, attributes)


def _worth_keeping(stanza: Element) -> bool:
    """Does the message carry content (XEP-0160 §3, XEP-0334 hints)?"""
    if stanza.find("no-store", HINTS) is not None:
        return False
    if stanza.find("store", HINTS) is not None:
        return True
    return stanza.find("body", CLIENT) is not None or stanza.find("subject", CLIENT) is not None


def _bounceable(stanza: Element) -> bool:
    """Does a stanza that was never delivered earn an error (RFC 6120 §8.3.1)?"""
    kind = stanza.get("type")
    if stanza.name == "iq":
        return kind in ("get", "set")
    return stanza.name == "message" and kind not in ("error", "groupchat", "headline")


def _carbon_eligible(stanza: Element, kind: str) -> bool:
    """XEP-0280 §6: chat messages, unless marked private or already a copy."""
    if kind != "chat":
        return False
    return (
        not any(
            child.namespace == CARBONS and child.name in ("private", "sent", "received")
            for child in stanza.elements()
        )
        and stanza.find("no-copy", HINTS) is None
    )


def _wrap(direction: str, user: Jid, to: Jid, stanza: Element) -> Element:
    """A carbon copy (XEP-0280 §7, §8), from the user's bare JID."""
    forwarded = Element.of("forwarded", FORWARD, (), [stanza])
    inner = Element.of(direction, CARBONS, (), [forwarded])
    attributes = {"from": str(user), "to": str(to), "type": "chat"}
    return Element.of("message", CLIENT, attributes, [inner])
