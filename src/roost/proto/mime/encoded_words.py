"""Decoding of header text: RFC 2047 encoded-words, charsets, 8-bit bytes.

`decode_header` turns a raw header value into text for display and search.
It never raises: an unknown charset falls back to UTF-8 and then Latin-1, a
broken word is kept as written, and bytes a charset cannot map become
U+FFFD. Senders break RFC 2047 in well-known ways that readers tolerate, and
so does this module:

- encoded-words inside quoted strings or touching other text (§5 forbids
  both) are decoded anyway;
- adjacent words in one charset are joined as bytes before decoding, because
  some clients split a multi-byte character across two words (§5 rule 3
  forbids that too);
- spaces inside Q-encoded text, and B-encoded text without its padding.
"""

from __future__ import annotations

import binascii
import functools
import re

MAX_CHARSET_OCTETS = 40
"""Longer charset names are not real ones; skip the codec lookup."""

_CHARSET_ALIASES = {
    # Supersets that decode what senders actually mean.
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "utf8": "utf-8",
    "iso-2022-jp-ms": "iso2022_jp_ext",
}
_NO_CHARSET = frozenset({"", "unknown", "unknown-8bit", "x-unknown", "default", "x-user-defined"})

# §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=". Spaces
# are tolerated inside encoded-text, as broken Q encoders emit them.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*?)\?=")
_WSP_ONLY = re.compile(r"[ \t\r\n]*")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def decode_raw(data: bytes) -> str:
    """Header bytes as text: UTF-8 (RFC 6532 §3.2), else Latin-1, so 8-bit
    headers from legacy senders still display and every byte maps."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalize_charset(charset: str) -> str | None:
    """The Python codec name for a MIME charset, or None when unknown.

    The RFC 2231 §5 language suffix (`utf-8*en`) is dropped. Only text
    codecs count: `base64` or `zlib` are not charsets.
    """
    name = charset.split("*", 1)[0].strip().lower()
    if name in _NO_CHARSET or len(name) > MAX_CHARSET_OCTETS:
        return None
    return _text_codec(_CHARSET_ALIASES.get(name, name))


@functools.lru_cache(maxsize=256)
def _text_codec(name: str) -> str | None:
    try:
        b"a".decode(name)  # not b"": codecs skip their text check for it
    except LookupError:
        return None
    except ValueError:
        pass  # a text codec that cannot decode "a" (utf-16) is still one
    return name


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in `charset` as text; unknown charsets fall back to `decode_raw`,
    undecodable bytes become U+FFFD."""
    codec = normalize_charset(charset) if charset else None
    if codec is None:
        return decode_raw(data)
    try:
        return data.decode(codec, errors="replace")
    except Exception:  # a codec from a third-party package may fail in any way
        return decode_raw(data)


def _decode_b(text: str) -> bytes | None:
    raw = _B64_JUNK.sub(b"", text.encode("ascii", errors="ignore"))
    raw = raw[: len(raw) - len(raw) % 4] if len(raw) % 4 == 1 else raw
    raw += b"=" * (-len(raw) % 4)
    try:
        return binascii.a2b_base64(raw)
    except binascii.Error:
        return None


def _decode_q(text: str) -> bytes:
    raw = text.encode("utf-8", errors="replace").replace(b"_", b" ")
    return _Q_ESCAPE.sub(lambda m: bytes.fromhex(m.group(1).decode("ascii")), raw)


def decode_encoded_text(encoding: str, text: str) -> bytes | None:
    """The octets of one encoded-text (RFC 2047 §4): `encoding` is "B" or
    "Q"; None if undecodable."""
    if encoding in "bB":
        return _decode_b(text)
    return _decode_q(text)


def decode_header(value: str | bytes) -> str:
    """Decode an unstructured header value or phrase (RFC 2047 §6).

    Bytes are first read with `decode_raw`. Linear white space between two
    encoded-words is dropped (§6.2); other text is kept as is.
    """
    text = decode_raw(value) if isinstance(value, bytes) else value
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = b""
    pending_charset: str | None = None
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        octets = decode_encoded_text(match.group(2), match.group(3))
        if octets is None:
            # A broken word stays as written, and separates its neighbours.
            if pending_charset is not None:
                out.append(decode_text(pending, pending_charset))
                pending, pending_charset = b"", None
            out.append(gap + match.group(0))
            pos = match.end()
            continue
        charset = match.group(1).lower()
        adjacent = pending_charset is not None and _WSP_ONLY.fullmatch(gap) is not None
        if adjacent and charset == pending_charset:
            pending += octets
        else:
            if pending_charset is not None:
                out.append(decode_text(pending, pending_charset))
            if not adjacent:
                out.append(gap)
            pending, pending_charset = octets, charset
        pos = match.end()
    if pending_charset is not None:
        out.append(decode_text(pending, pending_charset))
    out.append(text[pos:])
    return "".join(out)
