"""Retrieval options against Debian's Dovecot, on both stores: IMAP folder
selection and mapping (merge, mirror, a folder map), \\Seen on the server
after the commit, POP3 leave-on-server with delete after N days, and memory
that does not grow with message size (IMAP in parts, POP3 line by line)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import imapclient
import pytest

from roost.control.retrieval import RetrievalRefused
from roost.core.clock import ManualClock
from roost.store.retrieval import (
    FolderLayout,
    NewRetrieval,
    Retrieval,
    RetrievalProtocol,
    TlsMode,
)
from roost.store.store import Store
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
)

DAY_S = 86_400.0
BIG_OCTETS = 6_000_000
PART_OCTETS = 262_144


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


def imap_spec(peer: DovecotPeer, user: str, **options: object) -> NewRetrieval:
    spec = NewRetrieval(RetrievalProtocol.IMAP, "127.0.0.1", peer.imap_port, TlsMode.NONE, user, "")
    return NewRetrieval(**{**_fields(spec), **options})  # type: ignore[arg-type]


def _fields(spec: NewRetrieval) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def remote_client(peer: DovecotPeer, user: str) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient("127.0.0.1", peer.imap_port, ssl=False, timeout=10)
    client.login(user, REMOTE_PASSWORD)
    return client


def fill_folders(peer: DovecotPeer, user: str, folders: dict[str, list[bytes]]) -> None:
    """Create remote folders (Dovecot's Maildir++ separator is '.') and append to them."""
    with remote_client(peer, user) as client:
        for name, messages in folders.items():
            if name != "INBOX":
                client.create_folder(name)
            for data in messages:
                client.append(name, data)


def remote_counts(peer: DovecotPeer, user: str) -> dict[str, tuple[int, int]]:
    """(messages, unseen) of every remote folder."""
    with remote_client(peer, user) as client:
        counts = {}
        for _flags, _sep, name in client.list_folders():
            status = client.folder_status(name, [b"MESSAGES", b"UNSEEN"])
            counts[str(name)] = (int(status[b"MESSAGES"]), int(status[b"UNSEEN"]))
        return counts


async def test_mirror_layout_with_a_folder_map(imap_env: RetrievalEnv) -> None:
    env = imap_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        await asyncio.to_thread(
            fill_folders,
            peer,
            "remote-a",
            {
                "INBOX": [message(n) for n in range(3)],
                "Work": [message(n) for n in range(10, 12)],
                "Lists": [],
                "Lists.Python": [message(20)],
                "Archive": [message(30)],
            },
        )
        spec = imap_spec(
            peer,
            "remote-a",
            remote_folders=("*",),
            folder_layout=FolderLayout.MIRROR,
            folder_map=(("Archive", "Old mail"),),
        )
        account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
        outcome = await env.service.run_once(account.id)
        assert (outcome.fetched, outcome.problem) == (7, None)
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        counts = {
            folder: len(await inbox(env, "alice@example.org", folder))
            for folder in ("INBOX", "Work", "Lists", "Lists/Python", "Old mail")
        }
        assert counts == {"INBOX": 3, "Work": 2, "Lists": 0, "Lists/Python": 1, "Old mail": 1}
        remote = await asyncio.to_thread(remote_counts, peer, "remote-a")
        assert {name: n for name, (n, _) in remote.items()} == {
            "INBOX": 0,
            "Work": 0,
            "Lists": 0,
            "Lists.Python": 0,
            "Archive": 0,
        }


async def test_merge_of_a_folder_list_marks_seen_and_leaves(imap_env: RetrievalEnv) -> None:
    env = imap_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        await asyncio.to_thread(
            fill_folders,
            peer,
            "remote-a",
            {
                "INBOX": [message(n) for n in range(4)],
                "Work": [message(n) for n in range(10, 13)],
                "Other": [message(40)],
            },
        )
        spec = imap_spec(
            peer,
            "remote-a",
            remote_folders=("INBOX", "Work"),
            folder="Fetched",
            leave_on_server=True,
            mark_seen=True,
        )
        account = await add_account(env, "carol@example.org", spec, REMOTE_PASSWORD)
        assert (await env.service.run_once(account.id)).fetched == 7
        await asyncio.to_thread(fill_folders, peer, "remote-a", {"INBOX": [message(5)]})
        assert (await env.service.run_once(account.id)).fetched == 1
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org", "Fetched")) == 8
        assert await inbox(env, "carol@example.org") == []
        remote = await asyncio.to_thread(remote_counts, peer, "remote-a")
        assert remote == {"INBOX": (5, 0), "Work": (3, 0), "Other": (1, 1)}


async def test_leave_on_server_without_mark_seen_changes_nothing_there(
    imap_env: RetrievalEnv,
) -> None:
    env = imap_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(3)])
        spec = imap_spec(peer, "remote-a", leave_on_server=True)
        account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
        assert (await env.service.run_once(account.id)).fetched == 3
        remote = await asyncio.to_thread(remote_counts, peer, "remote-a")
        assert remote == {"INBOX": (3, 3)}


async def test_options_that_do_not_fit_are_refused(imap_env: RetrievalEnv) -> None:
    env = imap_env
    base = NewRetrieval(RetrievalProtocol.IMAP, "127.0.0.1", 143, TlsMode.NONE, "u", "")
    cases = {
        "needs leave_on_server": _with(base, mark_seen=True),
        "applies to POP3 accounts only": _with(base, leave_on_server=True, delete_after_days=3),
        "applies to IMAP accounts only": _with(
            base, protocol=RetrievalProtocol.POP3, folder_map=(("A", "B"),)
        ),
        "between 1 and": _with(
            base, protocol=RetrievalProtocol.POP3, leave_on_server=True, delete_after_days=0
        ),
        "both names are needed": _with(base, folder_map=(("A", ""),)),
    }
    for words, spec in cases.items():
        with pytest.raises(RetrievalRefused, match=words):
            await env.admin.add(ACTOR, "alice@example.org", spec, "pw")
    assert await env.admin.list("alice@example.org") == []


def _with(spec: NewRetrieval, **options: object) -> NewRetrieval:
    return NewRetrieval(**{**_fields(spec), **options})  # type: ignore[arg-type]


async def add_pop(env: RetrievalEnv, peer: DovecotPeer, user: str, **options: object) -> Retrieval:
    spec = NewRetrieval(RetrievalProtocol.POP3, "127.0.0.1", peer.port, TlsMode.NONE, user, "")
    return await add_account(env, "alice@example.org", _with(spec, **options), REMOTE_PASSWORD)


def pop_count(peer: DovecotPeer, user: str) -> int:
    import poplib

    client = poplib.POP3("127.0.0.1", peer.port, timeout=10)
    try:
        client.user(user)
        client.pass_(REMOTE_PASSWORD)
        return int(client.stat()[0])
    finally:
        client.quit()


async def test_pop_delete_after_days(pop_env: RetrievalEnv, clock: ManualClock) -> None:
    env = pop_env
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(4)])
        account = await add_pop(env, peer, "remote-a", leave_on_server=True, delete_after_days=3)
        assert (await env.service.run_once(account.id)).fetched == 4
        clock.advance(2 * DAY_S)
        put_remote(peer, "remote-a", [message(4)])
        assert (await env.service.run_once(account.id)).fetched == 1
        assert await asyncio.to_thread(pop_count, peer, "remote-a") == 5
        clock.advance(1.5 * DAY_S)  # the first four are 3.5 days old, the fifth 1.5
        assert (await env.service.run_once(account.id)).fetched == 0
        assert await asyncio.to_thread(pop_count, peer, "remote-a") == 1
        assert (await env.service.run_once(account.id)).fetched == 0
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org")) == 5
        assert len(await env.store.read(env.store.retrieval.pop_keys, account.id)) == 1


def big_message(n: int) -> bytes:
    line = b"0123456789" * 7 + b"abcd\r\n"
    return message(n) + line * (BIG_OCTETS // len(line))


async def peak_of_fetch(env: RetrievalEnv, account: Retrieval) -> int:
    tracemalloc.start()
    try:
        outcome = await env.service.run_once(account.id)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.fetched, outcome.problem) == (1, None)
    return peak


@pytest.mark.parametrize("protocol", [RetrievalProtocol.IMAP, RetrievalProtocol.POP3])
async def test_memory_does_not_grow_with_message_size(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path, protocol: RetrievalProtocol
) -> None:
    env = await make_env(
        sqlite_store,
        clock,
        tmp_path,
        protocol,
        max_message_bytes=2 * BIG_OCTETS,
        imap_part_bytes=PART_OCTETS,
    )
    big = big_message(1)
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-a", [big])
        port = peer.imap_port if protocol is RetrievalProtocol.IMAP else peer.port
        spec = NewRetrieval(protocol, "127.0.0.1", port, TlsMode.NONE, "remote-a", "")
        account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
        peak = await peak_of_fetch(env, account)
        # Whole-message buffering would cost the message at least once (6 MB).
        assert peak < BIG_OCTETS // 3, f"{peak} bytes at the peak"
        await deliver_queue(env)
        got = await inbox(env, "alice@example.org")
        assert len(got) == 1 and got[0].endswith(big)
