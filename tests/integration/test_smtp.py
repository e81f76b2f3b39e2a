"""The SMTP service end to end: smtplib against a running Roost, mail into mailboxes."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.smtp.service import SmtpService
from roost.store.types import QueueState
from tests.conftest import make_config
from tests.helpers import until

ACTOR = Actor("test")
MESSAGE = (
    b"From: bob@example.net\r\nTo: alice@example.org\r\nSubject: hello\r\n\r\n"
    b"Hi Alice.\r\n.leading dot\r\n"
)


@pytest.fixture
async def roost(tmp_path: Path) -> AsyncIterator[Roost]:
    config = make_config(
        tmp_path,
        web={"listen": ["127.0.0.1:0"], "tls_listen": []},
        smtp={
            "mx_listen": ["127.0.0.1:0"],
            "submission_listen": ["127.0.0.1:0"],
            "submissions_listen": ["127.0.0.1:0"],
            "trusted_networks": [],
            "hostname": "mx.example.org",
        },
        spool={"poll_interval_s": 0.05},
        dns={"nameservers": ["127.0.0.1:9"], "timeout_s": 0.2},
    )
    running = await start(config, announce=False)
    await running.directory.add_domain(ACTOR, "example.org")
    await running.directory.add_user(ACTOR, "alice@example.org", "alice-password")
    await running.directory.add_user(ACTOR, "bob@example.org", "bob-password")
    yield running
    await running.stop()


def smtp_of(roost: Roost) -> SmtpService:
    return next(s for s in roost.services if isinstance(s, SmtpService))


def port(roost: Roost, kind: str) -> int:
    (address,) = smtp_of(roost).addresses[f"smtp-{kind}"]
    return int(address.rpartition(":")[2])


async def inbox(roost: Roost, address: str) -> list[bytes]:
    store = roost.store
    account = await store.read(store.directory.account, address)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    return [await store.message_bytes(m) for m in await store.read(store.mail.messages, box.id)]


def insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_mx_delivery_with_smtplib(roost: Roost) -> None:
    mx = port(roost, "mx")

    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mx, timeout=30) as client:
            client.ehlo("client.example.net")
            assert client.has_extn("pipelining") and client.has_extn("chunking")
            assert client.has_extn("starttls") and not client.has_extn("auth")
            return client.sendmail("bob@example.net", ["Alice+news@example.org"], MESSAGE)

    assert await asyncio.to_thread(send) == {}
    await until(lambda: roost.services[1].counters["completed"] >= 1)  # type: ignore[attr-defined]
    (stored,) = await inbox(roost, "alice@example.org")
    assert stored.startswith(
        b"Return-Path: <bob@example.net>\r\nDelivered-To: alice@example.org\r\n"
        b"Authentication-Results: mx.example.org;"
    )
    received = stored.index(b"Received: from client.example.net ([127.0.0.1])\r\n")
    assert stored[received:].startswith(
        b"Received: from client.example.net ([127.0.0.1])\r\n"
        b"\tby mx.example.org (Roost) with ESMTP id "
    )
    assert b"spf=temperror" in stored[:received] or b"spf=none" in stored[:received]
    assert stored.endswith(MESSAGE)


async def test_mx_refuses_unknown_users_and_relaying(roost: Roost) -> None:
    mx = port(roost, "mx")

    def send(rcpt: str) -> smtplib.SMTPRecipientsRefused:
        with smtplib.SMTP("127.0.0.1", mx, timeout=30) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
                client.sendmail("bob@example.net", [rcpt], MESSAGE)
            return caught.value

    unknown = await asyncio.to_thread(send, "nobody@example.org")
    assert unknown.recipients["nobody@example.org"][0] == 550
    assert b"5.1.1" in unknown.recipients["nobody@example.org"][1]
    relay = await asyncio.to_thread(send, "someone@elsewhere.example")
    assert relay.recipients["someone@elsewhere.example"][0] == 554
    assert await roost.store.read(roost.store.queue.count) == dict.fromkeys(QueueState, 0)


async def test_submission_needs_starttls_and_auth(roost: Roost) -> None:
    submission = port(roost, "submission")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", submission, timeout=30) as client:
            client.ehlo("laptop")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
            assert refused.value.smtp_code == 530
            client.starttls(context=insecure())
            client.ehlo("laptop")
            assert "SCRAM-SHA-256" in client.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alice@example.org", "wrong-password")
            client.login("alice@example.org", "alice-password")
            with pytest.raises(smtplib.SMTPSenderRefused) as other:
                client.sendmail("bob@example.org", ["bob@example.org"], MESSAGE)
            assert other.value.smtp_code == 553
            client.sendmail(
                "alice@example.org",
                ["bob@example.org", "friend@elsewhere.example"],
                b"Subject: no date\r\n\r\nbody\r\n",
            )

    await asyncio.to_thread(send)
    await until(lambda: roost.services[1].counters["delivered"] >= 1)  # type: ignore[attr-defined]
    (stored,) = await inbox(roost, "bob@example.org")
    assert b"\r\nDate: " in stored and b"\r\nMessage-ID: <" in stored
    assert b"with ESMTPSA id" in stored


async def test_submissions_implicit_tls(roost: Roost) -> None:
    submissions = port(roost, "submissions")

    def send() -> None:
        with smtplib.SMTP_SSL("127.0.0.1", submissions, timeout=30, context=insecure()) as client:
            client.login("bob@example.org", "bob-password")
            client.sendmail("bob@example.org", ["alice@example.org"], MESSAGE)

    await asyncio.to_thread(send)
    await until(lambda: roost.services[1].counters["delivered"] >= 1)  # type: ignore[attr-defined]
    assert len(await inbox(roost, "alice@example.org")) == 1


async def test_smtp_probe_and_status(roost: Roost) -> None:
    smtp = smtp_of(roost)
    result = await smtp.probe()
    assert result.ok, result.detail
    status = roost.supervisor.status("smtp")
    assert status.state.value == "running" and len(status.service.listeners) == 3


async def test_250_only_after_fsyncs_and_commit(
    roost: Roost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN: blob fsync → folder fsync → commit → 250."""
    import os
    import stat

    import sqlalchemy as sa

    import roost.store.blobs as blobs_module

    order: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        kind = "fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file"
        real_fsync(fd)
        order.append(kind)

    monkeypatch.setattr(blobs_module.os, "fsync", recording_fsync)
    writer = roost.store.db._writer  # type: ignore[attr-defined]

    def on_commit(conn: object) -> None:
        order.append("commit")

    sa.event.listen(writer, "commit", on_commit)
    mx = port(roost, "mx")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", mx, timeout=30) as client:
            order.append("MAIL")
            client.sendmail("bob@example.net", ["alice@example.org"], MESSAGE)
            order.append("250 received by the client")

    try:
        await asyncio.to_thread(send)
    finally:
        sa.event.remove(writer, "commit", on_commit)
    sent = order.index("MAIL")
    acked = order.index("250 received by the client")
    window = order[sent:acked]
    # Other commits (the Spool polling) may interleave; the message's own
    # commit is the first after its folder fsync, and it precedes the 250.
    file_synced = window.index("fsync file")
    folder_synced = window.index("fsync folder", file_synced)
    assert "commit" in window[folder_synced:], window


async def test_blob_is_named_by_the_hash_computed_while_receiving(roost: Roost) -> None:
    """The session hashes the data as it writes the spool file; the blob's
    name must be the SHA-256 of exactly the bytes stored."""
    import hashlib

    from roost.store.blobs import FileBlobs

    blobs = roost.store.blobs
    assert isinstance(blobs, FileBlobs)
    mx = port(roost, "mx")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", mx, timeout=30) as client:
            client.sendmail("bob@example.net", ["alice@example.org"], MESSAGE)

    await asyncio.to_thread(send)
    files = [f for f in blobs.root.glob("?/*") if f.is_file()]
    assert files
    for file in files:
        assert hashlib.sha256(file.read_bytes()).hexdigest() == file.name


def test_connection_rate_per_address(clock: object) -> None:
    from roost.core.clock import ManualClock
    from roost.services.smtp.service import ConnectionRate

    assert isinstance(clock, ManualClock)
    rate = ConnectionRate(3, clock)
    assert [rate.allow("192.0.2.1") for _ in range(4)] == [True, True, True, False]
    assert rate.allow("192.0.2.2")
    clock.advance(61)
    assert rate.allow("192.0.2.1")
