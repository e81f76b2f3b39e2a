"""Vacation replies through the Spool's local delivery (RFC 3834): once per
sender and period, from the null sender, never to lists, robots, bounces,
Bcc or oneself, only within the user's dates."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Envelope, Intake
from roost.control.passwords import Passwords
from roost.control.user_settings import UserSettings
from roost.core.clock import ManualClock
from roost.net.dns import Resolver
from roost.services.spool.service import SpoolService
from roost.store.store import Store, open_store
from roost.store.types import NewRecipient, QueueEntry
from roost.supervisor.service import ServiceContext
from tests.conftest import make_config
from tests.helpers import until

ACTOR = Actor("test")
START = datetime(2026, 7, 1, 9, tzinfo=UTC)


@dataclass
class Env:
    store: Store
    intake: Intake
    spool: SpoolService
    clock: ManualClock
    settings: UserSettings


@pytest.fixture
async def env(tmp_path) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    clock = ManualClock(START)
    config = make_config(
        tmp_path,
        spool={"poll_interval_s": 0.05, "retry_schedule_s": [600]},
        vacation={"default_period_days": 3},
    )
    store = await open_store(config, clock)
    directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
    await directory.add_domain(ACTOR, "example.org")
    await directory.add_user(ACTOR, "alice@example.org", "alice-password")
    await directory.add_user(ACTOR, "carol@example.org", "carol-password")
    await directory.add_alias(ACTOR, "sales@example.org", ("alice@example.org",))
    intake = Intake(store, config.spool, clock)
    resolver = Resolver(("127.0.0.1:9",), 0.2)
    spool = SpoolService(
        store,
        intake,
        config.spool,
        "+",
        resolver,
        clock,
        "mx.example.org",
        vacation=config.vacation,
    )
    settings = UserSettings(store, config.vacation)
    await settings.update_vacation(
        "alice@example.org",
        enabled=True,
        start=date(2026, 7, 1),
        end=date(2026, 7, 10),
        subject="",
        text="I am away until the 10th.",
        period_days=None,
    )
    try:
        yield Env(store, intake, spool, clock, settings)
    finally:
        await spool.stop(1)
        await store.close()


def message(
    *extra: str, to: str = "Alice <alice@example.org>", msg_id: str = "<m1@example.net>"
) -> bytes:
    lines = [
        "From: Bob <bob@example.net>",
        f"To: {to}",
        "Subject: Lunch?",
        f"Message-ID: {msg_id}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\nAre you free?\r\n").encode()


async def deliver(
    env: Env,
    data: bytes,
    sender: str = "bob@example.net",
    rcpt: str = "alice@example.org",
    source: str = "smtp",
) -> None:
    await env.intake.accept_bytes(data, Envelope(sender, (NewRecipient(rcpt),), source=source))
    for entry in await env.store.write(env.store.queue.claim_due, "test", 60, 100):
        if entry.source != "vacation":
            await env.spool.attempt(entry)
        else:
            await env.store.write(env.store.queue.release, entry.id, env.clock.now())


async def replies(env: Env) -> list[QueueEntry]:
    return [e for e in await env.store.read(env.store.queue.entries) if e.source == "vacation"]


async def test_one_reply_per_sender_and_period_from_the_null_sender(env: Env) -> None:
    await deliver(env, message())
    await deliver(env, message(msg_id="<m2@example.net>"))
    (reply,) = await replies(env)
    assert reply.sender == ""
    assert [r.address for r in reply.recipients] == ["bob@example.net"]
    data = await env.store.blobs.read(reply.blob_hash)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"] == "<m1@example.net>"
    assert parsed["References"] == "<m1@example.net>"
    assert parsed["Subject"] == "Auto: Lunch?"
    assert parsed["From"].addresses[0].addr_spec == "alice@example.org"
    assert parsed["To"] == "bob@example.net"
    assert "I am away until the 10th." in parsed.get_content()
    # Another sender hears it too; after the period, Bob hears it again.
    await deliver(env, message(), sender="dave@example.net")
    assert len(await replies(env)) == 2
    env.clock.advance(timedelta(days=3, seconds=1).total_seconds())
    await deliver(env, message(msg_id="<m3@example.net>"))
    assert len(await replies(env)) == 3
    # Both messages of the first exchange are in the INBOX all the same.
    account = await env.store.read(env.store.directory.account, "alice@example.org")
    box = await env.store.read(env.store.mail.mailbox, account.id, "INBOX")
    assert len(await env.store.read(env.store.mail.messages, box.id)) == 4


@pytest.mark.parametrize(
    ("extra", "sender", "to"),
    [
        (("List-Id: Friends <friends.example.net>",), "bob@example.net", "alice@example.org"),
        (("Precedence: bulk",), "bob@example.net", "alice@example.org"),
        (("Auto-Submitted: auto-generated",), "bob@example.net", "alice@example.org"),
        ((), "", "alice@example.org"),
        ((), "bob@example.net", "undisclosed-recipients:;"),
        ((), "alice@example.org", "alice@example.org"),
        ((), "sales@example.org", "alice@example.org"),
    ],
    ids=["list-id", "bulk", "auto-generated", "bounce", "bcc-only", "oneself", "own-alias"],
)
async def test_never_to_lists_robots_bounces_bcc_or_oneself(
    env: Env, extra: tuple[str, ...], sender: str, to: str
) -> None:
    await deliver(env, message(*extra, to=to), sender=sender)
    assert await replies(env) == []
    account = await env.store.read(env.store.directory.account, "alice@example.org")
    box = await env.store.read(env.store.mail.mailbox, account.id, "INBOX")
    assert len(await env.store.read(env.store.mail.messages, box.id)) == 1


async def test_an_alias_in_to_and_subaddress_count_as_the_user(env: Env) -> None:
    await deliver(env, message(to="sales@example.org"), rcpt="sales@example.org")
    await deliver(env, message(to="alice+x@example.org"), sender="erin@example.net")
    assert len(await replies(env)) == 2


async def test_outside_the_dates_no_reply(env: Env) -> None:
    env.clock.advance(timedelta(days=10).total_seconds())  # 11 July: after the last day
    await deliver(env, message())
    assert await replies(env) == []
    await env.settings.update_vacation(
        "alice@example.org",
        enabled=True,
        start=date(2026, 8, 1),
        end=None,
        subject="Away",
        text="Back soon.",
        period_days=1,
    )
    await deliver(env, message(msg_id="<m9@example.net>"))
    assert await replies(env) == []  # before the first day
    env.clock.advance(timedelta(days=21).total_seconds())  # 1 August
    await deliver(env, message(msg_id="<m10@example.net>"))
    (reply,) = await replies(env)
    parsed = email.message_from_bytes(
        await env.store.blobs.read(reply.blob_hash), policy=email.policy.default
    )
    assert parsed["Subject"] == "Away"


async def test_switched_off_no_reply_and_carol_without_settings_none(env: Env) -> None:
    await env.settings.update_vacation(
        "alice@example.org",
        enabled=False,
        start=None,
        end=None,
        subject="",
        text="",
        period_days=None,
    )
    await deliver(env, message())
    await deliver(env, message(to="carol@example.org"), rcpt="carol@example.org")
    assert await replies(env) == []


async def test_the_running_spool_replies_on_the_batch_road_too(env: Env) -> None:
    for sender in ("bob@example.net", "dave@example.net", "bob@example.net"):
        await env.intake.accept_bytes(
            message(), Envelope(sender, (NewRecipient("alice@example.org"),), "smtp")
        )
    context = ServiceContext(lambda reason: pytest.fail(f"spool crashed: {reason}"))
    await env.spool.start(context)
    await until(lambda: env.spool.counters["completed"] >= 3 and env.spool.vacation.sent == 2)
    await env.spool.stop(1)
    await context.cancel_workers()
    found = await replies(env)
    assert sorted(r.recipients[0].address for r in found) == ["bob@example.net", "dave@example.net"]
    assert {r.sender for r in found} == {""}


async def test_mail_fetched_from_other_accounts_gets_no_reply(env: Env) -> None:
    # A first fetch may bring years of old mail: none of its senders hears the vacation.
    await deliver(env, message(), source="pop-retrieval")
    await deliver(env, message(msg_id="<m5@example.net>"), source="imap-retrieval")
    assert await replies(env) == []
    await deliver(env, message(msg_id="<m6@example.net>"))
    assert len(await replies(env)) == 1
