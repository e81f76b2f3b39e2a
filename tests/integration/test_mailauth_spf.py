"""SPF (RFC 7208) through a DNS server on 127.0.0.1: pyspf asks our resolver only."""

from __future__ import annotations

import asyncio

import pytest

from roost.control.mailauth.spf_check import SpfResult, check_spf
from tests.dns_server import SERVFAIL, dns_server
from tests.mailauth_support import resolver, txt

CLIENT = "192.0.2.10"
ZONE: dict[tuple[str, str], list[str] | str] = {
    ("pass.example", "TXT"): [txt("v=spf1 ip4:192.0.2.0/24 -all"), txt("unrelated text")],
    ("fail.example", "TXT"): [txt("v=spf1 ip4:198.51.100.1 -all")],
    ("softfail.example", "TXT"): [txt("v=spf1 ip4:198.51.100.1 ~all")],
    ("neutral.example", "TXT"): [txt("v=spf1 ?all")],
    ("nospf.example", "TXT"): [txt("google-site-verification=abc")],
    ("broken.example", "TXT"): SERVFAIL,
    ("twice.example", "TXT"): [txt("v=spf1 -all"), txt("v=spf1 +all")],
    ("include.example", "TXT"): [txt("v=spf1 include:pass.example -all")],
    ("mx.example", "TXT"): [txt("v=spf1 mx a:host.mx.example -all")],
    ("mx.example", "MX"): ["10 out.mx.example."],
    ("out.mx.example", "A"): ["198.51.100.7"],
    ("host.mx.example", "A"): [CLIENT],
    ("explained.example", "TXT"): [txt("v=spf1 -all exp=why.explained.example")],
    ("why.explained.example", "TXT"): [txt("%{i} may not send for %{d}")],
    ("helo.example", "TXT"): [txt("v=spf1 ip4:192.0.2.10 -all")],
    ("v6.example", "TXT"): [txt("v=spf1 ip6:2001:db8::/32 -all")],
}


async def check(mail_from: str, client: str = CLIENT, helo: str = "helo.example") -> SpfResult:
    async with dns_server(ZONE) as ns:
        return await check_spf(
            resolver(ns), client_ip=client, helo=helo, mail_from=mail_from, receiver="mx.test"
        )


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("pass.example", "pass"),
        ("fail.example", "fail"),
        ("softfail.example", "softfail"),
        ("neutral.example", "neutral"),
        ("nospf.example", "none"),
        ("nowhere.example", "none"),
        ("broken.example", "temperror"),
        ("twice.example", "permerror"),
        ("include.example", "pass"),
        ("mx.example", "pass"),
    ],
)
async def test_results(domain: str, expected: str) -> None:
    result = await check(f"ann@{domain}")
    assert (result.result, result.identity, result.domain) == (expected, "mailfrom", domain)
    assert result.sender == f"ann@{domain}"


async def test_mx_mechanism_uses_the_exchanges_addresses() -> None:
    async with dns_server({**ZONE, ("host.mx.example", "A"): ["203.0.113.1"]}) as ns:
        result = await check_spf(
            resolver(ns), client_ip="198.51.100.7", helo="x", mail_from="a@mx.example"
        )
    assert result.result == "pass"


async def test_fail_carries_the_domains_explanation() -> None:
    result = await check("ann@explained.example")
    assert result.result == "fail"
    assert result.explanation == f"{CLIENT} may not send for explained.example"


async def test_temperror_says_why() -> None:
    result = await check("ann@broken.example")
    assert result.explanation.startswith("SPF Temporary Error")


async def test_null_sender_checks_the_helo_name() -> None:
    result = await check("", helo="helo.example")
    assert (result.result, result.identity, result.domain) == ("pass", "helo", "helo.example")
    assert result.sender == "postmaster@helo.example"


async def test_ipv6_client() -> None:
    assert (await check("a@v6.example", client="2001:db8::25")).result == "pass"
    assert (await check("a@v6.example", client="2001:db9::25")).result == "fail"


async def test_checks_run_side_by_side_against_different_servers() -> None:
    async with (
        dns_server({("a.example", "TXT"): [txt("v=spf1 +all")]}) as one,
        dns_server({("a.example", "TXT"): [txt("v=spf1 -all")]}) as two,
    ):
        results = await asyncio.gather(
            *(
                check_spf(resolver(ns), client_ip=CLIENT, helo="x", mail_from="a@a.example")
                for ns in (one, two, one, two)
            )
        )
    assert [r.result for r in results] == ["pass", "fail", "pass", "fail"]


async def test_lookup_time_is_bounded() -> None:
    async with dns_server({}) as ns:
        silent = ns.rsplit(":", 1)[0] + ":9"  # discard port: nothing answers
        result = await check_spf(
            resolver(silent),
            client_ip=CLIENT,
            helo="x",
            mail_from="a@pass.example",
            lookup_time_s=0.3,
        )
    assert result.result == "temperror"
