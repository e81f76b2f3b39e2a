"""The POP service end to end with Python's poplib, on SQLite and PostgreSQL.

STLS and implicit TLS with a test CA, USER/PASS, LIST/UIDL/TOP/RETR/DELE/QUIT,
the maildrop fixed for the session, the UPDATE state reaching the store (and
IMAP, through the change feed), and a dropped connection committing nothing.
"""

from __future__ import annotations

import asyncio
import poplib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from roost.app import Roost
from tests.helpers import until
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    TIMEOUT_S,
    TRACE,
    deliver,
    inbox_id,
    login,
    pop_of,
    pop_port,
    pop_roost,
    retrieve,
    sample_messages,
    stored,
)
from tests.tls_support import client_context

UNIQUE_ID = re.compile(rb"[0-9a-f]{16}")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def roost(backend: str, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Roost]:
    async with pop_roost(tmp_path, ca, backend=backend) as running:
        yield running


def listing(client: poplib.POP3) -> dict[int, int]:
    _status, lines, _ = client.list()
    return {int(n): int(size) for n, size in (line.split() for line in lines)}


def unique_ids(client: poplib.POP3) -> dict[int, bytes]:
    _status, lines, _ = client.uidl()
    return {int(n): uid for n, uid in (line.split() for line in lines)}


async def test_stls_then_user_pass_list_uidl_top_retr_dele_quit(
    roost: Roost, ca: trustme.CA
) -> None:
    messages = sample_messages()
    await deliver(roost, messages)
    port = pop_port(roost)
    expected = [TRACE + body for body in messages]

    def session() -> tuple[dict[int, bytes], bytes]:
        client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
        assert client.getwelcome().startswith(b"+OK")
        capabilities = client.capa()
        assert "STLS" in capabilities and "RESP-CODES" in capabilities
        assert capabilities["EXPIRE"] == ["NEVER"]
        client.stls(context=client_context(ca))
        assert "STLS" not in client.capa()
        client.user(ALICE)
        assert client.pass_(ALICE_PASSWORD).startswith(b"+OK")
        total = sum(len(m) for m in expected)
        assert client.stat() == (3, total)
        assert listing(client) == {i + 1: len(m) for i, m in enumerate(expected)}
        uids = unique_ids(client)
        assert all(UNIQUE_ID.fullmatch(u) for u in uids.values()) and len(set(uids.values())) == 3
        for number, message in enumerate(expected, start=1):
            assert retrieve(client, number) == message
        _status, top, _ = client.top(1, 1)
        head = expected[0].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert top == [*head, b"", b"Hello Alice."]
        assert client.dele(2).startswith(b"+OK")
        assert 2 not in listing(client)
        with pytest.raises(poplib.error_proto, match="already deleted"):
            client.retr(2)
        with pytest.raises(poplib.error_proto, match="No such message"):
            client.retr(4)
        return uids, client.quit()

    uids, goodbye = await asyncio.to_thread(session)
    assert goodbye.startswith(b"+OK") and b"2 messages left" in goodbye
    assert await stored(roost) == [expected[0], expected[2]]

    def again() -> dict[int, bytes]:
        client = poplib.POP3_SSL(
            "127.0.0.1", pop_port(roost, "pop3s"), timeout=TIMEOUT_S, context=client_context(ca)
        )
        client.user(ALICE)
        client.pass_(ALICE_PASSWORD)
        assert listing(client) == {1: len(expected[0]), 2: len(expected[2])}
        found = unique_ids(client)
        client.quit()
        return found

    # Unique-ids stay with their messages: leave-on-server clients rely on it.
    assert await asyncio.to_thread(again) == {1: uids[1], 2: uids[3]}


async def test_listing_is_fixed_for_the_session(roost: Roost) -> None:
    await deliver(roost, sample_messages()[:1])
    port = pop_port(roost)
    client = await asyncio.to_thread(login, port)
    try:
        await deliver(roost, sample_messages()[1:2])  # arrives during the session
        assert await asyncio.to_thread(client.stat) == (1, len(TRACE + sample_messages()[0]))
    finally:
        await asyncio.to_thread(client.quit)
    second = await asyncio.to_thread(login, port)
    assert (await asyncio.to_thread(second.stat))[0] == 2
    await asyncio.to_thread(second.quit)


async def test_dropped_connection_commits_nothing_and_frees_the_lock(roost: Roost) -> None:
    await deliver(roost, sample_messages())
    port = pop_port(roost)
    pop = pop_of(roost)

    def delete_and_drop() -> None:
        client = login(port)
        client.dele(1)
        client.dele(3)
        client.sock.close()  # no QUIT: RFC 1939 §6, nothing is removed

    await asyncio.to_thread(delete_and_drop)
    await until(lambda: pop.status().sessions == 0)
    assert len(await stored(roost)) == 3
    client = await asyncio.to_thread(login, port)  # the lock went with the session
    assert (await asyncio.to_thread(client.stat))[0] == 3
    await asyncio.to_thread(client.quit)


async def test_second_session_gets_in_use(roost: Roost) -> None:
    await deliver(roost, sample_messages()[:1])
    port = pop_port(roost)
    first = await asyncio.to_thread(login, port)

    def second_login() -> str:
        client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
        client.user(ALICE)
        with pytest.raises(poplib.error_proto) as refused:
            client.pass_(ALICE_PASSWORD)
        client.quit()
        return str(refused.value)

    assert "-ERR [IN-USE]" in await asyncio.to_thread(second_login)
    await asyncio.to_thread(first.quit)
    again = await asyncio.to_thread(login, port)
    await asyncio.to_thread(again.quit)
    assert pop_of(roost).counters["in_use"] == 1


async def test_a_crashed_nodes_lock_lapses(roost: Roost) -> None:
    import sqlalchemy as sa

    from roost.store.db import Tx
    from roost.store.maildrop_locks import LockOutcome
    from roost.store.schema import maildrop_locks

    store = roost.store
    box = await inbox_id(roost)
    taken = await store.write(store.maildrop_locks.take, box, "gone-node/abc", 3600)
    assert taken is LockOutcome.TAKEN
    port = pop_port(roost)

    def try_login() -> str:
        client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
        client.user(ALICE)
        try:
            return client.pass_(ALICE_PASSWORD).decode()
        except poplib.error_proto as exc:
            return str(exc)
        finally:
            client.quit()

    assert "[IN-USE]" in await asyncio.to_thread(try_login)

    async def lapse(tx: Tx) -> None:  # the node never came back to renew it
        past = store.clock.now().replace(year=2000)
        await tx.execute(maildrop_locks.update().values(expires_at=past))

    await store.write(lapse)
    assert "+OK" in await asyncio.to_thread(try_login)
    assert await store.read(store.maildrop_locks.holder, box) is None
    holder = await store.read(
        lambda tx: tx.scalar(
            sa.select(maildrop_locks.c.holder).where(maildrop_locks.c.mailbox_id == box)
        )
    )
    assert not holder.startswith("gone-node")  # the new session took it over


async def test_quit_expunges_through_the_mail_role_so_imap_sees_it(roost: Roost) -> None:
    uids = await deliver(roost, sample_messages())
    store = roost.store
    box = await inbox_id(roost)
    before = await store.read(store.changes.latest)
    mailbox = await store.read(store.mail.mailbox_by_id, box)
    # What an IMAP session in IDLE does: wait on the change feed.
    waiter = asyncio.create_task(store.changes.wait(before, TIMEOUT_S))
    port = pop_port(roost)

    def delete_two() -> None:
        client = login(port)
        client.dele(1)
        client.dele(3)
        client.quit()

    await asyncio.to_thread(delete_two)
    assert await waiter
    changes = await store.read(store.changes.since, before)
    assert [(c.mailbox_id, c.kind) for c in changes] == [(box, "expunge")]
    assert await store.read(store.mail.vanished, box, mailbox.highest_modseq) == [uids[0], uids[2]]
    assert [m.uid for m in await store.read(store.mail.messages, box)] == [uids[1]]
    counters = dict(pop_of(roost).status().counters)
    assert counters["deleted"] == 2 and counters["logins"] == 1
