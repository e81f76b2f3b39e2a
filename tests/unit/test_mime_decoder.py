"""Streaming transfer decoders (RFC 2045 §6) agree with whole-body decoding."""

from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.mime import (
    Base64Decoder,
    IdentityDecoder,
    ParserClosedError,
    QuotedPrintableDecoder,
    body_decoder,
    decode_body,
)


def in_chunks(decoder_name: str, data: bytes, cuts: list[int]) -> bytes:
    decoder = body_decoder(decoder_name)
    out = bytearray()
    start = 0
    for cut in sorted({c for c in cuts if c <= len(data)}):
        out += decoder.feed(data[start:cut])
        start = cut
    out += decoder.feed(data[start:])
    return bytes(out + decoder.close())


def b64_wrapped(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


@settings(max_examples=200)
@given(st.binary(max_size=400), st.lists(st.integers(0, 700), max_size=20))
def test_base64_chunked_equals_whole(data: bytes, cuts: list[int]) -> None:
    encoded = b64_wrapped(data)
    assert in_chunks("base64", encoded, cuts) == data


@settings(max_examples=200)
@given(st.binary(max_size=400), st.lists(st.integers(0, 1400), max_size=20))
def test_quoted_printable_chunked_equals_whole(data: bytes, cuts: list[int]) -> None:
    encoded = quopri.encodestring(data)
    assert in_chunks("quoted-printable", encoded, cuts) == quopri.decodestring(encoded)


@settings(max_examples=200)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=10))
def test_garbage_never_raises_and_chunking_agrees(data: bytes, cuts: list[int]) -> None:
    for name in ("base64", "quoted-printable", "7bit"):
        assert in_chunks(name, data, cuts) == decode_body(data, name)


def test_base64_tolerates_junk_and_missing_padding() -> None:
    decoder = Base64Decoder()
    assert decoder.feed(b"SGVs\r\n*bG8") + decoder.close() == b"Hello"
    assert decoder.had_errors  # the final quantum lacked its padding


def test_base64_restarts_after_padding() -> None:
    decoder = Base64Decoder()
    out = decoder.feed(b"QQ=") + decoder.feed(b"=") + decoder.feed(b"Qg==") + decoder.close()
    assert out == b"AB"
    assert not decoder.had_errors


def test_quoted_printable_rules() -> None:
    decoder = QuotedPrintableDecoder()
    out = decoder.feed(b"caf=C3=A9 =3D soft=\r\nbreak   \r\ntrailing=20\r\n=ZZ")
    out += decoder.close()
    assert out == "café = softbreak\r\ntrailing \r\n=ZZ".encode()
    assert decoder.had_errors


def test_quoted_printable_long_line_is_bounded() -> None:
    decoder = QuotedPrintableDecoder()
    total = 0
    for _ in range(100):
        total += len(decoder.feed(b"a" * 10_000 + b"=4"))
        total += len(decoder.feed(b"1"))
        assert len(decoder._carry) <= 10_003  # one chunk at most
    total += len(decoder.close())
    assert total == 100 * 10_001


def test_identity_and_unknown_encodings() -> None:
    assert isinstance(body_decoder("8bit"), IdentityDecoder)
    assert isinstance(body_decoder("x-uuencode"), IdentityDecoder)
    assert decode_body(b"\x00\xff", "binary") == b"\x00\xff"


@pytest.mark.parametrize("name", ["base64", "quoted-printable", "7bit"])
def test_use_after_close_raises(name: str) -> None:
    decoder = body_decoder(name)
    decoder.close()
    with pytest.raises(ParserClosedError):
        decoder.feed(b"x")
    with pytest.raises(ParserClosedError):
        decoder.close()
