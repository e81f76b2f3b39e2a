"""Streaming Content-Transfer-Encoding decoders (RFC 2045 §6).

Search indexing and IMAP BINARY (RFC 3516) read a part's body from the blob
store in chunks and need the decoded octets without holding the whole body.
Each decoder takes chunks of any size through `feed` and returns the octets
it can decode so far; `close` returns the rest. Memory stays bounded by a few
octets of carry-over (base64) or one short line (quoted-printable).

Broken input is decoded as far as it goes, as mail readers do, and
`had_errors` is set: base64 skips characters outside its alphabet (§6.8
requires that) and restarts after padding in mid-stream; quoted-printable
keeps an `=` that starts no valid escape.
"""

from __future__ import annotations

import binascii
import re
from typing import Protocol

from roost.proto.mime.model import ParserClosedError

MAX_QP_CARRY_OCTETS = 4096
"""A quoted-printable line is decoded in pieces once it grows past this."""

_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=]+")
_QP_TRAILING_WSP = re.compile(rb"[ \t]+(?=\r?\n)")
# What the end of a partial quoted-printable line may still change.
_QP_UNDECIDED = re.compile(rb"(?:=[ \t]*\r?|=[0-9A-Fa-f]|[ \t]+\r?|\r)\Z")
_QP_BAD_ESCAPE = re.compile(rb"=(?![0-9A-Fa-f]{2}|[ \t]*\r?\n|[ \t]*\Z)")


class BodyDecoder(Protocol):
    """Decodes one body, chunk by chunk."""

    @property
    def had_errors(self) -> bool: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


class IdentityDecoder:
    """7bit, 8bit and binary (RFC 2045 §6.2), and unknown encodings, which
    §6.4 says to treat as opaque data."""

    def __init__(self) -> None:
        self._closed = False

    @property
    def had_errors(self) -> bool:
        return False

    def feed(self, chunk: bytes) -> bytes:
        if self._closed:
            raise ParserClosedError("feed() after close()")
        return bytes(chunk)

    def close(self) -> bytes:
        if self._closed:
            raise ParserClosedError("close() called twice")
        self._closed = True
        return b""


class Base64Decoder:
    """base64 (RFC 2045 §6.8), tolerant of junk, missing or early padding."""

    def __init__(self) -> None:
        self._carry = b""
        self._after_padding = False  # more "=" here would end the last quantum
        self._errors = False
        self._closed = False

    @property
    def had_errors(self) -> bool:
        return self._errors

    def feed(self, chunk: bytes) -> bytes:
        if self._closed:
            raise ParserClosedError("feed() after close()")
        data = self._carry + _NOT_B64.sub(b"", chunk)
        if self._after_padding and data:
            data = data.lstrip(b"=")
            self._after_padding = not data
        out = bytearray()
        while True:
            pad = data.find(b"=")
            if pad < 0:
                usable = len(data) - len(data) % 4
                out += binascii.a2b_base64(data[:usable])
                self._carry = data[usable:]
                return bytes(out)
            # Decode up to the padded quantum, then restart after the "="s.
            quantum = pad - pad % 4
            out += binascii.a2b_base64(data[:quantum])
            out += self._partial(data[quantum:pad])
            rest = pad
            while rest < len(data) and data[rest] == 0x3D:
                rest += 1
            if pad % 4 == 0:
                self._errors = True
            data = data[rest:]
            self._after_padding = not data

    def _partial(self, quantum: bytes) -> bytes:
        """1-3 characters of a final quantum: two or three decode."""
        if len(quantum) < 2:
            if quantum:
                self._errors = True
            return b""
        return binascii.a2b_base64(quantum + b"=" * (4 - len(quantum)))

    def close(self) -> bytes:
        if self._closed:
            raise ParserClosedError("close() called twice")
        self._closed = True
        if self._carry:
            self._errors = True
        out = self._partial(self._carry)
        self._carry = b""
        return out


class QuotedPrintableDecoder:
    """quoted-printable (RFC 2045 §6.7): `=XX` escapes, soft line breaks,
    and trailing white space on a line dropped (rule 3)."""

    def __init__(self) -> None:
        self._carry = b""
        self._errors = False
        self._closed = False

    @property
    def had_errors(self) -> bool:
        return self._errors

    def _decode(self, data: bytes) -> bytes:
        data = _QP_TRAILING_WSP.sub(b"", data)
        if _QP_BAD_ESCAPE.search(data):
            self._errors = True
        return binascii.a2b_qp(data)

    def feed(self, chunk: bytes) -> bytes:
        if self._closed:
            raise ParserClosedError("feed() after close()")
        data = self._carry + chunk
        cut = data.rfind(b"\n") + 1
        out = self._decode(data[:cut]) if cut else b""
        rest = data[cut:]
        if len(rest) > MAX_QP_CARRY_OCTETS:
            m = _QP_UNDECIDED.search(rest)
            keep = m.start() if m else len(rest)
            if len(rest) - keep > MAX_QP_CARRY_OCTETS:
                keep = len(rest) - 2  # a run of white space: decide it now
            out += self._decode(rest[:keep])
            rest = rest[keep:]
        self._carry = rest
        return out

    def close(self) -> bytes:
        if self._closed:
            raise ParserClosedError("close() called twice")
        self._closed = True
        data = self._carry.rstrip(b" \t")
        self._carry = b""
        return self._decode(data)


def body_decoder(transfer_encoding: str) -> BodyDecoder:
    """A decoder for a Content-Transfer-Encoding value (case-insensitive)."""
    match transfer_encoding.strip().lower():
        case "base64":
            return Base64Decoder()
        case "quoted-printable":
            return QuotedPrintableDecoder()
        case _:
            return IdentityDecoder()


def decode_body(data: bytes, transfer_encoding: str) -> bytes:
    """Decode a whole body held in memory."""
    decoder = body_decoder(transfer_encoding)
    return decoder.feed(data) + decoder.close()
