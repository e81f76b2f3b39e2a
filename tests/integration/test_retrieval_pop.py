"""POP Retrieval against Debian's Dovecot: exact counts in the destination
mailbox on the first fetch and after, leave-on-server, an oversized message,
a wrong password that troubles only its own account; and a server (our own
flaky one) that hangs up mid-fetch."""

from __future__ import annotations

import asyncio
import poplib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.control.retrieval import RetrievalRefused
from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from roost.supervisor.service import ServiceContext
from tests.dovecot_peer import DovecotPeer, dovecot_peer
from tests.retrieval_support import (
    ACTOR,
    REMOTE_PASSWORD,
    RetrievalEnv,
    add_account,
    deliver_queue,
    inbox,
    make_env,
    message,
    put_remote,
    tried_all,
)


@pytest.fixture
async def env(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(sqlite_store, clock, tmp_path, RetrievalProtocol.POP3)
    yield env
    await env.service.stop(1)


async def add(
    env: RetrievalEnv,
    owner: str,
    peer: DovecotPeer,
    user: str,
    *,
    leave_on_server: bool = False,
    password: str = REMOTE_PASSWORD,
) -> Retrieval:
    spec = NewRetrieval(
        RetrievalProtocol.POP3,
        "127.0.0.1",
        peer.port,
        TlsMode.NONE,
        user,
        "",
        leave_on_server=leave_on_server,
    )
    return await add_account(env, owner, spec, password)


def remote_count(peer: DovecotPeer, user: str) -> int:
    client = poplib.POP3("127.0.0.1", peer.port, timeout=10)
    try:
        client.user(user)
        client.pass_(REMOTE_PASSWORD)
        return int(client.stat()[0])
    finally:
        client.quit()


async def test_fetch_all_then_new_only_and_delete(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(40)])
        account = await add(env, "alice@example.org", peer, "remote-a")
        first = await env.service.run_once(account.id)
        assert (first.fetched, first.problem) == (40, None)
        await deliver_queue(env)
        got = await inbox(env, "alice@example.org")
        assert len(got) == 40
        subjects = sorted(m.split(b"Subject: message ")[1].split(b"\r\n")[0] for m in got)
        assert subjects == sorted(str(n).encode() for n in range(40))
        trace = f"Received: from 127.0.0.1 by {env.config.node} with POP3 (retrieval {account.id}:"
        assert trace.encode() in got[0]
        assert await asyncio.to_thread(remote_count, peer, "remote-a") == 0

        put_remote(peer, "remote-a", [message(n) for n in range(40, 45)])
        assert (await env.service.run_once(account.id)).fetched == 5
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org")) == 45
        status = (await env.store.read(env.store.retrieval.get, account.id)).status
        assert (status.total_fetched, status.last_fetched, status.last_error) == (45, 0, None)


async def test_leave_on_server_fetches_each_once(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-b"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-b", [message(n) for n in range(7)])
        account = await add(env, "carol@example.org", peer, "remote-b", leave_on_server=True)
        assert (await env.service.run_once(account.id)).fetched == 7
        assert (await env.service.run_once(account.id)).fetched == 0
        put_remote(peer, "remote-b", [message(n) for n in range(7, 9)])
        assert (await env.service.run_once(account.id)).fetched == 2
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == 9
        assert await asyncio.to_thread(remote_count, peer, "remote-b") == 9
        assert len(await env.store.read(env.store.retrieval.pop_keys, account.id)) == 9


async def test_oversized_message_is_skipped_with_an_error(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(1), message(2, size=50_000), message(3)])
        account = await add(env, "alice@example.org", peer, "remote-a")
        outcome = await env.service.run_once(account.id)
        assert outcome.fetched == 2
        assert outcome.problem is not None and "over the size limit" in outcome.problem
        assert await asyncio.to_thread(remote_count, peer, "remote-a") == 1
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org")) == 2


async def test_wrong_password_troubles_only_its_account(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(3)])
        put_remote(peer, "remote-b", [message(n) for n in range(4)])
        bad = await add(env, "alice@example.org", peer, "remote-a", password="wrong")
        good = await add(env, "carol@example.org", peer, "remote-b")
        await env.service.start(ServiceContext(lambda reason: pytest.fail(reason)))
        await tried_all(env)
        bad_status = (await env.store.read(env.store.retrieval.get, bad.id)).status
        good_status = (await env.store.read(env.store.retrieval.get, good.id)).status
        assert bad_status.last_error is not None
        assert bad_status.last_error.startswith("authentication failed")
        assert (bad_status.failures, bad_status.total_fetched) == (1, 0)
        assert (good_status.last_error, good_status.total_fetched) == (None, 4)
        counters = dict(env.service.status().counters)
        assert (counters["errors_last_hour"], counters["accounts"]) == (1, 2)
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == 4
        assert await inbox(env, "alice@example.org") == []


async def test_plaintext_only_to_loopback(env: RetrievalEnv) -> None:
    spec = NewRetrieval(RetrievalProtocol.POP3, "pop.example.net", 110, TlsMode.NONE, "u", "")
    with pytest.raises(RetrievalRefused, match="without TLS"):
        await env.admin.add(ACTOR, "alice@example.org", spec, "pw")
    assert await env.admin.list("alice@example.org") == []


class FlakyPop:
    """A POP3 server on 127.0.0.1 that hangs up at `RETR drop_at` while `drop_at` is set."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = messages
        self.drop_at: int | None = 2
        self.deleted: set[int] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        marked: set[int] = set()
        writer.write(b"+OK flaky\r\n")
        while line := await asyncio.wait_for(reader.readline(), 10):
            verb, _, arg = line.decode().strip().partition(" ")
            match verb.upper():
                case "UIDL" | "LIST":
                    writer.write(b"+OK\r\n")
                    for n, data in enumerate(self.messages, 1):
                        value = f"uid-{n}" if verb.upper() == "UIDL" else str(len(data))
                        if n not in self.deleted:
                            writer.write(f"{n} {value}\r\n".encode())
                    writer.write(b".\r\n")
                case "RETR" if int(arg) == self.drop_at:
                    writer.close()
                    return
                case "RETR":
                    writer.write(b"+OK\r\n" + self.messages[int(arg) - 1] + b".\r\n")
                case "DELE":
                    marked.add(int(arg))
                    writer.write(b"+OK\r\n")
                case "QUIT":
                    self.deleted |= marked
                    writer.write(b"+OK\r\n")
                    writer.close()
                    return
                case _:
                    writer.write(b"+OK\r\n")
            await writer.drain()
        writer.close()


async def test_server_gone_mid_fetch_resumes_without_duplicates(env: RetrievalEnv) -> None:
    flaky = FlakyPop([message(n) for n in range(3)])
    port = await flaky.start()
    spec = NewRetrieval(RetrievalProtocol.POP3, "127.0.0.1", port, TlsMode.NONE, "u", "")
    account = await add_account(env, "alice@example.org", spec, "pw")
    first = await env.service.run_once(account.id)
    assert first.fetched == 1
    assert first.problem == "the server closed the connection"
    status = (await env.store.read(env.store.retrieval.get, account.id)).status
    assert (status.last_fetched, status.failures) == (1, 1)
    # The hang-up lost the DELE of message 1 (no QUIT): it is deleted now, not fetched again.
    flaky.drop_at = None
    second = await env.service.run_once(account.id)
    assert (second.fetched, second.problem) == (2, None)
    assert flaky.deleted == {1, 2, 3}
    await deliver_queue(env)
    assert len(await inbox(env, "alice@example.org")) == 3
    assert flaky.server is not None
    flaky.server.close()
