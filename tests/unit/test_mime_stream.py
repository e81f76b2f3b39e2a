"""Chunking never changes the result, and no input makes the parser fail."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mime_corpus import CORPUS, check_structure

from roost.proto.mime import (
    MessageStructure,
    MimeLimits,
    MimeParser,
    StructureDecodeError,
    parse_bytes,
)

SAMPLES = {name: build() for name, build in CORPUS.items()}

# Fragments that steer random input into MIME's interesting corners.
FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"--",
    b"--a",
    b"--ab",
    b"--a--",
    b"--ab--",
    b" ",
    b"\t",
    b"x",
    b"\xff\xe9",
    b"=?utf-8?q?a=C3=A9?=",
    b"Subject: s",
    b"From: A <a@b>, G: c@d;",
    b"Content-Type: multipart/mixed; boundary=a",
    b"Content-Type: multipart/digest; boundary=ab",
    b"Content-Type: message/rfc822",
    b"Content-Type: message/global",
    b"Content-Transfer-Encoding: base64",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1=x",
    b'Content-Type: text/plain; charset="x"; name=(c)"',
]

SMALL_LIMITS = MimeLimits(
    max_header_octets=64, max_line_octets=32, max_parts=6, max_depth=3, max_defects=4
)


def feed_in_chunks(
    data: bytes, cuts: list[int], limits: MimeLimits | None = None
) -> MessageStructure:
    parser = MimeParser(limits) if limits else MimeParser()
    start = 0
    for cut in sorted(set(cuts)):
        parser.feed(data[start:cut])
        start = cut
    parser.feed(data[start:])
    return parser.close()


@st.composite
def sample_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    data = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))]
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=40))
    return data, cuts


mime_ish = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=60).map(b"".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(sample_and_cuts())
def test_chunking_gives_the_same_structure(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    assert feed_in_chunks(data, cuts) == parse_bytes(data)


def test_one_octet_at_a_time() -> None:
    for data in SAMPLES.values():
        parser = MimeParser()
        for i in range(len(data)):
            parser.feed(data[i : i + 1])
        assert parser.close() == parse_bytes(data)


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    s = parse_bytes(data)
    check_structure(data, s)
    stored = s.to_json()
    stored.encode("utf-8")  # storable in any UTF-8 database column
    assert MessageStructure.from_json(stored) == s


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"v": 2, "size": 0, "parts": []}',
        '{"v": 1, "size": 0, "parts": []}',
        '{"v": 1, "size": "0", "parts": [{}]}',
        '{"v": 1, "size": 0, "parts": [{"p": null, "c": [], "s": "1", "k": "odd"}]}',
    ],
)
def test_from_json_rejects_what_to_json_never_wrote(text: str) -> None:
    with pytest.raises(StructureDecodeError):
        MessageStructure.from_json(text)


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["v", "size", "parts", "p", "c", "s", "k", "ct", "bs", "be"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_from_json_fails_only_with_its_own_error(value: object) -> None:
    with contextlib.suppress(StructureDecodeError):
        MessageStructure.from_json(json.dumps(value))


@settings(max_examples=500)
@given(mime_ish, st.lists(st.integers(0, 2000), max_size=20))
def test_mime_shaped_bytes_chunked_and_whole_agree(data: bytes, cuts: list[int]) -> None:
    whole = parse_bytes(data)
    check_structure(data, whole)
    assert feed_in_chunks(data, [c for c in cuts if c <= len(data)]) == whole
    assert MessageStructure.from_json(whole.to_json()) == whole


@settings(max_examples=300)
@given(mime_ish, st.lists(st.integers(0, 2000), max_size=20))
def test_tiny_limits_degrade_without_raising(data: bytes, cuts: list[int]) -> None:
    whole = parse_bytes(data, SMALL_LIMITS)
    check_structure(data, whole)
    assert len(whole.parts) <= SMALL_LIMITS.max_parts
    assert len(whole.defects) <= SMALL_LIMITS.max_defects + 1
    assert max(p.depth for p in whole.parts) <= SMALL_LIMITS.max_depth + 1
    assert feed_in_chunks(data, [c for c in cuts if c <= len(data)], SMALL_LIMITS) == whole
