"""Where a stanza from a bound client goes (RFC 6120 §10, RFC 6121 §8.5).

- Another domain: no federation yet, so ``remote-server-not-found`` at
  once (RFC 6120 §10.4.3), and an error or result is dropped.
- The server's domain, or the sender's own account: the server answers
  (`roost.services.xmpp.iq`).
- A local full JID: that session, if bound; else as §8.5.3.2 says
  (messages fall back to the bare JID, IQs get ``service-unavailable``,
  presence is dropped).
- A local bare JID (§8.5.2): a chat or normal message to the available
  resources of the highest non-negative priority, a headline to all of
  them; with none, ``service-unavailable`` (offline storage comes later);
  an IQ is answered by the server on the account's behalf.

Presence without ``to`` is broadcast (RFC 6121 §4.2, §4.4, §4.5) to the
user's own available resources and to its contacts' — every online user
of the domain while the domain roster is on — and initial presence is
answered with the contacts' current presence, as a probe would be.
Delivery never waits: `Outlet.deliver` queues or closes a stalled client;
answers to the sender's own stanzas go out with `Outlet.reply`, in order
with what the sender reads.
"""

from __future__ import annotations

import logging
from typing import Protocol

from roost.proto.xmpp import (
    Element,
    Iq,
    Jid,
    Message,
    Presence,
    StanzaErrorCondition,
    error_reply,
)
from roost.services.xmpp.iq import Request, ServerIqs
from roost.services.xmpp.sessions import Outlet, SessionManager

log = logging.getLogger(__name__)

_UNAVAILABLE = StanzaErrorCondition.SERVICE_UNAVAILABLE


class Accounts(Protocol):
    """What the router asks the directory."""

    def is_local(self, domain: str) -> bool: ...

    def domain_roster(self, domain: str) -> bool: ...

    async def exists(self, bare: Jid) -> bool: ...


class Router:
    def __init__(
        self,
        sessions: SessionManager,
        accounts: Accounts,
        iqs: ServerIqs,
        counters: dict[str, int],
    ) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._iqs = iqs
        self._counters = counters

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

    # Messages (RFC 6121 §8.5.2.1.1, §8.5.3.1).

    async def message(self, sender: Outlet, event: Message) -> None:
        stanza = event.stanza
        if self._remote(sender, stanza):
            return
        assert sender.jid is not None
        to = event.to or sender.jid.bare
        kind = stanza.get("type") or "normal"
        if to.local is None:
            self._bounce(sender, stanza, _UNAVAILABLE)
            return
        if to.resource is not None:
            target = self._sessions.get(to)
            if target is not None:
                self._deliver(target, stanza)
                return
            if kind in ("error", "headline"):
                return
            if kind == "groupchat":
                self._bounce(sender, stanza, _UNAVAILABLE)
                return
        await self._to_bare(sender, stanza, to.bare, kind)

    async def _to_bare(self, sender: Outlet, stanza: Element, bare: Jid, kind: str) -> None:
        candidates = [s for s in self._sessions.available(bare) if s.priority >= 0]
        if kind in ("chat", "normal") and candidates:
            best = max(s.priority for s in candidates)
            candidates = [s for s in candidates if s.priority == best]
        if kind in ("groupchat", "error"):
            candidates = []
        for target in candidates:
            self._deliver(target, stanza)
        if candidates or kind in ("headline", "error"):
            return
        # No offline storage yet: RFC 6121 §8.5.2.2.1 then asks for an error.
        self._count("undeliverable")
        self._bounce(sender, stanza, _UNAVAILABLE)

    # Presence (RFC 6121 §4).

    async def presence(self, sender: Outlet, event: Presence) -> None:
        stanza = event.stanza
        if self._remote(sender, stanza):
            return
        kind = stanza.get("type")
        if event.to is None:
            if kind is None or kind == "unavailable":
                self._broadcast(sender, stanza, initial=not sender.available)
            return
        to = event.to
        match kind:
            case "probe":
                if self._shares_roster(sender, to):
                    self._send_current(sender, to.bare)
            case "subscribe":
                # Everyone in the domain roster is subscribed both ways already.
                if self._shares_roster(sender, to) and await self._accounts.exists(to.bare):
                    assert sender.jid is not None
                    sender.reply(
                        Element.of(
                            "presence",
                            stanza.namespace,
                            {"type": "subscribed", "from": str(to.bare), "to": str(sender.jid)},
                        )
                    )
                    self._send_current(sender, to.bare)
            case "subscribed" | "unsubscribe" | "unsubscribed":
                pass  # no roster persistence yet
            case _:
                # Directed presence (RFC 6121 §4.6) and presence errors.
                if to.resource is not None:
                    target = self._sessions.get(to)
                    if target is not None:
                        self._deliver(target, stanza)
                elif kind != "error":
                    for target in self._sessions.available(to):
                        self._deliver(target, stanza)

    def _shares_roster(self, sender: Outlet, to: Jid) -> bool:
        assert sender.jid is not None
        domain = sender.jid.domain
        return to.local is not None and to.domain == domain and self._accounts.domain_roster(domain)

    def _audience(self, sender: Outlet) -> list[Outlet]:
        """The available sessions that see the sender's presence: its own
        and its contacts'."""
        assert sender.jid is not None
        user = sender.jid.bare
        users = [user]
        if self._accounts.domain_roster(user.domain):
            users += [u for u in self._sessions.users_in(user.domain) if u != user]
        return [s for u in users for s in self._sessions.available(u)]

    def _broadcast(self, sender: Outlet, stanza: Element, *, initial: bool) -> None:
        available = stanza.get("type") is None
        if not available and not sender.available:
            return
        sender.presence_changed(stanza if available else None)
        for target in self._audience(sender):
            if target.jid is not None:
                self._deliver(target, stanza.with_attribute("to", str(target.jid)))
        if not available:
            # RFC 6121 §4.5.2: the sender's own resource gets it too.
            sender.reply(stanza)
        if available and initial:
            self._probe_all(sender)

    def _probe_all(self, sender: Outlet) -> None:
        """Answer initial presence with everyone's current presence (§4.2.2)."""
        for target in self._audience(sender):
            if target is not sender and target.jid is not None:
                self._forward_presence(target, sender)

    def _send_current(self, sender: Outlet, bare: Jid) -> None:
        for target in self._sessions.available(bare):
            if target is not sender:
                self._forward_presence(target, sender)

    def _forward_presence(self, source: Outlet, to: Outlet) -> None:
        """Answer ``to``'s probe with ``source``'s presence."""
        if source.presence is not None and to.jid is not None:
            to.reply(source.presence.with_attribute("to", str(to.jid)))

    def departed(self, session: Outlet) -> None:
        """The session ended: unavailable to whoever saw it (§4.5.2)."""
        if not session.available or session.jid is None:
            return
        unavailable = Element.of(
            "presence", "jabber:client", {"type": "unavailable", "from": str(session.jid)}
        )
        session.presence_changed(None)
        for target in self._audience(session):
            if target.jid is not None:
                self._deliver(target, unavailable.with_attribute("to", str(target.jid)))

    # IQs (RFC 6120 §8.2.3, RFC 6121 §8.5).

    async def iq(self, sender: Outlet, event: Iq) -> None:
        stanza = event.stanza
        if self._remote(sender, stanza):
            return
        assert sender.jid is not None
        to = event.to
        asks = event.type in ("get", "set")
        if to is None or to == sender.jid.bare or to.local is None:
            if asks:
                account = None if to is not None and to.local is None else sender.jid.bare
                sender.reply(await self._iqs.answer(Request(event, sender.jid, account)))
            return
        if to.resource is None:
            if asks:
                sender.reply(await self._iqs.answer(Request(event, sender.jid, to)))
            return
        target = self._sessions.get(to)
        if target is not None:
            self._deliver(target, stanza)
        elif asks:
            self._bounce(sender, stanza, _UNAVAILABLE)
