"""DMARC evaluation (RFC 7489) without the network, and the accept/reject/mark decision."""

from __future__ import annotations

import pytest

from roost.control.mailauth.dkim_verify import DkimReport, DkimResult
from roost.control.mailauth.dmarc import (
    DmarcRecord,
    DmarcResult,
    PolicyLookup,
    aligned,
    evaluate,
    org_domain,
    parse_record,
)
from roost.control.mailauth.headers import FromDomain
from roost.control.mailauth.inbound import AuthVerdict
from roost.control.mailauth.policy import Accept, AuthPolicy, Mark, Reject, decide
from roost.control.mailauth.spf_check import SpfCode, SpfResult

AUTHOR = FromDomain("example.com")


def spf(result: SpfCode = "pass", domain: str = "example.com") -> SpfResult:
    return SpfResult(result, "", "mailfrom", domain, f"ann@{domain}")


def dkim(*domains: str, result: str = "pass") -> DkimReport:
    return DkimReport(
        tuple(
            DkimResult("pass" if result == "pass" else "fail", d, "s", "rsa-sha256", "", "")
            for d in domains
        )
    )


def found(record: str, at: str = "example.com") -> PolicyLookup:
    parsed = parse_record(record)
    assert parsed is not None
    return PolicyLookup("found", parsed, at)


def test_parse_record() -> None:
    assert parse_record("v=DMARC1; p=reject") == DmarcRecord("reject")
    assert parse_record("v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=25;rua=mailto:x") == (
        DmarcRecord("quarantine", "none", "s", "s", 25)
    )
    assert parse_record("v=DMARC1; p=REJECT; pct=200; adkim=x; sp=bogus") == DmarcRecord("reject")
    assert parse_record("v=DMARC1; p=bogus; rua=mailto:d@example.com") == DmarcRecord("none")
    assert parse_record("v=DMARC1; p=bogus") is None
    assert parse_record("p=reject; v=DMARC1") is None
    assert parse_record("v=spf1 -all") is None


def test_org_domain_and_alignment() -> None:
    assert org_domain("mail.sub.example.com") == "example.com"
    assert org_domain("a.b.example.co.uk") == "example.co.uk"
    assert org_domain("co.uk") == "co.uk"
    assert aligned("mail.example.com", "example.com", "r")
    assert aligned("example.com", "news.example.com", "r")
    assert not aligned("mail.example.com", "example.com", "s")
    assert aligned("EXAMPLE.com.", "example.com", "s")
    assert not aligned("example.co.uk", "other.co.uk", "r")
    assert not aligned("", "example.com", "r")


def test_pass_by_aligned_dkim_alone() -> None:
    result = evaluate(AUTHOR, found("v=DMARC1; p=reject"), spf("fail"), dkim("example.com"), 0)
    assert (result.result, result.dkim_aligned, result.spf_aligned) == ("pass", True, False)
    assert result.disposition == "none" and result.policy == "reject"


def test_pass_by_aligned_spf_alone() -> None:
    result = evaluate(
        AUTHOR, found("v=DMARC1; p=reject"), spf(domain="bounce.example.com"), dkim(), 0
    )
    assert (result.result, result.spf_aligned) == ("pass", True)


def test_relaxed_and_strict_alignment() -> None:
    sub_signed = dkim("mail.example.com")
    assert (
        evaluate(AUTHOR, found("v=DMARC1; p=reject"), spf("none"), sub_signed, 0).result == "pass"
    )
    strict = evaluate(AUTHOR, found("v=DMARC1; p=reject; adkim=s"), spf("none"), sub_signed, 0)
    assert (strict.result, strict.disposition) == ("fail", "reject")
    bounce = spf(domain="bounce.example.com")
    assert evaluate(AUTHOR, found("v=DMARC1; p=reject; aspf=s"), bounce, dkim(), 0).result == "fail"


def test_unaligned_passes_do_not_count() -> None:
    result = evaluate(
        AUTHOR,
        found("v=DMARC1; p=quarantine"),
        spf(domain="mailer.example"),
        dkim("mailer.example"),
        0,
    )
    assert (result.result, result.disposition) == ("fail", "quarantine")
    failing = evaluate(
        AUTHOR, found("v=DMARC1; p=reject"), spf("softfail"), dkim("example.com", result="fail"), 0
    )
    assert failing.result == "fail"


def test_subdomain_policy_applies_to_a_record_found_at_the_organizational_domain() -> None:
    author = FromDomain("news.example.com")
    lookup = found("v=DMARC1; p=reject; sp=quarantine", at="example.com")
    result = evaluate(author, lookup, spf("fail"), dkim(), 0)
    assert (result.policy, result.disposition, result.record_domain) == (
        "quarantine",
        "quarantine",
        "example.com",
    )
    own = evaluate(
        author, found("v=DMARC1; p=reject; sp=none", at="news.example.com"), spf("fail"), dkim(), 0
    )
    assert own.policy == "reject"


@pytest.mark.parametrize(
    ("policy", "sample", "disposition"),
    [("reject", 24, "reject"), ("reject", 25, "quarantine"), ("quarantine", 25, "none")],
)
def test_pct_applies_the_next_milder_policy_to_the_rest(
    policy: str, sample: int, disposition: str
) -> None:
    lookup = found(f"v=DMARC1; p={policy}; pct=25")
    result = evaluate(AUTHOR, lookup, spf("fail"), dkim(), sample)
    assert (result.result, result.disposition) == ("fail", disposition)


def test_none_temperror_permerror() -> None:
    assert evaluate(AUTHOR, PolicyLookup("none"), spf("fail"), dkim(), 0).result == "none"
    assert (
        evaluate(AUTHOR, PolicyLookup("temperror", detail="x"), spf("fail"), dkim(), 0).result
        == "temperror"
    )
    bad = evaluate(FromDomain(None, "more than one From field"), None, spf(), dkim(), 0)
    assert (bad.result, bad.reason) == ("permerror", "more than one From field")


def test_an_aligned_temporary_failure_is_a_temperror_not_a_fail() -> None:
    lookup = found("v=DMARC1; p=reject")
    spf_later = evaluate(AUTHOR, lookup, spf("temperror"), dkim(), 0)
    assert (spf_later.result, spf_later.disposition) == ("temperror", "none")
    report = DkimReport((DkimResult("temperror", "example.com", "s", "rsa-sha256", "", ""),))
    assert evaluate(AUTHOR, lookup, spf("fail"), report, 0).result == "temperror"
    elsewhere = evaluate(AUTHOR, lookup, spf("temperror", domain="other.example"), dkim(), 0)
    assert (elsewhere.result, elsewhere.disposition) == ("fail", "reject")


def test_unverified_large_message_is_quarantined_rather_than_rejected() -> None:
    report = DkimReport((), "message too large to verify", ("example.com",))
    result = evaluate(AUTHOR, found("v=DMARC1; p=reject"), spf("fail"), report, 0)
    assert (result.result, result.disposition) == ("fail", "quarantine")
    assert "too large" in result.reason
    foreign = DkimReport((), "message too large to verify", ("elsewhere.example",))
    assert (
        evaluate(AUTHOR, found("v=DMARC1; p=reject"), spf("fail"), foreign, 0).disposition
        == "reject"
    )


def verdict(spf_result: SpfCode, dmarc: DmarcResult) -> AuthVerdict:
    return AuthVerdict(spf(spf_result), DkimReport(), dmarc, b"")


REJECTED = DmarcResult("fail", "example.com", "reject", "reject")
QUARANTINED = DmarcResult("fail", "example.com", "quarantine", "quarantine")
PASSED = DmarcResult("pass", "example.com", "reject", "none")


def test_decide() -> None:
    default = AuthPolicy()
    assert decide(verdict("pass", PASSED), default) == Accept()
    rejected = decide(verdict("fail", REJECTED), default)
    assert isinstance(rejected, Reject) and rejected.reply.startswith("550 5.7.26 ")
    assert decide(verdict("pass", QUARANTINED), default) == Mark("DMARC quarantine for example.com")
    assert decide(verdict("fail", PASSED), default) == Mark("SPF fail for example.com")
    assert decide(verdict("softfail", PASSED), default) == Accept()
    strict = AuthPolicy(spf_fail="reject")
    spf_rejected = decide(verdict("fail", PASSED), strict)
    assert isinstance(spf_rejected, Reject) and spf_rejected.reply.startswith("550 5.7.23 ")
    lenient = AuthPolicy(spf_fail="accept", dmarc_reject="mark", dmarc_quarantine="accept")
    assert decide(verdict("fail", REJECTED), lenient) == Mark("DMARC reject for example.com")
    assert decide(verdict("fail", QUARANTINED), lenient) == Accept()
    both = decide(verdict("fail", QUARANTINED), AuthPolicy())
    assert both == Mark("DMARC quarantine for example.com; SPF fail for example.com")
