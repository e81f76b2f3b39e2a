"""Sequence sets (RFC 9051 §9) and ``$`` (RFC 5182): parsing, limits, resolution."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.reader import NUMBER_MAX, Reader
from roost.proto.imap.sequence import (
    MAX_SEQUENCE_RANGES,
    STAR,
    SavedResult,
    SeqRange,
    SequenceSet,
    parse_message_set,
    parse_sequence_set,
    sequence_of,
)


def parse(text: bytes) -> SequenceSet | SavedResult:
    r = Reader(text)
    result = parse_message_set(r)
    assert r.pos == len(text)
    return result


def test_numbers_ranges_and_star() -> None:
    assert parse(b"1") == SequenceSet((SeqRange(1, 1),))
    assert parse(b"2:4,7,9:*") == SequenceSet((SeqRange(2, 4), SeqRange(7, 7), SeqRange(9, STAR)))
    assert parse(b"*:3") == SequenceSet((SeqRange(STAR, 3),))
    assert parse(b"*") == SequenceSet((SeqRange(STAR, STAR),))
    assert parse(b"4294967295") == SequenceSet((SeqRange(NUMBER_MAX, NUMBER_MAX),))


def test_saved_result() -> None:
    assert parse(b"$") == SavedResult()
    assert str(SavedResult()) == "$"


def test_the_set_stops_at_a_delimiter() -> None:
    r = Reader(b"1:3 FLAGS")
    assert parse_message_set(r) == SequenceSet((SeqRange(1, 3),))
    assert r.pos == 3


@pytest.mark.parametrize(
    "text",
    [b"", b"0", b"1:0", b"01", b",1", b"1,", b"1,,2", b"1:2:3", b"4294967296", b"9" * 30, b"::"],
)
def test_malformed_sets(text: bytes) -> None:
    with pytest.raises(ParseError):
        r = Reader(text + b" ")
        parse_message_set(r)


def test_star_and_saved_can_be_refused() -> None:
    with pytest.raises(ParseError):
        parse_sequence_set(Reader(b"1:*"), star=False)
    with pytest.raises(ParseError):
        parse_sequence_set(Reader(b"$"))


def test_a_million_ranges_is_a_clean_refusal() -> None:
    text = b"1:2," * 1_000_000 + b"3"
    with pytest.raises(ParseError, match="at most"):
        parse_message_set(Reader(text))


def test_the_limit_itself_is_accepted() -> None:
    text = b",".join(b"%d" % n for n in range(1, 2 * MAX_SEQUENCE_RANGES, 2))
    result = parse_message_set(Reader(text))
    assert isinstance(result, SequenceSet)
    assert len(result.ranges) == MAX_SEQUENCE_RANGES


def test_resolve_sorts_merges_and_cuts_at_largest() -> None:
    seqset = parse(b"9:7,1,2,20:*,3")
    assert isinstance(seqset, SequenceSet)
    assert seqset.resolve(25) == ((1, 3), (7, 9), (20, 25))
    # RFC 9051 §6.4.8: "n:*" names the largest when n is beyond it.
    assert seqset.resolve(15) == ((1, 3), (7, 9), (15, 15))
    assert seqset.resolve(0) == ()
    assert seqset.contains(8, 25)
    assert not seqset.contains(10, 25)
    assert seqset.contains(25, 25)


def test_sequence_of_folds_runs() -> None:
    assert str(sequence_of([5, 1, 2, 3, 9, 10, 3])) == "1:3,5,9:10"
    with pytest.raises(ImapUsageError):
        sequence_of([])


NUMBERS = st.one_of(st.integers(1, NUMBER_MAX), st.just(STAR))
SETS = st.lists(st.builds(SeqRange, NUMBERS, NUMBERS), min_size=1, max_size=8).map(
    lambda ranges: SequenceSet(tuple(ranges))
)


@settings(max_examples=200, database=None)
@given(SETS)
def test_printed_set_parses_back(seqset: SequenceSet) -> None:
    assert parse(str(seqset).encode()) == seqset


@settings(max_examples=200, database=None)
@given(st.lists(st.integers(1, 60), min_size=1), st.integers(0, 70))
def test_sequence_of_names_exactly_its_numbers(numbers: list[int], largest: int) -> None:
    seqset = sequence_of(numbers)
    wanted = set(numbers)
    top = max(wanted)
    assert {n for low, high in seqset.resolve(top) for n in range(low, high + 1)} == wanted
    for n in range(1, largest + 1):
        assert seqset.contains(n, top) == (n in wanted)
