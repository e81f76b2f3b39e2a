"""Hostile sizes: a 10 MB stanza, 10,000 nested elements, floods.

Memory is measured with tracemalloc around the work; "linear time" is
shown without a clock (STYLE.md: no timed assertions) by counting what
expat is given: every byte once, in a bounded number of pieces, and
nothing at all past the point where a limit is crossed.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest

from roost.proto.xmpp import (
    DEFAULT_MAX_STANZA_OCTETS,
    Element,
    Message,
    ParsedElement,
    Presence,
    StreamErrorCondition,
    StreamFailed,
    StreamFault,
    StreamOpened,
    XmlStreamParser,
    parse_message,
    serialize,
)
from roost.proto.xmpp import document as document_module
from roost.proto.xmpp.parser import PIECE_OCTETS
from tests.unit.test_xmpp_harness import CLIENT_HEADER, SETTINGS, Peer

MB = 1_000_000
CHUNK = 65_536


@dataclass
class Fed:
    """What expat was given."""

    calls: int = 0
    octets: int = 0


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> Fed:
    counter = Fed()
    original = document_module.ExpatDocument.feed

    def counting(
        self: document_module.ExpatDocument, data: bytes | bytearray, *, final: bool = False
    ) -> document_module.StreamFault | None:
        counter.calls += 1
        counter.octets += len(data)
        return original(self, data, final=final)

    monkeypatch.setattr(document_module.ExpatDocument, "feed", counting)
    return counter


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    peak = 0
    try:
        yield lambda: peak
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def test_a_10_mb_stanza_ends_the_stream_early(fed: Fed) -> None:
    peer = Peer()
    peer.bind()
    fed.octets = 0
    stanza = b"<message to='romeo@example.net'><body>" + b"x" * (10 * MB) + b"</body></message>"
    out = b""
    with peak_memory() as peak:
        for chunk in chunks(stanza):
            out += peer.send(chunk)
    failed = peer.of(StreamFailed)
    assert [f.condition for f in failed] == [StreamErrorCondition.POLICY_VIOLATION]
    assert out.endswith(b"</stream:error></stream:stream>")
    assert peer.of(Message) == []
    # expat stopped at the limit; the rest was never parsed nor kept.
    assert fed.octets <= DEFAULT_MAX_STANZA_OCTETS
    assert peak() < 4 * DEFAULT_MAX_STANZA_OCTETS


def test_a_10_mb_attribute_ends_the_stream_early(fed: Fed) -> None:
    parser = XmlStreamParser(max_stanza_octets=DEFAULT_MAX_STANZA_OCTETS, max_depth=64)
    parser.feed(CLIENT_HEADER)
    assert isinstance(parser.next_item(), StreamOpened)
    attribute = b"a" * (10 * MB)
    with peak_memory() as peak:
        parser.feed(b"<message to='")
        item = None
        for chunk in chunks(attribute):
            parser.feed(chunk)
            if (item := parser.next_item()) is not None:
                break
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.POLICY_VIOLATION
    assert fed.octets <= len(CLIENT_HEADER) + DEFAULT_MAX_STANZA_OCTETS
    assert parser.buffered_octets <= DEFAULT_MAX_STANZA_OCTETS + CHUNK
    # Our copy of the unfinished tag, expat's (which grows by doubling) and
    # one chunk: a few times the limit, nothing like the 10 MB sent.
    assert peak() < 8 * DEFAULT_MAX_STANZA_OCTETS


def test_a_10_mb_stanza_within_a_raised_limit_parses_in_linear_work(fed: Fed) -> None:
    size = 10 * MB
    body = b"0123456789" * (size // 10)
    stanza = b"<message><body>" + body + b"</body></message>"
    parser = XmlStreamParser(max_stanza_octets=16 * MB, max_depth=8)
    parser.feed(CLIENT_HEADER)
    assert isinstance(parser.next_item(), StreamOpened)
    fed.calls = fed.octets = 0
    with peak_memory() as peak:
        for chunk in chunks(stanza):
            parser.feed(chunk)
            item = parser.next_item()
    assert isinstance(item, ParsedElement)
    (body_element,) = item.element.elements()
    assert len(body_element.text) == size
    # Every byte went to expat once, in pieces of the fixed size.
    assert fed.octets == len(stanza)
    assert fed.calls <= len(stanza) // PIECE_OCTETS + len(stanza) // CHUNK + 2
    # The raw bytes, the text pieces and the joined text: a few times the size.
    assert peak() < 5 * size
    assert parser.buffered_octets == 0


@pytest.mark.parametrize("max_depth", [64, 256])
def test_10000_nested_elements(fed: Fed, max_depth: int) -> None:
    nested = b"<message>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</message>"
    parser = XmlStreamParser(max_stanza_octets=DEFAULT_MAX_STANZA_OCTETS, max_depth=max_depth)
    with peak_memory() as peak:
        parser.feed(CLIENT_HEADER + nested)
        items = [parser.next_item(), parser.next_item()]
    assert isinstance(items[0], StreamOpened)
    fault = items[1]
    assert isinstance(fault, StreamFault)
    assert fault.condition is StreamErrorCondition.POLICY_VIOLATION
    assert fed.calls == 1 and fed.octets <= PIECE_OCTETS  # stopped inside the first piece
    assert peak() < 2 * MB


def test_10000_nested_elements_in_a_websocket_message() -> None:
    nested = b"<message xmlns='jabber:client'>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</message>"
    item = parse_message(nested, max_octets=DEFAULT_MAX_STANZA_OCTETS, max_depth=64)
    assert isinstance(item, StreamFault)
    assert item.condition is StreamErrorCondition.POLICY_VIOLATION


def test_10000_nested_elements_through_the_connection() -> None:
    peer = Peer()
    peer.bind()
    peer.say(b"<message>" + b"<a>" * 10_000)
    assert [f.condition for f in peer.of(StreamFailed)] == [StreamErrorCondition.POLICY_VIOLATION]


def test_a_10000_deep_tree_serializes_without_recursion() -> None:
    element = Element("leaf")
    for _ in range(10_000):
        element = Element("n", "urn:n", (), (element,))
    data = serialize(element)
    assert data.count(b"<n") == 10_000 and data.endswith(b"</n>")


def test_a_flood_of_small_stanzas_is_parsed_once_and_not_kept(fed: Fed) -> None:
    settings = replace(SETTINGS, max_stanza_octets=10_000)
    peer = Peer(settings)
    peer.bind()
    fed.octets = 0
    flood = b"<presence/>\n" * 20_000
    peer.send(flood)
    assert len(peer.of(Presence)) == 20_000
    assert fed.octets == len(flood)
    reader = peer.conn._reader  # the bound is the point of the test
    # At most the last newline, which expat holds until it sees what follows.
    assert reader._parser is not None and reader._parser.buffered_octets <= 1


def test_megabytes_of_keepalive_whitespace_are_neither_kept_nor_a_violation() -> None:
    parser = XmlStreamParser(max_stanza_octets=10_000, max_depth=8)
    parser.feed(CLIENT_HEADER)
    assert isinstance(parser.next_item(), StreamOpened)
    for chunk in chunks(b" \r\n\t" * (MB // 4)):
        parser.feed(chunk)
        assert parser.next_item() is None
        assert parser.buffered_octets < 2 * CHUNK
    parser.feed(b"<presence/>")
    assert isinstance(parser.next_item(), ParsedElement)
