"""The Authentication-Results field (RFC 8601): what we write, read back with authres."""

from __future__ import annotations

from typing import Any

import pytest

from roost.control.mailauth.dkim_verify import DkimReport, DkimResult
from roost.control.mailauth.dmarc import DmarcResult
from roost.control.mailauth.headers import strip_authentication_results
from roost.control.mailauth.results import authentication_results, check_authserv_id, parse
from roost.control.mailauth.spf_check import SpfResult
from roost.core.errors import InvalidName

SPF_PASS = SpfResult("pass", "sender SPF authorized", "mailfrom", "example.com", "ann@example.com")
DKIM = DkimReport(
    (
        DkimResult("pass", "example.com", "s1-rsa", "rsa-sha256", "@example.com", "Ab+/cd=="),
        DkimResult(
            "fail",
            "example.com",
            "s1-ed25519",
            "ed25519-sha256",
            "",
            "xyz",
            "body hash did not verify",
        ),
    )
)
DMARC = DmarcResult("pass", "example.com", "reject", "none", True, True, "example.com")


def props(result: Any) -> dict[str, str]:
    return {f"{p.type}.{p.name}": str(p.value) for p in result.properties}


def test_every_method_reads_back() -> None:
    field = authentication_results("MX.Example.org", SPF_PASS, DKIM, DMARC)
    assert field.startswith(b"Authentication-Results: mx.example.org;\r\n\t")
    assert field.endswith(b"\r\n") and field.count(b"\r\n\t") == 4
    header = parse(field)
    assert header.authserv_id == "mx.example.org"
    spf, good, bad, dmarc = header.results
    assert (spf.method, spf.result) == ("spf", "pass")
    assert b"spf=pass (sender SPF authorized) smtp.mailfrom=ann@example.com;" in field
    assert props(spf) == {"smtp.mailfrom": "ann@example.com"}
    assert (good.method, good.result) == ("dkim", "pass")
    assert props(good) == {
        "header.d": "example.com",
        "header.i": "@example.com",
        "header.s": "s1-rsa",
        "header.a": "rsa-sha256",
        "header.b": "Ab+/cd==",
    }
    assert good.header_b == "Ab+/cd=="
    assert (bad.result, bad.reason) == ("fail", "body hash did not verify")
    assert (dmarc.method, dmarc.result) == ("dmarc", "pass")
    assert b"dmarc=pass (p=reject dis=none) header.from=example.com\r\n" in field
    assert dmarc.header_from == "example.com"


def test_no_signature_and_size_cutoff() -> None:
    header = parse(authentication_results("mx.example.org", SPF_PASS, DkimReport(), None))
    assert [(r.method, r.result, r.reason) for r in header.results][1] == ("dkim", "none", None)
    skipped = DkimReport((), "message too large to verify", ("example.com",))
    header = parse(authentication_results("mx.example.org", None, skipped, None))
    (dkim,) = header.results
    assert (dkim.result, dkim.reason) == ("none", "message too large to verify")


def test_null_sender_reports_the_helo_identity() -> None:
    helo = SpfResult("pass", "", "helo", "mail.example.com", "postmaster@mail.example.com")
    (spf, _) = parse(authentication_results("mx.example.org", helo, DkimReport(), None)).results
    assert props(spf) == {"smtp.helo": "mail.example.com"}


def test_hostile_values_cannot_add_clauses() -> None:
    evil = "x@y; dmarc=pass"
    spf = SpfResult(
        "fail", "bad (really) \\ text", "mailfrom", "evil.example", 'a"b; c@evil.example'
    )
    dkim = DkimReport((DkimResult("permerror", evil, evil, evil, evil, evil, f"{evil} (oops)"),))
    dmarc = DmarcResult("fail", evil, "reject", "reject", reason=evil)
    field = authentication_results("mx.example.org", spf, dkim, dmarc)
    header = parse(field)
    assert [r.method for r in header.results] == ["spf", "dkim", "dmarc"]
    assert [r.result for r in header.results] == ["fail", "permerror", "fail"]
    assert props(header.results[0]) == {"smtp.mailfrom": "evil.example"}
    assert props(header.results[1]) == {}
    assert header.results[2].reason == "x y; dmarc=pass"


def test_our_field_is_what_strip_removes() -> None:
    field = authentication_results("mx.example.org", SPF_PASS, DKIM, DMARC)
    assert (
        strip_authentication_results(field + b"Subject: x\r\n", "mx.example.org")
        == b"Subject: x\r\n"
    )


@pytest.mark.parametrize("bad", ["", "mx example", "mx;x", "-mx.example.org", "mx.example.org."])
def test_authserv_id_must_be_a_host_name(bad: str) -> None:
    with pytest.raises(InvalidName, match="authserv-id"):
        check_authserv_id(bad)
