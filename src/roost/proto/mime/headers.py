"""Header blocks: fields, unfolding, and what MIME and IMAP read from them.

The streaming parser collects the raw lines of one part's header block and
hands them here when the block ends. `split_fields` unfolds them (RFC 5322
§2.2.3); `read_content` extracts the MIME fields of RFC 2045 §3-§8, RFC 2183,
RFC 3282 and RFC 2557; `read_envelope` the fields of IMAP ENVELOPE. Values
are decoded from bytes with `decode_raw`: UTF-8 as RFC 6532 allows, Latin-1
for legacy 8-bit senders.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from roost.proto.mime.addresses import parse_address_list
from roost.proto.mime.encoded_words import decode_raw
from roost.proto.mime.model import (
    AddressField,
    ContentType,
    DefectKind,
    Disposition,
    Envelope,
)
from roost.proto.mime.params import (
    parse_content_type,
    parse_disposition,
    parse_language,
    parse_token,
)

# RFC 5322 §3.6.8 field-name = 1*ftext, then optional WSP (obs-header, §4.5).
FIELD_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_FOLD = re.compile(rb"\r?\n")

_MIME_FIELDS = frozenset(
    {
        "content-type",
        "content-transfer-encoding",
        "content-id",
        "content-description",
        "content-md5",
        "content-disposition",
        "content-language",
        "content-location",
    }
)
_ENVELOPE_FIELDS = frozenset(
    {
        "date",
        "subject",
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "in-reply-to",
        "message-id",
    }
)


def split_fields(lines: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """(lowercased name, unfolded raw value) for each field, in order.

    A continuation line joins the field before it (RFC 5322 §2.2.3); one
    with no field before it is dropped, as the parser has already recorded
    the defect. The value loses the white space after the colon and at the
    end, but keeps the white space of folds.
    """
    fields: list[tuple[str, bytearray]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1].extend(line)
            continue
        m = _FIELD_NAME.match(line)
        if m is None:
            continue
        name = sys.intern(m.group(1).decode("ascii").lower())
        fields.append((name, bytearray(line[m.end() :])))
    return [(name, _FOLD.sub(b"", bytes(value)).strip(b" \t\r\n")) for name, value in fields]


@dataclass(slots=True)
class ContentFields:
    """The MIME fields of one part, before they become a frozen `Part`."""

    content_type: ContentType | None = None
    transfer_encoding: str = "7bit"
    content_id: str | None = None
    description: str | None = None
    md5: str | None = None
    disposition: Disposition | None = None
    language: tuple[str, ...] = ()
    location: str | None = None
    defects: list[DefectKind] = field(default_factory=list)


def _interned_type(ct: ContentType) -> ContentType:
    return ContentType(sys.intern(ct.type), sys.intern(ct.subtype), ct.params, ct.defaulted)


def read_content(fields: list[tuple[str, bytes]]) -> ContentFields:
    """MIME fields; the first occurrence of each counts. `content_type`
    stays None when absent or invalid; the caller applies the default that
    fits the context (RFC 2045 §5.2, RFC 2046 §5.1.5)."""
    out = ContentFields()
    seen: set[str] = set()
    for name, raw in fields:
        if name not in _MIME_FIELDS or name in seen:
            continue
        seen.add(name)
        value = decode_raw(raw)
        match name:
            case "content-type":
                ct = parse_content_type(value)
                if ct is None:
                    out.defects.append(DefectKind.INVALID_CONTENT_TYPE)
                else:
                    out.content_type = _interned_type(ct)
            case "content-transfer-encoding":
                out.transfer_encoding = sys.intern(parse_token(value) or "7bit")
            case "content-id":
                out.content_id = value
            case "content-description":
                out.description = value
            case "content-md5":
                out.md5 = value
            case "content-disposition":
                out.disposition = parse_disposition(value)
            case "content-language":
                out.language = parse_language(value)
            case "content-location":
                out.location = value
    return out


def _address_field(raw: bytes) -> AddressField:
    value = decode_raw(raw)
    return AddressField(value, parse_address_list(value))


def read_envelope(fields: list[tuple[str, bytes]]) -> Envelope:
    """The fields of IMAP ENVELOPE (RFC 3501 §7.4.2); first occurrence wins."""
    found: dict[str, bytes] = {}
    for name, raw in fields:
        if name in _ENVELOPE_FIELDS and name not in found:
            found[name] = raw

    def text(name: str) -> str | None:
        raw = found.get(name)
        return None if raw is None else decode_raw(raw)

    def addresses(name: str) -> AddressField | None:
        raw = found.get(name)
        return None if raw is None else _address_field(raw)

    return Envelope(
        date=text("date"),
        subject=text("subject"),
        from_=addresses("from"),
        sender=addresses("sender"),
        reply_to=addresses("reply-to"),
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        in_reply_to=text("in-reply-to"),
        message_id=text("message-id"),
    )
