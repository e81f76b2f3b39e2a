"""The Spool: local delivery, aliases, quota, loops, retries, idempotency, stop and start."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Envelope, Intake
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.net.dns import Resolver
from roost.proto.mime import MessageStructure
from roost.services.spool.service import SpoolService
from roost.store.store import Store
from roost.store.types import NewRecipient, QueueState, RecipientState
from roost.supervisor.service import ServiceContext
from tests.conftest import make_config
from tests.helpers import until

ACTOR = Actor("test")
MESSAGE = b"From: bob@example.net\r\nTo: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@dataclass
class Env:
    store: Store
    intake: Intake
    spool: SpoolService
    clock: ManualClock
    directory: DirectoryAdmin
    config: Config


@pytest.fixture
async def env(sqlite_store: Store, clock: ManualClock, tmp_path) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    config = make_config(tmp_path, spool={"poll_interval_s": 0.05, "retry_schedule_s": [60, 300]})
    directory = DirectoryAdmin(sqlite_store, Passwords(config.directory), config.directory)
    await directory.add_domain(ACTOR, "example.org")
    await directory.add_user(ACTOR, "alice@example.org", "alice-password")
    await directory.add_user(ACTOR, "carol@example.org", "carol-password")
    intake = Intake(sqlite_store, config.spool, clock)
    resolver = Resolver(("127.0.0.1:9",), 0.2)  # nothing answers: remote domains defer
    spool = SpoolService(sqlite_store, intake, config.spool, "+", resolver, clock, "node")
    yield Env(sqlite_store, intake, spool, clock, directory, config)
    await spool.stop(1)


async def inbox(env: Env, address: str) -> list[bytes]:
    account = await env.store.read(env.store.directory.account, address)
    box = await env.store.read(env.store.mail.mailbox, account.id, "INBOX")
    return [
        await env.store.message_bytes(m)
        for m in await env.store.read(env.store.mail.messages, box.id)
    ]


async def queue_one(
    env: Env,
    *recipients: str,
    sender: str = "bob@example.net",
    data: bytes = MESSAGE,
    source: str = "smtp",
) -> int:
    return await env.intake.accept_bytes(
        data, Envelope(sender, tuple(NewRecipient(r) for r in recipients), source=source)
    )


async def run_once(env: Env) -> None:
    """Claim what is due and deliver it, as one turn of the loop would."""
    for entry in await env.store.write(env.store.queue.claim_due, "test", 60, 100):
        await env.spool.attempt(entry)


async def test_local_delivery_with_trace_headers_and_structure(env: Env) -> None:
    await queue_one(env, "Alice+news@example.org")
    await run_once(env)
    (stored,) = await inbox(env, "alice@example.org")
    assert (
        stored == b"Return-Path: <bob@example.net>\r\nDelivered-To: alice@example.org\r\n" + MESSAGE
    )
    assert await env.store.read(env.store.queue.entries) == []
    account = await env.store.read(env.store.directory.account, "alice@example.org")
    box = await env.store.read(env.store.mail.mailbox, account.id, "INBOX")
    (info,) = await env.store.read(env.store.mail.messages, box.id)
    structure = await env.store.read(env.store.blobs.structure, info.blob_hash)
    assert structure is not None
    assert MessageStructure.from_json(structure).envelope is not None


async def test_alias_to_several_and_catch_all(env: Env) -> None:
    await env.directory.add_alias(
        ACTOR, "team@example.org", ("alice@example.org", "carol@example.org")
    )
    await env.directory.set_catch_all(ACTOR, "example.org", "carol@example.org")
    await queue_one(env, "team@example.org", "whoever@example.org")
    await run_once(env)
    assert len(await inbox(env, "alice@example.org")) == 1
    assert len(await inbox(env, "carol@example.org")) == 2


async def test_unknown_recipient_fails_and_the_rest_is_delivered(env: Env) -> None:
    entry_id = await queue_one(env, "alice@example.org", "nobody@example.org")
    entry = (await env.store.write(env.store.queue.claim_due, "t", 60, 10))[0]
    result = await env.spool.attempt(entry)
    assert (result.delivered, result.failed, result.deferred) == (1, 1, 0)
    assert len(await inbox(env, "alice@example.org")) == 1
    with pytest.raises(Exception, match="no queue entry"):
        await env.store.read(env.store.queue.entry, entry_id)
    (notice,) = await env.store.read(env.store.queue.entries)
    assert notice.sender == "" and notice.source == "notice"
    text = (await env.store.blobs.read(notice.blob_hash)).decode()
    assert "Auto-Submitted: auto-replied" in text and "nobody@example.org" in text
    assert (
        "alice@example.org"
        not in text.split("Content-Type: message/delivery-status")[1].split("--")[0]
    )


async def test_a_retry_never_delivers_twice(env: Env) -> None:
    """A crash after a recipient's delivery committed, before the entry was released."""
    await queue_one(env, "alice@example.org", "elsewhere@example.com")
    entry = (await env.store.write(env.store.queue.claim_due, "t", 60, 10))[0]
    await env.spool.attempt(entry)  # alice delivered, the remote one deferred
    env.clock.advance(3600)
    (again,) = await env.store.write(env.store.queue.claim_due, "t", 60, 10)
    states = {r.address: r.state for r in again.recipients}
    assert states == {
        "alice@example.org": RecipientState.DELIVERED,
        "elsewhere@example.com": RecipientState.PENDING,
    }
    await env.spool.attempt(again)
    assert len(await inbox(env, "alice@example.org")) == 1
    remote = next(
        r
        for r in (await env.store.read(env.store.queue.entry, again.id)).recipients
        if r.address == "elsewhere@example.com"
    )
    assert remote.last_reply is not None and remote.last_reply.startswith("451 4.4.3")


async def test_full_mailbox_defers_then_fails_after_give_up(env: Env) -> None:
    await env.directory.set_quota(ACTOR, "alice@example.org", 0)
    account = await env.store.read(env.store.directory.account, "alice@example.org")
    await env.store.write(env.store.directory.set_quota, account.address, 10, 0)
    entry_id = await queue_one(env, "alice@example.org")
    await run_once(env)
    entry = await env.store.read(env.store.queue.entry, entry_id)
    assert entry.state is QueueState.DEFERRED
    assert entry.recipients[0].last_reply.startswith("452 4.2.2")  # type: ignore[union-attr]
    assert entry.next_attempt_at == env.clock.now() + timedelta(seconds=60)
    env.clock.advance(6 * 86400)
    await run_once(env)
    (notice,) = await env.store.read(env.store.queue.entries)
    assert notice.sender == "" and [r.address for r in notice.recipients] == ["bob@example.net"]
    report = email.message_from_bytes(
        await env.store.blobs.read(notice.blob_hash), policy=email.policy.default
    )
    assert report.get_content_type() == "multipart/report"
    status = report.get_payload()[1]  # type: ignore[index]
    assert "Status: 5.2.2" in status.as_string()


async def test_loop_by_delivered_to_fails_with_5_4_6(env: Env) -> None:
    looped = b"Delivered-To: alice@example.org\r\n" + MESSAGE
    await queue_one(env, "alice@example.org", data=looped)
    entry = (await env.store.write(env.store.queue.claim_due, "t", 60, 10))[0]
    outcome = await env.spool.attempt(entry)
    assert outcome.failed == 1 and await inbox(env, "alice@example.org") == []


async def test_fetched_mail_with_the_owners_delivered_to_is_not_a_loop(env: Env) -> None:
    # Mail fetched from the user's old server under the same address carries
    # that server's Delivered-To naming the user.
    fetched = b"Delivered-To: alice@example.org\r\n" + MESSAGE
    await queue_one(env, "alice@example.org", data=fetched, source="pop-retrieval")
    entry = (await env.store.write(env.store.queue.claim_due, "t", 60, 10))[0]
    outcome = await env.spool.attempt(entry)
    assert outcome.delivered == 1 and len(await inbox(env, "alice@example.org")) == 1


async def test_stopped_spool_queues_and_started_spool_delivers(env: Env) -> None:
    await queue_one(env, "alice@example.org")
    await queue_one(env, "carol@example.org")
    assert len(await env.store.read(env.store.queue.entries)) == 2  # nothing delivered yet
    context = ServiceContext(lambda reason: pytest.fail(f"spool crashed: {reason}"))
    await env.spool.start(context)
    await until(lambda: env.spool.counters["completed"] == 2)
    assert len(await inbox(env, "alice@example.org")) == 1
    await queue_one(env, "alice@example.org")  # the intake wakes the running spool
    await until(lambda: env.spool.counters["completed"] == 3)
    probe = await env.spool.probe()
    assert probe.ok, probe.detail
    await env.spool.stop(1)
    await context.cancel_workers()


async def test_notify_never_null_sender_and_success(env: Env) -> None:
    never = Envelope(
        "bob@example.net", (NewRecipient("nobody@example.org", notify="NEVER"),), "smtp"
    )
    await env.intake.accept_bytes(MESSAGE, never)
    bounce = Envelope("", (NewRecipient("nobody@example.org"),), "smtp")
    await env.intake.accept_bytes(MESSAGE, bounce)
    await run_once(env)
    assert await env.store.read(env.store.queue.entries) == []  # no notice for either
    success = Envelope(
        "bob@example.net", (NewRecipient("alice@example.org", notify="SUCCESS,FAILURE"),), "smtp"
    )
    await env.intake.accept_bytes(
        MESSAGE,
        success,
    )
    await run_once(env)
    (notice,) = await env.store.read(env.store.queue.entries)
    text = (await env.store.blobs.read(notice.blob_hash)).decode()
    assert "Action: delivered" in text and "Status: 2.0.0" in text


async def test_one_delay_notice(env: Env) -> None:
    await queue_one(env, "friend@elsewhere.example")
    await run_once(env)  # deferred: DNS does not answer in these tests
    assert len(await env.store.read(env.store.queue.entries)) == 1
    env.clock.advance(5 * 3600)
    await run_once(env)
    entries = await env.store.read(env.store.queue.entries)
    notices = [e for e in entries if e.sender == ""]
    assert len(notices) == 1
    text = (await env.store.blobs.read(notices[0].blob_hash)).decode()
    assert "Action: delayed" in text and "Will-Retry-Until:" in text
    env.clock.advance(3600)
    await run_once(env)
    assert (
        len([e for e in await env.store.read(env.store.queue.entries) if e.source == "notice"]) >= 1
    )
    assert (
        sum(
            1
            for e in await env.store.read(env.store.queue.entries)
            if e.sender == "" and e.recipients[0].address == "bob@example.net"
        )
        == 1
    )
