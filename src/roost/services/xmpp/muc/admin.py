"""The IQs of a room's admins and owners (XEP-0045 §8, §9, §10).

- ``muc#admin`` get: the occupants with a role, or the JIDs with an
  affiliation (§9.5 members, §9.8 outcasts, §10.5 owners, §10.8 admins,
  §8.5 moderators, §8.8 participants).
- ``muc#admin`` set: items with a ``nick`` and a ``role`` (kick §8.2,
  voice §8.3, moderator §9.6) or with a ``jid`` and an ``affiliation``
  (ban §9.1, member §9.3, admin §10.6, owner §10.3), applied in order;
  the first refused item is the answer and stops the rest.
- ``muc#owner`` get: the configuration form (§10.2); set: a submitted
  form (instant room §10.1.2, reconfiguration §10.2), a cancel (a locked
  new room is given up, §10.1.3) or ``<destroy/>`` (§10.9).

Each function takes the room and the request and returns the answer and
the stanzas for the occupants; the component keeps and delivers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from roost.proto.xmpp import Element, Jid, JidMalformed, StanzaErrorCondition
from roost.services.xmpp.muc import config as room_config
from roost.services.xmpp.muc.roles import Affiliation, Role
from roost.services.xmpp.muc.room import MucError, Room

MUC_ADMIN = "http://jabber.org/protocol/muc#admin"
MUC_OWNER = "http://jabber.org/protocol/muc#owner"

_Condition = StanzaErrorCondition


@dataclass(frozen=True, slots=True)
class Outcome:
    payload: Element | None
    """The result's payload."""
    out: list[Element]
    changed: bool = False
    """Affiliations or configuration changed: keep the room."""
    destroyed: bool = False


def admin_get(room: Room, actor: Jid, query: Element) -> Outcome:
    items = [e for e in query.elements() if e.matches("item", MUC_ADMIN)]
    if len(items) != 1:
        raise MucError(_Condition.BAD_REQUEST, "one item names the list")
    mine = room.affiliation(actor)
    occupant = room.occupant(actor)
    role_name, affiliation_name = items[0].get("role"), items[0].get("affiliation")
    listed: list[Element] = []
    if role_name is not None:
        role = _enum(Role, role_name)
        if occupant is None or occupant.role != Role.MODERATOR:
            raise MucError(_Condition.FORBIDDEN, "only moderators list roles")
        for o in room.with_role(role):
            attributes = {
                "nick": o.nick,
                "role": o.role.value,
                "affiliation": room.affiliation(o.jid).value,
                "jid": str(o.jid),
            }
            listed.append(Element.of("item", MUC_ADMIN, attributes))
    elif affiliation_name is not None:
        affiliation = _enum(Affiliation, affiliation_name)
        visible = mine in (Affiliation.ADMIN, Affiliation.OWNER) or (
            mine == Affiliation.MEMBER
            and affiliation in (Affiliation.MEMBER, Affiliation.ADMIN, Affiliation.OWNER)
        )
        if not visible or affiliation == Affiliation.NONE:
            raise MucError(_Condition.FORBIDDEN, "you may not see that list")
        for jid, reason in room.with_affiliation(affiliation):
            children = [Element.of("reason", MUC_ADMIN, (), [reason])] if reason else []
            attributes = {"jid": str(jid), "affiliation": affiliation.value}
            listed.append(Element.of("item", MUC_ADMIN, attributes, children))
    else:
        raise MucError(_Condition.BAD_REQUEST, "the item names no role and no affiliation")
    return Outcome(Element.of("query", MUC_ADMIN, (), listed), [])


def admin_set(room: Room, actor: Jid, query: Element) -> Outcome:
    items = [e for e in query.elements() if e.matches("item", MUC_ADMIN)]
    if not items:
        raise MucError(_Condition.BAD_REQUEST, "no item to change")
    changes: list[Callable[[], list[Element]]] = []
    changed = False
    for item in items:
        reason_element = item.find("reason", MUC_ADMIN)
        reason = "" if reason_element is None else reason_element.text
        if item.get("affiliation") is not None:
            target = item.get("jid")
            if target is None:
                raise MucError(_Condition.BAD_REQUEST, "an affiliation is given to a jid")
            try:
                jid = Jid.parse(target).bare
            except JidMalformed:
                raise MucError(_Condition.JID_MALFORMED, "the item's jid is malformed") from None
            affiliation = _enum(Affiliation, item.get("affiliation") or "")
            changes.append(partial(room.set_affiliation, actor, jid, affiliation, reason))
            changed = True
        elif item.get("role") is not None and item.get("nick") is not None:
            role = _enum(Role, item.get("role") or "")
            changes.append(partial(room.set_role, actor, item.get("nick") or "", role, reason))
        else:
            raise MucError(_Condition.BAD_REQUEST, "an item names a nick and a role, or a jid")
    out: list[Element] = []
    for change in changes:
        out += change()
    return Outcome(None, out, changed=changed)


def owner_get(room: Room, actor: Jid) -> Outcome:
    if room.affiliation(actor) != Affiliation.OWNER:
        raise MucError(_Condition.FORBIDDEN, "only owners configure the room")
    x = room_config.form(room.config, f"Configuration of {room.jid}")
    return Outcome(Element.of("query", MUC_OWNER, (), [x]), [])


def owner_set(room: Room, actor: Jid, query: Element, limits: room_config.Limits) -> Outcome:
    if room.affiliation(actor) != Affiliation.OWNER:
        raise MucError(_Condition.FORBIDDEN, "only owners configure the room")
    destroy = query.find("destroy", MUC_OWNER)
    if destroy is not None:
        reason = destroy.find("reason", MUC_OWNER)
        out = room.destroy("" if reason is None else reason.text, destroy.get("jid"))
        return Outcome(None, out, destroyed=True)
    x = query.find("x", room_config.DATA_FORMS)
    if x is None:
        raise MucError(_Condition.BAD_REQUEST, "no form and no destroy")
    if x.get("type") == "cancel":
        if room.locked:
            return Outcome(None, room.destroy("", None), destroyed=True)
        return Outcome(None, [])
    try:
        config = room_config.parse_submission(x, room.config, limits)
    except room_config.FormError as exc:
        raise MucError(exc.condition, str(exc)) from None
    if config.max_occupants < len(room.occupants):
        config = replace(config, max_occupants=len(room.occupants))
    was_locked = room.locked
    out = room.reconfigure(config)
    if was_locked:
        out = []  # §10.1.2: the room opens; nothing changed for anyone yet
    return Outcome(None, out, changed=True)


_E = TypeVar("_E", Role, Affiliation)


def _enum(kind: type[_E], text: str) -> _E:
    try:
        return kind(text)
    except ValueError:
        raise MucError(_Condition.BAD_REQUEST, f"{text!r} is no {kind.__name__.lower()}") from None
