"""IDLE wake-ups go only to the sessions of the account (and mailbox) that
changed; a client that sends nothing but BAD commands is disconnected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from roost.services.imap.service import ImapService
from roost.services.imap.watch import ChangeWatcher
from roost.store.store import Store
from roost.store.types import NewMessage
from tests.contract.test_store_mail import make_account, message
from tests.imap_support import (
    BOB,
    PLAIN,
    TIMEOUT_S,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_the_watcher_wakes_only_the_account_that_changed(store: Store) -> None:
    alice = await make_account(store, "alice@example.org")
    bob = await make_account(store, "bob@example.org")
    bob_inbox = await store.read(store.mail.mailbox, bob.id, "INBOX")
    bob_other = await store.write(store.mail.create_mailbox, bob.id, "Other")
    watcher = ChangeWatcher(store)
    watcher.start()
    try:
        with (
            watcher.watch(alice.id, None) as alice_any,
            watcher.watch(bob.id, bob_inbox.id) as bob_inbox_watch,
            watcher.watch(bob.id, bob_other.id) as bob_other_watch,
            watcher.watch(bob.id, None) as bob_any,
        ):
            assert watcher.watching == 4
            blob = await store.blobs.stage(message(1))
            await store.write(store.mail.append, bob_inbox.id, [NewMessage(blob)])
            await asyncio.wait_for(bob_inbox_watch.wait(), TIMEOUT_S)
            await asyncio.wait_for(bob_any.wait(), TIMEOUT_S)
            # One dispatch decides every watch: the others were passed over.
            assert not alice_any.woken and not bob_other_watch.woken
            assert watcher.reads == 1
        assert watcher.watching == 0
        with watcher.watch(bob.id, None) as later:
            await store.write(store.mail.append, bob_other.id, [NewMessage(blob)])
            await asyncio.wait_for(later.wait(), TIMEOUT_S)
    finally:
        await watcher.stop()


async def test_idle_sessions_of_another_account_stay_asleep(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)
        service = next(s for s in roost.services if isinstance(s, ImapService))
        watcher = service._deps.watcher

        def start_idle(user: str) -> Wire:
            wire = Wire(port, login=False)
            wire.ok(f"LOGIN {user} {user.split('@')[0]}-password")
            wire.ok("SELECT INBOX")
            wire.sock.sendall(b"i1 IDLE\r\n")
            assert wire.response().startswith(b"+ ")
            return wire

        alice = await in_thread(lambda: start_idle("alice@example.org"))
        bob = await in_thread(lambda: start_idle(BOB))
        async with asyncio.timeout(TIMEOUT_S):
            while watcher.watching < 2:
                await asyncio.sleep(0.01)
        reads = watcher.reads
        await deliver(roost, [PLAIN], address=BOB)
        assert await in_thread(bob.response) == b"* 1 EXISTS"
        assert watcher.reads == reads + 1

        def done(wire: Wire) -> bytes:
            wire.sock.sendall(b"DONE\r\n")
            return wire.response()

        # Alice's session was not woken: DONE is the next thing she hears of.
        assert await in_thread(lambda: done(alice)) == b"i1 OK IDLE terminated"
        assert await in_thread(lambda: done(bob)) == b"i1 OK IDLE terminated"
        alice.close()
        bob.close()


async def test_bad_commands_in_a_row_end_the_session(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca, imap={"max_bad_commands": 3}) as roost:
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            for _ in range(2):
                _, done = wire.command("FROB")
                assert done.startswith(b"BAD")
            wire.ok("NOOP")  # an accepted command starts the count again
            for _ in range(2):
                _, done = wire.command("FETCH 1 FLAGS")
                assert done.startswith(b"BAD")
            wire.sock.sendall(b"x1 FROB\r\n")
            assert wire.response().startswith(b"x1 BAD")
            assert wire.response() == b"* BYE Too many invalid commands"
            assert wire.reader.readline() == b""
            wire.close()

        await in_thread(scenario)
        service = next(s for s in roost.services if isinstance(s, ImapService))
        assert service.counters.get("too_many_errors") == 1
