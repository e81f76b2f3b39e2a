"""The session registry: who is signed in to which service, so that a face can end it.

Every service registers a session once its user has authenticated and
forgets it when the session ends. Disabling an account, changing its
password or removing it ends the account's open sessions in every service
(`DirectoryAdmin` calls `end_user`). Ending is a request: the service says
its protocol's goodbye at the next point between commands (IMAP ``* BYE``,
an SMTP 421, a POP ``-ERR``, an XMPP stream error) and closes.

The registry is per process: on several nodes sharing one PostgreSQL each
node ends the sessions it holds (the notice across nodes comes with
scale-out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Ender = Callable[[str], None]
"""Asks a session to end, with the reason its user is told."""


@dataclass(eq=False, slots=True)
class OpenSession:
    service: str
    user: str
    end: Ender = field(repr=False)


class SessionRegistry:
    def __init__(self) -> None:
        self._by_user: dict[str, set[OpenSession]] = {}

    def open(self, service: str, user: str, end: Ender) -> OpenSession:
        """Register the signed-in session of *user* (an account address)."""
        session = OpenSession(service, user.strip().lower(), end)
        self._by_user.setdefault(session.user, set()).add(session)
        return session

    def close(self, session: OpenSession | None) -> None:
        """Forget a session that has ended (None and repeated calls are harmless)."""
        if session is None:
            return
        sessions = self._by_user.get(session.user)
        if sessions is None:
            return
        sessions.discard(session)
        if not sessions:
            del self._by_user[session.user]

    def sessions(self, user: str) -> list[OpenSession]:
        return list(self._by_user.get(user.strip().lower(), ()))

    def count(self, service: str | None = None) -> int:
        return sum(
            1
            for sessions in self._by_user.values()
            for s in sessions
            if service is None or s.service == service
        )

    def end_user(self, user: str, reason: str) -> int:
        """Ask every open session of *user* to end; how many were asked."""
        sessions = self.sessions(user)
        for session in sessions:
            try:
                session.end(reason)
            except Exception:  # one broken session must not keep the others open
                log.exception("cannot end the %s session of %s", session.service, session.user)
        if sessions:
            log.info("ended %d session(s) of %s: %s", len(sessions), user, reason)
        return len(sessions)
