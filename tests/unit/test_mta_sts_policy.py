"""MTA-STS TXT records, policy files and MX matching (RFC 8461 §3.1, §3.2, §4.1)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.services.spool.mta_sts_policy import (
    MAX_AGE_LIMIT_S,
    Mode,
    Policy,
    PolicyError,
    mx_matches,
    parse_policy,
    txt_policy_id,
)

# --- §3.1 the TXT record


def test_rfc_example_record() -> None:
    assert txt_policy_id([b"v=STSv1; id=20160831085700Z;"]) == "20160831085700Z"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b"v=STSv1;id=abc", "abc"),
        (b"v=STSv1 ;\tid=abc ; ", "abc"),
        (b"v=STSv1; id=abc; ext-1.x=some:value", "abc"),
        (b"v=STSv1; id=first; id=second", "first"),  # a repeated field: the first counts
        (b"v=STSv1; id=" + b"a" * 32, "a" * 32),
    ],
)
def test_valid_records(record: bytes, expected: str) -> None:
    assert txt_policy_id([record]) == expected


@pytest.mark.parametrize(
    "record",
    [
        b"v=STSv1;",  # no field after the version
        b"v=STSv1; id=",
        b"v=STSv1; id=" + b"a" * 33,  # 1*32 characters
        b"v=STSv1; id=2024-01-01",  # ALPHA / DIGIT only
        b"v=STSv1; ext=1",  # no id
        b"v=STSv1; id=abc; bad",  # a field without "="
        b"v=STSv1; id=abc; ext=a=b",  # "=" is not allowed in a value
        b"v=STSv1; id=abc;; ext=1",  # an empty field
        b"v=STSv1; id=abc; _ext=1",  # names start with a letter or digit
        b"v=STSv1; id=ab\xc3\xa9",  # US-ASCII only
        b"v=STSv2; id=abc",
        b"v=STSv10; id=abc",
        b"id=abc; v=STSv1",  # the version comes first
        b"V=STSv1; id=abc",  # case matters (%s in the ABNF)
    ],
)
def test_invalid_records_announce_no_policy(record: bytes) -> None:
    assert txt_policy_id([record]) is None


def test_other_txt_records_are_discarded() -> None:
    assert txt_policy_id([b"v=spf1 -all", b"v=STSv1; id=abc", b"hello"]) == "abc"


def test_two_sts_records_announce_no_policy() -> None:
    assert txt_policy_id([b"v=STSv1; id=abc", b"v=STSv1; id=def"]) is None
    assert txt_policy_id([]) is None


# --- §3.2 the policy file

RFC_EXAMPLE = (
    b"version: STSv1\r\n"
    b"mode: enforce\r\n"
    b"mx: mail.example.com\r\n"
    b"mx: *.example.net\r\n"
    b"mx: backupmx.example.com\r\n"
    b"max_age: 604800\r\n"
)


def test_rfc_example_policy() -> None:
    assert parse_policy(RFC_EXAMPLE) == Policy(
        Mode.ENFORCE, 604800, ("mail.example.com", "*.example.net", "backupmx.example.com")
    )


def test_lf_lines_no_final_newline_and_blank_lines() -> None:
    body = b"version: STSv1\n\nmode: testing\nmx:mx.example.org\nmax_age: 86400"
    assert parse_policy(body) == Policy(Mode.TESTING, 86400, ("mx.example.org",))


def test_unknown_fields_ignored_and_the_first_of_a_repeated_field_counts() -> None:
    body = (
        b"version: STSv1\nmode: enforce\nmode: none\nmx: a.example\n"
        b"max_age: 10\nmax_age: 20\nfuture_field: some value here\nMode: none\n"
    )
    assert parse_policy(body) == Policy(Mode.ENFORCE, 10, ("a.example",))


def test_mode_none_needs_no_mx() -> None:
    assert parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\n") == Policy(
        Mode.NONE, 86400, ()
    )


def test_max_age_above_the_limit_is_capped() -> None:
    body = b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n"
    assert parse_policy(body).max_age_s == MAX_AGE_LIMIT_S == 31557600


def test_mx_patterns_are_kept_in_lower_case_without_a_final_dot() -> None:
    body = b"version: STSv1\nmode: enforce\nmx: MX.Example.ORG.\nmax_age: 1\n"
    assert parse_policy(body).mx == ("mx.example.org",)


@pytest.mark.parametrize(
    "body",
    [
        b"mode: enforce\nmx: a.example\nmax_age: 1\n",  # no version
        b"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        b"version: STSv1\nmx: a.example\nmax_age: 1\n",  # no mode
        b"version: STSv1\nmode: report\nmx: a.example\nmax_age: 1\n",
        b"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\n",  # no max_age
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: \xd9\xa1\n",  # not ASCII digits
        b"version: STSv1\nmode: enforce\nmax_age: 1\n",  # enforce without mx
        b"version: STSv1\nmode: testing\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: *example.com\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: mail.*.example.com\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: -bad.example\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nnot a field\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\next:\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\next: a\x01b\n",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n\xff\n",  # not UTF-8
        b"\xef\xbb\xbfversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        b"<html><body>Not found</body></html>",
    ],
)
def test_invalid_policies(body: bytes) -> None:
    with pytest.raises(PolicyError):
        parse_policy(body)


# --- §4.1 MX host matching


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mail.example.com", "mail.example.com", True),
        ("mail.example.com", "MAIL.Example.COM.", True),
        ("mail.example.com", "mail2.example.com", False),
        ("mail.example.com", "example.com", False),
        ("*.example.com", "mail.example.com", True),  # §4.1's own examples
        ("*.example.com", "example.com", False),
        ("*.example.com", "foo.bar.example.com", False),
        ("*.example.com", "mail.example.com.", True),
        ("*.example.com", ".example.com", False),
        ("*.example.com", "mail.example.org", False),
        ("*.EXAMPLE.com", "Mail.example.COM", True),
        ("", "example.com", False),
    ],
)
def test_mx_matching(pattern: str, host: str, matches: bool) -> None:
    assert mx_matches(pattern, host) is matches


def test_policy_allows_any_listed_host() -> None:
    policy = Policy(Mode.ENFORCE, 60, ("mx1.example.org", "*.mail.example.net"))
    assert policy.allows("mx1.example.org")
    assert policy.allows("eu.mail.example.net")
    assert not policy.allows("mx2.example.org")
    assert not policy.allows("mail.example.net")


# --- properties

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_PATTERN = st.builds(lambda wild, name: ("*." if wild else "") + name, st.booleans(), _DOMAIN)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    mode = draw(st.sampled_from(Mode))
    mx = tuple(draw(st.lists(_PATTERN, min_size=0 if mode is Mode.NONE else 1, max_size=5)))
    return Policy(mode, draw(st.integers(0, MAX_AGE_LIMIT_S)), mx)


def render(policy: Policy, newline: str) -> bytes:
    lines = ["version: STSv1", f"mode: {policy.mode.value}", f"max_age: {policy.max_age_s}"]
    lines += [f"mx: {pattern}" for pattern in policy.mx]
    return (newline.join(lines) + newline).encode()


@given(policies(), st.sampled_from(["\n", "\r\n"]))
def test_a_printed_policy_parses_back(policy: Policy, newline: str) -> None:
    assert parse_policy(render(policy, newline)) == policy


@given(st.binary(max_size=300))
def test_any_bytes_give_a_policy_or_a_policy_error(body: bytes) -> None:
    with contextlib.suppress(PolicyError):
        parse_policy(body)


@given(st.lists(st.binary(max_size=80), max_size=3))
def test_any_txt_answer_gives_an_id_or_none(texts: list[bytes]) -> None:
    found = txt_policy_id(texts)
    assert found is None or (found.isalnum() and len(found) <= 32)


@given(_DOMAIN, _LABEL)
def test_a_wildcard_stands_for_exactly_one_label(domain: str, label: str) -> None:
    assert mx_matches(f"*.{domain}", f"{label}.{domain}")
    assert not mx_matches(f"*.{domain}", domain)
    assert not mx_matches(f"*.{domain}", f"{label}.{label}.{domain}")
