"""MTA-STS (RFC 8461) and REQUIRETLS (RFC 8689) on remote delivery, all on 127.0.0.1.

The test DNS server answers MX, A and the `_mta-sts` TXT record; an HTTPS
server with a trustme certificate for `mta-sts.remote.test` serves the
policy; aiosmtpd with STARTTLS (a trustme certificate for the MX name) is the
next hop. Roost trusts the test CA through `[spool] tls_ca_file`.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from roost.control.intake import Envelope, Intake
from roost.core.clock import ManualClock
from roost.net.dns import Resolver
from roost.services.spool.mta_sts import HttpsPolicyFetcher, MtaStsPolicies, PolicyUnavailable
from roost.services.spool.service import SpoolService
from roost.store.store import Store
from roost.store.types import NewRecipient, RecipientState
from tests.conftest import make_config
from tests.dns_server import dns_server
from tests.https_server import Answer, HttpsServer, https_server

MESSAGE = b"From: alice@example.org\r\nTo: friend@remote.test\r\nSubject: hi\r\n\r\nhello\r\n"
ENFORCE = b"version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n"
TESTING = b"version: STSv1\r\nmode: testing\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n"
ELSEWHERE = b"version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n"


def zone() -> dict[tuple[str, str], list[str] | str]:
    return {
        ("remote.test", "MX"): ["10 mx.remote.test."],
        ("plain.test", "MX"): ["10 mx.remote.test."],  # no policy, the same MX host
        ("mx.remote.test", "A"): ["127.0.0.1"],
        ("_mta-sts.remote.test", "TXT"): ['"v=STSv1; id=20260101T000000;"'],
        ("mta-sts.remote.test", "A"): ["127.0.0.1"],
        # two.test: a first MX that its policy does not list, then one it does
        ("two.test", "MX"): ["10 mx.unlisted.test.", "20 mx.remote.test."],
        ("mx.unlisted.test", "A"): ["127.0.0.1"],
        ("_mta-sts.two.test", "TXT"): ['"v=STSv1; id=1;"'],
        ("mta-sts.two.test", "A"): ["127.0.0.1"],
    }


# --- the next hop


@dataclass
class Sink:
    """The peer's handler: keeps each MAIL and each message it receives."""

    mails: list[str] = field(default_factory=list)
    received: list[tuple[list[str], bytes, bool, list[str]]] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mails.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append(id(session))
        self.received.append(
            (
                list(envelope.rcpt_tos),
                envelope.original_content,
                session.ssl is not None,
                list(envelope.mail_options),
            )
        )
        return "250 2.0.0 queued"


class RequireTlsSink(Sink):
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if session.ssl is not None:  # RFC 8689 §4.1: offered only over TLS
            responses.insert(-1, "250-REQUIRETLS")
        return responses


class RequireTlsSmtp(SMTP):  # type: ignore[misc]
    """aiosmtpd taking the REQUIRETLS parameter of MAIL (RFC 8689 §3), which it lacks."""

    async def smtp_MAIL(self, arg: str) -> None:
        words = (arg or "").split(" ")
        kept = [w for w in words if w.upper() != "REQUIRETLS"]
        if len(kept) < len(words) and self.session.ssl is None:
            await self.push("530 5.7.10 REQUIRETLS needs TLS")
            return
        await super().smtp_MAIL(" ".join(kept))
        if len(kept) < len(words):
            self.envelope.mail_options.append("REQUIRETLS")


class RequireTlsController(Controller):  # type: ignore[misc]
    def factory(self) -> SMTP:
        return RequireTlsSmtp(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Peer:
    starttls: bool = True
    cert_name: str = "mx.remote.test"
    requiretls: bool = False


@contextmanager
def smtp_peer(ca: trustme.CA, peer: Peer) -> Iterator[tuple[Sink, int]]:
    options: dict[str, Any] = {}
    if peer.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(peer.cert_name).configure_cert(context)
        options["tls_context"] = context
    sink = RequireTlsSink() if peer.requiretls else Sink()
    kind = RequireTlsController if peer.requiretls else Controller
    port = free_port()
    controller = kind(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


# --- Roost's spool with all of it


@dataclass
class World:
    store: Store
    intake: Intake
    spool: SpoolService
    sink: Sink
    https: HttpsServer
    clock: ManualClock

    async def send(
        self, *recipients: str, requiretls: bool = False
    ) -> dict[str, tuple[RecipientState, str]]:
        """Queue a message and make one delivery attempt; the recipients left."""
        entry_id = await self.intake.accept_bytes(
            MESSAGE,
            Envelope(
                "alice@example.org",
                tuple(NewRecipient(r) for r in recipients),
                source="submission",
                details={"requiretls": True} if requiretls else {},
            ),
        )
        return await self.retry(entry_id)

    async def retry(self, entry_id: int) -> dict[str, tuple[RecipientState, str]]:
        claimed = await self.store.write(self.store.queue.claim_due, "t", 60, 10)
        (entry,) = [e for e in claimed if e.id == entry_id]
        await self.spool.attempt(entry)
        left = [e for e in await self.store.read(self.store.queue.entries) if e.id == entry_id]
        return {r.address: (r.state, r.last_reply or "") for e in left for r in e.recipients}

    async def notices(self) -> list[bytes]:
        entries = await self.store.read(self.store.queue.entries)
        return [await self.store.blobs.read(e.blob_hash) for e in entries if e.sender == ""]


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def make_world(sqlite_store: Store, clock: ManualClock, tmp_path: Path, ca: trustme.CA) -> Any:
    @asynccontextmanager
    async def make(
        policy: bytes | None = ENFORCE, peer: Peer = Peer(), **spool: object
    ) -> AsyncIterator[World]:
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        web = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("mta-sts.remote.test", "mta-sts.two.test").configure_cert(web)
        answer = Answer(body=policy or b"", status=200 if policy else 404, reason="OK")
        with smtp_peer(ca, peer) as (sink, port):
            async with dns_server(zone()) as nameserver, https_server(web, answer) as https:
                config = make_config(
                    tmp_path,
                    spool={
                        "remote_port": port,
                        "helo_name": "roost.test",
                        "tls_ca_file": str(ca_file),
                        **spool,
                    },
                    dns={"nameservers": [nameserver]},
                )
                resolver = Resolver(config.dns.nameservers, 2.0)
                fetcher = HttpsPolicyFetcher(resolver, config.spool, port=https.port)
                policies = MtaStsPolicies(resolver, config.spool, fetcher, clock.monotonic)
                intake = Intake(sqlite_store, config.spool, clock)
                service = SpoolService(
                    sqlite_store,
                    intake,
                    config.spool,
                    "+",
                    resolver,
                    clock,
                    "node",
                    mta_sts=policies,
                )
                try:
                    yield World(sqlite_store, intake, service, sink, https, clock)
                finally:
                    await service.stop(1)

    return make


# --- enforce


async def test_enforce_with_valid_tls_delivers(make_world: Any) -> None:
    async with make_world() as world:
        assert await world.send("friend@remote.test") == {}  # delivered: left the queue
        ((rcpts, data, tls, _),) = world.sink.received
        assert rcpts == ["friend@remote.test"] and data == MESSAGE and tls is True
        (request,) = world.https.requests
        assert request.line == "GET /.well-known/mta-sts.txt HTTP/1.1"
        assert request.headers["host"] == f"mta-sts.remote.test:{world.https.port}"


async def test_enforce_without_starttls_defers_then_bounces(make_world: Any) -> None:
    async with make_world(peer=Peer(starttls=False), give_up_after_s=60) as world:
        entry_id = await world.intake.accept_bytes(
            MESSAGE,
            Envelope("alice@example.org", (NewRecipient("friend@remote.test"),), "submission"),
        )
        left = await world.retry(entry_id)
        state, reply = left["friend@remote.test"]
        assert state is RecipientState.PENDING
        assert reply.startswith("451 4.7.4 MTA-STS") and "offers no STARTTLS" in reply
        assert world.sink.mails == [] and world.sink.received == []  # nothing in plaintext

        world.clock.advance(61)  # past give_up_after_s: the usual bounce
        assert await world.retry(entry_id) == {}
        (notice,) = await world.notices()
        assert b"5.7.4" in notice and b"MTA-STS" in notice
        assert world.sink.received == []


async def test_enforce_with_a_certificate_for_another_name_defers(make_world: Any) -> None:
    async with make_world(peer=Peer(cert_name="somewhere.else.test")) as world:
        left = await world.send("friend@remote.test")
        state, reply = left["friend@remote.test"]
        assert state is RecipientState.PENDING
        assert reply.startswith("451 4.7.5 MTA-STS") and "no valid certificate" in reply
        assert world.sink.mails == []


async def test_enforce_with_mx_not_in_the_policy_defers(make_world: Any) -> None:
    async with make_world(policy=ELSEWHERE) as world:
        left = await world.send("friend@remote.test")
        assert left["friend@remote.test"] == (
            RecipientState.PENDING,
            "451 4.7.0 MTA-STS: no MX host of remote.test matches its policy (enforce)",
        )
        assert world.sink.mails == []


async def test_enforce_skips_unlisted_mx_hosts(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roost.services.spool")
    async with make_world() as world:
        assert await world.send("someone@two.test") == {}
        assert len(world.sink.received) == 1
    assert any(
        "MTA-STS policy of two.test (enforce) does not list the MX host mx.unlisted.test: skipped"
        in r.getMessage()
        for r in caplog.records
    )
    assert not any("mx.unlisted.test (" in r.getMessage() for r in caplog.records)  # no try


async def test_mta_sts_off_ignores_policies(make_world: Any) -> None:
    async with make_world(peer=Peer(starttls=False), mta_sts=False) as world:
        assert await world.send("friend@remote.test") == {}  # plaintext, as before
        assert world.https.requests == []
        assert await world.send("friend@remote.test", requiretls=True) == {}
        (notice,) = await world.notices()
        assert b"5.7.30" in notice and b"MTA-STS is off" in notice


async def test_an_unchecked_connection_never_carries_enforced_mail(make_world: Any) -> None:
    async with make_world() as world:
        assert await world.send("someone@plain.test") == {}  # opportunistic, kept for reuse
        assert await world.send("friend@remote.test") == {}  # needs a checked one: a new one
        assert await world.send("other@remote.test") == {}  # reuses the checked one
        first, second, third = world.sink.sessions
        assert first != second == third
        assert all(tls for _, _, tls, _ in world.sink.received)


# --- testing and no policy


async def test_testing_mode_delivers_in_plaintext_and_logs(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roost.services.spool")
    async with make_world(policy=TESTING, peer=Peer(starttls=False)) as world:
        assert await world.send("friend@remote.test") == {}
        ((_, _, tls, _),) = world.sink.received
        assert tls is False
    assert any(
        "MTA-STS policy of remote.test (testing) would refuse mx.remote.test" in r.getMessage()
        for r in caplog.records
    )


async def test_testing_mode_delivers_to_an_unlisted_mx_and_logs(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = ELSEWHERE.replace(b"enforce", b"testing")
    async with make_world(policy=body) as world:
        assert await world.send("friend@remote.test") == {}
        assert len(world.sink.received) == 1
    assert any(
        "MTA-STS policy of remote.test (testing) does not list the MX host mx.remote.test"
        in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=404, reason="Not Found", body=ENFORCE),
        Answer(headers={"Content-Type": "text/html"}, body=ENFORCE),
        Answer(body=b"<html>not a policy</html>"),
    ],
)
async def test_no_usable_policy_delivers_as_without(make_world: Any, answer: Answer) -> None:
    async with make_world(peer=Peer(starttls=False)) as world:
        world.https.answer = answer
        assert await world.send("friend@remote.test") == {}  # plaintext, as before
        assert len(world.https.requests) == 1


# --- REQUIRETLS


async def test_requiretls_with_enforce_is_delivered(make_world: Any) -> None:
    async with make_world(peer=Peer(requiretls=True)) as world:
        assert await world.send("friend@remote.test", requiretls=True) == {}
        ((_, _, tls, options),) = world.sink.received
        assert tls is True and "REQUIRETLS" in options


async def test_requiretls_without_a_policy_is_returned(make_world: Any) -> None:
    async with make_world(peer=Peer(requiretls=True)) as world:
        assert await world.send("someone@plain.test", requiretls=True) == {}
        (notice,) = await world.notices()
        assert b"5.7.30" in notice
        assert world.sink.mails == [] and world.https.requests == []


async def test_requiretls_to_a_host_without_requiretls_is_returned(make_world: Any) -> None:
    async with make_world() as world:  # enforce, valid TLS, but no REQUIRETLS offered
        assert await world.send("friend@remote.test", requiretls=True) == {}
        (notice,) = await world.notices()
        assert b"5.7.30" in notice and b"does not offer REQUIRETLS" in notice
        assert world.sink.received == []


async def test_requiretls_with_a_bad_certificate_is_returned(make_world: Any) -> None:
    async with make_world(peer=Peer(cert_name="other.test", requiretls=True)) as world:
        assert await world.send("friend@remote.test", requiretls=True) == {}
        (notice,) = await world.notices()
        assert b"5.7.30" in notice
        assert world.sink.mails == []


# --- the HTTPS fetch itself (RFC 8461 §3.3)


@pytest.fixture
def fetch_parts(tmp_path: Path, ca: trustme.CA) -> Any:
    @asynccontextmanager
    async def make(answer: Answer, cert_name: str = "mta-sts.remote.test") -> AsyncIterator[Any]:
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        web = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(cert_name).configure_cert(web)
        async with dns_server(zone()) as nameserver, https_server(web, answer) as https:
            config = make_config(
                tmp_path,
                spool={
                    "tls_ca_file": str(ca_file),
                    "mta_sts_fetch_timeout_s": 1,
                    "mta_sts_max_policy_bytes": 1024,
                },
                dns={"nameservers": [nameserver]},
            )
            resolver = Resolver(config.dns.nameservers, 2.0)
            yield HttpsPolicyFetcher(resolver, config.spool, port=https.port), https

    return make


async def test_fetch_returns_the_policy(fetch_parts: Any) -> None:
    answer = Answer(headers={"Content-Type": "text/plain; charset=utf-8"}, body=ENFORCE)
    async with fetch_parts(answer) as (fetcher, _):
        assert await fetcher.fetch("remote.test") == ENFORCE


@pytest.mark.parametrize(
    ("answer", "cert_name", "why"),
    [
        (
            Answer(
                301, "Moved", {"Location": "https://elsewhere.test/", "Content-Type": "text/plain"}
            ),
            "mta-sts.remote.test",
            "HTTP 301",
        ),
        (Answer(headers={}, body=ENFORCE), "mta-sts.remote.test", "not text/plain"),
        (Answer(body=ENFORCE * 20), "mta-sts.remote.test", "over 1024"),
        (Answer(body=ENFORCE), "mta-sts.other.test", "certificate"),
        (Answer(stall=True), "mta-sts.remote.test", "no policy within 1 s"),
    ],
)
async def test_fetch_refuses(fetch_parts: Any, answer: Answer, cert_name: str, why: str) -> None:
    async with fetch_parts(answer, cert_name) as (fetcher, https):
        with pytest.raises(PolicyUnavailable, match=why):
            await fetcher.fetch("remote.test")
        assert len(https.requests) <= 1  # a redirect is not followed


async def test_fetch_without_an_address(fetch_parts: Any) -> None:
    async with fetch_parts(Answer(body=ENFORCE)) as (fetcher, https):
        with pytest.raises(PolicyUnavailable, match=r"mta-sts\.plain\.test"):
            await fetcher.fetch("plain.test")
        assert https.requests == []
