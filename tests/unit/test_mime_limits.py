"""Hostile and huge messages: bounded memory, a defect, and no exception."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable, Iterator

from mime_corpus import big_attachment_chunks, check_structure, crlf

from roost.proto.mime import (
    DEFAULT_LIMITS,
    DefectKind,
    MessageStructure,
    MimeLimits,
    MimeParser,
    PartKind,
)

CHUNK = 64 * 1024
MIB = 1024 * 1024


def parse_chunks(chunks: Iterable[bytes], limits: MimeLimits = DEFAULT_LIMITS) -> MessageStructure:
    parser = MimeParser(limits)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


def rechunk(pieces: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    pending = bytearray()
    for piece in pieces:
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    yield bytes(pending)


def kinds(s: MessageStructure) -> set[DefectKind]:
    return {d.kind for d in s.defects}


def many_parts(count: int) -> Iterator[bytes]:
    yield b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
    part = b"--p\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    for _ in range(count):
        yield part
    yield b"--p--\r\n"


def test_100000_parts_stop_at_the_part_limit() -> None:
    s = parse_chunks(rechunk(many_parts(100_000)))
    assert len(s.parts) == DEFAULT_LIMITS.max_parts
    assert [d.kind for d in s.defects] == [DefectKind.TOO_MANY_PARTS]
    # Parts past the limit fold into the multipart body, which still ends
    # at its close-delimiter; recorded parts keep exact offsets.
    assert s.root.kind is PartKind.MULTIPART
    assert len(s.root.children) == DEFAULT_LIMITS.max_parts - 1
    last = s.parts[-1]
    assert (last.body_end - last.body_start, last.body_lines) == (4, 0)


def nested_multiparts(depth: int, boundary: str = "lvl{}.") -> Iterator[bytes]:
    for level in range(depth):
        b = boundary.format(level)
        yield f"Content-Type: multipart/mixed; boundary={b}\r\n\r\n--{b}\r\n".encode()
    yield b"\r\ninnermost\r\n"
    for level in reversed(range(depth)):
        yield f"--{boundary.format(level)}--\r\n".encode()


def test_multipart_nesting_1000_deep_stops_at_the_depth_limit() -> None:
    data = b"".join(nested_multiparts(1000))
    s = parse_chunks(rechunk([data]))
    check_structure(data, s)
    assert [d.kind for d in s.defects] == [DefectKind.TOO_DEEP]
    assert max(p.depth for p in s.parts) == DEFAULT_LIMITS.max_depth
    deepest = s.parts[-1]
    assert deepest.kind is PartKind.LEAF
    assert deepest.content_type.mime_type == "multipart/mixed"
    # The opaque part still ends at its parent's close-delimiter.
    assert data[deepest.body_end : deepest.body_end + 12] == b"\r\n--lvl99.--"
    assert data[s.parts[1].body_end :] == b"\r\n--lvl0.--\r\n"


def test_nesting_with_boundaries_that_prefix_each_other() -> None:
    # "b10" is a prefix of "b100": RFC 2046 §5.1.1 makes "--b100" a delimiter
    # of the b10 multipart once b100 is opaque. Any reading must stay sound.
    data = b"".join(nested_multiparts(1000, "b{}"))
    s = parse_chunks(rechunk([data]))
    check_structure(data, s)
    assert s.defects[0].kind is DefectKind.TOO_DEEP


def nested_messages(depth: int) -> bytes:
    head = b"Subject: level\r\nContent-Type: message/rfc822\r\n\r\n"
    return head * depth + b"Subject: bottom\r\n\r\nbody\r\n"


def test_message_nesting_1000_deep_stops_at_the_depth_limit() -> None:
    data = nested_messages(1000)
    s = parse_chunks(rechunk([data]))
    check_structure(data, s)
    assert [d.kind for d in s.defects] == [DefectKind.TOO_DEEP]
    assert len(s.parts) == DEFAULT_LIMITS.max_depth + 1
    assert all(p.body_end == len(data) for p in s.parts)


def test_long_header_line_is_cut_and_parsing_goes_on() -> None:
    data = b"X-Junk: " + b"a" * (3 * MIB) + b"\r\nSubject: after\r\n\r\nbody\r\n"
    s = parse_chunks(rechunk([data]))
    check_structure(data, s)
    assert kinds(s) == {DefectKind.LINE_TOO_LONG}
    assert s.envelope.subject == "after"
    assert data[s.root.body_start :] == b"body\r\n"


def test_huge_header_block_keeps_the_first_fields() -> None:
    fields = (
        b"Subject: first\r\n" + b"X-Filler: 0123456789012345678901234567890123456789\r\n" * 20_000
    )
    data = fields + b"Subject: late\r\n\r\nbody\r\n"
    s = parse_chunks(rechunk([data]))
    check_structure(data, s)
    assert kinds(s) == {DefectKind.HEADER_BLOCK_TOO_LARGE}
    assert s.envelope.subject == "first"
    assert s.root.header_end == len(fields) + len(b"Subject: late\r\n\r\n")


def test_defects_are_capped() -> None:
    limits = MimeLimits(max_defects=5)
    data = b"".join(b"--o\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n" for _ in range(50))
    s = parse_chunks([b"Content-Type: multipart/mixed; boundary=o\r\n\r\n", data], limits)
    assert len(s.defects) == 6
    assert s.defects[-1].kind is DefectKind.TOO_MANY_DEFECTS


def test_a_50_mb_attachment_in_64_kib_chunks_uses_bounded_memory() -> None:
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        parser = MimeParser()
        for chunk in big_attachment_chunks(50 * MIB):
            parser.feed(chunk)
        s = parser.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 2 * MIB  # the budget is 16 MiB; stay far below it
    assert s.size >= 50 * MIB - 100
    assert s.defects == ()
    attachment = s.parts[2]
    assert attachment.transfer_encoding == "base64"
    assert attachment.body_octets == s.size - attachment.body_start - len(
        b"\r\n--big-boundary--\r\n"
    )
    assert attachment.body_lines == attachment.body_octets // 78


def test_a_long_line_inside_a_multipart_body_is_not_buffered() -> None:
    def pieces() -> Iterator[bytes]:
        yield crlf("Content-Type: multipart/mixed; boundary=q\n\n--q\n\n")
        for _ in range(8 * 16):
            yield b"-" * CHUNK  # dashes: every position could start a delimiter
        yield b"\r\n--q--\r\n"

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        s = parse_chunks(pieces())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 1 * MIB
    assert s.parts[1].body_octets == 8 * MIB
    assert s.defects == ()
