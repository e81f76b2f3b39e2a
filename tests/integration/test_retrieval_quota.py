"""A message the owner's quota has no room for, against Debian's Dovecot
(IMAP and POP3), on both store backends: it is not fetched, the account
says why in words, it stays on the remote server untouched, and the run
after the quota is raised fetches it — exactly once."""

from __future__ import annotations

import asyncio
import poplib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import imapclient
import pytest

from roost.control.retrieval import view
from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from tests.dovecot_peer import DovecotPeer, dovecot_peer
from tests.retrieval_support import (
    REMOTE_PASSWORD,
    RetrievalEnv,
    add_account,
    deliver_queue,
    inbox,
    make_env,
    message,
    put_remote,
)

OWNER = "alice@example.org"
SKIPPED = re.compile(
    r"message of (\d+) bytes skipped: "
    r"the mailbox is over its quota \((\d+)/(\d+) (bytes|messages)\)"
)


@pytest.fixture
async def imap_env(store: Store, clock: ManualClock, tmp_path: Path) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(store, clock, tmp_path, RetrievalProtocol.IMAP)
    yield env
    await env.service.stop(1)


@pytest.fixture
async def pop_env(store: Store, clock: ManualClock, tmp_path: Path) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(store, clock, tmp_path, RetrievalProtocol.POP3)
    yield env
    await env.service.stop(1)


async def add(env: RetrievalEnv, protocol: RetrievalProtocol, port: int) -> Retrieval:
    spec = NewRetrieval(protocol, "127.0.0.1", port, TlsMode.NONE, "remote-a", "")
    return await add_account(env, OWNER, spec, REMOTE_PASSWORD)


async def set_quota(env: RetrievalEnv, quota_bytes: int, quota_messages: int) -> None:
    await env.store.write(env.store.directory.set_quota, OWNER, quota_bytes, quota_messages)


async def shown_error(env: RetrievalEnv, account: Retrieval) -> str | None:
    """The account's last error as the API and `roost retrieval show` give it."""
    shown = view(await env.admin.show(OWNER, account.id))["last_error"]
    assert shown is None or isinstance(shown, str)
    return shown


def subjects(got: list[bytes]) -> list[bytes]:
    return sorted(m.split(b"Subject: message ")[1].split(b"\r\n")[0] for m in got)


def imap_remote(peer: DovecotPeer) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """(Subject line, flags) of each message in the remote INBOX."""
    with imapclient.IMAPClient("127.0.0.1", peer.imap_port, ssl=False, timeout=10) as client:
        client.login("remote-a", REMOTE_PASSWORD)
        client.select_folder("INBOX", readonly=True)
        found = client.fetch(
            client.search(["ALL"]), [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]
        )
        return [
            (items[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip(), tuple(items[b"FLAGS"]))
            for items in found.values()
        ]


def pop_remote(peer: DovecotPeer) -> int:
    client = poplib.POP3("127.0.0.1", peer.port, timeout=10)
    try:
        client.user("remote-a")
        client.pass_(REMOTE_PASSWORD)
        return int(client.stat()[0])
    finally:
        client.quit()


async def test_imap_message_over_quota_skipped_then_fetched_once(imap_env: RetrievalEnv) -> None:
    env = imap_env
    big = message(1, size=20_000)
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        # The one that does not fit comes between two that do: those are
        # fetched in the same run.
        put_remote(peer, "remote-a", [message(0, size=3000), big, message(2, size=3000)])
        await set_quota(env, 10_000, 0)
        account = await add(env, RetrievalProtocol.IMAP, peer.imap_port)

        first = await env.service.run_once(account.id)
        assert first.fetched == 2
        assert first.problem is not None
        found = SKIPPED.match(first.problem)
        assert found is not None, first.problem
        assert int(found[1]) == len(big)
        assert (int(found[3]), found[4]) == (10_000, "bytes")
        assert await shown_error(env, account) == first.problem
        await deliver_queue(env)
        assert subjects(await inbox(env, OWNER)) == [b"0", b"2"]
        # Left on the server as it was: neither deleted nor read.
        remote = await asyncio.to_thread(imap_remote, peer)
        assert remote == [(b"Subject: message 1", ())]

        # Still no room: its size is looked at again, it is not fetched.
        again = await env.service.run_once(account.id)
        assert again.fetched == 0 and again.problem is not None
        still = SKIPPED.match(again.problem)
        assert still is not None and int(still[1]) == len(big), again.problem
        assert len(await inbox(env, OWNER)) == 2

        await set_quota(env, 100_000, 0)
        after = await env.service.run_once(account.id)
        assert (after.fetched, after.problem) == (1, None)
        assert await shown_error(env, account) is None
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        got = await inbox(env, OWNER)
        assert subjects(got) == [b"0", b"1", b"2"]
        assert any(m.endswith(big) for m in got)
        assert await asyncio.to_thread(imap_remote, peer) == []
        status = (await env.admin.show(OWNER, account.id)).status
        assert status.total_fetched == 3


async def test_pop_message_quota_counts_what_the_queue_holds(pop_env: RetrievalEnv) -> None:
    env = pop_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        sent = [message(n) for n in range(3)]
        put_remote(peer, "remote-a", sent)
        await set_quota(env, 0, 2)
        account = await add(env, RetrievalProtocol.POP3, peer.port)

        first = await env.service.run_once(account.id)
        assert first.fetched == 2
        assert first.problem is not None
        found = SKIPPED.match(first.problem)
        assert found is not None, first.problem
        assert (int(found[1]), found.groups()[1:]) == (len(sent[2]), ("2", "2", "messages"))
        assert await shown_error(env, account) == first.problem

        # The Spool has not delivered yet: the two queued still count.
        queued = await env.service.run_once(account.id)
        assert (queued.fetched, queued.problem) == (0, first.problem)
        assert await asyncio.to_thread(pop_remote, peer) == 1

        await deliver_queue(env)
        assert subjects(await inbox(env, OWNER)) == [b"0", b"1"]
        assert (await env.service.run_once(account.id)).fetched == 0

        await set_quota(env, 0, 3)
        after = await env.service.run_once(account.id)
        assert (after.fetched, after.problem) == (1, None)
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert subjects(await inbox(env, OWNER)) == [b"0", b"1", b"2"]
        assert await asyncio.to_thread(pop_remote, peer) == 0


async def test_pop_byte_quota_left_on_server(pop_env: RetrievalEnv) -> None:
    env = pop_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n, size=3000) for n in range(3)])
        await set_quota(env, 8000, 0)
        spec = NewRetrieval(
            RetrievalProtocol.POP3,
            "127.0.0.1",
            peer.port,
            TlsMode.NONE,
            "remote-a",
            "",
            leave_on_server=True,
        )
        account = await add_account(env, OWNER, spec, REMOTE_PASSWORD)
        first = await env.service.run_once(account.id)
        assert first.fetched == 2
        assert first.problem is not None and SKIPPED.match(first.problem), first.problem
        await deliver_queue(env)
        assert len(await inbox(env, OWNER)) == 2
        assert await asyncio.to_thread(pop_remote, peer) == 3

        await set_quota(env, 0, 0)  # no limit
        assert (await env.service.run_once(account.id)).fetched == 1
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert subjects(await inbox(env, OWNER)) == [b"0", b"1", b"2"]
        assert await asyncio.to_thread(pop_remote, peer) == 3
