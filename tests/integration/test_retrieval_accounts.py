"""Managing external accounts, step 3: APOP against Debian's Dovecot, manual
(unscheduled) accounts under the running scheduler, and editing an account
(the password sealed anew when the remote user changes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from roost.control.retrieval import RetrievalRefused
from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from roost.supervisor.service import ServiceContext
from tests.dovecot_peer import dovecot_peer
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

WAIT_S = 20.0


@pytest.fixture
async def env(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[RetrievalEnv]:
    env = await make_env(sqlite_store, clock, tmp_path, RetrievalProtocol.POP3)
    yield env
    await env.service.stop(1)


def pop_spec(port: int, user: str, **options: object) -> NewRetrieval:
    spec = NewRetrieval(RetrievalProtocol.POP3, "127.0.0.1", port, TlsMode.NONE, user, "")
    return replace(spec, **options)  # type: ignore[arg-type]


async def attempts(env: RetrievalEnv, account: Retrieval) -> int:
    """The account's total fetched so far, once its last attempt is recorded."""
    return (await env.store.read(env.store.retrieval.get, account.id)).status.total_fetched


async def wait_for(env: RetrievalEnv, account: Retrieval, total: int) -> None:
    for _ in range(int(WAIT_S / 0.05)):
        if await attempts(env, account) == total:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"account {account.id}: total fetched did not reach {total}")


async def test_apop_logs_in_without_the_password(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, apop=True) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(5)])
        good = await add_account(
            env, "alice@example.org", pop_spec(peer.port, "remote-a", apop=True), REMOTE_PASSWORD
        )
        bad = await add_account(
            env, "carol@example.org", pop_spec(peer.port, "remote-a", apop=True), "wrong"
        )
        failed = await env.service.run_once(bad.id)
        assert failed.fetched == 0
        assert failed.problem is not None and failed.problem.startswith("authentication failed")
        assert (await env.service.run_once(good.id)).fetched == 5
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org")) == 5
        log = (peer.mail.parent / "dovecot.log").read_text(errors="replace")
        assert "method=APOP" in log or "APOP" in log


async def test_apop_to_a_server_without_it_is_a_clear_error(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(1)])
        account = await add_account(
            env, "alice@example.org", pop_spec(peer.port, "remote-a", apop=True), REMOTE_PASSWORD
        )
        outcome = await env.service.run_once(account.id)
        assert outcome.fetched == 0
        assert outcome.problem is not None
        assert outcome.problem.startswith("the server does not offer APOP")


async def test_manual_account_is_fetched_only_when_asked(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(3)])
        put_remote(peer, "remote-b", [message(n) for n in range(4)])
        manual = await add_account(
            env, "alice@example.org", pop_spec(peer.port, "remote-a", manual=True), REMOTE_PASSWORD
        )
        scheduled = await add_account(
            env, "carol@example.org", pop_spec(peer.port, "remote-b"), REMOTE_PASSWORD
        )
        await env.service.start(ServiceContext(lambda reason: pytest.fail(reason)))
        # Both were due at the same first tick (no jitter): only one was fetched.
        await wait_for(env, scheduled, 4)
        got = await env.store.read(env.store.retrieval.get, manual.id)
        assert got.status.last_attempt_at is None

        await env.admin.request_run(ACTOR, "alice@example.org", manual.id)
        await wait_for(env, manual, 3)

        # Scheduled again by an edit: the loop takes it at once (interval 5 s
        # from its last attempt on the test's clock, which stands still, so
        # only the change of mode makes it due).
        put_remote(peer, "remote-a", [message(9)])
        edited = await env.admin.edit(
            ACTOR, "alice@example.org", manual.id, replace(manual.spec, manual=False)
        )
        assert not edited.spec.manual
        await wait_for(env, manual, 4)
        counters = dict(env.service.status().counters)
        assert (counters["accounts"], counters["errors_last_hour"]) == (2, 0)
        assert counters["fetches_in_flight"] in (0, 1)  # the last fetch may be ending


async def test_edit_account(env: RetrievalEnv) -> None:
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(1)])
        put_remote(peer, "remote-b", [message(2), message(3)])
        account = await add_account(
            env, "alice@example.org", pop_spec(peer.port, "remote-a"), REMOTE_PASSWORD
        )
        assert (await env.service.run_once(account.id)).fetched == 1
        # Another remote user (the seal is bound to it: sealed anew), another folder.
        spec = replace(account.spec, username="remote-b", folder="Fetched", leave_on_server=True)
        await env.store.write(env.store.mail.create_mailbox, account.account_id, "Fetched")
        edited = await env.admin.edit(ACTOR, "alice@example.org", account.id, spec)
        assert (edited.spec.username, edited.spec.folder) == ("remote-b", "Fetched")
        assert edited.spec.password_encrypted != account.spec.password_encrypted
        assert (await env.service.run_once(account.id)).fetched == 2
        await deliver_queue(env)
        assert len(await inbox(env, "alice@example.org", "Fetched")) == 2
        assert len(await inbox(env, "alice@example.org")) == 1
        # A new password replaces the old one.
        await env.admin.edit(ACTOR, "alice@example.org", account.id, spec, "wrong")
        outcome = await env.service.run_once(account.id)
        assert outcome.problem is not None and outcome.problem.startswith("authentication")

        with pytest.raises(RetrievalRefused, match="protocol"):
            imap = replace(spec, protocol=RetrievalProtocol.IMAP)
            await env.admin.edit(ACTOR, "alice@example.org", account.id, imap)
        with pytest.raises(RetrievalRefused, match="IMAP accounts only"):
            await env.admin.edit(
                ACTOR, "alice@example.org", account.id, replace(spec, mark_seen=True)
            )
        with pytest.raises(RetrievalRefused, match="has no external account"):
            await env.admin.edit(ACTOR, "carol@example.org", account.id, spec)
        imap_spec = NewRetrieval(
            RetrievalProtocol.IMAP, "127.0.0.1", 1, TlsMode.NONE, "x", "", apop=True
        )
        with pytest.raises(RetrievalRefused, match="APOP applies to POP3 accounts only"):
            await add_account(env, "carol@example.org", imap_spec, "pw")
