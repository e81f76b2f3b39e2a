"""A second Roost as the remote server: IMAP Retrieval and POP Retrieval
fetch from Roost's own IMAP and POP services (in this process, its own
store and port), with exact counts on both sides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from roost.app import Roost
from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from tests.imap_support import imap_port
from tests.pop_support import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, pop_port, pop_roost
from tests.pop_support import deliver as deliver_remote
from tests.pop_support import stored as remote_inbox
from tests.retrieval_support import add_account, deliver_queue, inbox, make_env, message

MESSAGES = 40
REMOTE_TRACE = b"Return-Path: <bob@example.net>\r\n"
"""The remote's trace fields (without a Delivered-To that names the local owner,
which the local Spool would take for a loop)."""


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Roost]:
    async with pop_roost(tmp_path / "remote", trustme.CA()) as roost:
        yield roost


@pytest.mark.parametrize("protocol", [RetrievalProtocol.IMAP, RetrievalProtocol.POP3])
async def test_fetch_from_another_roost(
    protocol: RetrievalProtocol,
    remote: Roost,
    sqlite_store: Store,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    user, password = (
        (ALICE, ALICE_PASSWORD) if protocol is RetrievalProtocol.IMAP else (BOB, BOB_PASSWORD)
    )
    # Sizes around imap_part_bytes (4096 here): some come whole, some in parts.
    await deliver_remote(
        remote, [message(n, size=n * 311) for n in range(MESSAGES)], user, REMOTE_TRACE
    )
    env = await make_env(sqlite_store, clock, tmp_path / "local", protocol)
    try:
        port = imap_port(remote) if protocol is RetrievalProtocol.IMAP else pop_port(remote)
        spec = NewRetrieval(protocol, "127.0.0.1", port, TlsMode.NONE, user, "")
        account = await add_account(env, "carol@example.org", spec, password)
        first = await env.service.run_once(account.id)
        assert (first.fetched, first.problem) == (MESSAGES, None)
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        got = await inbox(env, "carol@example.org")
        numbers = sorted(int(m.split(b"Subject: message ")[1].split(b"\r\n")[0]) for m in got)
        assert numbers == list(range(MESSAGES))
        for n in (0, 13, MESSAGES - 1):
            assert any(m.endswith(message(n, size=n * 311)) for m in got)
        assert await remote_inbox(remote, user) == []  # deleted after the commit

        await deliver_remote(remote, [message(MESSAGES)], user, REMOTE_TRACE)
        assert (await env.service.run_once(account.id)).fetched == 1
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == MESSAGES + 1
    finally:
        await env.service.stop(1)
