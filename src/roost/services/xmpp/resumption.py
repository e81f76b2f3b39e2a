"""Sessions that may be resumed (XEP-0198 §5), by resumption id.

A session that enabled resumption is listed here from ``<enabled/>`` on.
When its connection goes away it parks: it stays bound and available,
keeps what is delivered to it, and waits ``[xmpp] resume_timeout_s`` for
a new stream of the same account to send ``<resume previd='…'/>``. The
new stream then adopts it (`Resumable.hand_over`): its roster interest,
carbons, presence and queued stanzas, under the same full JID, and the
old one ends without telling anyone it left. A parked session that is
not resumed in time ends as any other would, and its unacknowledged
stanzas go to offline storage or back to their senders (§5).
"""

from __future__ import annotations

import secrets
from typing import Protocol

from roost.proto.xmpp import Jid

RESUME_ID_BYTES = 18
"""144 random bits: a resumption id cannot be guessed (XEP-0198 §11)."""


class Resumable(Protocol):
    @property
    def jid(self) -> Jid | None: ...

    def expire(self) -> None:
        """Stop waiting for a resumption now (the service stops)."""
        ...


class ParkingLot:
    """Resumable sessions by id; the service's stop expires them all."""

    def __init__(self) -> None:
        self._by_id: dict[str, Resumable] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, session: Resumable) -> str:
        resume_id = secrets.token_urlsafe(RESUME_ID_BYTES)
        self._by_id[resume_id] = session
        return resume_id

    def get(self, resume_id: str, user: Jid | None) -> Resumable | None:
        """The session ``resume_id`` names, if it belongs to ``user`` (bare)."""
        session = self._by_id.get(resume_id)
        if session is None or session.jid is None or session.jid.bare != user:
            return None
        return session

    def move(self, resume_id: str, session: Resumable) -> None:
        """The id now names the session that resumed it."""
        self._by_id[resume_id] = session

    def remove(self, resume_id: str | None, session: Resumable) -> None:
        if resume_id is not None and self._by_id.get(resume_id) is session:
            del self._by_id[resume_id]

    def expire_all(self) -> None:
        for session in list(self._by_id.values()):
            session.expire()
