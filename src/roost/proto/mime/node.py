"""A part while it is being parsed, and how it becomes a frozen `Part`.

The parser keeps one `PartBuilder` per open part on its stack. The builder
gathers the raw header lines until the block ends, then the MIME fields read
from them; `build` freezes it once the end of its body is known.
"""

from __future__ import annotations

import enum

from roost.proto.mime.headers import ContentFields
from roost.proto.mime.model import TEXT_PLAIN, ContentType, Envelope, Part, PartKind


class Multi(enum.Enum):
    """Where a multipart is between its boundaries (RFC 2046 §5.1.1)."""

    PREAMBLE = "preamble"
    OPENING = "opening"  # on a delimiter line; a body part starts after it
    CHILD = "child"
    SKIPPING = "skipping"  # a body part past `max_parts`: not recorded
    EPILOGUE = "epilogue"


# End of a body: (offset, line feeds before it).
BodyEnd = tuple[int, int]


class PartBuilder:
    """A part being parsed; it becomes a frozen `Part` when it ends."""

    __slots__ = (
        "body_lf",
        "body_start",
        "boundary",
        "children",
        "content",
        "content_type",
        "depth",
        "digest_child",
        "envelope",
        "has_field",
        "header_full",
        "header_octets",
        "header_start",
        "in_headers",
        "index",
        "kind",
        "lines",
        "message_root",
        "multi",
        "parent",
        "section",
        "seen_boundary",
    )

    def __init__(
        self, index: int, parent: PartBuilder | None, start: int, section: str, message_root: bool
    ) -> None:
        self.index = index
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.section = section
        self.message_root = message_root
        self.digest_child = (
            parent is not None
            and parent.kind is PartKind.MULTIPART
            and parent.content_type.subtype == "digest"
        )
        self.header_start = start
        self.body_start = start
        self.body_lf = 0
        self.in_headers = True
        self.lines: list[bytes] | None = []
        self.header_octets = 0
        self.header_full = False
        self.has_field = False
        self.kind: PartKind = PartKind.LEAF
        self.content_type: ContentType = TEXT_PLAIN
        self.content = ContentFields()
        self.envelope: Envelope | None = None
        self.boundary = b""
        self.multi = Multi.PREAMBLE
        self.seen_boundary = False
        self.children: list[int] = []

    def build(self, end: BodyEnd) -> Part:
        """The frozen part, its body ending at `end`; an end before the body
        start means an empty body. Lines (RFC 9051 §7.5.2 body-fld-lines):
        the line feeds in the body, as Dovecot counts them, so a last line
        without one (before a boundary, whose CRLF is the delimiter's) is not
        counted; clients see the same numbers from both servers."""
        offset, lf = end
        if offset <= self.body_start:
            body_end, lines = self.body_start, 0
        else:
            body_end = offset
            lines = lf - self.body_lf
        c = self.content
        return Part(
            index=self.index,
            parent=None if self.parent is None else self.parent.index,
            children=tuple(self.children),
            section=self.section,
            kind=self.kind,
            depth=self.depth,
            header_start=self.header_start,
            header_end=self.body_start,
            body_start=self.body_start,
            body_end=body_end,
            body_lines=lines,
            content_type=self.content_type,
            transfer_encoding=c.transfer_encoding,
            content_id=c.content_id,
            description=c.description,
            md5=c.md5,
            disposition=c.disposition,
            language=c.language,
            location=c.location,
            envelope=self.envelope,
        )
