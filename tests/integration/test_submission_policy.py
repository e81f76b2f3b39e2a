"""The submission policy shared by authenticated SMTP and the webmail."""

from __future__ import annotations

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.control.submission import SubmissionLimits, SubmissionPolicy, missing_fields
from roost.core.clock import ManualClock
from roost.store.store import Store
from tests.conftest import make_config

ACTOR = Actor("test")


async def make_policy(
    store: Store, clock: ManualClock, tmp_path, **limits: object
) -> SubmissionPolicy:  # type: ignore[no-untyped-def]
    config = make_config(tmp_path)
    directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
    await directory.add_domain(ACTOR, "example.org")
    await directory.add_user(ACTOR, "alice@example.org", "alice-password")
    await directory.add_user(ACTOR, "bob@example.org", "bob-password")
    await directory.add_alias(ACTOR, "sales@example.org", ("alice@example.org", "bob@example.org"))
    values = {"restrict_sender": True, "max_recipients": 3, "messages_per_hour": 2, **limits}
    return SubmissionPolicy(store, SubmissionLimits(**values), "+", clock)  # type: ignore[arg-type]


async def test_senders_are_own_addresses_and_aliases(
    sqlite_store: Store, clock: ManualClock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    policy = await make_policy(sqlite_store, clock, tmp_path)
    for sender in (
        "alice@example.org",
        "Alice+list@example.org",
        "sales@example.org",
        "postmaster@example.org",
    ):
        assert (await policy.check_sender("alice@example.org", sender)).ok, sender
    refused = await policy.check_sender("alice@example.org", "bob@example.org")
    assert not refused.ok and refused.reply.startswith("553 5.7.1")
    assert not (await policy.check_sender("alice@example.org", "")).ok


async def test_recipient_and_rate_limits(sqlite_store: Store, clock: ManualClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = await make_policy(sqlite_store, clock, tmp_path)
    assert policy.check_recipient_count(3).ok and not policy.check_recipient_count(4).ok
    assert policy.check_rate("alice@example.org").ok
    assert policy.check_rate("alice@example.org").ok
    third = policy.check_rate("alice@example.org")
    assert not third.ok and third.reply.startswith("450 4.7.1")
    assert policy.check_rate("bob@example.org").ok
    clock.advance(3601)
    assert policy.check_rate("alice@example.org").ok


def test_missing_date_and_message_id_are_added(clock: ManualClock) -> None:
    extra = missing_fields(b"From: a@example.org\r\nSubject: x\r\n", "example.org", clock)
    assert extra.startswith(b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <")
    assert extra.endswith(b"@example.org>\r\n")
    complete = b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nmessage-id: <x@y>\r\n"
    assert missing_fields(complete, "example.org", clock) == b""
    folded = b"Subject: a\r\n Date: not a field\r\n"
    assert missing_fields(folded, "example.org", clock).startswith(b"Date: ")
