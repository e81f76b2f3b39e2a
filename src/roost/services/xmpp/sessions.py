"""Bound XMPP sessions, keyed by bare and by full JID.

The router finds a user's resources here (RFC 6121 §8.5), and resource
binding (RFC 6120 §7) applies the conflict policy of ``[xmpp]
resource_conflict`` here: `replace` closes the session that holds the
resource with a ``conflict`` stream error (§7.7.2.2), `refuse` answers
the new bind with ``conflict``, `new` binds a fresh resource instead.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from roost.proto.xmpp import Element, Jid, StanzaErrorCondition, random_resource


class ConflictPolicy(enum.Enum):
    REPLACE = "replace"
    REFUSE = "refuse"
    NEW = "new"


@dataclass(slots=True)
class ChatState:
    """What a bound session asked of the server beyond binding (mutable,
    one per session)."""

    roster_requested: bool = False
    """RFC 6121 §2.1.6: roster pushes go to "interested" resources."""
    blocklist_requested: bool = False
    """XEP-0191 §3.2: block pushes go to resources that asked for the list."""
    carbons: bool = False
    """XEP-0280 §4: the session enabled carbons."""
    directed: set[Jid] = field(default_factory=set)
    """Where the session sent directed presence (RFC 6121 §4.6.3)."""
    caps_ver: str | None = None
    """The XEP-0115 ``ver`` of the client's last presence."""
    features: frozenset[str] | None = None
    """The client's disco#info features once known (XEP-0115)."""
    inactive: bool = False
    """XEP-0352: the client said it is inactive."""


class Outlet(Protocol):
    """What the manager and the router need of a bound session."""

    @property
    def jid(self) -> Jid | None:
        """The full JID once bound."""
        ...

    @property
    def transport(self) -> str: ...

    @property
    def chat(self) -> ChatState:
        """What the session asked of the server (roster, carbons, ...)."""
        ...

    @property
    def available(self) -> bool:
        """Has the client sent available presence (RFC 6121 §4.2)?"""
        ...

    @property
    def priority(self) -> int: ...

    @property
    def presence(self) -> Element | None:
        """The last available broadcast presence, stamped."""
        ...

    def deliver(self, stanza: Element) -> bool:
        """Queue a stanza for the client without waiting; False if the
        session is closing (or just closed for not reading)."""
        ...

    def reply(self, stanza: Element) -> None:
        """Answer a stanza this session sent; called only while handling it,
        so the answer goes out with the session's own output."""
        ...

    def presence_changed(self, presence: Element | None) -> None:
        """Remember the last broadcast presence; None when unavailable."""
        ...

    def replaced(self) -> None:
        """Another stream bound this resource: close with ``conflict``."""
        ...


@dataclass(frozen=True, slots=True)
class Bound:
    resource: str
    replaced: Outlet | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    condition: StanzaErrorCondition
    text: str


class SessionManager:
    """Sessions by bare JID, then by resource; it never waits on a session."""

    def __init__(self, policy: ConflictPolicy, max_resources: int) -> None:
        self._policy = policy
        self._max_resources = max_resources
        self._by_bare: dict[Jid, dict[str, Outlet]] = {}

    def bind(self, user: Jid, wish: str | None, session: Outlet) -> Bound | Refused:
        """Bind ``session`` for ``user`` (bare) under ``wish`` or a fresh
        resource. On `Bound` with ``replaced`` the caller closes that one."""
        resources = self._by_bare.setdefault(user, {})
        resource = wish or _fresh(resources)
        holder = resources.get(resource)
        if holder is None and len(resources) >= self._max_resources:
            return Refused(StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many resources")
        if holder is not None:
            match self._policy:
                case ConflictPolicy.REFUSE:
                    return Refused(StanzaErrorCondition.CONFLICT, "resource in use")
                case ConflictPolicy.NEW:
                    if len(resources) >= self._max_resources:
                        return Refused(StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many")
                    resource, holder = _fresh(resources), None
        resources[resource] = session
        return Bound(resource, holder)

    def remove(self, session: Outlet) -> None:
        """Forget ``session`` unless another stream took its resource since."""
        jid = session.jid
        if jid is None or jid.resource is None:
            return
        resources = self._by_bare.get(jid.bare)
        if resources is None or resources.get(jid.resource) is not session:
            return
        del resources[jid.resource]
        if not resources:
            del self._by_bare[jid.bare]

    def adopt(self, old: Outlet, new: Outlet) -> None:
        """XEP-0198 §5: ``new`` resumed ``old`` under the same full JID."""
        jid = old.jid
        if jid is None or jid.resource is None:
            return
        resources = self._by_bare.setdefault(jid.bare, {})
        if resources.get(jid.resource) in (old, None):
            resources[jid.resource] = new

    def get(self, full: Jid) -> Outlet | None:
        if full.resource is None:
            return None
        return self._by_bare.get(full.bare, {}).get(full.resource)

    def resources(self, bare: Jid) -> list[Outlet]:
        """Every bound session of ``bare``."""
        return list(self._by_bare.get(bare, {}).values())

    def available(self, bare: Jid) -> list[Outlet]:
        """Sessions of ``bare`` that sent available presence."""
        return [s for s in self._by_bare.get(bare, {}).values() if s.available]

    def users_in(self, domain: str) -> Iterator[Jid]:
        """Bare JIDs of the domain with a bound session."""
        return (bare for bare in list(self._by_bare) if bare.domain == domain)

    def all(self) -> Iterator[Outlet]:
        return (s for resources in list(self._by_bare.values()) for s in resources.values())

    def by_transport(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for session in self.all():
            counts[session.transport] = counts.get(session.transport, 0) + 1
        return counts


def _fresh(taken: dict[str, Outlet]) -> str:
    resource = random_resource()
    while resource in taken:
        resource = random_resource()
    return resource
