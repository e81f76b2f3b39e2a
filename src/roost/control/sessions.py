"""The session registry: who is signed in to which service, so that a face can end it.

Every service registers a session once its user has authenticated and
forgets it when the session ends. Disabling an account, changing its
password or removing it ends the account's open sessions in every service
(`DirectoryAdmin` calls `end_user`). Ending is a request: the service says
its protocol's goodbye at the next point between commands (IMAP ``* BYE``,
an SMTP 421, a POP ``-ERR``, an XMPP stream error) and closes.

A session may also name the webmail session it was opened from (the web
chat signs in to XMPP with a chat token, `roost.control.chat_tokens`):
when that webmail session ends — signed out, timed out, replaced or ended
by the registry — `end_web_session` ends those sessions too, so that no
page keeps a chat session its webmail session no longer backs.

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
    web_session: str | None = None
    """The id hash of the webmail session this one was opened from, if any."""


class SessionRegistry:
    def __init__(self) -> None:
        self._by_user: dict[str, set[OpenSession]] = {}
        self._by_web: dict[str, set[OpenSession]] = {}

    def open(
        self, service: str, user: str, end: Ender, *, web_session: str | None = None
    ) -> OpenSession:
        """Register the signed-in session of *user* (an account address), opened
        from the webmail session *web_session* (its id hash) if it names one."""
        session = OpenSession(service, user.strip().lower(), end, web_session)
        self._by_user.setdefault(session.user, set()).add(session)
        if web_session is not None:
            self._by_web.setdefault(web_session, set()).add(session)
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
        if session.web_session is not None:
            opened = self._by_web.get(session.web_session)
            if opened is not None:
                opened.discard(session)
                if not opened:
                    del self._by_web[session.web_session]

    def sessions(self, user: str) -> list[OpenSession]:
        return list(self._by_user.get(user.strip().lower(), ()))

    def count(self, service: str | None = None) -> int:
        return sum(
            1
            for sessions in self._by_user.values()
            for s in sessions
            if service is None or s.service == service
        )

    def web_sessions(self) -> set[str]:
        """The webmail sessions (id hashes) that open sessions were opened from."""
        return set(self._by_web)

    def end_web_session(self, web_session: str, reason: str) -> int:
        """Ask every session opened from the webmail session *web_session* to end."""
        sessions = list(self._by_web.get(web_session, ()))
        self._end(sessions, reason)
        if sessions:
            log.info("ended %d session(s) of a webmail session: %s", len(sessions), reason)
        return len(sessions)

    def end_user(self, user: str, reason: str) -> int:
        """Ask every open session of *user* to end; how many were asked."""
        sessions = self.sessions(user)
        self._end(sessions, reason)
        if sessions:
            log.info("ended %d session(s) of %s: %s", len(sessions), user, reason)
        return len(sessions)

    def _end(self, sessions: list[OpenSession], reason: str) -> None:
        for session in sessions:
            try:
                session.end(reason)
            except Exception:  # one broken session must not keep the others open
                log.exception("cannot end the %s session of %s", session.service, session.user)
