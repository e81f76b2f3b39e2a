"""Remote servers that misbehave, as tiny fake servers on 127.0.0.1: a
greeting that never comes, a 2 GB literal, a malformed FETCH, a hang-up
mid-fetch. Each ends its own fetch with the error in words on the account,
and the service goes on serving the other accounts (one on Dovecot here)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from roost.supervisor.service import ServiceContext
from tests.dovecot_peer import dovecot_peer
from tests.retrieval_support import (
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

READ_TIMEOUT_S = 30.0


class FakeImap:
    """Just enough IMAP4rev1 for imapclient, with one way to misbehave."""

    def __init__(self, messages: list[bytes], mode: str = "good") -> None:
        self.messages = messages
        self.mode = mode
        self.deleted: set[int] = set()
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in self.sessions:
            task.cancel()
        await asyncio.gather(*self.sessions, return_exceptions=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.mode == "silent":
                await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
                return
            writer.write(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] fake\r\n")
            while line := await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S):
                tag, _, rest = line.decode().strip().partition(" ")
                if not self._answer(writer, tag, rest):
                    return
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass

    def _answer(self, writer: asyncio.StreamWriter, tag: str, rest: str) -> bool:
        verb = rest.split(" ", 1)[0].upper()
        live = [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]
        match verb:
            case "LOGIN":
                writer.write(f"{tag} OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n".encode())
                return True
            case "CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n")
            case "LIST":
                writer.write(b'* LIST () "/" INBOX\r\n')
            case "SELECT" | "EXAMINE":
                writer.write(f"* {len(live)} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n".encode())
                writer.write(f"{tag} OK [READ-WRITE] done\r\n".encode())
                return True
            case "UID" if " SEARCH" in rest.upper():
                writer.write(("* SEARCH " + " ".join(map(str, live)) + "\r\n").encode())
            case "UID" if " FETCH" in rest.upper():
                return self._fetch(writer, tag, rest)
            case "LOGOUT":
                writer.write(f"* BYE bye\r\n{tag} OK out\r\n".encode())
                return False
        writer.write(f"{tag} OK done\r\n".encode())
        if verb == "UID" and "EXPUNGE" in rest.upper():
            self.deleted |= set(_uids(rest.split()[2]))
        return True

    def _fetch(self, writer: asyncio.StreamWriter, tag: str, rest: str) -> bool:
        uids = [u for u in _uids(rest.split()[2]) if 0 < u <= len(self.messages)]
        if "HEADER.FIELDS" in rest.upper():
            if self.mode == "endless-literal":
                writer.write(b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] {2147483648}\r\n")
                writer.write(b"x" * 65_536)
                return True
            if self.mode == "malformed":
                writer.write(b'* 1 FETCH (UID 1 RFC822.SIZE "many" ((\r\n')
                writer.write(f"{tag} OK done\r\n".encode())
                return True
            for uid in uids:
                data = self.messages[uid - 1]
                header = f"Message-ID: <m{uid}@example.net>\r\n\r\n".encode()
                writer.write(
                    f'* {uid} FETCH (UID {uid} INTERNALDATE "01-Jan-2024 00:00:00 +0000" '
                    f"RFC822.SIZE {len(data)} BODY[HEADER.FIELDS (MESSAGE-ID)] "
                    f"{{{len(header)}}}\r\n".encode()
                    + header
                    + b")\r\n"
                )
        else:
            for uid in uids:
                if self.mode == "drop-at-2" and uid == 2:
                    return False
                data = self.messages[uid - 1]
                writer.write(f"* {uid} FETCH (UID {uid} BODY[] {{{len(data)}}}\r\n".encode())
                writer.write(data + b")\r\n")
        writer.write(f"{tag} OK done\r\n".encode())
        return True


def _uids(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        if re.fullmatch(r"\d+", low):
            top = int(high) if high.isdigit() else int(low)
            found.extend(range(int(low), top + 1))
    return found


@pytest.fixture
async def env(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(sqlite_store, clock, tmp_path, RetrievalProtocol.IMAP, timeout_s=1)
    yield env
    await env.service.stop(1)


async def add_fake(env: RetrievalEnv, owner: str, port: int) -> int:
    spec = NewRetrieval(RetrievalProtocol.IMAP, "127.0.0.1", port, TlsMode.NONE, "u", "")
    return (await add_account(env, owner, spec, "pw")).id


async def test_each_bad_server_ends_its_own_fetch(env: RetrievalEnv) -> None:
    fakes = {
        mode: FakeImap([message(n) for n in range(3)], mode)
        for mode in ("silent", "endless-literal", "malformed")
    }
    ids = {
        mode: await add_fake(env, "alice@example.org", await f.start()) for mode, f in fakes.items()
    }
    try:
        with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True) as peer:
            put_remote(peer, "remote-a", [message(n) for n in range(5)])
            spec = NewRetrieval(
                RetrievalProtocol.IMAP, "127.0.0.1", peer.imap_port, TlsMode.NONE, "remote-a", ""
            )
            good = await add_account(env, "carol@example.org", spec, REMOTE_PASSWORD)
            await env.service.start(ServiceContext(lambda reason: pytest.fail(reason)))
            await tried_all(env)
        errors = {
            mode: (await env.store.read(env.store.retrieval.get, rid)).status.last_error
            for mode, rid in ids.items()
        }
        assert errors["silent"] == "timeout"
        assert errors["endless-literal"] == (
            "the server announced a literal of 2147483648 octets, more than the 69632 asked for"
        )
        assert (errors["malformed"] or "").startswith("the server sent a malformed response")
        status = (await env.store.read(env.store.retrieval.get, good.id)).status
        assert (status.last_error, status.total_fetched) == (None, 5)
        await deliver_queue(env)
        assert len(await inbox(env, "carol@example.org")) == 5
        assert await inbox(env, "alice@example.org") == []
        assert (
            list((env.config.data_dir / "spool" / "retrieval" / "imap-retrieval").iterdir()) == []
        )
    finally:
        for fake in fakes.values():
            await fake.close()


async def test_hang_up_mid_fetch_resumes_without_duplicates(env: RetrievalEnv) -> None:
    fake = FakeImap([message(n) for n in range(3)], "drop-at-2")
    rid = await add_fake(env, "alice@example.org", await fake.start())
    try:
        first = await env.service.run_once(rid)
        assert (first.fetched, first.problem) == (1, "the server closed the connection")
        assert fake.deleted == set()  # deletion waits for the end of the folder
        fake.mode = "good"
        second = await env.service.run_once(rid)
        assert (second.fetched, second.problem) == (2, None)
        assert fake.deleted == {1, 2, 3}
        assert (await env.service.run_once(rid)).fetched == 0
        await deliver_queue(env)
        got = await inbox(env, "alice@example.org")
        assert sorted(m.split(b"Subject: ")[1].split(b"\r\n")[0] for m in got) == [
            b"message 0",
            b"message 1",
            b"message 2",
        ]
    finally:
        await fake.close()
