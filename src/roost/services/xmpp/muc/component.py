"""The multi-user chat service at ``conference.<domain>`` (XEP-0045).

The router hands this component every stanza a local client sends to
``conference.<hosted domain>`` or a JID under it. What goes where:

- the service's own JID: disco#info (identity ``conference/text``) and
  disco#items (the public rooms, §6.1-§6.3);
- a room's bare JID: groupchat messages (§7.4) and subject changes
  (§8.1), mediated invitations (§7.8.2), disco#info of the room (§6.4),
  the admin and owner IQs (`roost.services.xmpp.muc.admin`), and the
  room archive (XEP-0313 §5: queried at the room JID);
- an occupant JID (room/nick): presence to enter, change status or
  nickname, or leave (§7.2, §7.6, §7.14); private messages (§7.5); IQs
  relayed to the occupant, and XEP-0410 self-pings answered here.

A user who enters a room that does not exist creates it (§10.1) and owns
it; with ``<x xmlns=muc/>`` the room stays locked until the owner submits
its configuration (an instant room submits an empty form). With
``[xmpp] muc_alias_rooms`` a mail alias is also a members-only room of
the accounts it delivers to. Occupants leave when their session ends or
sends unavailable presence. Limits are the ``[xmpp] muc_*`` settings.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime
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
    iq_result,
)
from roost.services.xmpp.archive import MAM, SID, Archive
from roost.services.xmpp.iq import DISCO_INFO, DISCO_ITEMS, PING, Request
from roost.services.xmpp.muc import admin
from roost.services.xmpp.muc import config as room_config
from roost.services.xmpp.muc.history import parse_request
from roost.services.xmpp.muc.keeper import RoomKeeper
from roost.services.xmpp.muc.relay import Relay
from roost.services.xmpp.muc.roles import Affiliation
from roost.services.xmpp.muc.room import MUC, MUC_USER, MucError, Room
from roost.services.xmpp.roster import to_text
from roost.services.xmpp.sessions import Outlet, SessionManager
from roost.store.store import Store

log = logging.getLogger(__name__)

LABEL = "conference"
"""The component's address under each hosted domain."""
SELF_PING = "http://jabber.org/protocol/muc#self-ping-optimization"
SERVICE_FEATURES = (DISCO_INFO, DISCO_ITEMS, MUC)
MAX_ROOM_JID_CHARS = 320
"""Rooms are kept (and archived) under their bare JID in columns of this size."""
_STANZA_ID_BYTES = 12
_Condition = StanzaErrorCondition


class Aliases(Protocol):
    """What the component asks the directory."""

    async def alias_members(self, bare: Jid) -> list[Jid]: ...


class MucComponent:
    def __init__(
        self,
        store: Store,
        sessions: SessionManager,
        directory: Aliases,
        config: XmppServiceSettings,
        archive: Archive,
        counters: dict[str, int],
    ) -> None:
        self._sessions = sessions
        self._clock = store.clock
        self._directory = directory
        self._config = config
        self._archive = archive
        self._counters = counters
        self.default = room_config.RoomConfig(
            max_occupants=config.muc_max_occupants,
            history_length=min(config.muc_history_default, config.muc_history_max),
        )
        self.limits = room_config.Limits(config.muc_max_occupants, config.muc_history_max)
        self._keeper = RoomKeeper(store, self.default, archive=archive.enabled)
        self.rooms: dict[Jid, Room] = {}
        self._aliases: set[Jid] = set()
        """Rooms that are mail aliases (their members follow the alias)."""

    async def load(self) -> None:
        """The persistent rooms, at start."""
        self.rooms = {room.jid: room for room in await self._keeper.load()}

    def counts(self) -> dict[str, int]:
        """For the Services page."""
        return {
            "muc_rooms": len(self.rooms),
            "muc_occupants": sum(len(r.occupants) for r in self.rooms.values()),
        }

    # --- delivery

    def _deliver(self, stanzas: list[Element]) -> None:
        for stanza in stanzas:
            to = stanza.get("to")
            if to is None:
                continue
            jid = Jid.parse(to)
            if jid.resource is not None:
                session = self._sessions.get(jid)
                self._count_delivery(session is not None and session.deliver(stanza))
                continue
            # An invitation to a bare JID: to each available resource.
            for session in self._sessions.available(jid):
                if session.jid is not None:
                    copy = stanza.with_attribute("to", str(session.jid))
                    self._count_delivery(session.deliver(copy))

    def _count_delivery(self, delivered: bool) -> None:
        if delivered:
            self._counters["stanzas_routed"] = self._counters.get("stanzas_routed", 0) + 1

    @staticmethod
    def _refuse(
        sender: Outlet, stanza: Element, condition: StanzaErrorCondition, text: str
    ) -> None:
        # Never an error to an error, nor to an IQ result (RFC 6120 §8.3.1).
        if stanza.get("type") not in ("error", "result"):
            sender.reply(error_reply(stanza, condition, text=text))

    # --- dispatch

    async def receive(self, sender: Outlet, event: Message | Presence | Iq) -> None:
        assert sender.jid is not None and event.to is not None
        to = event.to
        try:
            match event:
                case Presence():
                    await self._presence(sender, event, to)
                case Message():
                    await self._message(sender, event, to)
                case Iq():
                    await self._iq(sender, event, to)
        except MucError as exc:
            self._refuse(sender, event.stanza, exc.condition, str(exc))

    async def departed(self, session: Outlet) -> None:
        """The session ended or went unavailable: it leaves every room."""
        jid = session.jid
        if jid is None:
            return
        for room in list(self.rooms.values()):
            if room.occupant(jid) is not None:
                self._deliver(room.leave(jid))
                await self._drop_if_unused(room)

    async def _drop_if_unused(self, room: Room) -> None:
        """§10.1: a temporary room goes with its last occupant."""
        if room.empty and not room.config.persistent:
            self.rooms.pop(room.jid, None)
            self._aliases.discard(room.jid)
            await self._keeper.forget(room)

    # --- presence (§7.2, §7.6, §7.14)

    async def _presence(self, sender: Outlet, event: Presence, to: Jid) -> None:
        stanza = event.stanza
        assert sender.jid is not None
        kind = stanza.get("type")
        if kind not in (None, "unavailable"):
            return  # subscriptions, probes and errors mean nothing to a room
        if to.local is None:
            return
        room = self.rooms.get(to.bare)
        if kind == "unavailable":
            if room is not None:
                status = stanza.find("status", stanza.namespace)
                self._deliver(room.leave(sender.jid, status))
                await self._drop_if_unused(room)
            return
        if to.resource is None:
            raise MucError(_Condition.JID_MALFORMED, "a nickname is needed to enter a room")
        nick = to.resource
        if len(nick) > self._config.muc_max_nick_chars or not nick.strip():
            raise MucError(_Condition.NOT_ACCEPTABLE, "that nickname is not acceptable")
        if room is not None and room.occupant(sender.jid) is not None:
            self._deliver(room.update(sender.jid, nick, stanza))
            return
        join = stanza.find("x", MUC)
        password_element = None if join is None else join.find("password", MUC)
        password = None if password_element is None else password_element.text
        history = parse_request(join)
        created = False
        if room is None:
            room = await self._alias_room(to.bare)
        elif to.bare in self._aliases:
            await self._refresh_alias(room)
        if room is None:
            room = self._create(sender.jid, to.bare, locked=join is not None)
            created = True
        try:
            out = room.enter(
                sender.jid,
                nick,
                stanza,
                password=password,
                history=history,
                now=self._now(),
                created=created,
            )
        except MucError:
            if created:
                self.rooms.pop(room.jid, None)
            raise
        self._deliver(out)
        if created:
            self._counters["muc_rooms_created"] = self._counters.get("muc_rooms_created", 0) + 1
            if not room.locked:
                await self._keeper.save(room)

    def _create(self, user: Jid, jid: Jid, *, locked: bool) -> Room:
        assert jid.local is not None
        if len(jid.local) > self._config.muc_max_room_name_chars:
            raise MucError(_Condition.NOT_ACCEPTABLE, "that room name is too long")
        if len(str(jid)) > MAX_ROOM_JID_CHARS:
            raise MucError(_Condition.NOT_ACCEPTABLE, "that room address is too long")
        owned = sum(1 for r in self.rooms.values() if r.creator == user.bare)
        if owned >= self._config.muc_max_rooms_per_user:
            raise MucError(_Condition.RESOURCE_CONSTRAINT, "you have created enough rooms")
        room = Room(
            jid,
            self.default,
            creator=user.bare,
            affiliations={user.bare: Affiliation.OWNER},
            locked=locked,
        )
        self.rooms[jid] = room
        return room

    # --- alias rooms (the `muc_alias_rooms` setting)

    async def _alias_members(self, room: Jid) -> list[Jid]:
        if not self._config.muc_alias_rooms or room.local is None:
            return []
        parent = room.domain.partition(".")[2]
        return await self._directory.alias_members(Jid(room.local, parent))

    async def _alias_room(self, jid: Jid) -> Room | None:
        members = await self._alias_members(jid)
        if not members:
            return None
        assert jid.local is not None
        parent = jid.domain.partition(".")[2]
        config = replace(
            self.default,
            name=f"{jid.local}@{parent}",
            members_only=True,
            public=False,
        )
        room = Room(jid, config, affiliations=dict.fromkeys(members, Affiliation.MEMBER))
        self.rooms[jid] = room
        self._aliases.add(jid)
        return room

    async def _refresh_alias(self, room: Room) -> None:
        """The alias's members now, before someone enters."""
        members = set(await self._alias_members(room.jid))
        for jid, affiliation in list(room.affiliations.items()):
            if affiliation == Affiliation.MEMBER and jid not in members:
                self._deliver(room.set_affiliation(None, jid, Affiliation.NONE, ""))
        for jid in members:
            if room.affiliation(jid) == Affiliation.NONE:
                room.affiliations[jid] = Affiliation.MEMBER

    # --- messages (§7.4, §7.5, §7.8)

    async def _message(self, sender: Outlet, event: Message, to: Jid) -> None:
        stanza = event.stanza
        assert sender.jid is not None
        kind = stanza.get("type") or "normal"
        if kind == "error":
            return
        room = None if to.local is None else self.rooms.get(to.bare)
        if room is None:
            raise MucError(_Condition.ITEM_NOT_FOUND, "no such room")
        if to.resource is not None:
            self._deliver(room.private(sender.jid, to.resource, stanza))
            return
        if kind == "groupchat":
            stanza_id = secrets.token_urlsafe(_STANZA_ID_BYTES)
            out, kept = room.groupchat(sender.jid, stanza, stanza_id=stanza_id, now=self._now())
            occupant = room.occupant(sender.jid)
            if kept is not None and occupant is not None and self._archive.enabled:
                await self._keeper.archive(room, stanza_id, occupant.nick, to_text(kept))
            elif kept is None and room.config.persistent:
                await self._keeper.subject(room)
            self._counters["muc_messages"] = self._counters.get("muc_messages", 0) + 1
            self._deliver(out)
            return
        x = stanza.find("x", MUC_USER)
        invites = [] if x is None else [e for e in x.elements() if e.matches("invite", MUC_USER)]
        declines = [] if x is None else [e for e in x.elements() if e.matches("decline", MUC_USER)]
        if not invites and not declines:
            raise MucError(_Condition.BAD_REQUEST, "a message to a room is a groupchat message")
        changed = False
        for invite in invites:
            invitee = _jid_of(invite.get("to"))
            reason = invite.find("reason", MUC_USER)
            out, joined = room.invite(sender.jid, invitee, "" if reason is None else reason.text)
            changed |= joined
            self._deliver(out)
        for decline in declines:
            self._decline(room, sender.jid, decline)
        if changed and room.config.persistent and not room.locked:
            await self._keeper.save(room)

    def _decline(self, room: Room, by: Jid, decline: Element) -> None:
        """§7.8.2: a declined invitation goes back to the inviter."""
        inviter = _jid_of(decline.get("to"))
        reason = decline.find("reason", MUC_USER)
        children = [] if reason is None else [reason]
        back = Element.of("decline", MUC_USER, {"from": str(by.bare)}, children)
        message = Element.of(
            "message",
            "jabber:client",
            {"from": str(room.jid), "to": str(inviter)},
            [Element.of("x", MUC_USER, (), [back])],
        )
        if inviter.resource is not None:
            self._deliver([message])
        else:
            for session in self._sessions.available(inviter):
                if session.jid is not None:
                    self._deliver([message.with_attribute("to", str(session.jid))])

    # --- IQs

    async def _iq(self, sender: Outlet, event: Iq, to: Jid) -> None:
        stanza = event.stanza
        assert sender.jid is not None
        asks = event.type in ("get", "set")
        payload = event.payload
        key = None if payload is None else (payload.namespace, payload.name, event.type)
        if to.local is None:
            if not asks:
                return
            if key == (DISCO_INFO, "query", "get"):
                identity = {"category": "conference", "type": "text", "name": "Chat rooms"}
                sender.reply(iq_result(stanza, _info((identity,), SERVICE_FEATURES)))
            elif key == (DISCO_ITEMS, "query", "get"):
                sender.reply(iq_result(stanza, self._public_rooms(to)))
            else:
                raise MucError(_Condition.SERVICE_UNAVAILABLE, "not a service of this component")
            return
        room = self.rooms.get(to.bare)
        if room is None:
            if asks:
                raise MucError(_Condition.ITEM_NOT_FOUND, "no such room")
            return
        if to.resource is not None:
            self._occupant_iq(sender, event, room, to.resource)
            return
        if not asks:
            return
        assert payload is not None
        match key:
            case (ns, "query", "get") if ns == DISCO_INFO:
                sender.reply(iq_result(stanza, self._room_info(room)))
            case (ns, "query", "get") if ns == DISCO_ITEMS:
                sender.reply(iq_result(stanza, Element("query", DISCO_ITEMS)))
            case (ns, "query", "get") if ns == admin.MUC_ADMIN:
                outcome = admin.admin_get(room, sender.jid, payload)
                sender.reply(iq_result(stanza, outcome.payload))
            case (ns, "query", "set") if ns == admin.MUC_ADMIN:
                outcome = admin.admin_set(room, sender.jid, payload)
                await self._apply(sender, stanza, room, outcome)
            case (ns, "query", "get") if ns == admin.MUC_OWNER:
                outcome = admin.owner_get(room, sender.jid)
                sender.reply(iq_result(stanza, outcome.payload))
            case (ns, "query", "set") if ns == admin.MUC_OWNER:
                outcome = admin.owner_set(room, sender.jid, payload, self.limits)
                await self._apply(sender, stanza, room, outcome)
            case (ns, "query", _) if ns == MAM and self._archive.enabled:
                await self._archive_query(sender, event, room)
            case _:
                raise MucError(_Condition.SERVICE_UNAVAILABLE, "rooms do not answer that")

    async def _apply(
        self, sender: Outlet, stanza: Element, room: Room, outcome: admin.Outcome
    ) -> None:
        sender.reply(iq_result(stanza, outcome.payload))
        self._deliver(outcome.out)
        if outcome.destroyed:
            self.rooms.pop(room.jid, None)
            self._aliases.discard(room.jid)
            await self._keeper.forget(room)
            return
        if outcome.changed and room.jid not in self._aliases:
            await self._keeper.save(room)
        await self._drop_if_unused(room)

    def _occupant_iq(self, sender: Outlet, event: Iq, room: Room, nick: str) -> None:
        """XEP-0410: a ping to one's own occupant JID is answered here;
        other IQs go to the occupant, from the sender's occupant JID
        (§7.7), and their answers come back the same way."""
        assert sender.jid is not None
        stanza = event.stanza
        me = room.occupant(sender.jid)
        payload = event.payload
        if (
            me is not None
            and me.nick == nick
            and payload is not None
            and payload.matches("ping", PING)
        ):
            sender.reply(iq_result(stanza))
            return
        if me is None:
            raise MucError(_Condition.NOT_ACCEPTABLE, "you are not an occupant of this room")
        target = room.occupants.get(nick)
        if target is None and event.type not in ("get", "set"):
            return  # an answer for someone who left
        if target is None:
            raise MucError(_Condition.ITEM_NOT_FOUND, "no occupant has that nickname")
        relayed = stanza.with_attribute("from", str(room.occupant_jid(me.nick)))
        self._deliver([relayed.with_attribute("to", str(target.jid))])

    async def _archive_query(self, sender: Outlet, event: Iq, room: Room) -> None:
        """XEP-0313 §5: the room's archive, for its occupants and members,
        and for anyone who may enter an open room."""
        assert sender.jid is not None
        affiliation = room.affiliation(sender.jid)
        member = affiliation in (Affiliation.MEMBER, Affiliation.ADMIN, Affiliation.OWNER)
        may = room.occupant(sender.jid) is not None or member
        if not room.config.members_only and not room.config.password:
            may = may or affiliation != Affiliation.OUTCAST
        if not may or affiliation == Affiliation.OUTCAST:
            raise MucError(_Condition.FORBIDDEN, "you may not read this room's archive")
        relay = Relay(sender, sender.jid)
        request = Request(event, room.jid, room.jid, relay)
        handler = self._archive.query if event.type == "set" else self._archive.form
        sender.reply(await handler(request))

    # --- disco

    def _public_rooms(self, service: Jid) -> Element:
        items = [
            Element.of(
                "item",
                DISCO_ITEMS,
                {"jid": str(room.jid), "name": room.config.name or room.jid.local},
            )
            for room in sorted(self.rooms.values(), key=lambda r: str(r.jid))
            if room.jid.domain == service.domain and room.config.public and not room.locked
        ]
        return Element.of("query", DISCO_ITEMS, (), items)

    def _room_info(self, room: Room) -> Element:
        identity = {"category": "conference", "type": "text", "name": room.config.name or None}
        features = [DISCO_INFO, DISCO_ITEMS, MUC, SELF_PING, *room_config.features(room.config)]
        if self._archive.enabled:
            features += [MAM, SID]
        return _info(({k: v for k, v in identity.items() if v is not None},), tuple(features))

    def _now(self) -> datetime:
        return self._clock.now()


def _info(identities: tuple[dict[str, str], ...], features: tuple[str, ...]) -> Element:
    children = [Element.of("identity", DISCO_INFO, i) for i in identities]
    children += [Element.of("feature", DISCO_INFO, {"var": var}) for var in features]
    return Element.of("query", DISCO_INFO, (), children)


def _jid_of(text: str | None) -> Jid:
    try:
        return Jid.parse(text or "")
    except JidMalformed:
        raise MucError(_Condition.JID_MALFORMED, "that is not a JID") from None
