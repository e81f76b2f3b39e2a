"""DKIM through a DNS server on 127.0.0.1: our signatures verify, published
examples verify, tampering fails, key problems are reported as RFC 8601 says."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest

from roost.control.mailauth import keys
from roost.control.mailauth.dkim_verify import DkimReport, verify_dkim
from roost.control.mailauth.signing import DkimSigner
from tests.dns_server import SERVFAIL, dns_server
from tests.mailauth_support import MESSAGE, key_zone, resolver, txt

# RFC 8463 Appendix A: one message signed twice by football.example.com, and its keys.
RFC8463_MESSAGE = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    b" date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.  Are you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n"
)
RFC8463_ED25519_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RFC8463_ED25519_KEY = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
RFC8463_RSA_KEY = (
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3id"
    "Y6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1"
    "Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
)
RFC8463_ZONE: dict[tuple[str, str], list[str] | str] = {
    ("brisbane._domainkey.football.example.com", "TXT"): [txt(RFC8463_ED25519_KEY)],
    ("test._domainkey.football.example.com", "TXT"): [txt(RFC8463_RSA_KEY)],
}


def summary(report: DkimReport) -> list[tuple[str, str, str, str]]:
    return [(r.domain, r.selector, r.algorithm, r.result) for r in report.results]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[keys.TxtRecord, ...]]:
    data = tmp_path_factory.mktemp("data")
    return data, keys.generate(data, "example.com", "sel", rsa_bits=2048)


async def test_sign_then_verify_both_algorithms(
    keyed: tuple[Path, tuple[keys.TxtRecord, ...]],
) -> None:
    data, records = keyed
    signed = DkimSigner(data).sign(MESSAGE, "example.com") + MESSAGE
    async with dns_server(key_zone(records)) as ns:
        report = await verify_dkim(resolver(ns), signed)
    assert summary(report) == [
        ("example.com", "sel-rsa", "rsa-sha256", "pass"),
        ("example.com", "sel-ed25519", "ed25519-sha256", "pass"),
    ]
    assert report.passing_domains == ("example.com", "example.com")


async def test_relaxed_canonicalisation_survives_refolding(
    keyed: tuple[Path, tuple[keys.TxtRecord, ...]],
) -> None:
    data, records = keyed
    signed = DkimSigner(data).sign(MESSAGE, "example.com") + MESSAGE
    moved = signed.replace(b"Subject: Lunch", b"Subject:   Lunch\r\n\t").replace(
        b"place?", b"place?  "
    )
    async with dns_server(key_zone(records)) as ns:
        report = await verify_dkim(resolver(ns), moved)
    assert [r.result for r in report.results] == ["pass", "pass"]


async def test_tampering_fails(keyed: tuple[Path, tuple[keys.TxtRecord, ...]]) -> None:
    data, records = keyed
    fields = DkimSigner(data).sign(MESSAGE, "example.com")
    body = fields + MESSAGE.replace(b"Noon", b"Midnight")
    subject = fields + MESSAGE.replace(b"Subject: Lunch", b"Subject: Dinner")
    second_from = fields + b"From: boss@example.com\r\n" + MESSAGE
    async with dns_server(key_zone(records)) as ns:
        body_report = await verify_dkim(resolver(ns), body)
        subject_report = await verify_dkim(resolver(ns), subject)
        from_report = await verify_dkim(resolver(ns), second_from)
    assert {(r.result, r.reason) for r in body_report.results} == {
        ("fail", "body hash did not verify")
    }
    assert {(r.result, r.reason) for r in subject_report.results} == {("fail", "bad signature")}
    assert {r.result for r in from_report.results} == {"fail"}


async def test_rfc8463_example_verifies() -> None:
    async with dns_server(RFC8463_ZONE) as ns:
        report = await verify_dkim(resolver(ns), RFC8463_MESSAGE)
    assert summary(report) == [
        ("football.example.com", "brisbane", "ed25519-sha256", "pass"),
        ("football.example.com", "test", "rsa-sha256", "pass"),
    ]
    assert report.results[0].identity == "@football.example.com"
    assert report.results[0].b == "/gCrinpcQOoI"


async def test_message_signed_by_dkimpy_with_a_known_key() -> None:
    fields = dkim.sign(
        MESSAGE,
        b"brisbane",
        b"football.example.com",
        RFC8463_ED25519_SEED.encode(),
        signature_algorithm=b"ed25519-sha256",
        canonicalize=(b"relaxed", b"simple"),
        linesep=b"\r\n",
    )
    async with dns_server(RFC8463_ZONE) as ns:
        report = await verify_dkim(resolver(ns), fields + MESSAGE)
    assert summary(report) == [("football.example.com", "brisbane", "ed25519-sha256", "pass")]


async def test_key_problems() -> None:
    seed = base64.b64encode(bytes(32)).decode()
    message = (
        b"".join(
            dkim.sign(
                MESSAGE,
                s.encode(),
                b"example.com",
                seed.encode(),
                signature_algorithm=b"ed25519-sha256",
            )
            for s in ("gone", "flaky", "revoked", "garbled")
        )
        + MESSAGE
    )
    zone: dict[tuple[str, str], list[str] | str] = {
        ("flaky._domainkey.example.com", "TXT"): SERVFAIL,
        ("revoked._domainkey.example.com", "TXT"): [txt("v=DKIM1; k=ed25519; p=")],
        ("garbled._domainkey.example.com", "TXT"): [txt("v=DKIM1; k=ed25519; p=!!!")],
    }
    async with dns_server(zone) as ns:
        report = await verify_dkim(resolver(ns), message)
    results = {r.selector: (r.result, r.reason) for r in report.results}
    assert results["gone"] == ("permerror", "no key at gone._domainkey.example.com")
    assert results["flaky"][0] == "temperror"
    assert results["revoked"][0] == "permerror"
    assert results["garbled"][0] == "permerror"


async def test_broken_signatures_are_permerrors_and_unsigned_mail_has_none() -> None:
    broken = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x\r\n"
        b"DKIM-Signature: this is not a tag list\r\n"
    )
    async with dns_server({}) as ns:
        report = await verify_dkim(resolver(ns), broken + MESSAGE)
        assert await verify_dkim(resolver(ns), MESSAGE) == DkimReport()
    assert [r.result for r in report.results] == ["permerror", "permerror"]
    assert "missing" in report.results[0].reason
