"""Content-Type, Content-Disposition and their parameters.

RFC 2045 §5.1 gives the grammar `type "/" subtype *(";" attribute "="
value)`, RFC 2183 §2 the same shape for Content-Disposition, and RFC 2231
extends parameters with continuations (`name*0`, `name*1`, §3) and with a
charset and language (`name*=utf-8'en'%E2%82%AC`, §4). The parsers here are
lenient where real mail is broken in common ways:

- unquoted values holding tspecials (`boundary=----=_Part_1`) are read up to
  the next ";" as written;
- a parameter given twice keeps its first value; an RFC 2231 form wins over
  a plain one of the same name, as it carries more information;
- missing continuation sections are skipped and the rest joined in order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

from roost.proto.mime.encoded_words import decode_raw, decode_text
from roost.proto.mime.model import ContentType, Disposition, Parameter
from roost.proto.mime.tokens import MIME_SPECIALS, Token, TokenKind, tokenize

MAX_PARAMETERS = 100
"""Parameters read from one header; the rest are dropped."""

_RFC2231_NAME = re.compile(r"^(.+?)\*(?:(\d{1,4})(\*?))?$")


def _segments(tokens: list[Token]) -> list[list[Token]]:
    """Tokens split at ";" with comments dropped (RFC 2045 §5.1)."""
    out: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.kind is TokenKind.COMMENT:
            continue
        if tok.kind is TokenKind.SPECIAL and tok.text == ";":
            if len(out) > MAX_PARAMETERS:
                break
            out.append([])
        else:
            out[-1].append(tok)
    return out


def _value_text(tokens: list[Token]) -> str:
    parts: list[str] = []
    for tok in tokens:
        if parts and tok.space_before:
            parts.append(" ")
        parts.append(tok.text)
    return "".join(parts)


def _pairs(segments: list[list[Token]]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for seg in segments:
        if (
            len(seg) >= 2
            and seg[0].kind is TokenKind.ATOM
            and seg[1].kind is TokenKind.SPECIAL
            and seg[1].text == "="
        ):
            pairs.append((seg[0].text.lower(), _value_text(seg[2:])))
    return pairs


def _split_extended(value: str) -> tuple[str | None, str | None, str]:
    """`charset'language'text` (RFC 2231 §4); no charset if malformed."""
    pieces = value.split("'", 2)
    if len(pieces) != 3:
        return None, None, value
    return pieces[0] or None, pieces[1] or None, pieces[2]


def _percent_decoded(text: str) -> bytes:
    return unquote_to_bytes(text.encode("utf-8", errors="replace"))


def decode_parameters(pairs: Sequence[tuple[str, str]]) -> tuple[Parameter, ...]:
    """Apply RFC 2231 to (attribute, value) pairs as they appear in a header.

    Names are lowercased; the result keeps the order of first appearance.
    """
    plain: dict[str, str] = {}
    single: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    order: list[str] = []
    for raw_name, value in pairs:
        name = raw_name.lower()
        m = _RFC2231_NAME.match(name)
        base = m.group(1) if m else name
        if base not in plain and base not in single and base not in sections:
            order.append(base)
        if m is None:
            plain.setdefault(base, value)
        elif m.group(2) is None:
            single.setdefault(base, value)
        else:
            sections.setdefault(base, {}).setdefault(int(m.group(2)), (m.group(3) == "*", value))
    out: list[Parameter] = []
    for base in order:
        if base in single:
            charset, language, text = _split_extended(single[base])
            out.append(
                Parameter(base, decode_text(_percent_decoded(text), charset), charset, language)
            )
        elif base in sections:
            out.append(_join_sections(base, sections[base]))
        else:
            out.append(Parameter(base, plain[base]))
    return tuple(out)


def _join_sections(name: str, parts: dict[int, tuple[bool, str]]) -> Parameter:
    """RFC 2231 §3-4: sections in order; section 0 names the charset when
    it is extended; extended sections are percent-decoded."""
    charset: str | None = None
    language: str | None = None
    octets = bytearray()
    for number in sorted(parts):
        extended, text = parts[number]
        if extended and number == 0:
            charset, language, text = _split_extended(text)
        if extended:
            octets += _percent_decoded(text)
        else:
            octets += text.encode("utf-8", errors="replace")
    value = decode_text(bytes(octets), charset) if charset else decode_raw(bytes(octets))
    return Parameter(name, value, charset, language)


def parse_parameters(value: str) -> tuple[Parameter, ...]:
    """The parameters in `; a=b; c*=utf-8''d` (the part after a media type
    or disposition type), RFC 2231-decoded."""
    return decode_parameters(_pairs(_segments(tokenize(value, MIME_SPECIALS))))


def parse_content_type(value: str) -> ContentType | None:
    """Content-Type (RFC 2045 §5.1); None when the type is not
    `token "/" token`, for the caller to apply the RFC 2045 §5.2 default."""
    segments = _segments(tokenize(value, MIME_SPECIALS))
    head = segments[0]
    if (
        len(head) < 3
        or head[0].kind is not TokenKind.ATOM
        or head[1].text != "/"
        or head[1].kind is not TokenKind.SPECIAL
        or head[2].kind is not TokenKind.ATOM
    ):
        return None
    return ContentType(
        head[0].text.lower(),
        head[2].text.lower(),
        decode_parameters(_pairs(segments[1:])),
    )


def parse_disposition(value: str) -> Disposition | None:
    """Content-Disposition (RFC 2183 §2); None without a disposition type."""
    segments = _segments(tokenize(value, MIME_SPECIALS))
    head = segments[0]
    if not head or head[0].kind is not TokenKind.ATOM:
        return None
    return Disposition(head[0].text.lower(), decode_parameters(_pairs(segments[1:])))


def parse_token(value: str) -> str | None:
    """The first token of a field such as Content-Transfer-Encoding
    (RFC 2045 §6.1), lowercased; None if there is none."""
    for tok in tokenize(value, MIME_SPECIALS):
        if tok.kind is TokenKind.ATOM:
            return tok.text.lower()
        if tok.kind is not TokenKind.COMMENT:
            return None
    return None


def parse_language(value: str) -> tuple[str, ...]:
    """Content-Language (RFC 3282 §2): the language tags, comments dropped."""
    tags: list[str] = []
    for tok in tokenize(value, MIME_SPECIALS):
        if tok.kind is TokenKind.ATOM and len(tags) < MAX_PARAMETERS:
            tags.append(tok.text)
    return tuple(tags)
