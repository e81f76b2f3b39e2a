"""FETCH attributes (RFC 9051 §6.4.5) as values, their grammar and their names.

Covers the base attributes, RFC 3501's RFC822 forms, BODY[section]<partial>
and BODY.PEEK, BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516), MODSEQ
(RFC 7162), EMAILID and THREADID (RFC 8474) and SAVEDATE (RFC 8514). The
macros ALL, FAST and FULL are expanded while parsing, so the engine only
meets attributes.

`attribute_name` gives an attribute as a command spells it; `response_name`
gives the name its value carries in the FETCH response (no ``.PEEK``, and
only the origin of a partial, RFC 9051 §7.5.2).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from roost.proto.imap.reader import NUMBER64_MAX, Reader
from roost.proto.imap.writer import quoted_or_none

MAX_SECTION_PARTS = 64
"""Deepest part number ``1.2.3...`` a section may name; MIME trees are
cut far shallower by the MIME parser, so deeper parts exist nowhere."""

_NAME = re.compile(rb"[A-Za-z0-9.]+")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
"""RFC 5322 §3.6.8 ``field-name``: printable ASCII except the colon."""
_ATOM_SAFE = re.compile(r'[^\x00-\x20\x7f-\U0010ffff(){%*"\\\]]+')
_DIGITS = frozenset(b"0123456789")


class FetchItem(enum.Enum):
    """An attribute without a section."""

    ENVELOPE = "ENVELOPE"
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_SIZE = "RFC822.SIZE"
    RFC822_TEXT = "RFC822.TEXT"
    BODY = "BODY"
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"
    MODSEQ = "MODSEQ"
    EMAILID = "EMAILID"
    THREADID = "THREADID"
    SAVEDATE = "SAVEDATE"


class SectionText(enum.Enum):
    """The text part of a section spec (RFC 9051 ``section-text``)."""

    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"


@dataclass(frozen=True, slots=True)
class Section:
    """``[1.2.HEADER.FIELDS (FROM TO)]``: part numbers, then maybe a text part.

    ``fields`` (upper-cased) is set only for HEADER.FIELDS and
    HEADER.FIELDS.NOT; ``Section()`` is ``[]``, the whole message.
    """

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = [str(number) for number in self.part]
        if self.text is not None:
            text = self.text.value
            if self.fields:
                text += " (" + " ".join(_field(name) for name in self.fields) + ")"
            spec.append(text)
        return ".".join(spec)


@dataclass(frozen=True, slots=True)
class Partial:
    """``<offset.length>``: a window of octets of the section."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class BodySection:
    """BODY[section]<partial>, or BODY.PEEK (``peek``: do not set ``\\Seen``)."""

    section: Section
    peek: bool = False
    partial: Partial | None = None


@dataclass(frozen=True, slots=True)
class BinarySection:
    """BINARY[part]<partial> or BINARY.PEEK (RFC 3516 §4.2)."""

    part: tuple[int, ...]
    peek: bool = False
    partial: Partial | None = None


@dataclass(frozen=True, slots=True)
class BinarySize:
    """BINARY.SIZE[part] (RFC 3516 §4.2)."""

    part: tuple[int, ...]


FetchAttr = FetchItem | BodySection | BinarySection | BinarySize

MACROS: dict[str, tuple[FetchAttr, ...]] = {
    "ALL": (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE, FetchItem.ENVELOPE),
    "FAST": (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE),
    "FULL": (
        FetchItem.FLAGS,
        FetchItem.INTERNALDATE,
        FetchItem.RFC822_SIZE,
        FetchItem.ENVELOPE,
        FetchItem.BODY,
    ),
}
"""RFC 9051 §6.4.5: the macros and the attributes they stand for."""

_ITEMS = {item.value: item for item in FetchItem}


def parse_fetch_attrs(r: Reader) -> tuple[FetchAttr, ...]:
    """A macro, one attribute, or a parenthesised list of at least one."""
    if r.next_is(b"("):
        return r.parenthesized(lambda: parse_fetch_attr(r))
    for macro, attrs in MACROS.items():
        if r.take_keyword(macro):
            return attrs
    return (parse_fetch_attr(r),)


def parse_fetch_attr(r: Reader) -> FetchAttr:
    """One ``fetch-att``."""
    found = _NAME.match(r.data, r.pos)
    if found is None:
        raise r.error("expected a fetch attribute")
    r.pos = found.end()
    name = found.group().decode("ascii").upper()
    match name:
        case "BODY" | "BODY.PEEK" if r.next_is(b"["):
            section = _section(r)
            return BodySection(section, name == "BODY.PEEK", _partial(r))
        case "BINARY" | "BINARY.PEEK":
            part = _binary_part(r)
            return BinarySection(part, name == "BINARY.PEEK", _partial(r))
        case "BINARY.SIZE":
            return BinarySize(_binary_part(r))
    item = _ITEMS.get(name)
    if item is None:
        raise r.error(f"unknown fetch attribute {name[:32]}")
    return item


def _part(r: Reader) -> tuple[list[int], bool]:
    """Part numbers; True when a dot after the last one asks for a text part."""
    part: list[int] = []
    while r.peek() in _DIGITS:
        part.append(r.nz_number(what="a part number"))
        if len(part) > MAX_SECTION_PARTS:
            raise r.error(f"a section may name at most {MAX_SECTION_PARTS} part levels")
        if not r.skip(b"."):
            return part, False
        if r.peek() not in _DIGITS:
            return part, True
    return part, not part


def _section(r: Reader) -> Section:
    r.expect(b"[", "'['")
    part, text_follows = _part(r)
    text = None
    fields: tuple[str, ...] = ()
    if text_follows and not (not part and r.next_is(b"]")):
        word = r.keyword("a section text")
        try:
            text = SectionText(word)
        except ValueError:
            raise r.error(f"unknown section text {word[:32]}") from None
        if text is SectionText.MIME and not part:
            raise r.error("MIME names the header of a part: it needs a part number")
        if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
            r.sp()
            fields = r.parenthesized(lambda: _field_name(r))
    r.expect(b"]", "']'")
    return Section(tuple(part), text, fields)


def _field_name(r: Reader) -> str:
    name = r.text()
    if _FIELD_NAME.fullmatch(name) is None:
        raise r.error("a header field name is printable ASCII without ':'")
    return name.upper()


def _binary_part(r: Reader) -> tuple[int, ...]:
    r.expect(b"[", "'['")
    part, dotted = _part(r)
    if dotted and part:
        raise r.error("a BINARY section holds part numbers only")
    r.expect(b"]", "']'")
    return tuple(part)


def _partial(r: Reader) -> Partial | None:
    if not r.skip(b"<"):
        return None
    offset = r.number(NUMBER64_MAX, "a partial offset")
    r.expect(b".", "'.' in a partial")
    length = r.nz_number(NUMBER64_MAX, "a partial length")
    r.expect(b">", "'>'")
    return Partial(offset, length)


def _field(name: str) -> str:
    if _ATOM_SAFE.fullmatch(name):
        return name
    quoted = quoted_or_none(name, utf8=False)
    assert quoted is not None  # field names are printable ASCII
    return quoted.decode("ascii")


def _binary(part: tuple[int, ...]) -> str:
    return "[" + ".".join(str(number) for number in part) + "]"


def attribute_name(attr: FetchAttr) -> str:
    """The attribute as a FETCH command spells it."""
    match attr:
        case FetchItem():
            return attr.value
        case BodySection(section, peek, partial):
            window = "" if partial is None else f"<{partial.offset}.{partial.length}>"
            return ("BODY.PEEK[" if peek else "BODY[") + str(section) + "]" + window
        case BinarySection(part, peek, partial):
            window = "" if partial is None else f"<{partial.offset}.{partial.length}>"
            return ("BINARY.PEEK" if peek else "BINARY") + _binary(part) + window
        case BinarySize(part):
            return "BINARY.SIZE" + _binary(part)


def response_name(attr: FetchAttr) -> str:
    """The name a FETCH response gives the attribute's value (RFC 9051 §7.5.2).

    BODY.PEEK answers as BODY, BINARY.PEEK as BINARY, and a partial shows
    its origin only: ``BODY[]<0>``.
    """
    match attr:
        case BodySection(section, _, partial):
            origin = "" if partial is None else f"<{partial.offset}>"
            return "BODY[" + str(section) + "]" + origin
        case BinarySection(part, _, partial):
            origin = "" if partial is None else f"<{partial.offset}>"
            return "BINARY" + _binary(part) + origin
    return attribute_name(attr)
