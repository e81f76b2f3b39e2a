"""Which bytes of a stored message FETCH BODY[section] and BINARY[section] send.

RFC 9051 §6.4.5 names the parts of a message with a section specifier:

    ""                 the whole message
    1.2.3              a part's body (a message/rfc822 part: the whole inner message)
    1.2.MIME           that part's MIME header block
    HEADER, TEXT       the message header, the message body
    2.HEADER, 2.TEXT   the same for the message inside message/rfc822 part 2
    HEADER.FIELDS (From To), HEADER.FIELDS.NOT (...)   a subset of a header

The header blocks returned include their blank line (RFC 9051 §6.4.5). Every
offset comes from the `MessageStructure` stored at delivery, so a fetch
reads only the bytes it sends; HEADER.FIELDS reads the header block and
passes it through a `HeaderFilter`.

Part numbers are followed as Dovecot follows them, which is what clients
are used to: in a multipart, N is the N-th body part; any other part has
only part 1, itself (so BODY[1] of a single-part message is its body, and a
leaf part N can also be named N.1); a message/rfc822 part is entered only
when more numbers follow. A section that names no part resolves to None;
Dovecot answers it with an empty string.

Sections are the `Section` values the FETCH grammar parses
(`roost.proto.imap.fetch`).

BINARY (RFC 3516, RFC 9051 §6.4.5) sends a part's body with its
Content-Transfer-Encoding undone: `binary_decoder` gives a streaming
decoder, or raises `UnknownTransferEncoding` for `NO [UNKNOWN-CTE]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.core.errors import RoostError
from roost.proto.imap.bodystructure import is_message_part, is_multipart, shows_as_message
from roost.proto.imap.fetch import Section, SectionText
from roost.proto.imap.responses import ResponseCode
from roost.proto.mime.decoder import BodyDecoder, body_decoder
from roost.proto.mime.model import MessageStructure, Part, PartKind

KNOWN_TRANSFER_ENCODINGS = frozenset({"7bit", "8bit", "binary", "base64", "quoted-printable"})
"""RFC 2045 §6.1; anything else is `[UNKNOWN-CTE]` for BINARY (RFC 9051 §7.1)."""
UNKNOWN_CTE = ResponseCode("UNKNOWN-CTE")
"""RFC 9051 §7.1: the code of the NO that answers `UnknownTransferEncoding`."""
_IDENTITY = "7bit"


class UnknownTransferEncoding(RoostError):
    """BINARY cannot decode this part: answer `NO [UNKNOWN-CTE]` (RFC 9051 §7.1).

    Not a mistake of Roost's, so not an `ImapError`: the client asked for
    something the message does not allow."""

    code = UNKNOWN_CTE

    def __init__(self, encoding: str) -> None:
        super().__init__(f"unknown Content-Transfer-Encoding {encoding!r}")
        self.encoding = encoding


@dataclass(frozen=True, slots=True)
class HeaderFilter:
    """Keeps (or with `exclude`, drops) the fields of a header block whose
    names are in `names`, lowercase (RFC 9051 §6.4.5: case-insensitive, but
    otherwise exact). Continuation lines follow their field, and the blank
    line that ends the block stays: a block that had none gets none."""

    names: frozenset[str]
    exclude: bool = False

    @classmethod
    def of(cls, fields: tuple[str, ...], exclude: bool) -> HeaderFilter:
        return cls(frozenset(f.strip().lower() for f in fields), exclude)

    def __call__(self, header: bytes) -> bytes:
        out = bytearray()
        keep = False
        blank = b""
        for line in _lines(header):
            if line in (b"\r\n", b"\n"):
                blank = line
                break
            if line[:1] in (b" ", b"\t"):
                if keep:
                    out += line
                continue
            name, colon, _ = line.partition(b":")
            if not colon:
                keep = False
                continue
            key = name.rstrip(b" \t").decode("latin-1").lower()
            keep = (key in self.names) != self.exclude
            if keep:
                out += line
        if out and not out.endswith(b"\n"):
            out += b"\r\n"
        return bytes(out + blank)


def _lines(data: bytes) -> list[bytes]:
    """Lines with their line feeds; a bare CR is not a line break here."""
    lines: list[bytes] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        lines.append(data[start:end])
        start = end
    return lines


@dataclass(frozen=True, slots=True)
class SectionRead:
    """The bytes of the stored message a section sends: `start` to `end`,
    then through `header_filter` when it is set (HEADER.FIELDS). `part` is the
    part named, None for the whole message or its top-level header/text."""

    start: int
    end: int
    header_filter: HeaderFilter | None = None
    part: Part | None = field(default=None, compare=False)

    @property
    def octets(self) -> int:
        """Octets read from the store (before any filter)."""
        return self.end - self.start

    def narrowed(self, origin: int, count: int | None) -> SectionRead:
        """The `<origin.count>` partial of an unfiltered section (RFC 9051
        §6.4.5); a filtered one is cut by `partial` after filtering."""
        if self.header_filter is not None:
            raise ValueError("cut a filtered section after filtering")
        first, last = partial(self.octets, origin, count)
        return SectionRead(self.start + first, self.start + last, None, self.part)


def partial(length: int, origin: int, count: int | None) -> tuple[int, int]:
    """Offsets `(first, last)` of `<origin.count>` in data of `length`
    octets; empty when `origin` is past the end (RFC 9051 §6.4.5)."""
    first = min(max(origin, 0), length)
    last = length if count is None else min(first + max(count, 0), length)
    return first, last


def _child(structure: MessageStructure, part: Part, number: int) -> Part | None:
    """The `number`-th child of `part`, guarding against corrupt indices."""
    if number > len(part.children):
        return None
    index = part.children[number - 1]
    if not part.index < index < len(structure.parts):
        return None
    return structure.parts[index]


def find_part(
    structure: MessageStructure, numbers: tuple[int, ...], *, message_global: bool = False
) -> Part | None:
    """The part that part numbers name (RFC 9051 §6.4.5), as Dovecot finds it.

    `message_global`: True in IMAP4rev2, where message/global parts have
    inner part numbers like message/rfc822 (RFC 9051 §6.4.5)."""
    part = structure.root
    for position, number in enumerate(numbers):
        more = position + 1 < len(numbers)
        found: Part | None = None
        if is_multipart(part):
            if part.kind is PartKind.MULTIPART:
                found = _child(structure, part, number)
        elif number == 1 and (not more or is_message_part(part, message_global=message_global)):
            found = part  # a part that is not multipart has only part 1: itself
        if found is None:
            return None
        part = found
        if more and is_message_part(part, message_global=message_global):
            # More numbers go on inside the encapsulated message.
            inner = _child(structure, part, 1)
            if inner is None:
                return None
            part = inner
        elif more and shows_as_message(part, message_global=message_global):
            # An encapsulated message left unparsed (transfer-encoded against
            # RFC 2046 §5.2.1, or past a limit) shows an empty body in
            # BODYSTRUCTURE, so nothing inside it has a number.
            return None
    return part


def resolve_section(
    structure: MessageStructure, section: Section, *, message_global: bool = False
) -> SectionRead | None:
    """What BODY[section] sends, or None when the section names nothing."""
    if not section.part:
        return _text_of(structure.root, section, None)
    part = find_part(structure, section.part, message_global=message_global)
    if part is None:
        return None
    match section.text:
        case None:
            return SectionRead(part.body_start, part.body_end, None, part)
        case SectionText.MIME:
            return SectionRead(part.header_start, part.header_end, None, part)
        case _:
            # HEADER and TEXT name the message inside a message part (§6.4.5).
            if not is_message_part(part, message_global=message_global):
                return None
            inner = _child(structure, part, 1)
            return None if inner is None else _text_of(inner, section, part)


def _text_of(message: Part, section: Section, part: Part | None) -> SectionRead:
    """A message's whole bytes, header, header subset or text."""
    match section.text:
        case None:
            return SectionRead(message.header_start, message.body_end, None, part)
        case SectionText.TEXT:
            return SectionRead(message.body_start, message.body_end, None, part)
        case SectionText.HEADER:
            return SectionRead(message.header_start, message.header_end, None, part)
        case _:
            exclude = section.text is SectionText.HEADER_FIELDS_NOT
            header_filter = HeaderFilter.of(section.fields, exclude)
            return SectionRead(message.header_start, message.header_end, header_filter, part)


@dataclass(frozen=True, slots=True)
class BinaryRead:
    """What BINARY[section] sends: the bytes `start` to `end`, decoded from
    `transfer_encoding` (RFC 3516 §4)."""

    start: int
    end: int
    transfer_encoding: str
    part: Part | None = field(default=None, compare=False)

    def decoder(self) -> BodyDecoder:
        """A fresh streaming decoder; raises `UnknownTransferEncoding`."""
        return binary_decoder(self.transfer_encoding)


def resolve_binary(
    structure: MessageStructure, numbers: tuple[int, ...], *, message_global: bool = False
) -> BinaryRead | None:
    """What BINARY[numbers] sends (RFC 9051 §6.4.5 `section-binary`), or None
    when the numbers name no part. BINARY[] is the whole message, as is."""
    if not numbers:
        root = structure.root
        return BinaryRead(root.header_start, root.body_end, _IDENTITY, None)
    part = find_part(structure, numbers, message_global=message_global)
    if part is None:
        return None
    # RFC 2045 §6.4: a composite body is never encoded; it is sent as is.
    encoding = _IDENTITY if part.kind is not PartKind.LEAF else part.transfer_encoding
    return BinaryRead(part.body_start, part.body_end, encoding, part)


def binary_decoder(transfer_encoding: str) -> BodyDecoder:
    """A streaming decoder for a Content-Transfer-Encoding (RFC 2045 §6);
    raises `UnknownTransferEncoding` for one it does not know, which BINARY
    answers with `NO [UNKNOWN-CTE]` (RFC 9051 §7.1)."""
    encoding = transfer_encoding.strip().lower()
    if encoding not in KNOWN_TRANSFER_ENCODINGS:
        raise UnknownTransferEncoding(transfer_encoding)
    return body_decoder(encoding)
