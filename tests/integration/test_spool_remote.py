"""Remote delivery by MX to another SMTP server on 127.0.0.1, with a test DNS server."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from roost.control.intake import Envelope, Intake
from roost.core.clock import ManualClock
from roost.net.dns import Resolver
from roost.services.spool.service import SpoolService
from roost.store.store import Store
from roost.store.types import NewRecipient, RecipientState
from tests.conftest import make_config
from tests.dns_server import SERVFAIL, dns_server

MESSAGE = (
    b"From: alice@example.org\r\nTo: friend@remote.test\r\nSubject: hi\r\n\r\n"
    b"hello\r\n.dot line\r\n"
)


@dataclass
class Sink:
    """The peer's handler: keeps what it receives, refuses reject@ recipients."""

    received: list[tuple[str, list[str], bytes, bool]] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("reject@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "450 4.2.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append(id(session))
        self.received.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                session.ssl is not None,
            )
        )
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[tuple[Sink, int]]:
    ca = trustme.CA()
    cert = ca.issue_cert("mx.remote.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=server_context)
    controller.start()
    yield sink, port
    controller.stop()


ZONE: dict[tuple[str, str], list[str] | str] = {
    ("remote.test", "MX"): ["10 mx.remote.test."],
    ("mx.remote.test", "A"): ["127.0.0.1"],
    ("nomx.test", "A"): ["127.0.0.1"],
    ("nullmx.test", "MX"): ["0 ."],
    ("broken.test", "MX"): SERVFAIL,
}


@pytest.fixture
async def spool(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path, peer: tuple[Sink, int]
) -> AsyncIterator[tuple[SpoolService, Intake, Sink]]:
    sink, port = peer
    async with dns_server(ZONE) as nameserver:
        config = make_config(
            tmp_path,
            spool={"remote_port": port, "helo_name": "roost.test"},
            dns={"nameservers": [nameserver]},
        )
        intake = Intake(sqlite_store, config.spool, clock)
        resolver = Resolver(config.dns.nameservers, 2.0)
        service = SpoolService(sqlite_store, intake, config.spool, "+", resolver, clock, "node")
        yield service, intake, sink
        await service.stop(1)


async def send(
    store: Store, intake: Intake, spool: SpoolService, *recipients: str
) -> dict[str, tuple[RecipientState, str | None]]:
    entry_id = await intake.accept_bytes(
        MESSAGE,
        Envelope(
            "alice@example.org", tuple(NewRecipient(r) for r in recipients), source="submission"
        ),
    )
    (entry,) = await store.write(store.queue.claim_due, "t", 60, 10)
    await spool.attempt(entry)
    try:
        current = await store.read(store.queue.entry, entry_id)
    except Exception:
        return {}
    return {r.address: (r.state, r.last_reply) for r in current.recipients}


async def test_delivery_by_mx_with_opportunistic_tls(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool
    left = await send(sqlite_store, intake, service, "friend@remote.test", "other@remote.test")
    assert left == {}  # everything delivered: the entry left the queue
    ((sender, rcpts, data, tls),) = sink.received
    assert sender == "alice@example.org" and rcpts == ["friend@remote.test", "other@remote.test"]
    assert data == MESSAGE and tls is True


async def test_fallback_to_a_record_without_mx(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool
    assert await send(sqlite_store, intake, service, "someone@nomx.test") == {}
    assert sink.received[0][1] == ["someone@nomx.test"]


async def test_per_recipient_answers(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool
    left = await send(
        sqlite_store,
        intake,
        service,
        "friend@remote.test",
        "reject@remote.test",
        "later@remote.test",
    )
    assert left["friend@remote.test"][0] is RecipientState.DELIVERED
    assert left["reject@remote.test"] == (RecipientState.FAILED, "550 5.1.1 no such user")
    state, reply = left["later@remote.test"]
    assert state is RecipientState.PENDING and reply is not None and reply.startswith("450 4.2.1")
    assert len(sink.received) == 1


async def test_dns_answers_decide_fail_or_defer(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool
    left = await send(
        sqlite_store, intake, service, "a@nowhere.test", "b@nullmx.test", "c@broken.test"
    )
    assert left["a@nowhere.test"][0] is RecipientState.FAILED and "5.1.2" in str(
        left["a@nowhere.test"][1]
    )
    assert left["b@nullmx.test"][0] is RecipientState.FAILED and "5.1.10" in str(
        left["b@nullmx.test"][1]
    )
    assert left["c@broken.test"][0] is RecipientState.PENDING and "4.4.3" in str(
        left["c@broken.test"][1]
    )
    assert sink.received == []


async def test_requiretls_mail_is_returned_without_a_validated_path(
    sqlite_store: Store, spool: Any
) -> None:
    service, intake, sink = spool
    entry_id = await intake.accept_bytes(
        MESSAGE,
        Envelope(
            "alice@example.org",
            (NewRecipient("friend@remote.test"),),
            source="submission",
            details={"requiretls": True},
        ),
    )
    (entry,) = await sqlite_store.write(sqlite_store.queue.claim_due, "t", 60, 10)
    result = await service.attempt(entry)
    assert result.failed == 1 and sink.received == []
    notices = await sqlite_store.read(sqlite_store.queue.entries)
    assert [n.sender for n in notices] == [""] and entry_id not in [n.id for n in notices]
    assert b"5.7.30" in await sqlite_store.blobs.read(notices[0].blob_hash)


async def test_one_connection_carries_several_messages(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool
    for _ in range(3):
        await send(sqlite_store, intake, service, "friend@remote.test")
    assert len(sink.received) == 3
    assert len(set(sink.sessions)) == 1  # reused within connection_reuse_s
    await service.stop(1)  # quits the idle connection


async def test_alias_forwarding_elsewhere_goes_out_at_once(sqlite_store: Store, spool: Any) -> None:
    service, intake, sink = spool

    async def setup(tx):  # type: ignore[no-untyped-def]
        await sqlite_store.directory.add_domain(tx, "example.org")
        keeper = await sqlite_store.directory.add_account(
            tx, "keeper@example.org", display_name="", password_hash="h", scram="{}"
        )
        await sqlite_store.mail.create_mailbox(tx, keeper.id, "INBOX")
        await sqlite_store.directory.add_alias(
            tx, "team@example.org", ("friend@remote.test", "keeper@example.org")
        )

    await sqlite_store.write(setup)
    await intake.accept_bytes(
        MESSAGE, Envelope("bob@example.net", (NewRecipient("team@example.org"),), source="smtp")
    )
    (entry,) = await sqlite_store.write(sqlite_store.queue.claim_due, "t", 60, 10)
    await service.attempt(entry)  # keeper gets it; the forward becomes a new recipient
    (again,) = await sqlite_store.write(sqlite_store.queue.claim_due, "t", 60, 10)
    assert [r.address for r in again.recipients if r.attempts == 0] == ["friend@remote.test"]
    await service.attempt(again)
    assert sink.received and sink.received[0][1] == ["friend@remote.test"]
