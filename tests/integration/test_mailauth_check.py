"""`MailAuthenticator.check_message`: SPF, DKIM and DMARC together through a test
DNS server, the Authentication-Results field it writes, and the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roost.control.mailauth import keys
from roost.control.mailauth.inbound import AuthVerdict, MailAuthenticator, MailAuthSettings
from roost.control.mailauth.policy import Accept, AuthPolicy, Mark, Reject, decide
from roost.control.mailauth.results import parse
from roost.control.mailauth.signing import DkimSigner
from tests.dns_server import dns_server
from tests.mailauth_support import MESSAGE, key_zone, resolver, txt, with_from

GOOD_IP = "192.0.2.10"
BAD_IP = "203.0.113.66"
Zone = dict[tuple[str, str], list[str] | str]


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> tuple[DkimSigner, Zone]:
    data = tmp_path_factory.mktemp("data")
    zone = key_zone(keys.generate(data, "example.com", "k1", rsa_bits=1024))
    zone.update(key_zone(keys.generate(data, "mail.example.com", "k1", rsa_bits=1024)))
    return DkimSigner(data), zone


def base_zone(dmarc: str | None = "v=DMARC1; p=reject") -> Zone:
    zone: Zone = {("example.com", "TXT"): [txt(f"v=spf1 ip4:{GOOD_IP} -all")]}
    if dmarc:
        zone[("_dmarc.example.com", "TXT")] = [txt(dmarc)]
    return zone


async def run(
    zone: Zone,
    message: bytes | Path,
    *,
    client: str = GOOD_IP,
    mail_from: str = "ann@example.com",
    max_bytes: int = 10 * 1024 * 1024,
) -> AuthVerdict:
    async with dns_server(zone) as ns:
        checker = MailAuthenticator(
            resolver(ns),
            MailAuthSettings("mx.example.org", dkim_verify_max_bytes=max_bytes),
            sample=lambda: 0,
        )
        try:
            return await checker.check_message(
                message, client_ip=client, helo="mail.example.com", mail_from=mail_from
            )
        finally:
            checker.close()


def results(verdict: AuthVerdict) -> list[tuple[str, str]]:
    header: Any = parse(verdict.header)
    assert header.authserv_id == "mx.example.org"
    return [(r.method, r.result) for r in header.results]


async def test_dmarc_passes_on_aligned_dkim_when_spf_fails(
    signing: tuple[DkimSigner, Zone],
) -> None:
    signer, keys_zone = signing
    signed = signer.sign(MESSAGE, "example.com") + MESSAGE
    verdict = await run({**base_zone(), **keys_zone}, signed, client=BAD_IP)
    assert results(verdict) == [
        ("spf", "fail"),
        ("dkim", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
    ]
    assert verdict.dmarc.dkim_aligned and not verdict.dmarc.spf_aligned
    assert decide(verdict, AuthPolicy()) == Mark("SPF fail for example.com")
    assert decide(verdict, AuthPolicy(spf_fail="accept")) == Accept()


async def test_dmarc_fails_with_p_reject(signing: tuple[DkimSigner, Zone]) -> None:
    _, keys_zone = signing
    verdict = await run({**base_zone(), **keys_zone}, MESSAGE, client=BAD_IP)
    assert results(verdict) == [("spf", "fail"), ("dkim", "none"), ("dmarc", "fail")]
    assert (verdict.dmarc.policy, verdict.dmarc.disposition) == ("reject", "reject")
    assert b"dmarc=fail (p=reject dis=reject)" in verdict.header
    decision = decide(verdict, AuthPolicy())
    assert isinstance(decision, Reject)
    assert decision.reply == (
        "550 5.7.26 Unauthenticated mail from example.com is refused by its DMARC policy (p=reject)"
    )


async def test_spf_pass_is_enough() -> None:
    verdict = await run(base_zone(), MESSAGE)
    assert results(verdict) == [("spf", "pass"), ("dkim", "none"), ("dmarc", "pass")]
    assert decide(verdict, AuthPolicy()) == Accept()


async def test_organizational_domain_fallback_and_sp() -> None:
    message = with_from(MESSAGE, b"From: Ann <ann@news.example.com>")
    zone = base_zone("v=DMARC1; p=reject; sp=quarantine")
    verdict = await run(zone, message, client=BAD_IP)
    assert verdict.dmarc.from_domain == "news.example.com"
    assert verdict.dmarc.record_domain == "example.com"
    assert (verdict.dmarc.result, verdict.dmarc.disposition) == ("fail", "quarantine")
    assert decide(verdict, AuthPolicy(spf_fail="accept")) == Mark(
        "DMARC quarantine for news.example.com"
    )


async def test_relaxed_and_strict_alignment(signing: tuple[DkimSigner, Zone]) -> None:
    signer, keys_zone = signing
    message = with_from(MESSAGE, b"From: Ann <ann@example.com>")
    signed = signer.sign(message, "mail.example.com") + message
    relaxed = await run({**base_zone(), **keys_zone}, signed, client=BAD_IP)
    assert (relaxed.dmarc.result, relaxed.dmarc.dkim_aligned) == ("pass", True)
    strict_zone = {**base_zone("v=DMARC1; p=reject; adkim=s"), **keys_zone}
    strict = await run(strict_zone, signed, client=BAD_IP)
    assert [r.result for r in strict.dkim.results] == ["pass", "pass"]
    assert (strict.dmarc.result, strict.dmarc.disposition) == ("fail", "reject")


async def test_no_dmarc_record() -> None:
    verdict = await run(base_zone(dmarc=None), MESSAGE, client=BAD_IP)
    assert results(verdict)[-1] == ("dmarc", "none")
    assert decide(verdict, AuthPolicy(spf_fail="accept")) == Accept()


async def test_size_cutoff(signing: tuple[DkimSigner, Zone], tmp_path: Path) -> None:
    signer, keys_zone = signing
    signed = signer.sign(MESSAGE, "example.com") + MESSAGE
    path = tmp_path / "spooled.eml"
    path.write_bytes(signed)
    zone = {**base_zone(), **keys_zone}
    small = await run(zone, path, client=BAD_IP, max_bytes=len(signed))
    assert [r.result for r in small.dkim.results] == ["pass", "pass"]
    for source in (signed, path):
        large = await run(zone, source, client=BAD_IP, max_bytes=len(signed) - 1)
        assert results(large) == [("spf", "fail"), ("dkim", "none"), ("dmarc", "fail")]
        assert b'dkim=none reason="message too large to verify"' in large.header
        assert large.dkim.unverified_domains == ("example.com", "example.com")
        assert large.dmarc.disposition == "quarantine"


async def test_forged_results_are_stripped_before_ours_is_added() -> None:
    forged = b"Authentication-Results: mx.example.org; dmarc=pass header.from=example.com\r\n"
    async with dns_server(base_zone()) as ns:
        checker = MailAuthenticator(resolver(ns), MailAuthSettings("MX.example.org"))
        header_block = checker.strip_forged(forged + b"Received: from a by b\r\n")
        assert header_block == b"Received: from a by b\r\n"
        verdict = await checker.check_message(
            MESSAGE, client_ip=GOOD_IP, helo="h", mail_from="ann@example.com"
        )
    checker.close()
    assert checker.strip_forged(verdict.header) == b""


async def test_spf_checked_earlier_is_reused() -> None:
    async with dns_server(base_zone()) as ns:
        checker = MailAuthenticator(resolver(ns), MailAuthSettings("mx.example.org"))
        spf = await checker.check_spf(client_ip=BAD_IP, helo="h", mail_from="ann@example.com")
        verdict = await checker.check_message(
            MESSAGE, client_ip=GOOD_IP, helo="h", mail_from="ann@example.com", spf=spf
        )
    checker.close()
    assert verdict.spf is spf and verdict.spf.result == "fail"


async def test_message_without_from() -> None:
    message = MESSAGE.replace(b"From: Ann Example <ann@example.com>\r\n", b"")
    verdict = await run(base_zone(), message)
    assert results(verdict)[-1] == ("dmarc", "permerror")
    assert decide(verdict, AuthPolicy()) == Accept()
