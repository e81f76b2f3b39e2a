"""Values the MIME parser produces: the structure of one message.

A `MessageStructure` is what the Spool stores beside a message at delivery
and what IMAP reads back to answer BODYSTRUCTURE, ENVELOPE and partial
fetches without parsing the message again. Every value is a frozen, slotted
dataclass; decoded forms (RFC 2047 words, dates) are properties computed from
the raw values, so the stored form stays small and never disagrees with the
bytes it came from.

Offsets are byte positions in the data fed to the parser. For each part:

    header_start          header_end == body_start          body_end
    |-- header block incl. the blank line --|-- body (octets, lines) --|

RFC 2046 §5.1.1: the line break before a boundary delimiter belongs to the
delimiter, so it is not part of the preceding body.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

from roost.core.errors import RoostError
from roost.proto.mime.encoded_words import decode_header

MAX_BOUNDARY_OCTETS = 200
"""RFC 2046 §5.1.1 allows 70 characters; tolerate longer ones up to this."""


@dataclass(frozen=True, slots=True)
class MimeLimits:
    """Bounds that keep parsing linear in time and bounded in memory.

    Past a limit the parser records a `Defect` and degrades; it never raises.
    """

    max_header_octets: int = 256 * 1024
    """Header block of one part kept for parsing; the rest is skipped."""
    max_line_octets: int = 64 * 1024
    """Longest header line buffered; longer lines are truncated."""
    max_parts: int = 10_000
    """Parts recorded; later body parts fold into their multipart's body."""
    max_depth: int = 100
    """Nested multipart and message/rfc822 levels; deeper ones stay opaque."""
    max_defects: int = 100
    """Defects recorded; one `TOO_MANY_DEFECTS` marks the cut."""


DEFAULT_LIMITS = MimeLimits()


class PartKind(enum.StrEnum):
    """How a part's body was parsed (RFC 2046 §5)."""

    LEAF = "leaf"
    """Opaque body: a discrete type, or a composite one left unparsed."""
    MULTIPART = "multipart"
    """Body split by boundaries into child parts (RFC 2046 §5.1)."""
    MESSAGE = "message"
    """Body is a message (RFC 2046 §5.2.1, RFC 6532 §3.7); one child."""


class DefectKind(enum.StrEnum):
    """Ways a message departed from the RFCs, or met a parser limit."""

    HEADER_BLOCK_TOO_LARGE = "header-block-too-large"
    LINE_TOO_LONG = "line-too-long"
    TOO_MANY_PARTS = "too-many-parts"
    TOO_DEEP = "too-deep"
    TOO_MANY_DEFECTS = "too-many-defects"
    MISSING_HEADER_BODY_SEPARATOR = "missing-header-body-separator"
    CONTINUATION_WITHOUT_FIELD = "continuation-without-field"
    INVALID_CONTENT_TYPE = "invalid-content-type"
    MISSING_BOUNDARY_PARAMETER = "missing-boundary-parameter"
    BOUNDARY_TOO_LONG = "boundary-too-long"
    BOUNDARY_NOT_FOUND = "boundary-not-found"
    MISSING_CLOSE_DELIMITER = "missing-close-delimiter"
    ENCODED_MESSAGE = "encoded-message"


@dataclass(frozen=True, slots=True)
class Defect:
    """One defect: its kind, the part it concerns, and where it was seen."""

    kind: DefectKind
    part: int
    offset: int


@dataclass(frozen=True, slots=True)
class Parameter:
    """A MIME parameter (RFC 2045 §5.1) after RFC 2231 decoding.

    `value` joins RFC 2231 §3 continuations and decodes RFC 2231 §4
    percent-escapes with `charset`; `charset` and `language` are None for a
    plain parameter.
    """

    name: str
    value: str
    charset: str | None = None
    language: str | None = None


def _find(params: tuple[Parameter, ...], name: str) -> str | None:
    wanted = name.lower()
    for p in params:
        if p.name == wanted:
            return p.value
    return None


@dataclass(frozen=True, slots=True)
class ContentType:
    """Content-Type (RFC 2045 §5.1); `defaulted` when the header was absent
    or invalid and RFC 2045 §5.2 / RFC 2046 §5.1.5 supplied the type."""

    type: str
    subtype: str
    params: tuple[Parameter, ...] = ()
    defaulted: bool = False

    @property
    def mime_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """The decoded value of parameter `name` (case-insensitive)."""
        return _find(self.params, name)


TEXT_PLAIN = ContentType("text", "plain", (Parameter("charset", "us-ascii"),), defaulted=True)
"""RFC 2045 §5.2 default."""
MESSAGE_RFC822 = ContentType("message", "rfc822", (), defaulted=True)
"""RFC 2046 §5.1.5 default inside multipart/digest."""


@dataclass(frozen=True, slots=True)
class Disposition:
    """Content-Disposition (RFC 2183 §2) with RFC 2231 parameters."""

    type: str
    params: tuple[Parameter, ...] = ()

    def param(self, name: str) -> str | None:
        return _find(self.params, name)


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox, shaped as the IMAP address structure (RFC 3501 §7.4.2).

    `name` is the display phrase with quoting removed but RFC 2047 words left
    encoded, as ENVELOPE sends it; `adl` is the obsolete source route
    (RFC 5322 §4.4). `host` is empty when the address had no domain.
    """

    name: str | None
    adl: str | None
    mailbox: str
    host: str

    @property
    def display_name(self) -> str | None:
        """`name` with RFC 2047 encoded-words decoded, for display and search."""
        return None if self.name is None else decode_header(self.name)

    @property
    def addr_spec(self) -> str:
        return f"{self.mailbox}@{self.host}" if self.host else self.mailbox


@dataclass(frozen=True, slots=True)
class Group:
    """A named group of mailboxes (RFC 5322 §3.4); IMAP sends it as a start
    marker, the members, and an end marker (RFC 3501 §7.4.2)."""

    name: str
    members: tuple[Address, ...] = ()

    @property
    def display_name(self) -> str:
        return decode_header(self.name)


@dataclass(frozen=True, slots=True)
class AddressField:
    """An address header: its raw unfolded value and the parsed list."""

    raw: str
    addresses: tuple[Address | Group, ...]

    def mailboxes(self) -> tuple[Address, ...]:
        """Every mailbox, with group members spliced in."""
        out: list[Address] = []
        for item in self.addresses:
            if isinstance(item, Group):
                out.extend(item.members)
            else:
                out.append(item)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The header fields IMAP ENVELOPE returns (RFC 3501 §7.4.2, RFC 9051 §7.5.2).

    String fields are the raw unfolded header values, undecoded, as ENVELOPE
    sends them; None when the header is absent. The first occurrence of a
    field counts. Filling Sender and Reply-To from From is the IMAP
    server's job (RFC 3501 §7.4.2); here they stay None when absent.
    """

    date: str | None = None
    subject: str | None = None
    from_: AddressField | None = None
    sender: AddressField | None = None
    reply_to: AddressField | None = None
    to: AddressField | None = None
    cc: AddressField | None = None
    bcc: AddressField | None = None
    in_reply_to: str | None = None
    message_id: str | None = None

    @property
    def subject_text(self) -> str | None:
        """Subject with RFC 2047 encoded-words decoded."""
        return None if self.subject is None else decode_header(self.subject)

    @property
    def date_parsed(self) -> datetime | None:
        """Date as an aware datetime (RFC 5322 §3.3), None when unparsable."""
        if self.date is None:
            return None
        try:
            return parsedate_to_datetime(self.date)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None


@dataclass(frozen=True, slots=True)
class Part:
    """One body part (RFC 2045 §2.6 entity) and where its bytes are.

    `section` is the IMAP part specifier (RFC 3501 §6.4.5) of this part's
    body: "" for a multipart top level, "1" for a single-part message, and
    for the message inside a message/rfc822 part numbered "N", "N" when it is
    multipart and "N.1" otherwise. `envelope` is set on every part whose
    header block is a message header: the root and the only child of each
    MESSAGE part. `body_lines` counts text lines (RFC 3501 §7.4.2): line
    feeds in the body plus one for a final line without one.
    """

    index: int
    parent: int | None
    children: tuple[int, ...]
    section: str
    kind: PartKind
    depth: int
    header_start: int
    header_end: int
    body_start: int
    body_end: int
    body_lines: int
    content_type: ContentType = TEXT_PLAIN
    transfer_encoding: str = "7bit"
    content_id: str | None = None
    description: str | None = None
    md5: str | None = None
    disposition: Disposition | None = None
    language: tuple[str, ...] = ()
    location: str | None = None
    envelope: Envelope | None = None

    @property
    def body_octets(self) -> int:
        return self.body_end - self.body_start

    @property
    def description_text(self) -> str | None:
        """Content-Description with RFC 2047 encoded-words decoded."""
        return None if self.description is None else decode_header(self.description)

    @property
    def filename(self) -> str | None:
        """Disposition filename, else Content-Type name (RFC 2183 §2.3),
        with RFC 2047 words decoded as many senders use them there."""
        value = self.disposition.param("filename") if self.disposition else None
        if value is None:
            value = self.content_type.param("name")
        return None if value is None else decode_header(value)


@dataclass(frozen=True, slots=True)
class MessageStructure:
    """Every part of a message in pre-order (index 0 is the root), the
    defects met, and the total size in octets."""

    parts: tuple[Part, ...]
    size: int
    defects: tuple[Defect, ...] = field(default=())

    @property
    def root(self) -> Part:
        return self.parts[0]

    @property
    def envelope(self) -> Envelope:
        return self.parts[0].envelope or Envelope()

    def children(self, part: Part) -> tuple[Part, ...]:
        return tuple(self.parts[i] for i in part.children)

    def find(self, section: str) -> Part | None:
        """The part whose body IMAP section `section` names, if any.

        A message/rfc822 part and the multipart inside it share a number;
        the outer part comes first, as BODY[N] fetches the whole message.
        """
        for p in self.parts:
            if p.section == section:
                return p
        return None

    def to_json(self) -> str:
        """Compact JSON for the store; `from_json` gives an equal value."""
        from roost.proto.mime.codec import structure_to_json

        return structure_to_json(self)

    @classmethod
    def from_json(cls, text: str) -> MessageStructure:
        """Rebuild a structure written by `to_json`; raises
        `StructureDecodeError` on anything else."""
        from roost.proto.mime.codec import structure_from_json

        return structure_from_json(text)


class MimeError(RoostError):
    """Base of the errors this package raises on purpose."""


class ParserClosedError(MimeError):
    """`feed` or `close` was called on a parser that was already closed."""


class StructureDecodeError(MimeError):
    """Stored structure data is not something `to_json` wrote."""
