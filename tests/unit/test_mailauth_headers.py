"""Header blocks for mail authentication: splitting, the From domain, forged
Authentication-Results removed (RFC 8601 §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.mailauth.headers import (
    authserv_id_of,
    from_domain,
    split_message,
    strip_authentication_results,
)

OURS = "mx.example.org"


def test_split_message() -> None:
    assert split_message(b"A: 1\r\nB: 2\r\n\r\nbody\r\n") == (b"A: 1\r\nB: 2\r\n", b"body\r\n")
    assert split_message(b"A: 1\n\nbody\n") == (b"A: 1\n", b"body\n")
    assert split_message(b"A: 1\r\n") == (b"A: 1\r\n", b"")
    assert split_message(b"\r\nbody") == (b"", b"body")


@pytest.mark.parametrize(
    ("block", "domain"),
    [
        (b"From: ann@Example.COM\r\n", "example.com"),
        (b'From: "Ann, the first" <ann@example.com.>\r\n', "example.com"),
        (b"From: a@sub.example.com, b@sub.example.com\r\n", "sub.example.com"),
        (b"From:\r\n  Ann <ann@example.com>\r\n", "example.com"),
        ("From: Änne <anne@bücher.example>\r\n".encode(), "xn--bcher-kva.example"),
    ],
)
def test_from_domain(block: bytes, domain: str) -> None:
    assert from_domain(block).domain == domain


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (b"To: bob@example.net\r\n", "no From field"),
        (b"From: a@example.com\r\nFrom: b@example.com\r\n", "more than one From field"),
        (b"From: a@example.com, b@example.net\r\n", "more than one domain"),
        (b"From: undisclosed\r\n", "without a domain"),
        (b"From: a@[192.0.2.1]\r\n", "not a valid name"),
        (b"From: a@exa..mple.com\r\n", "not a valid name"),
    ],
)
def test_from_domain_problems(block: bytes, problem: str) -> None:
    found = from_domain(block)
    assert found.domain is None and problem in found.problem


def test_authserv_id_of() -> None:
    assert authserv_id_of(" mx.example.org; spf=pass") == "mx.example.org"
    assert authserv_id_of("(comment) MX.Example.ORG 1; none") == "mx.example.org"
    assert authserv_id_of('"mx.example.org"; none') == "mx.example.org"
    assert authserv_id_of("; none") is None
    assert authserv_id_of("") is None


def test_strip_removes_only_fields_with_our_id() -> None:
    block = (
        b"Received: from x by y\r\n"
        b"Authentication-Results: mx.example.org; dkim=pass header.d=bank.example\r\n"
        b"authentication-results : (forged)\r\n MX.EXAMPLE.ORG 1;\r\n\tspf=pass\r\n"
        b"Authentication-Results: mx.example.org.evil; spf=pass\r\n"
        b"Authentication-Results: other.example; dkim=fail\r\n"
        b"X-Authentication-Results: mx.example.org; spf=pass\r\n"
        b"Subject: hi\r\n"
        b"  there\r\n"
    )
    assert strip_authentication_results(block, "MX.example.org") == (
        b"Received: from x by y\r\n"
        b"Authentication-Results: mx.example.org.evil; spf=pass\r\n"
        b"Authentication-Results: other.example; dkim=fail\r\n"
        b"X-Authentication-Results: mx.example.org; spf=pass\r\n"
        b"Subject: hi\r\n"
        b"  there\r\n"
    )


def test_strip_keeps_a_block_without_such_fields_byte_for_byte() -> None:
    block = b"From: a@example.com\r\n\tcontinued\r\n odd line\r\nX: y\n"
    assert strip_authentication_results(block, OURS) == block


@given(st.lists(st.binary(max_size=40), max_size=12), st.booleans())
def test_strip_only_drops_lines_and_is_idempotent(lines: list[bytes], forge: bool) -> None:
    if forge:
        lines.insert(len(lines) // 2, b"Authentication-Results: mx.example.org; spf=pass")
    block = b"\r\n".join(lines)
    out = strip_authentication_results(block, OURS)
    remaining = iter(block.splitlines(keepends=True))
    assert all(any(line == r for r in remaining) for line in out.splitlines(keepends=True))
    assert strip_authentication_results(out, OURS) == out
    if forge:
        assert b"Authentication-Results: mx.example.org; spf=pass" not in out
