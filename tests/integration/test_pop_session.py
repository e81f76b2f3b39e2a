"""A POP session over a scripted connection and a manual clock, on both stores.

What a real socket cannot show without waiting ten minutes: the inactivity
timer (RFC 1939 §3) ends a silent session without a reply and without
removing what it marked, and the maildrop lock is renewed while the client
is silent, so it never lapses under a live session.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.net.errors import IdleTimeout, ShuttingDown
from roost.net.tls import TlsInfo
from roost.proto.sasl import SaslConfig
from roost.services.pop.session import PopSession, SessionDeps
from roost.store.schema import maildrop_locks
from roost.store.store import Store
from roost.store.types import NewMessage

ACTOR = Actor("test")
USER = "alice@example.org"
PASSWORD = "alice-password"


@dataclass
class Silence:
    """The client says nothing for this long: the read times out."""

    seconds: float


@dataclass
class Busy:
    """The client sends ``data`` after ``seconds``, never long enough to time out."""

    seconds: float
    data: bytes


@dataclass
class Check:
    """Look at the store at this point of the script (the session is waiting)."""

    probe: Callable[[], Awaitable[None]]


@dataclass
class ScriptedConnection:
    """A `Connection` that plays a script of client input and silences."""

    script: list[bytes | Silence | Busy | Check]
    clock: ManualClock
    written: bytearray = field(default_factory=bytearray)
    waits: list[float] = field(default_factory=list)
    session_id: str = "test-session"
    peer: tuple[str, int] = ("127.0.0.1", 40000)
    local: tuple[str, int] = ("127.0.0.1", 110)
    is_tls: bool = False
    tls: TlsInfo | None = None
    pending_octets: int = 0
    queued_octets: int = 0
    shutdown_requested: bool = False

    async def read(
        self,
        max_octets: int = 65536,
        *,
        timeout_s: float | None = None,
        between_commands: bool = False,
    ) -> bytes:
        assert timeout_s is not None  # every network wait is bounded
        self.waits.append(timeout_s)
        if not self.script:
            return b""
        while self.script and isinstance(self.script[0], Check):
            check = self.script.pop(0)
            assert isinstance(check, Check)
            await check.probe()
        if not self.script:
            return b""
        step = self.script[0]
        if isinstance(step, Silence):
            passed = min(step.seconds, timeout_s)
            self.clock.advance(passed)
            step.seconds -= passed
            if step.seconds <= 0:
                self.script.pop(0)
            raise IdleTimeout("nothing arrived")
        if isinstance(step, Busy):
            self.script.pop(0)
            self.clock.advance(step.seconds)
            return step.data
        if step == b"<shutdown>":
            self.script.pop(0)
            raise ShuttingDown("the server is stopping")
        self.script.pop(0)
        return step

    async def read_until(self, separator: bytes, max_octets: int, **_: object) -> bytes:
        raise AssertionError("the POP session reads with read()")

    def request_end(self, reason: str) -> None:
        raise AssertionError("no test here ends a session from outside")

    def check_ended(self) -> None:
        return None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    async def drain(self) -> None:
        return None

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None = None
    ) -> TlsInfo:
        raise AssertionError("no TLS in this script")

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None

    async def wait_closed(self, timeout_s: float | None = None) -> None:
        return None


@pytest.fixture
async def setup(
    store: Store, store_config: Config, clock: ManualClock
) -> AsyncIterator[tuple[SessionDeps, int]]:
    passwords = Passwords(store_config.directory)
    auth = Authenticator(store, passwords, store_config.auth, store_config.directory, clock)
    directory = DirectoryAdmin(store, passwords, store_config.directory, auth)
    await directory.add_domain(ACTOR, "example.org")
    account, _ = await directory.add_user(ACTOR, USER, PASSWORD)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(b"Subject: kept\r\n\r\nbody\r\n")
    await store.write(store.mail.append, box.id, [NewMessage(blob)])
    deps = SessionDeps(
        config=store_config.pop,
        store=store,
        auth=auth,
        sasl=SaslConfig(server_secret=b"0123456789abcdef0123"),
        tls_context=None,
        node="node1",
        clock=clock,
        counters={},
    )
    yield deps, box.id


async def lock_expiry(store: Store, box: int) -> object:
    import sqlalchemy as sa

    return await store.read(
        lambda tx: tx.scalar(
            sa.select(maildrop_locks.c.expires_at).where(maildrop_locks.c.mailbox_id == box)
        )
    )


async def test_a_silent_client_is_logged_out_without_update(
    setup: tuple[SessionDeps, int], store: Store, clock: ManualClock
) -> None:
    deps, box = setup
    idle = deps.config.idle_timeout_s
    assert idle >= 600  # RFC 1939 §3: at least 10 minutes
    conn = ScriptedConnection(
        [f"USER {USER}\r\nPASS {PASSWORD}\r\nDELE 1\r\n".encode(), Silence(idle + 60)], clock
    )
    await PopSession(deps, conn).run()
    replies = bytes(conn.written).split(b"\r\n")
    # Greeting, USER, PASS, DELE; then nothing: the timer closes without a reply.
    assert [r[:3] for r in replies if r] == [b"+OK"] * 4
    assert replies[-2].startswith(b"+OK Message 1 deleted")
    assert len(await store.read(store.mail.messages, box)) == 1
    assert await store.read(store.maildrop_locks.holder, box) is None  # released
    assert deps.counters["idle_timeouts"] == 1
    # The silence was waited out in pieces: the lock was renewed in between.
    renew_every = deps.config.lock_ttl_s / 3
    assert max(conn.waits[1:]) <= renew_every
    assert sum(conn.waits[1:]) >= idle


async def test_the_lock_is_renewed_while_the_client_is_silent(
    setup: tuple[SessionDeps, int], store: Store, clock: ManualClock
) -> None:
    deps, box = setup
    ttl = deps.config.lock_ttl_s

    async def still_ours() -> None:
        # Two lifetimes of silence later the lock is this session's and live.
        assert await store.read(store.maildrop_locks.holder, box) == "node1/test-session"
        expires = await lock_expiry(store, box)
        assert isinstance(expires, datetime) and expires > clock.now()

    conn = ScriptedConnection(
        [
            f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode(),
            Silence(ttl * 2),
            Check(still_ours),
            b"STAT\r\n",
        ],
        clock,
    )
    await PopSession(deps, conn).run()
    assert b"+OK 1 " in bytes(conn.written)
    # The client then went away (end of input): the lock was released.
    assert await store.read(store.maildrop_locks.holder, box) is None


async def test_a_busy_client_renews_the_lock_too(
    setup: tuple[SessionDeps, int], store: Store, clock: ManualClock
) -> None:
    deps, box = setup
    ttl = deps.config.lock_ttl_s

    async def still_ours() -> None:
        assert await store.read(store.maildrop_locks.holder, box) == "node1/test-session"

    commands = [Busy(10, b"NOOP\r\n") for _ in range(int(ttl * 2 / 10))]
    conn = ScriptedConnection(
        [f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode(), *commands, Check(still_ours)], clock
    )
    await PopSession(deps, conn).run()
    assert bytes(conn.written).count(b"+OK\r\n") == len(commands)


async def test_shutdown_between_commands_says_so_and_commits_nothing(
    setup: tuple[SessionDeps, int], store: Store, clock: ManualClock
) -> None:
    deps, box = setup
    conn = ScriptedConnection(
        [f"USER {USER}\r\nPASS {PASSWORD}\r\nDELE 1\r\n".encode(), b"<shutdown>"], clock
    )
    await PopSession(deps, conn).run()
    assert bytes(conn.written).endswith(b"-ERR [SYS/TEMP] Server shutting down\r\n")
    assert len(await store.read(store.mail.messages, box)) == 1
    assert await store.read(store.maildrop_locks.holder, box) is None
