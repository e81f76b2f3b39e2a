"""One room's state machine (XEP-0045): occupants, affiliations, subject,
history; stanzas in, stanzas out.

Every method takes what a client sent (already checked to come from the
real full JID given) and returns the stanzas to deliver, each addressed
(``to``) to an occupant's real full JID, in order; or raises `MucError`
with the condition the sender is answered with. It never waits and never
touches the store: the component (`roost.services.xmpp.muc.component`)
keeps persistent rooms and delivers.

Presence from the room (§7.2.3 onwards) carries ``<x xmlns=muc#user>``
with the occupant's affiliation and role, its real JID for those who may
see it (moderators in a semi-anonymous room, everyone in a non-anonymous
one, and the occupant itself), and status codes: 110 (this is you), 100
(non-anonymous), 201 (room created), 303 (nickname changed), 307
(kicked), 301 (banned), 321 (no longer a member of a members-only room),
322 (the room became members-only), 104 (configuration changed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from roost.core.errors import RoostError
from roost.proto.xmpp import Element, Jid, StanzaErrorCondition
from roost.services.xmpp.muc.config import RoomConfig
from roost.services.xmpp.muc.history import History, HistoryEntry, HistoryRequest, delayed
from roost.services.xmpp.muc.roles import (
    Affiliation,
    Role,
    entry_role,
    may_set_affiliation,
    may_set_role,
)

MUC = "http://jabber.org/protocol/muc"
MUC_USER = "http://jabber.org/protocol/muc#user"
CLIENT = "jabber:client"
SID = "urn:xmpp:sid:0"

SELF = "110"
NON_ANONYMOUS = "100"
CREATED = "201"
NICK_CHANGED = "303"
KICKED = "307"
BANNED = "301"
AFFILIATION_LOST = "321"
MEMBERS_ONLY_NOW = "322"
CONFIG_CHANGED = "104"

_Condition = StanzaErrorCondition


class MucError(RoostError):
    def __init__(self, condition: StanzaErrorCondition, text: str) -> None:
        super().__init__(text)
        self.condition = condition


@dataclass(slots=True)
class Occupant:
    nick: str
    jid: Jid
    """The real full JID."""
    role: Role
    presence: Element
    """The occupant's last available presence as it sent it."""


class Room:
    def __init__(
        self,
        jid: Jid,
        config: RoomConfig,
        *,
        creator: Jid | None = None,
        affiliations: dict[Jid, Affiliation] | None = None,
        subject: str = "",
        subject_by: str = "",
        history: Iterable[HistoryEntry] = (),
        locked: bool = False,
    ) -> None:
        self.jid = jid
        self.config = config
        self.creator = creator
        self.affiliations: dict[Jid, Affiliation] = dict(affiliations or {})
        self.reasons: dict[Jid, str] = {}
        self.subject = subject
        self.subject_by = subject_by
        self.history = History(config.history_length, history)
        self.locked = locked
        """A new room waits for its owner's configuration (§10.1.1)."""
        self.occupants: dict[str, Occupant] = {}
        self._nick_of: dict[Jid, str] = {}

    # --- who is who

    def affiliation(self, jid: Jid) -> Affiliation:
        """§5.2: by bare JID, else by the JID's domain (a whole server banned)."""
        found = self.affiliations.get(jid.bare)
        if found is None:
            found = self.affiliations.get(Jid(None, jid.domain))
        return found or Affiliation.NONE

    def occupant(self, jid: Jid) -> Occupant | None:
        nick = self._nick_of.get(jid)
        return None if nick is None else self.occupants.get(nick)

    def occupant_jid(self, nick: str) -> Jid:
        return self.jid.with_resource(nick)

    @property
    def empty(self) -> bool:
        return not self.occupants

    def _sees_jids(self, viewer: Occupant) -> bool:
        return self.config.whois == "anyone" or viewer.role == Role.MODERATOR

    # --- stanzas the room sends

    def _presence(
        self,
        about: Occupant,
        to: Occupant,
        codes: Iterable[str] = (),
        *,
        unavailable: bool = False,
        role: Role | None = None,
        item_children: Iterable[Element] = (),
        new_nick: str | None = None,
    ) -> Element:
        affiliation = self.affiliation(about.jid)
        attributes = {
            "affiliation": affiliation.value,
            "role": (role or (Role.NONE if unavailable else about.role)).value,
            "jid": str(about.jid) if (to is about or self._sees_jids(to)) else None,
            "nick": new_nick,
        }
        item = Element.of("item", MUC_USER, attributes, item_children)
        codes = list(codes)
        if to is about:
            codes.append(SELF)
        statuses = [Element.of("status", MUC_USER, {"code": c}) for c in dict.fromkeys(codes)]
        x = Element.of("x", MUC_USER, (), [item, *statuses])
        kept: list[Element | str] = []
        if not unavailable:
            kept = [
                c
                for c in about.presence.children
                if isinstance(c, Element) and c.namespace not in (MUC, MUC_USER)
            ]
        attrs = {
            "from": str(self.occupant_jid(about.nick)),
            "to": str(to.jid),
            "type": "unavailable" if unavailable else None,
        }
        return Element.of("presence", CLIENT, attrs, [*kept, x])

    def _to_all(self, about: Occupant, codes: Iterable[str] = (), **kw: object) -> list[Element]:
        codes = tuple(codes)
        return [
            self._presence(about, to, codes, **kw)  # type: ignore[arg-type]
            for to in list(self.occupants.values())
        ]

    def _message(self, to: Occupant, children: Iterable[Element], kind: str | None) -> Element:
        attributes = {"from": str(self.jid), "to": str(to.jid), "type": kind}
        return Element.of("message", CLIENT, attributes, children)

    def status_message(self, codes: Iterable[str]) -> list[Element]:
        """§10.2.1: a message from the room with status codes, to everyone."""
        statuses = [Element.of("status", MUC_USER, {"code": c}) for c in codes]
        x = Element.of("x", MUC_USER, (), statuses)
        return [self._message(o, [x], "groupchat") for o in self.occupants.values()]

    # --- presence (§7.2 entering, §7.6 nickname, §7.14 leaving)

    def enter(
        self,
        jid: Jid,
        nick: str,
        presence: Element,
        *,
        password: str | None,
        history: HistoryRequest,
        now: datetime,
        created: bool = False,
    ) -> list[Element]:
        """A user enters under ``nick`` (§7.2). The order of the checks is
        §7.2's: nickname in use, locked room, ban, membership, password,
        capacity."""
        holder = self.occupants.get(nick)
        if holder is not None and holder.jid != jid:
            raise MucError(_Condition.CONFLICT, "that nickname is in use in this room")
        affiliation = self.affiliation(jid)
        if self.locked and affiliation != Affiliation.OWNER:
            raise MucError(_Condition.ITEM_NOT_FOUND, "the room is not configured yet")
        if affiliation == Affiliation.OUTCAST:
            raise MucError(_Condition.FORBIDDEN, "you are banned from this room")
        if self.config.members_only and affiliation == Affiliation.NONE:
            raise MucError(_Condition.REGISTRATION_REQUIRED, "the room is for members only")
        owner = affiliation == Affiliation.OWNER
        if self.config.password and not owner and password != self.config.password:
            raise MucError(_Condition.NOT_AUTHORIZED, "the room needs a password")
        if len(self.occupants) >= self.config.max_occupants:
            raise MucError(_Condition.SERVICE_UNAVAILABLE, "the room is full")
        occupant = Occupant(
            nick, jid, entry_role(affiliation, moderated=self.config.moderated), presence
        )
        out = [self._presence(other, occupant) for other in self.occupants.values()]
        self.occupants[nick] = occupant
        self._nick_of[jid] = nick
        codes = [NON_ANONYMOUS] if self.config.whois == "anyone" else []
        for other in self.occupants.values():
            if other is not occupant:
                out.append(self._presence(occupant, other))
        out.append(self._presence(occupant, occupant, [*codes, *([CREATED] if created else [])]))
        out += [
            delayed(entry, str(self.jid), str(jid)) for entry in self.history.select(history, now)
        ]
        subject_from = self.occupant_jid(self.subject_by) if self.subject_by else self.jid
        subject = Element.of("subject", CLIENT, (), [self.subject] if self.subject else [])
        out.append(
            Element.of(
                "message",
                CLIENT,
                {"from": str(subject_from), "to": str(jid), "type": "groupchat"},
                [subject],
            )
        )
        return out

    def update(self, jid: Jid, nick: str, presence: Element) -> list[Element]:
        """Presence from an occupant: a change of status, or of nickname (§7.6)."""
        occupant = self.occupant(jid)
        assert occupant is not None
        if nick == occupant.nick:
            occupant.presence = presence
            return self._to_all(occupant)
        holder = self.occupants.get(nick)
        if holder is not None:
            raise MucError(_Condition.CONFLICT, "that nickname is in use in this room")
        out = self._to_all(occupant, [NICK_CHANGED], unavailable=True, new_nick=nick)
        del self.occupants[occupant.nick]
        occupant.nick = nick
        occupant.presence = presence
        self.occupants[nick] = occupant
        self._nick_of[jid] = nick
        return out + self._to_all(occupant)

    def leave(self, jid: Jid, status: Element | None = None) -> list[Element]:
        """§7.14: unavailable to everyone, the leaver included."""
        occupant = self.occupant(jid)
        if occupant is None:
            return []
        out = self._to_all(occupant, unavailable=True)
        if status is not None:
            out = [p.with_children([status, *p.children]) for p in out]
        self._remove(occupant)
        return out

    def _remove(self, occupant: Occupant) -> None:
        self.occupants.pop(occupant.nick, None)
        self._nick_of.pop(occupant.jid, None)

    def _evict(
        self, occupant: Occupant, code: str, actor: str | None, reason: str
    ) -> list[Element]:
        """Remove with a status code (kick, ban, membership lost)."""
        children = []
        if actor is not None:
            children.append(Element.of("actor", MUC_USER, {"nick": actor}))
        if reason:
            children.append(Element.of("reason", MUC_USER, (), [reason]))
        out = self._to_all(occupant, [code], unavailable=True, item_children=children)
        self._remove(occupant)
        return out

    # --- messages (§7.4 groupchat, §7.5 private, §8.1 subject)

    def groupchat(
        self, jid: Jid, message: Element, *, stanza_id: str, now: datetime
    ) -> tuple[list[Element], Element | None]:
        """A message to all occupants; with it, the message as the room
        keeps it (for history and the archive), or None for a subject."""
        occupant = self.occupant(jid)
        if occupant is None:
            raise MucError(_Condition.NOT_ACCEPTABLE, "you are not an occupant of this room")
        if occupant.role == Role.VISITOR:
            raise MucError(_Condition.FORBIDDEN, "visitors have no voice in this room")
        has_body = message.find("body", CLIENT) is not None
        subject = message.find("subject", CLIENT)
        keep = True
        if subject is not None and not has_body:
            if occupant.role != Role.MODERATOR and not self.config.change_subject:
                raise MucError(_Condition.FORBIDDEN, "only moderators change the subject")
            self.subject, self.subject_by = subject.text, occupant.nick
            keep = False
        children = [
            c
            for c in message.children
            if not (isinstance(c, Element) and c.matches("stanza-id", SID))
        ]
        marker = Element.of("stanza-id", SID, {"by": str(self.jid), "id": stanza_id})
        broadcast = Element.of(
            "message",
            CLIENT,
            {
                "from": str(self.occupant_jid(occupant.nick)),
                "type": "groupchat",
                "id": message.get("id"),
            },
            [*children, marker] if keep else children,
        )
        out = [broadcast.with_attribute("to", str(o.jid)) for o in self.occupants.values()]
        if not keep or not has_body:
            return out, None
        self.history.add(HistoryEntry(now, broadcast))
        return out, broadcast

    def private(self, jid: Jid, nick: str, message: Element) -> list[Element]:
        """§7.5: to one occupant, from the sender's occupant JID."""
        occupant = self.occupant(jid)
        if occupant is None:
            raise MucError(_Condition.NOT_ACCEPTABLE, "you are not an occupant of this room")
        if message.get("type") == "groupchat":
            raise MucError(_Condition.BAD_REQUEST, "a groupchat message goes to the room")
        target = self.occupants.get(nick)
        if target is None:
            raise MucError(_Condition.ITEM_NOT_FOUND, "no occupant has that nickname")
        children = [
            c for c in message.children if not (isinstance(c, Element) and c.namespace == MUC_USER)
        ]
        attributes = {
            "from": str(self.occupant_jid(occupant.nick)),
            "to": str(target.jid),
            "type": message.get("type"),
            "id": message.get("id"),
        }
        return [Element.of("message", CLIENT, attributes, [*children, Element("x", MUC_USER)])]

    # --- invitations (§7.8.2)

    def invite(self, jid: Jid, invitee: Jid, reason: str) -> tuple[list[Element], bool]:
        """A mediated invitation from an occupant; the message to the
        invitee, and whether the invitee became a member (an admin's or
        owner's invitation to a members-only room, §9.3)."""
        occupant = self.occupant(jid)
        if occupant is None:
            raise MucError(_Condition.NOT_ACCEPTABLE, "you are not an occupant of this room")
        affiliation = self.affiliation(jid)
        admin = affiliation in (Affiliation.OWNER, Affiliation.ADMIN)
        if self.config.members_only and not admin and not self.config.allow_invites:
            raise MucError(_Condition.FORBIDDEN, "only admins invite to this room")
        children = [Element.of("reason", MUC_USER, (), [reason])] if reason else []
        invite = Element.of("invite", MUC_USER, {"from": str(jid)}, children)
        x_children = [invite]
        if self.config.password:
            x_children.append(Element.of("password", MUC_USER, (), [self.config.password]))
        x = Element.of("x", MUC_USER, (), x_children)
        message = Element.of("message", CLIENT, {"from": str(self.jid), "to": str(invitee)}, [x])
        joins = self.config.members_only and self.affiliation(invitee) == Affiliation.NONE
        if joins:
            self.affiliations[invitee.bare] = Affiliation.MEMBER
        return [message], joins

    # --- moderation (§8, §9)

    def set_role(self, actor: Jid, nick: str, role: Role, reason: str) -> list[Element]:
        by = self.occupant(actor)
        target = self.occupants.get(nick)
        if by is None:
            raise MucError(_Condition.FORBIDDEN, "you are not an occupant of this room")
        if target is None:
            raise MucError(_Condition.ITEM_NOT_FOUND, "no occupant has that nickname")
        if by.role != Role.MODERATOR:
            raise MucError(_Condition.FORBIDDEN, "only moderators change roles")
        target_affiliation = self.affiliation(target.jid)
        if not may_set_role(by.role, self.affiliation(actor), target_affiliation, role):
            condition = (
                _Condition.NOT_ALLOWED
                if target_affiliation in (Affiliation.ADMIN, Affiliation.OWNER)
                else _Condition.FORBIDDEN
            )
            raise MucError(condition, "you may not change that occupant's role")
        if role == Role.NONE:
            return self._evict(target, KICKED, by.nick, reason)
        target.role = role
        return self._to_all(target)

    def set_affiliation(
        self, actor: Jid | None, target: Jid, affiliation: Affiliation, reason: str
    ) -> list[Element]:
        """``actor`` None: the service itself (alias rooms, the creator)."""
        target = target.bare if target.local is not None else target
        current = self.affiliation(target)
        if actor is not None:
            mine = self.affiliation(actor)
            if not may_set_affiliation(mine, current, affiliation):
                raise MucError(_Condition.NOT_ALLOWED, "you may not change that affiliation")
            owners = [j for j, a in self.affiliations.items() if a == Affiliation.OWNER]
            if current == Affiliation.OWNER and owners == [target]:
                raise MucError(_Condition.CONFLICT, "the room needs an owner")
        if affiliation == Affiliation.NONE:
            self.affiliations.pop(target, None)
            self.reasons.pop(target, None)
        else:
            self.affiliations[target] = affiliation
            self.reasons[target] = reason
        by = None if actor is None else self.occupant(actor)
        out: list[Element] = []
        for occupant in list(self.occupants.values()):
            if occupant.jid.bare != target and Jid(None, occupant.jid.domain) != target:
                continue
            if affiliation == Affiliation.OUTCAST:
                out += self._evict(occupant, BANNED, by.nick if by else None, reason)
            elif self.config.members_only and affiliation == Affiliation.NONE:
                out += self._evict(occupant, AFFILIATION_LOST, by.nick if by else None, reason)
            else:
                occupant.role = entry_role(affiliation, moderated=self.config.moderated)
                out += self._to_all(occupant)
        return out

    def with_role(self, role: Role) -> list[Occupant]:
        return [o for o in self.occupants.values() if o.role == role]

    def with_affiliation(self, affiliation: Affiliation) -> list[tuple[Jid, str]]:
        return sorted(
            (
                (j, self.reasons.get(j, ""))
                for j, a in self.affiliations.items()
                if a == affiliation
            ),
            key=lambda pair: str(pair[0]),
        )

    # --- owner (§10)

    def reconfigure(self, config: RoomConfig) -> list[Element]:
        """§10.2: the new configuration; those it leaves out go (§9.3, 322)."""
        became_members_only = config.members_only and not self.config.members_only
        self.config = config
        self.history.resize(config.history_length)
        self.locked = False
        out: list[Element] = []
        if became_members_only:
            for occupant in list(self.occupants.values()):
                if self.affiliation(occupant.jid) == Affiliation.NONE:
                    out += self._evict(occupant, MEMBERS_ONLY_NOW, None, "")
        return out + self.status_message([CONFIG_CHANGED])

    def destroy(self, reason: str, alternate: str | None) -> list[Element]:
        """§10.9: every occupant leaves with ``<destroy/>``."""
        children = [Element.of("reason", MUC_USER, (), [reason])] if reason else []
        destroy = Element.of("destroy", MUC_USER, {"jid": alternate}, children)
        out = []
        for occupant in list(self.occupants.values()):
            item = Element.of("item", MUC_USER, {"affiliation": "none", "role": "none"})
            x = Element.of("x", MUC_USER, (), [item, destroy])
            attributes = {
                "from": str(self.occupant_jid(occupant.nick)),
                "to": str(occupant.jid),
                "type": "unavailable",
            }
            out.append(Element.of("presence", CLIENT, attributes, [x]))
            self._remove(occupant)
        return out
