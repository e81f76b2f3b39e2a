"""xtext (RFC 3461 §4) and the utf-8 address forms (RFC 6533 §3)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.proto.dsn import (
    DsnError,
    format_orcpt,
    parse_orcpt,
    utf8_addr_decode,
    utf8_addr_unitext_encode,
    utf8_addr_xtext_encode,
    xtext_decode,
    xtext_encode,
)

# Unicode scalar values only: a utf-8 address is text, never lone surrogates.
_SCALARS = st.characters(exclude_categories=["Cs"], min_codepoint=1)


@pytest.mark.parametrize(
    ("decoded", "encoded"),
    [
        ("user@example.com", "user@example.com"),
        ("a+b=c@example.com", "a+2Bb+3Dc@example.com"),
        ("two words", "two+20words"),
        ("X\x7f", "X+7F"),  # RFC 3461 §4 / sendmail's example
        ("é", "+C3+A9"),
        ("", ""),
    ],
)
def test_xtext_examples(decoded: str, encoded: str) -> None:
    assert xtext_encode(decoded) == encoded
    assert xtext_decode(encoded) == decoded


def test_xtext_decode_accepts_lower_case_hex() -> None:
    assert xtext_decode("a+2bb") == "a+b"


@pytest.mark.parametrize("bad", ["a b", "a=b", "+2", "+ZZ", "ab+", "é", "a\r\nb"])
def test_xtext_decode_rejects_what_is_not_xtext(bad: str) -> None:
    with pytest.raises(DsnError):
        xtext_decode(bad)


@given(st.text(max_size=80))
def test_xtext_round_trip(value: str) -> None:
    encoded = xtext_encode(value)
    assert all(0x21 <= ord(c) <= 0x7E for c in encoded)
    assert xtext_decode(encoded) == value


@given(st.binary(max_size=300))
def test_xtext_round_trip_of_any_octets(raw: bytes) -> None:
    value = raw.decode("utf-8", "surrogateescape")
    assert xtext_decode(xtext_encode(value)).encode("utf-8", "surrogateescape") == raw


@given(st.text(alphabet=st.sampled_from("ab+=%\x00 \t~")))
def test_xtext_decode_never_crashes_otherwise(text: str) -> None:
    with contextlib.suppress(DsnError):
        xtext_decode(text)


def test_utf8_address_forms() -> None:
    address = "用户+tag@例え.jp"
    assert utf8_addr_xtext_encode(address) == ("\\x{7528}\\x{6237}\\x{2B}tag@\\x{4F8B}\\x{3048}.jp")
    assert utf8_addr_unitext_encode(address) == "用户\\x{2B}tag@例え.jp"
    assert utf8_addr_decode("用户+tag@例え.jp".replace("+", "\\x{2B}")) == address


@given(st.text(alphabet=_SCALARS, min_size=1, max_size=80))
def test_utf8_address_forms_round_trip(address: str) -> None:
    seven_bit = utf8_addr_xtext_encode(address)
    assert seven_bit.isascii()
    assert "+" not in seven_bit and "=" not in seven_bit
    assert utf8_addr_decode(seven_bit) == address
    assert utf8_addr_decode(utf8_addr_unitext_encode(address)) == address


@pytest.mark.parametrize("bad", ["a b", "a=b", "\\x{D800}", "\\x{110000}", "a\\"])
def test_utf8_address_decode_rejects(bad: str) -> None:
    with pytest.raises(DsnError):
        utf8_addr_decode(bad)


def test_orcpt_parse_and_format() -> None:
    assert parse_orcpt("rfc822;a+2Bb@example.com") == ("rfc822", "a+b@example.com")
    assert parse_orcpt("RFC822;x@y") == ("rfc822", "x@y")
    assert parse_orcpt("utf-8;\\x{7528}@example.net") == ("utf-8", "用@example.net")
    assert format_orcpt("rfc822", "a+b@example.com") == "rfc822;a+2Bb@example.com"
    assert format_orcpt("utf-8", "用@example.net") == "utf-8;\\x{7528}@example.net"
    assert format_orcpt("utf-8", "用@example.net", smtputf8=True) == "utf-8;用@example.net"
    for bad in ["rfc822", ";x@y", "rfc 822;x@y", "rfc822;"]:
        with pytest.raises(DsnError):
            parse_orcpt(bad)


@given(
    st.sampled_from(["rfc822", "utf-8", "x-local"]),
    st.text(alphabet=_SCALARS, min_size=1, max_size=80),
)
def test_orcpt_round_trip(addr_type: str, address: str) -> None:
    for smtputf8 in (False, True):
        assert parse_orcpt(format_orcpt(addr_type, address, smtputf8=smtputf8)) == (
            addr_type,
            address,
        )
