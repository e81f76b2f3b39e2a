"""RETR and TOP output: dot-stuffing, TOP's cut and the terminator (RFC 1939 §3, §7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.proto.pop3 import MessageEncoder, Pop3StateError, encode_message


def encode(message: bytes, top_lines: int | None = None, *, chunk: int | None = None) -> bytes:
    encoder = MessageEncoder(top_lines)
    size = chunk or max(len(message), 1)
    out = b"".join(encoder.feed(message[i : i + size]) for i in range(0, len(message), size))
    return out + encoder.finish()


def unstuff(wire: bytes) -> bytes:
    """What a client does (RFC 1939 §3): stop at ``.`` CRLF, drop one leading dot."""
    lines = wire.split(b"\r\n")
    assert lines[-1] == b"", wire
    end = lines.index(b".")
    assert end == len(lines) - 2, "terminator before the end"
    body = [line[1:] if line.startswith(b".") else line for line in lines[:end]]
    return b"".join(line + b"\r\n" for line in body)


def test_rfc1939_stuffing_of_a_leading_dot() -> None:
    assert encode(b"a\r\n.b\r\n..c\r\n.\r\n") == b"a\r\n..b\r\n...c\r\n..\r\n.\r\n"


def test_dot_at_the_very_start() -> None:
    assert encode(b".hidden\r\n") == b"..hidden\r\n.\r\n"


def test_dot_inside_a_line_is_left_alone() -> None:
    assert encode(b"a.b\r\nc .\r\n") == b"a.b\r\nc .\r\n.\r\n"


@pytest.mark.parametrize("split", range(1, 12))
def test_stuffing_across_every_chunk_boundary(split: int) -> None:
    message = b"one\r\n.two\r\n.\r\n"
    expected = b"one\r\n..two\r\n..\r\n.\r\n"
    encoder = MessageEncoder()
    out = encoder.feed(message[:split]) + encoder.feed(message[split:]) + encoder.finish()
    assert out == expected


def test_final_line_without_crlf_is_ended() -> None:
    assert encode(b"Subject: x\r\n\r\nno end") == b"Subject: x\r\n\r\nno end\r\n.\r\n"


def test_final_bare_cr_or_lf_is_ended_with_crlf() -> None:
    assert encode(b"a\r") == b"a\r\r\n.\r\n"
    assert encode(b"a\n") == b"a\n\r\n.\r\n"


def test_empty_message_is_just_the_terminator() -> None:
    assert encode(b"") == b".\r\n"


def test_dot_after_bare_lf_is_stuffed() -> None:
    # A client splitting at LF must not see a lone "." line.
    assert encode(b"a\n.\r\n") == b"a\n..\r\n.\r\n"


def test_nothing_is_converted() -> None:
    message = b"bare\nlf and\rcr\r\n\x00\xff\r\n"
    assert encode(message) == message + b".\r\n"


MESSAGE = b"Subject: s\r\nFrom: f\r\n\r\nbody 1\r\n.body 2\r\nbody 3\r\n"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (0, b"Subject: s\r\nFrom: f\r\n\r\n"),
        (1, b"Subject: s\r\nFrom: f\r\n\r\nbody 1\r\n"),
        (2, b"Subject: s\r\nFrom: f\r\n\r\nbody 1\r\n..body 2\r\n"),
        (3, b"Subject: s\r\nFrom: f\r\n\r\nbody 1\r\n..body 2\r\nbody 3\r\n"),
        (99, b"Subject: s\r\nFrom: f\r\n\r\nbody 1\r\n..body 2\r\nbody 3\r\n"),
    ],
)
def test_top(lines: int, expected: bytes) -> None:
    for chunk in (1, 2, 3, 5, 64):
        assert encode(MESSAGE, lines, chunk=chunk) == expected + b".\r\n", chunk


def test_top_of_a_message_without_body_sends_it_all() -> None:
    assert encode(b"Subject: s\r\nX: y", 0) == b"Subject: s\r\nX: y\r\n.\r\n"


def test_top_finds_the_blank_line_split_between_cr_and_lf() -> None:
    encoder = MessageEncoder(0)
    out = encoder.feed(b"H: v\r\n\r") + encoder.feed(b"\nbody\r\n")
    assert out == b"H: v\r\n\r\n"
    assert not encoder.wants_more
    assert encoder.feed(b"more") == b""
    assert encoder.finish() == b".\r\n"
    assert encoder.octets_in == len(b"H: v\r\n\r\nbody\r\nmore")


def test_top_cut_with_a_bare_lf_header_end() -> None:
    assert encode(b"H: v\n\nbody\n", 0) == b"H: v\n\n\r\n.\r\n"


def test_a_cr_alone_is_not_a_blank_line() -> None:
    assert encode(b"H: v\r\n\rX\r\nbody\r\n\r\nrest\r\n", 0) == (
        b"H: v\r\n\rX\r\nbody\r\n\r\n.\r\n"
    )


def test_wants_more_and_order_errors() -> None:
    encoder = MessageEncoder()
    before = encoder.wants_more
    encoder.finish()
    assert (before, encoder.wants_more) == (True, False)
    with pytest.raises(Pop3StateError):
        encoder.feed(b"x")
    with pytest.raises(Pop3StateError):
        encoder.finish()
    with pytest.raises(Pop3StateError):
        MessageEncoder(-1)


def test_memory_stays_bounded_for_one_endless_line() -> None:
    encoder = MessageEncoder(0)
    for _ in range(1000):
        assert encoder.feed(b"x" * 1000) == b"x" * 1000
    assert len(encoder._tail) <= 2


# Properties.

crlf_lines = st.lists(
    st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
)
crlf_messages = crlf_lines.map(lambda lines: b"".join(line + b"\r\n" for line in lines))


@given(crlf_messages, st.lists(st.integers(min_value=1, max_value=40), max_size=10))
def test_chunking_never_changes_the_output(message: bytes, cuts: list[int]) -> None:
    whole = encode(message)
    encoder = MessageEncoder()
    out, pos = b"", 0
    for cut in cuts:
        out += encoder.feed(message[pos : pos + cut])
        pos += cut
    out += encoder.feed(message[pos:]) + encoder.finish()
    assert out == whole


@given(crlf_messages, st.integers(min_value=1, max_value=16))
def test_a_client_gets_back_the_stored_bytes(message: bytes, chunk: int) -> None:
    assert unstuff(encode(message, chunk=chunk)) == message


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=16))
def test_any_bytes_end_in_crlf_dot_crlf_and_hide_no_terminator(message: bytes, chunk: int) -> None:
    wire = encode(message, chunk=chunk)
    assert wire.endswith(b".\r\n")
    assert wire == b".\r\n" or wire.endswith(b"\r\n.\r\n")
    body = wire[: -len(b".\r\n")]
    assert b"\r\n.\r\n" not in b"\r\n" + body
    assert b"\n.\r\n" not in b"\n" + body


@given(crlf_messages, st.integers(min_value=0, max_value=5), st.integers(min_value=1, max_value=9))
def test_top_is_a_prefix_of_retr(message: bytes, lines: int, chunk: int) -> None:
    top = unstuff(encode(message, lines, chunk=chunk))
    assert message.startswith(top)
    body_lines = message[len(top) :].count(b"\r\n")
    header, blank, _ = message.partition(b"\r\n\r\n")
    if blank and not message.startswith(b"\r\n"):
        sent = top[len(header) + 4 :].count(b"\r\n")
        assert sent == lines or body_lines == 0


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=200))
def test_a_message_encoded_whole_is_what_the_encoder_streams(message: bytes, split: int) -> None:
    """`encode_message` of the trace and the blob: the octets RETR streams."""
    trace, blob = message[:split], message[split:]
    assert encode_message(trace, blob).wire == encode(message)
