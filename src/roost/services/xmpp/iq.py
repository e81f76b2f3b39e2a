"""The IQs the server answers itself, on its own behalf or on an account's.

Dispatch is a dict from the payload's (namespace, name, type) to a
handler; everything else is ``service-unavailable`` (RFC 6120 §8.4;
clients wait for an answer to every get and set). What is here is
exactly what XEP-0030 disco#info advertises:

- XEP-0030 service discovery: disco#info and disco#items;
- XEP-0199 ping;
- XEP-0092 software version (the server's name and version, not its OS);
- RFC 6121 §2.2 roster get. The roster is the domain's users while the
  domain roster is on, else empty; a roster set is refused with
  ``not-allowed`` since rosters are not stored yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import roost
from roost.proto.xmpp import Element, Iq, Jid, StanzaErrorCondition, error_reply, iq_result

DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
PING = "urn:xmpp:ping"
VERSION = "jabber:iq:version"
ROSTER = "jabber:iq:roster"

SERVER_FEATURES = (DISCO_INFO, DISCO_ITEMS, PING, VERSION)
"""disco#info of the server (XEP-0030 §3.1): only what a test exercises."""
ACCOUNT_FEATURES = (DISCO_INFO, DISCO_ITEMS)
"""disco#info of an account's bare JID."""
SOFTWARE_NAME = "Roost"


@dataclass(frozen=True, slots=True)
class Contact:
    jid: Jid
    name: str


class RosterSource(Protocol):
    """Where a user's roster comes from (the directory, for now)."""

    async def contacts(self, user: Jid) -> list[Contact]: ...


@dataclass(frozen=True, slots=True)
class Request:
    """An IQ get or set the server answers: to the server (``account`` None)
    or to the sender's own account (``account`` its bare JID)."""

    iq: Iq
    sender: Jid
    account: Jid | None


Handler = Callable[[Request], Awaitable[Element]]


class ServerIqs:
    def __init__(self, roster: RosterSource) -> None:
        self._roster = roster
        self._handlers: dict[tuple[str, str, str], Handler] = {
            (DISCO_INFO, "query", "get"): self._disco_info,
            (DISCO_ITEMS, "query", "get"): self._disco_items,
            (PING, "ping", "get"): self._ping,
            (VERSION, "query", "get"): self._version,
            (ROSTER, "query", "get"): self._roster_get,
            (ROSTER, "query", "set"): self._roster_set,
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

    async def _disco_info(self, request: Request) -> Element:
        assert request.iq.payload is not None
        if request.iq.payload.get("node") is not None:
            return error_reply(request.iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
        features: tuple[str, ...]
        if request.account is None:
            identity = {"category": "server", "type": "im", "name": SOFTWARE_NAME}
            features = SERVER_FEATURES
        else:
            identity = {"category": "account", "type": "registered"}
            features = ACCOUNT_FEATURES
        children = [Element.of("identity", DISCO_INFO, identity)]
        children += [Element.of("feature", DISCO_INFO, {"var": var}) for var in features]
        return _result(request, Element.of("query", DISCO_INFO, (), children))

    async def _disco_items(self, request: Request) -> Element:
        assert request.iq.payload is not None
        if request.iq.payload.get("node") is not None:
            return error_reply(request.iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
        return _result(request, Element("query", DISCO_ITEMS))

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

    async def _roster_get(self, request: Request) -> Element:
        if request.account is None or request.account != request.sender.bare:
            return error_reply(request.iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        contacts = await self._roster.contacts(request.account)
        items = [
            Element.of(
                "item",
                ROSTER,
                {"jid": str(c.jid), "name": c.name or None, "subscription": "both"},
            )
            for c in contacts
        ]
        return _result(request, Element.of("query", ROSTER, (), items))

    async def _roster_set(self, request: Request) -> Element:
        return error_reply(
            request.iq.stanza,
            StanzaErrorCondition.NOT_ALLOWED,
            text="rosters are the domain's users; they cannot be edited yet",
        )


def _result(request: Request, payload: Element | None) -> Element:
    """A result from the address the IQ was sent to (the server's domain or
    the account), to the sender's full JID."""
    return iq_result(request.iq.stanza, payload)


def ping(to: Jid, sender: str, iq_id: str) -> Element:
    """A server-to-client ping (XEP-0199 §4.2)."""
    attributes = {"type": "get", "id": iq_id, "from": sender, "to": str(to)}
    return Element.of("iq", "jabber:client", attributes, [Element("ping", PING)])
