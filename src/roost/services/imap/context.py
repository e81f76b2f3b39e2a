"""What every IMAP command handler shares: the session's dependencies and state.

The handlers (`mailboxes`, `fetch`, `search`, `messages`, `login`) are
functions of a `SessionContext` and a command. They write untagged
responses through the core and either finish the command themselves or
raise `CommandFailed`; `roost.services.imap.session` turns that, and the
store's errors, into the tagged NO or BAD in one place.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from roost.control.auth import Authenticator
from roost.core.clock import Clock
from roost.core.config import ImapSettings as ImapConfig
from roost.core.errors import RoostError
from roost.proto.imap.connection import ImapServerConnection
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.values import Atom
from roost.proto.sasl import SaslConfig
from roost.services.imap.cache import FetchCache
from roost.services.imap.selected import SelectedMailbox
from roost.services.imap.watch import ChangeWatcher
from roost.store.store import Store
from roost.store.types import Flag

TRYCREATE = ResponseCode("TRYCREATE")
NONEXISTENT = ResponseCode("NONEXISTENT")
ALREADYEXISTS = ResponseCode("ALREADYEXISTS")
OVERQUOTA = ResponseCode("OVERQUOTA")
CANNOT = ResponseCode("CANNOT")
NOPERM = ResponseCode("NOPERM")
SERVERBUG = ResponseCode("SERVERBUG")
UNAVAILABLE = ResponseCode("UNAVAILABLE")
EXPUNGEISSUED = ResponseCode("EXPUNGEISSUED")
"""RFC 5530 §3: some of the messages asked for were expunged meanwhile."""


class CommandFailed(RoostError):
    """A command ends with a tagged NO (or BAD) and this text and code."""

    def __init__(
        self, text: str, code: ResponseCode | None = None, condition: Condition = Condition.NO
    ) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.condition = condition


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every session of the service shares."""

    config: ImapConfig
    store: Store
    auth: Authenticator
    sasl: SaslConfig
    tls_context: ssl.SSLContext | None
    clock: Clock
    counters: dict[str, int]
    watcher: ChangeWatcher
    """Wakes idling sessions with the changes of their own account."""
    fetch_cache: FetchCache
    """ENVELOPE, BODYSTRUCTURE and BODY kept written, by blob."""
    use_index: bool = True
    """SEARCH asks the full-text index (`[indexing] use_index`)."""


@dataclass(slots=True)
class SessionContext:
    """One session's state beside the protocol core's: who, and which mailbox."""

    deps: SessionDeps
    core: ImapServerConnection
    session_id: str
    flush: Callable[[], Awaitable[None]]
    """Send what the core queued and wait until the client took enough of it:
    called between the messages of a large FETCH, so output stays bounded."""
    account_id: int = 0
    address: str = ""
    selected: SelectedMailbox | None = None
    saved_uids: tuple[int, ...] = field(default=())
    """The result `SEARCH RETURN (SAVE)` kept for ``$`` (RFC 5182), as UIDs."""

    @property
    def store(self) -> Store:
        return self.deps.store

    @property
    def condstore(self) -> bool:
        """CONDSTORE is on: FETCH responses carry MODSEQ (RFC 7162 §3.1)."""
        return "CONDSTORE" in self.core.enabled

    def count(self, name: str, by: int = 1) -> None:
        counters = self.deps.counters
        counters[name] = counters.get(name, 0) + by

    async def flush_if_full(self) -> None:
        if self.core.pending_output >= self.deps.config.output_buffer_bytes:
            await self.flush()

    def need_selected(self) -> SelectedMailbox:
        view = self.selected
        if view is None:
            raise CommandFailed("No mailbox is selected", condition=Condition.BAD)
        return view


def flag_atoms(flags: Flag, keywords: Iterable[str]) -> tuple[Atom, ...]:
    """A message's flags as FETCH FLAGS lists them: system flags, then keywords."""
    return tuple(Atom(name) for name in (*flags.names(), *sorted(keywords)))


def parse_flags(names: Iterable[str]) -> tuple[Flag, frozenset[str]]:
    """Flags as a command names them: system flags and keywords (RFC 9051 §2.3.2).

    ``\\Recent`` cannot be set (RFC 3501 §2.3.2) and other names that begin
    with a backslash are not flags Roost keeps: both are left out.
    """
    flags = Flag(0)
    keywords: set[str] = set()
    for name in names:
        system = Flag.parse(name)
        if system is not None:
            flags |= system
        elif not name.startswith("\\"):
            keywords.add(name)
    return flags, frozenset(keywords)
