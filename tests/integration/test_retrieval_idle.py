"""IMAP IDLE against Debian's Dovecot: after the first fetch no poll comes
again (the test's clock stands still), so the new mail that arrives within
seconds came through the held IDLE connection; and the cap on held
connections is kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from roost.supervisor.service import ServiceContext
from tests.dovecot_peer import dovecot_peer
from tests.retrieval_support import (
    REMOTE_PASSWORD,
    add_account,
    deliver_queue,
    inbox,
    make_env,
    message,
    put_remote,
    tried_all,
)

WAIT_S = 20.0


async def test_idle_brings_new_mail_and_keeps_the_cap(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    env = await make_env(
        sqlite_store, clock, tmp_path, RetrievalProtocol.IMAP, idle_max_connections=1
    )
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(2)])
        ids = []
        for owner, user in (("alice", "remote-a"), ("carol", "remote-b")):
            spec = NewRetrieval(
                RetrievalProtocol.IMAP, "127.0.0.1", peer.imap_port, TlsMode.NONE, user, ""
            )
            ids.append((await add_account(env, f"{owner}@example.org", spec, REMOTE_PASSWORD)).id)
        await env.service.start(ServiceContext(lambda reason: pytest.fail(reason)))
        try:
            await tried_all(env)
            counters = dict(env.service.status().counters)
            assert counters["idle_connections"] == 1
            put_remote(peer, "remote-a", [message(n) for n in range(2, 5)])
            for _ in range(int(WAIT_S / 0.1)):
                status = (await env.store.read(env.store.retrieval.get, ids[0])).status
                if status.total_fetched == 5:
                    break
                await asyncio.sleep(0.1)
            assert status.total_fetched == 5
            assert dict(env.service.status().counters)["idle_wakeups"] >= 1
        finally:
            await env.service.stop(5)
        assert dict(env.service.status().counters)["idle_connections"] == 0
    await deliver_queue(env)
    assert len(await inbox(env, "alice@example.org")) == 5
