"""The original as a stream of chunks: bounded memory, lazy reading, and
output that does not depend on how the input was cut."""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.dsn import (
    Action,
    DsnError,
    Notice,
    NoticeKind,
    ReportedRecipient,
    Ret,
    Returned,
    build_notice,
    iter_notice,
    write_notice,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: big\r\n\r\n"
LINE = b"0123456789" * 7 + b"\r\n"
CHUNK = LINE * (65_536 // len(LINE))


def make_notice(ret: Ret | None = Ret.FULL) -> Notice:
    return Notice(
        kind=NoticeKind.FAILURE,
        reporting_mta="mx.example.org",
        original_sender="alice@example.org",
        recipients=(ReportedRecipient("bob@example.com", Action.FAILED, "5.2.2"),),
        arrival_date=NOW,
        now=NOW,
        postmaster_from="MAILER-DAEMON@mx.example.org",
        message_id_domain="mx.example.org",
        ret=ret,
    )


class Source:
    """An original of `total` octets in 64 KiB chunks, counting reads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        self.read = len(HEADER)
        yield HEADER
        while self.read < self.total:
            chunk = CHUNK[: self.total - self.read]
            self.read += len(chunk)
            yield chunk


def test_fifty_megabytes_stream_through_in_bounded_memory() -> None:
    total = 50 * 1024 * 1024
    source = Source(total)
    seen = {"octets": 0, "largest": 0, "bare": 0}

    def sink(chunk: bytes) -> None:
        seen["octets"] += len(chunk)
        seen["largest"] = max(seen["largest"], len(chunk))

    tracemalloc.start()
    try:
        result = write_notice(make_notice(), source, len(HEADER), sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.read == total
    assert result.returned is Returned.FULL
    assert result.octets == seen["octets"] > total
    assert seen["largest"] <= 65_536
    assert peak < 2 * 1024 * 1024, peak


def test_headers_only_reads_no_further_than_the_header() -> None:
    source = Source(50 * 1024 * 1024)
    raw = build_notice(make_notice(Ret.HDRS), source, len(HEADER))
    assert source.read == len(HEADER)
    assert b"Subject: big" in raw and b"0123456789" not in raw


def test_unknown_size_peeks_no_further_than_the_cap() -> None:
    source = Source(10 * 1024 * 1024)
    out: list[bytes] = []
    result = write_notice(
        make_notice(None), source, len(HEADER), out.append, max_full_octets=100_000
    )
    assert result.returned is Returned.HEADERS
    assert source.read < 100_000 + 2 * 65_536
    small = Source(50_000)
    assert (
        write_notice(
            make_notice(None), small, len(HEADER), out.append, max_full_octets=100_000
        ).returned
        is Returned.FULL
    )


def test_iter_notice_yields_what_build_notice_returns() -> None:
    original = HEADER + LINE * 3
    gen = iter_notice(make_notice(), [original], len(HEADER), nonce="x")
    chunks: list[bytes] = []
    with pytest.raises(StopIteration) as stop:
        while True:
            chunks.append(next(gen))
    assert b"".join(chunks) == build_notice(make_notice(), original, len(HEADER), nonce="x")
    assert stop.value.value.octets == sum(map(len, chunks))


ORIGINAL = HEADER + b"line one\r\nline two\nline three\rline four\r\n.\r\nend"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ORIGINAL)), max_size=8))
def test_output_does_not_depend_on_chunking(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(ORIGINAL)]
    chunks = [ORIGINAL[a:b] for a, b in itertools.pairwise(points)]
    expected = build_notice(make_notice(), ORIGINAL, len(HEADER), nonce="c")
    assert build_notice(make_notice(), chunks, len(HEADER), nonce="c") == expected
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", expected) is None
    body = b"\r\n\r\nline one\r\nline two\r\nline three\r\nline four\r\n.\r\nend\r\n--=_roost.c--"
    assert body in expected
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", expected) is None


def test_boundary_met_mid_stream_is_an_error() -> None:
    original = [HEADER, b"harmless\r\n", b"--=_roost.fixed\r\n"]
    with pytest.raises(DsnError, match="boundary"):
        build_notice(make_notice(), original, len(HEADER), nonce="fixed")


def test_boundary_split_across_chunks_is_caught() -> None:
    original = [HEADER, b"x\r\n--=_roo", b"st.fixed\r\n"]
    with pytest.raises(DsnError, match="boundary"):
        build_notice(make_notice(), original, len(HEADER), nonce="fixed")
