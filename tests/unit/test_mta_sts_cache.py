"""MTA-STS discovery and caching (RFC 8461 §3.3, §5.1), with DNS and HTTPS faked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from roost.core.clock import ManualClock
from roost.core.config import SpoolSettings
from roost.core.errors import ConfigError
from roost.net.dns import Answer, Lookup
from roost.services.spool.mta_sts import (
    MtaStsPolicies,
    PolicyUnavailable,
    ascii_domain,
    verified_context,
)
from roost.services.spool.mta_sts_policy import Mode
from tests.conftest import make_config

ENFORCE = b"version: STSv1\nmode: enforce\nmx: mx.remote.test\nmax_age: 3600\n"
TESTING = b"version: STSv1\nmode: testing\nmx: mx.remote.test\nmax_age: 3600\n"


@dataclass
class FakeDns:
    """Answers TXT queries from a dict; anything else is unknown."""

    txt: dict[str, list[str] | Lookup] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def query(self, name: str, rdtype: str) -> Answer:
        self.asked.append(f"{rdtype} {name}")
        found = self.txt.get(name, Lookup.NO_DOMAIN) if rdtype == "TXT" else Lookup.NO_DOMAIN
        if isinstance(found, Lookup):
            return Answer(found, detail=f"{name}: {found.value}")
        return Answer(Lookup.FOUND, tuple(found))


@dataclass
class FakeFetcher:
    """Serves one body per domain, or fails; counts the fetches."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def fetch(self, domain: str) -> bytes:
        self.fetched.append(domain)
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), 5)
        if domain not in self.bodies:
            raise PolicyUnavailable(f"mta-sts.{domain}: HTTP 404")
        return self.bodies[domain]


def record(policy_id: str) -> list[str]:
    return [f'"v=STSv1; id={policy_id};"']


def settings(tmp_path: Path, **values: object) -> SpoolSettings:
    return make_config(tmp_path, spool=dict(values)).spool


@dataclass
class Parts:
    dns: FakeDns
    fetcher: FakeFetcher
    clock: ManualClock
    policies: MtaStsPolicies


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    dns, fetcher, clock = FakeDns(), FakeFetcher(), ManualClock()
    policies = MtaStsPolicies(
        dns,  # type: ignore[arg-type]
        settings(tmp_path, mta_sts_fetch_retry_s=300, mta_sts_cache_max=3),
        fetcher,
        clock.monotonic,
    )
    return Parts(dns, fetcher, clock, policies)


async def test_no_record_no_policy_and_no_fetch(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    assert await policies.policy("remote.test") is None
    assert dns.asked == ["TXT _mta-sts.remote.test"] and fetcher.fetched == []


async def test_policy_fetched_once_while_the_id_stays(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    for _ in range(3):
        policy = await policies.policy("Remote.Test")
        assert policy is not None and policy.mode is Mode.ENFORCE
    assert fetcher.fetched == ["remote.test"]


async def test_a_new_id_fetches_again(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    await policies.policy("remote.test")
    dns.txt["_mta-sts.remote.test"] = record("two")
    fetcher.bodies["remote.test"] = TESTING
    policy = await policies.policy("remote.test")
    assert policy is not None and policy.mode is Mode.TESTING
    assert fetcher.fetched == ["remote.test", "remote.test"]


async def test_max_age_passed_fetches_again(parts: Parts) -> None:
    dns, fetcher, clock, policies = parts.dns, parts.fetcher, parts.clock, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    await policies.policy("remote.test")
    clock.advance(3599)
    await policies.policy("remote.test")
    assert len(fetcher.fetched) == 1
    clock.advance(1)
    await policies.policy("remote.test")
    assert len(fetcher.fetched) == 2


async def test_cached_policy_applies_when_the_fetch_fails(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    await policies.policy("remote.test")
    dns.txt["_mta-sts.remote.test"] = record("two")
    fetcher.bodies["remote.test"] = b"garbage"  # an invalid policy is a failed fetch
    policy = await policies.policy("remote.test")
    assert policy is not None and policy.mode is Mode.ENFORCE  # §5.1
    del fetcher.bodies["remote.test"]
    policy = await policies.policy("remote.test")
    assert policy is not None and policy.mode is Mode.ENFORCE


@pytest.mark.parametrize("gone", [Lookup.NO_DOMAIN, Lookup.NO_RECORDS, Lookup.TEMPORARY])
async def test_cached_policy_applies_when_dns_has_no_record(parts: Parts, gone: Lookup) -> None:
    dns, fetcher, clock, policies = parts.dns, parts.fetcher, parts.clock, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    await policies.policy("remote.test")
    dns.txt["_mta-sts.remote.test"] = gone
    policy = await policies.policy("remote.test")
    assert policy is not None and policy.mode is Mode.ENFORCE
    clock.advance(3600)  # expired: forgotten
    assert await policies.policy("remote.test") is None


async def test_a_failed_fetch_waits_before_the_next(parts: Parts) -> None:
    dns, fetcher, clock, policies = parts.dns, parts.fetcher, parts.clock, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    assert await policies.policy("remote.test") is None  # 404: as without a policy
    assert await policies.policy("remote.test") is None
    assert fetcher.fetched == ["remote.test"]
    fetcher.bodies["remote.test"] = ENFORCE
    clock.advance(299)
    assert await policies.policy("remote.test") is None
    clock.advance(1)
    assert await policies.policy("remote.test") is not None
    assert len(fetcher.fetched) == 2


async def test_concurrent_deliveries_share_one_fetch(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    dns.txt["_mta-sts.remote.test"] = record("one")
    fetcher.bodies["remote.test"] = ENFORCE
    fetcher.gate = asyncio.Event()
    waiting = [asyncio.create_task(policies.policy("remote.test")) for _ in range(5)]
    for _ in range(20):
        await asyncio.sleep(0)
    fetcher.gate.set()
    found = await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert all(p is not None and p.mode is Mode.ENFORCE for p in found)
    assert fetcher.fetched == ["remote.test"]


async def test_the_cache_keeps_at_most_its_limit(parts: Parts) -> None:
    dns, fetcher, policies = parts.dns, parts.fetcher, parts.policies
    for name in ("a.test", "b.test", "c.test", "d.test"):
        dns.txt[f"_mta-sts.{name}"] = record("one")
        fetcher.bodies[name] = ENFORCE
        await policies.policy(name)
    await policies.policy("d.test")
    await policies.policy("a.test")  # the oldest was forgotten: fetched again
    assert fetcher.fetched == ["a.test", "b.test", "c.test", "d.test", "a.test"]


async def test_address_literals_have_no_policy(parts: Parts) -> None:
    dns, policies = parts.dns, parts.policies
    assert await policies.policy("[192.0.2.1]") is None
    assert dns.asked == []


def test_ascii_domain() -> None:
    assert ascii_domain("Example.ORG.") == "example.org"
    assert ascii_domain("bücher.example") == "xn--bcher-kva.example"
    assert ascii_domain("[::1]") is None


def test_a_bad_ca_file_names_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"\[spool\] tls_ca_file"):
        verified_context(str(bad))
    context = verified_context("")
    assert context.check_hostname and not context.hostname_checks_common_name
