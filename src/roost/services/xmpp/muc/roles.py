"""Affiliations and roles (XEP-0045 §5) and who may change which.

An affiliation is long-lived and belongs to a bare JID (§5.2): owner,
admin, member, none, outcast. A role belongs to an occupant for one visit
(§5.1): moderator, participant, visitor, none. The role on entering
follows from the affiliation and the room's moderation (§5.1.2); the
tables below are §5.1.3 (role changes a moderator may make) and §5.2.2
(affiliation changes an admin or an owner may make).
"""

from __future__ import annotations

import enum


class Affiliation(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    NONE = "none"
    OUTCAST = "outcast"


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    PARTICIPANT = "participant"
    VISITOR = "visitor"
    NONE = "none"


RANK = {
    Affiliation.OUTCAST: 0,
    Affiliation.NONE: 1,
    Affiliation.MEMBER: 2,
    Affiliation.ADMIN: 3,
    Affiliation.OWNER: 4,
}


def entry_role(affiliation: Affiliation, *, moderated: bool) -> Role:
    """§5.1.2: owners and admins enter as moderators, others as
    participants, or as visitors when a moderated room gives no voice to
    those without an affiliation."""
    if affiliation in (Affiliation.OWNER, Affiliation.ADMIN):
        return Role.MODERATOR
    if affiliation == Affiliation.OUTCAST:
        return Role.NONE
    if moderated and affiliation == Affiliation.NONE:
        return Role.VISITOR
    return Role.PARTICIPANT


def may_set_role(
    actor_role: Role,
    actor_affiliation: Affiliation,
    target_affiliation: Affiliation,
    new_role: Role,
) -> bool:
    """§5.1.3 and §8.2, §9.6: a moderator kicks and gives or takes voice;
    only admins and owners grant or revoke moderator; nobody changes the
    role of an occupant whose affiliation is admin or owner (§8.2:
    ``not-allowed``), and an admin cannot touch an owner."""
    if actor_role != Role.MODERATOR:
        return False
    if target_affiliation in (Affiliation.ADMIN, Affiliation.OWNER):
        return False
    if new_role == Role.MODERATOR:
        return actor_affiliation in (Affiliation.ADMIN, Affiliation.OWNER)
    return True


def may_set_affiliation(actor: Affiliation, current: Affiliation, new: Affiliation) -> bool:
    """§5.2.2: an admin manages members and outcasts below admin; an owner
    manages every affiliation (including other owners, §10.5)."""
    if actor == Affiliation.OWNER:
        return True
    if actor != Affiliation.ADMIN:
        return False
    below = (Affiliation.MEMBER, Affiliation.NONE, Affiliation.OUTCAST)
    return current in below and new in below
