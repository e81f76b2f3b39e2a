"""An `Outlet` that stands for a room when the archive answers a query at
the room's JID (XEP-0313 §5): the archive addresses its results to the
asker as it knows it (the room), the relay hands them to the real
session, addressed to the real full JID."""

from __future__ import annotations

from roost.proto.xmpp import Element, Jid
from roost.services.xmpp.sessions import ChatState, Outlet


class Relay:
    def __init__(self, session: Outlet, to: Jid) -> None:
        self._session = session
        self._to = to

    @property
    def jid(self) -> Jid | None:
        return self._session.jid

    @property
    def transport(self) -> str:
        return self._session.transport

    @property
    def chat(self) -> ChatState:
        return self._session.chat

    @property
    def available(self) -> bool:
        return self._session.available

    @property
    def priority(self) -> int:
        return self._session.priority

    @property
    def presence(self) -> Element | None:
        return self._session.presence

    def deliver(self, stanza: Element) -> bool:
        return self._session.deliver(stanza.with_attribute("to", str(self._to)))

    def reply(self, stanza: Element) -> None:
        self._session.reply(stanza.with_attribute("to", str(self._to)))

    def presence_changed(self, presence: Element | None) -> None:
        """The room's relay never changes the session's presence."""

    def replaced(self) -> None:
        """Nor does it end the session."""
