"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3): examples, strictness, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.imap.mutf7 import MUtf7Error, decode, encode, encode_mailbox

NAMES = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@pytest.mark.parametrize(
    ("unicode", "wire"),
    [
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("&", "&-"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("INBOX", "INBOX"),
        ("", ""),
        ("Entwürfe", "Entw&APw-rfe"),
        ("☺", "&Jjo-"),
        ("😀", "&2D3eAA-"),  # a surrogate pair
        ("a\tb", "a&AAk-b"),  # controls are encoded too
        ("ü&ü", "&APw-&-&APw-"),
    ],
)
def test_examples_both_ways(unicode: str, wire: str) -> None:
    assert encode(unicode) == wire
    assert decode(wire) == unicode


@pytest.mark.parametrize(
    "wire",
    [
        "&",  # an unterminated shift
        "&Jjo",  # no closing "-"
        "&Jj-",  # 12 bits: not a whole UTF-16 unit
        "&Jjp-",  # non-zero padding bits
        "&AGE-",  # encodes "a", which must stand for itself
        "&2D0-",  # a lone high surrogate
        "&3gA-",  # a lone low surrogate
        "&U/BTFw-",  # "/" instead of ","
        "caf\u00e9",  # 8-bit outside a run
        "tab\there",
        "&U,BTFw=-",
    ],
)
def test_invalid_names_are_refused(wire: str) -> None:
    with pytest.raises(MUtf7Error):
        decode(wire)


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(MUtf7Error):
        encode("a\ud800b")


def test_encode_mailbox_respects_utf8_mode() -> None:
    assert encode_mailbox("台北", utf8=True) == "台北"
    assert encode_mailbox("台北", utf8=False) == "&U,BTFw-"


@settings(max_examples=300, database=None)
@given(NAMES)
def test_round_trip(name: str) -> None:
    wire = encode(name)
    assert all(" " <= char <= "~" for char in wire)
    assert decode(wire) == name


@settings(max_examples=300, database=None)
@given(st.text(alphabet="&-+,ABCDEFGHIJabcdz0189 /é", max_size=20))
def test_decode_raises_only_its_error(wire: str) -> None:
    try:
        name = decode(wire)
    except MUtf7Error:
        return
    assert encode(name) == wire or decode(encode(name)) == name
