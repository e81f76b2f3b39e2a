"""Retrieval over TLS against Debian's Dovecot with a test CA: implicit TLS
and STARTTLS (IMAP) / STLS (POP3) fetch with exact counts; a certificate
for another name, or from an authority not trusted, is refused with the
error in words on the account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from roost.core.clock import ManualClock
from roost.store.retrieval import NewRetrieval, RetrievalProtocol, TlsMode
from roost.store.store import Store
from tests.dovecot_peer import DovecotPeer, dovecot_peer
from tests.retrieval_support import (
    REMOTE_PASSWORD,
    RetrievalEnv,
    add_account,
    deliver_queue,
    inbox,
    make_env,
    message,
    put_remote,
)
from tests.tls_support import write_certificate


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def peer(ca: trustme.CA, tmp_path: Path) -> Iterator[DovecotPeer]:
    tls = write_certificate(ca, tmp_path / "peer-tls")
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True, tls=tls) as running:
        yield running


def port_of(peer: DovecotPeer, protocol: RetrievalProtocol, tls: TlsMode) -> int:
    if protocol is RetrievalProtocol.IMAP:
        return peer.imaps_port if tls is TlsMode.IMPLICIT else peer.imap_port
    return peer.pop3s_port if tls is TlsMode.IMPLICIT else peer.port


async def env_with(
    store: Store, clock: ManualClock, tmp_path: Path, protocol: RetrievalProtocol, ca_file: Path
) -> RetrievalEnv:
    return await make_env(store, clock, tmp_path, protocol, ca_file=str(ca_file))


@pytest.mark.parametrize("protocol", [RetrievalProtocol.IMAP, RetrievalProtocol.POP3])
@pytest.mark.parametrize("tls", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
async def test_fetch_over_tls(
    sqlite_store: Store,
    clock: ManualClock,
    tmp_path: Path,
    ca_file: Path,
    peer: DovecotPeer,
    protocol: RetrievalProtocol,
    tls: TlsMode,
) -> None:
    env = await env_with(sqlite_store, clock, tmp_path, protocol, ca_file)
    put_remote(peer, "remote-a", [message(n) for n in range(12)])
    spec = NewRetrieval(protocol, "127.0.0.1", port_of(peer, protocol, tls), tls, "remote-a", "")
    account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
    outcome = await env.service.run_once(account.id)
    assert (outcome.fetched, outcome.problem) == (12, None)
    assert (await env.service.run_once(account.id)).fetched == 0
    await deliver_queue(env)
    assert len(await inbox(env, "alice@example.org")) == 12


@pytest.mark.parametrize("protocol", [RetrievalProtocol.IMAP, RetrievalProtocol.POP3])
@pytest.mark.parametrize("tls", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
async def test_certificate_for_another_name_is_refused(
    sqlite_store: Store,
    clock: ManualClock,
    ca: trustme.CA,
    tmp_path: Path,
    ca_file: Path,
    protocol: RetrievalProtocol,
    tls: TlsMode,
) -> None:
    env = await env_with(sqlite_store, clock, tmp_path, protocol, ca_file)
    other = ca.issue_cert("mail.other.example")
    cert, key = tmp_path / "other.crt", tmp_path / "other.key"
    other.cert_chain_pems[0].write_to_path(str(cert))
    other.private_key_pem.write_to_path(str(key))
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD, imap=True, tls=(cert, key)) as peer:
        put_remote(peer, "remote-a", [message(1)])
        spec = NewRetrieval(
            protocol, "127.0.0.1", port_of(peer, protocol, tls), tls, "remote-a", ""
        )
        account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
        outcome = await env.service.run_once(account.id)
    assert outcome.fetched == 0
    assert outcome.problem is not None
    assert outcome.problem.startswith("certificate not trusted:"), outcome.problem
    assert "127.0.0.1" in outcome.problem
    status = (await env.store.read(env.store.retrieval.get, account.id)).status
    assert (status.last_error, status.failures) == (outcome.problem, 1)
    await deliver_queue(env)
    assert await inbox(env, "alice@example.org") == []


async def test_an_authority_not_trusted_is_refused(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path, peer: DovecotPeer
) -> None:
    env = await make_env(sqlite_store, clock, tmp_path, RetrievalProtocol.IMAP)
    put_remote(peer, "remote-a", [message(1)])
    spec = NewRetrieval(
        RetrievalProtocol.IMAP, "127.0.0.1", peer.imaps_port, TlsMode.IMPLICIT, "remote-a", ""
    )
    account = await add_account(env, "alice@example.org", spec, REMOTE_PASSWORD)
    outcome = await env.service.run_once(account.id)
    assert outcome.fetched == 0
    assert outcome.problem is not None and "certificate not trusted" in outcome.problem
    assert "self-signed" in outcome.problem or "issuer" in outcome.problem
