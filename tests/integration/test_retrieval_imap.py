"""IMAP Retrieval against Debian's Dovecot: exact counts in the destination
folder on the first fetch and after, leave-on-server, big messages fetched
in parts, a wrong password, and a UIDVALIDITY reset without duplicates."""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from collections.abc import AsyncIterator
from pathlib import Path

import imapclient
import pytest

from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from tests.dovecot_peer import MAIL_USER, DovecotPeer, dovecot_peer
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

INDEX_FILES = ("dovecot-uidlist", "dovecot.index", "dovecot.index.log", "dovecot.index.cache")


@pytest.fixture
async def env(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(sqlite_store, clock, tmp_path, RetrievalProtocol.IMAP)
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
        RetrievalProtocol.IMAP,
        "127.0.0.1",
        peer.imap_port,
        TlsMode.NONE,
        user,
        "",
        leave_on_server=leave_on_server,
    )
    return await add_account(env, owner, spec, password)


def remote_state(peer: DovecotPeer, user: str) -> tuple[int, int]:
    """(UIDVALIDITY, messages) of the remote INBOX."""
    with imapclient.IMAPClient("127.0.0.1", peer.imap_port, ssl=False, timeout=10) as client:
        client.login(user, REMOTE_PASSWORD)
        status = client.folder_status("INBOX", [b"UIDVALIDITY", b"MESSAGES"])
        return int(status[b"UIDVALIDITY"]), int(status[b"MESSAGES"])


def reset_uidvalidity(peer: DovecotPeer, user: str) -> None:
    """Make Dovecot number the folder afresh, as a rebuilt server would."""
    maildir = peer.mail / user / "Maildir"
    for name in INDEX_FILES:
        (maildir / name).unlink(missing_ok=True)
    # Dovecot takes the time as the new UIDVALIDITY: make it differ.
    time.sleep(1.1)
    nobody = pwd.getpwnam(MAIL_USER)
    os.chown(maildir, nobody.pw_uid, nobody.pw_gid)


async def test_fetch_all_then_new_only_and_delete(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(30)])
        account = await add(env, "alice@example.org", peer, "remote-a")
        first = await env.service.run_once(account.id)
        assert (first.fetched, first.problem) == (30, None)
        await deliver_queue(env)
        got = await inbox(env, "alice@example.org")
        assert len(got) == 30
        subjects = sorted(m.split(b"Subject: message ")[1].split(b"\r\n")[0] for m in got)
        assert subjects == sorted(str(n).encode() for n in range(30))
        assert f"with IMAP (retrieval {account.id}:".encode() in got[0]
        assert (await asyncio.to_thread(remote_state, peer, "remote-a"))[1] == 0

        put_remote(peer, "remote-a", [message(n) for n in range(30, 33)])
        assert (await env.service.run_once(account.id)).fetched == 3
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org")) == 33


async def test_big_message_in_parts_and_oversized_skipped(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        big = message(1, size=20_000)  # five parts of `imap_part_bytes`
        put_remote(peer, "remote-a", [big, message(2, size=50_000), message(3)])
        account = await add(env, "alice@example.org", peer, "remote-a")
        outcome = await env.service.run_once(account.id)
        assert outcome.fetched == 2
        assert outcome.problem is not None and "over the size limit" in outcome.problem
        await deliver_queue(env)
        got = await inbox(env, "alice@example.org")
        assert len(got) == 2
        assert any(m.endswith(big) for m in got)
        assert (await asyncio.to_thread(remote_state, peer, "remote-a"))[1] == 1


async def test_leave_on_server_and_uidvalidity_reset(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-b"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-b", [message(n) for n in range(6)])
        account = await add(env, "carol@example.org", peer, "remote-b", leave_on_server=True)
        assert (await env.service.run_once(account.id)).fetched == 6
        assert (await env.service.run_once(account.id)).fetched == 0
        before, count = await asyncio.to_thread(remote_state, peer, "remote-b")
        assert count == 6

        await asyncio.to_thread(reset_uidvalidity, peer, "remote-b")
        put_remote(peer, "remote-b", [message(n) for n in range(6, 8)])
        after, count = await asyncio.to_thread(remote_state, peer, "remote-b")
        assert (after != before, count) == (True, 8)
        assert (await env.service.run_once(account.id)).fetched == 2
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == 8
        keys = await env.store.read(env.store.retrieval.imap_keys, account.id, "INBOX")
        assert {k.uidvalidity for k in keys} == {after}
        assert len(keys) == 8


async def test_wrong_password_is_an_error_on_the_account(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-a", [message(1)])
        put_remote(peer, "remote-b", [message(2)])
        bad = await add(env, "alice@example.org", peer, "remote-a", password="wrong")
        good = await add(env, "carol@example.org", peer, "remote-b")
        outcome = await env.service.run_once(bad.id)
        assert outcome.fetched == 0
        assert outcome.problem is not None and outcome.problem.startswith("authentication failed")
        assert (await env.service.run_once(good.id)).fetched == 1
        status = (await env.store.read(env.store.retrieval.get, bad.id)).status
        assert status.last_error == outcome.problem
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == 1
        assert await inbox(env, "alice@example.org") == []


def anonymous(n: int) -> bytes:
    """A message without a Message-ID, the same size as its neighbours."""
    return (
        f"From: bob@example.net\r\nTo: remote@example.net\r\nSubject: anonymous {n}\r\n\r\n"
        f"body {n}\r\n"
    ).encode()


async def test_uidvalidity_reset_without_message_id_uses_the_header(env: RetrievalEnv) -> None:
    """Same INTERNALDATE (one second), same size, no Message-ID: only a hash of
    the header tells them apart, and identical copies pair one for one."""
    with dovecot_peer(["remote-b"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-b", [anonymous(n) for n in range(6)] + [anonymous(0)])
        account = await add(env, "carol@example.org", peer, "remote-b", leave_on_server=True)
        assert (await env.service.run_once(account.id)).fetched == 7
        keys = await env.store.read(env.store.retrieval.imap_keys, account.id, "INBOX")
        assert len({k.fingerprint for k in keys}) == 6  # the copy of 0 hashes alike

        before, _ = await asyncio.to_thread(remote_state, peer, "remote-b")
        await asyncio.to_thread(reset_uidvalidity, peer, "remote-b")
        put_remote(peer, "remote-b", [anonymous(n) for n in range(6, 9)] + [anonymous(1)])
        after, count = await asyncio.to_thread(remote_state, peer, "remote-b")
        assert (after != before, count) == (True, 11)
        # 6, 7, 8 and the second copy of 1 are new; nothing else is fetched again.
        assert (await env.service.run_once(account.id)).fetched == 4
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        got = await inbox(env, "carol@example.org")
        subjects = sorted(int(m.split(b"Subject: anonymous ")[1].split(b"\r\n")[0]) for m in got)
        assert subjects == [0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]
        keys = await env.store.read(env.store.retrieval.imap_keys, account.id, "INBOX")
        assert ({k.uidvalidity for k in keys}, len(keys)) == ({after}, 11)
