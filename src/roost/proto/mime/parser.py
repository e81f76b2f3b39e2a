"""Streaming MIME parser: bytes in, `MessageStructure` out.

Theory of operation
-------------------
`MimeParser.feed` takes chunks of any size; `close` returns the structure.
The parser keeps a stack of open parts, root first. The innermost part is
either reading its header block (mode HEADER, line by line) or its body
(mode BODY); mode SKIP discards the rest of a line that has been decided
already (a boundary line, or a header line cut at `max_line_octets`).

In BODY mode the only lines that matter are those that begin with "--" and
one of the active boundaries (RFC 2046 §5.1.1: delimiters start a line, and
matching the boundary as a prefix of the line is enough). The body scanner
therefore searches the buffer for "\\n--" and never looks at other lines; it
keeps at most one candidate prefix (`2 + longest boundary + 2` octets) and
counts line feeds as it goes. A body of any size passes through in bounded
memory, at the speed of `bytes.find`.

Offsets are absolute positions in the data fed. A part's body ends where the
line that ends it starts, less the line break before it: that break belongs
to the delimiter (RFC 2046 §5.1.1). Line breaks are CRLF or bare LF.

When two active boundaries match one line (one is a prefix of the other),
the longer wins, then the inner one. A boundary of an outer multipart closes
every part inside it, and each unclosed inner multipart gets a
MISSING_CLOSE_DELIMITER defect.

Limits (`MimeLimits`) bound memory and time; past one, a defect is recorded
and the input is still consumed: an over-long header line is cut, an
over-large header block stops being kept, a part deeper than `max_depth` is a
leaf, and after `max_parts` the body parts of a multipart are no longer
recorded but its boundaries still end them.
"""

from __future__ import annotations

import enum

from roost.proto.mime.headers import FIELD_LINE, read_content, read_envelope, split_fields
from roost.proto.mime.model import (
    DEFAULT_LIMITS,
    MAX_BOUNDARY_OCTETS,
    MESSAGE_RFC822,
    TEXT_PLAIN,
    ContentType,
    Defect,
    DefectKind,
    MessageStructure,
    MimeLimits,
    ParserClosedError,
    Part,
    PartKind,
)
from roost.proto.mime.node import BodyEnd, Multi, PartBuilder

_LF = 0x0A
_DASH = 0x2D
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
PARSE_BYTES_SLICE_OCTETS = 1024 * 1024


class _Mode(enum.Enum):
    HEADER = "header"
    BODY = "body"
    SKIP = "skip"


def _join_section(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)


class MimeParser:
    """Incremental MIME parser (RFC 2045, RFC 2046, RFC 5322); sans-I/O.

    Feed the message with `feed` in chunks of any size, then call `close`
    once for the `MessageStructure`. Neither raises on any input.
    """

    def __init__(self, limits: MimeLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._base = 0  # offset of _buf[0] in the data fed
        self._cur = 0  # index in _buf of the first octet not consumed
        self._lf = 0  # line feeds consumed
        self._tail = b""  # the last three octets consumed
        self._scan = 0  # offset up to which the current header line lacks LF
        self._parts: list[Part | None] = []
        self._defects: list[Defect] = []
        self._stack: list[PartBuilder] = []
        self._active: list[tuple[bytes, int]] = []  # (boundary, stack index)
        self._window = 0  # octets of a line that decide a boundary match
        self._mode = _Mode.HEADER
        self._parts_exhausted = False
        self._closed = False
        self._stack.append(self._new_node(None, "", message_root=True))

    @property
    def offset(self) -> int:
        """Octets fed so far."""
        return self._base + len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Parse the next chunk of the message."""
        if self._closed:
            raise ParserClosedError("feed() after close()")
        if not data:
            return
        self._buf += data
        self._run(final=False)
        if self._cur:
            del self._buf[: self._cur]
            self._base += self._cur
            self._cur = 0

    def close(self) -> MessageStructure:
        """End of data: finish every open part and return the structure."""
        if self._closed:
            raise ParserClosedError("close() called twice")
        self._closed = True
        self._run(final=True)
        end = (self._pos, self._lf)
        while self._stack:
            node = self._stack[-1]
            if node.in_headers:
                self._finish_headers(node)
            else:
                self._stack.pop()
                self._finalize(node, end)
        self._buf = bytearray()
        parts = tuple(p for p in self._parts if p is not None)
        assert len(parts) == len(self._parts)
        return MessageStructure(parts, self._pos, tuple(self._defects))

    # -- bookkeeping --------------------------------------------------------

    @property
    def _pos(self) -> int:
        return self._base + self._cur

    def _advance(self, count: int) -> None:
        """Consume `count` octets, counting line feeds."""
        if count <= 0:
            return
        buf = self._buf
        cur = self._cur
        end = cur + count
        self._lf += buf.count(b"\n", cur, end)
        self._tail = bytes(buf[end - 3 : end]) if count >= 3 else (self._tail + buf[cur:end])[-3:]
        self._cur = end

    def _defect(self, kind: DefectKind, node: PartBuilder) -> None:
        limit = self._limits.max_defects
        if len(self._defects) < limit:
            self._defects.append(Defect(kind, node.index, self._pos))
        elif len(self._defects) == limit:
            self._defects.append(Defect(DefectKind.TOO_MANY_DEFECTS, node.index, self._pos))

    def _new_node(
        self, parent: PartBuilder | None, section: str, message_root: bool
    ) -> PartBuilder:
        node = PartBuilder(len(self._parts), parent, self._pos, section, message_root)
        self._parts.append(None)
        if parent is not None:
            parent.children.append(node.index)
        return node

    def _set_active(self) -> None:
        """Boundaries that may end a part now, longest first, then innermost."""
        active = [
            (node.boundary, i)
            for i, node in enumerate(self._stack)
            if node.kind is PartKind.MULTIPART and node.multi is not Multi.EPILOGUE
        ]
        active.sort(key=lambda item: (-len(item[0]), -item[1]))
        self._active = active
        self._window = 4 + len(active[0][0]) if active else 0

    def _match(self, line: bytes) -> tuple[int, bool] | None:
        """(stack index, is close-delimiter) if `line` is a delimiter line."""
        for boundary, index in self._active:
            if line.startswith(boundary, 2):
                return index, line.startswith(b"--", 2 + len(boundary))
        return None

    # -- the three modes ----------------------------------------------------

    def _run(self, final: bool) -> None:
        while True:
            match self._mode:
                case _Mode.HEADER:
                    progressed = self._header_step(final)
                case _Mode.BODY:
                    progressed = self._body_step(final)
                case _Mode.SKIP:
                    progressed = self._skip_step(final)
            if not progressed:
                return

    def _header_step(self, final: bool) -> bool:
        buf, cur = self._buf, self._cur
        n = len(buf)
        if cur >= n:
            return False
        limit = self._limits.max_line_octets
        lf = buf.find(b"\n", max(cur, self._scan - self._base), cur + limit)
        if lf >= 0:
            return self._header_line(bytes(buf[cur : lf + 1]), complete=True)
        if n - cur >= limit:
            self._defect(DefectKind.LINE_TOO_LONG, self._stack[-1])
            return self._header_line(bytes(buf[cur : cur + limit]), complete=False)
        if final:
            return self._header_line(bytes(buf[cur:n]), complete=True)
        self._scan = self._base + n
        return False

    def _header_line(self, line: bytes, complete: bool) -> bool:
        """One line of a header block (RFC 5322 §2.2, §3.5)."""
        node = self._stack[-1]
        if line.startswith(b"--") and self._active:
            hit = self._match(line)
            if hit is not None:
                self._boundary(*hit)
                return True
        if line in (b"\r\n", b"\n"):
            self._advance(len(line))
            self._finish_headers(node)
            return True
        if line[:1] in (b" ", b"\t"):
            if not node.has_field:
                self._defect(DefectKind.CONTINUATION_WITHOUT_FIELD, node)
        elif FIELD_LINE.match(line):
            node.has_field = True
        elif not (node.index == 0 and self._pos == 0 and line.startswith(b"From ")):
            # Not a field: the block ended without its blank line and this
            # line is the first of the body (RFC 5322 §2.1).
            self._defect(DefectKind.MISSING_HEADER_BODY_SEPARATOR, node)
            self._finish_headers(node)
            return True
        self._keep_header_line(node, line)
        self._advance(len(line))
        if not complete:
            self._mode = _Mode.SKIP
        return True

    def _keep_header_line(self, node: PartBuilder, line: bytes) -> None:
        node.header_octets += len(line)
        if node.lines is None or node.header_full:
            return
        if node.header_octets > self._limits.max_header_octets:
            # Keep the fields read so far; skip the rest of the block.
            self._defect(DefectKind.HEADER_BLOCK_TOO_LARGE, node)
            node.header_full = True
            return
        node.lines.append(line)

    def _body_step(self, final: bool) -> bool:
        buf, cur = self._buf, self._cur
        n = len(buf)
        if cur >= n:
            return False
        if not self._active:
            self._advance(n - cur)
            return False
        at_line_start = self._pos == 0 or self._tail.endswith(b"\n")
        if at_line_start and buf[cur] == _DASH:
            if n - cur < 2 and not final:
                return False
            if n - cur >= 2 and buf[cur + 1] == _DASH:
                window = self._window
                lf = buf.find(b"\n", cur, cur + window)
                if lf < 0 and n - cur < window and not final:
                    return False
                stop = lf + 1 if lf >= 0 else min(n, cur + window)
                hit = self._match(bytes(buf[cur:stop]))
                if hit is not None:
                    self._boundary(*hit)
                    return True
        found = buf.find(b"\n--", cur)
        if found >= 0:
            self._advance(found + 1 - cur)
            return True
        # Keep a final "-" after a line feed: it may start a delimiter.
        stop = n - 1 if not final and buf.endswith(b"\n-") else n
        self._advance(stop - cur)
        return False

    def _skip_step(self, final: bool) -> bool:
        buf, cur = self._buf, self._cur
        lf = buf.find(b"\n", cur)
        if lf < 0 and not final:
            self._advance(len(buf) - cur)
            return False
        self._advance((lf + 1 if lf >= 0 else len(buf)) - cur)
        self._resume()
        return True

    def _resume(self) -> None:
        """Pick the mode for the innermost part after a decided line."""
        node = self._stack[-1]
        if node.in_headers:
            self._mode = _Mode.HEADER
        elif node.kind is PartKind.MULTIPART and node.multi is Multi.OPENING:
            self._open_body_part(node)
        else:
            self._mode = _Mode.BODY

    # -- structure ----------------------------------------------------------

    def _end_here(self) -> BodyEnd:
        """End of a body at the delimiter line that starts here: the line
        break before it belongs to the delimiter (RFC 2046 §5.1.1)."""
        tail = self._tail
        term = 2 if tail.endswith(b"\r\n") else 1 if tail.endswith(b"\n") else 0
        return self._pos - term, self._lf - (1 if term else 0)

    def _boundary(self, index: int, close: bool) -> None:
        """A delimiter line of the multipart at stack `index` starts here."""
        end = self._end_here()
        popped_multipart = False
        while len(self._stack) > index + 1:
            node = self._stack[-1]
            if node.in_headers:
                self._finish_headers(node)
                continue
            self._stack.pop()
            popped_multipart = popped_multipart or node.kind is PartKind.MULTIPART
            if node.body_start > end[0]:
                # The body is empty and the header block reached into the line
                # break before this delimiter, which is the delimiter's
                # (RFC 2046 §5.1.1): the header block and the part end before it.
                if node.header_start <= end[0]:
                    node.body_start, node.body_lf = end
                else:  # a part that starts on this line: the parts around it end here
                    end = (self._pos, self._lf)
            self._finalize(node, end)
        multipart = self._stack[index]
        multipart.seen_boundary = True
        if close:
            multipart.multi = Multi.EPILOGUE
            self._set_active()
        else:
            if multipart.multi is not Multi.SKIPPING:
                multipart.multi = Multi.OPENING
            if popped_multipart:
                self._set_active()
        self._mode = _Mode.SKIP

    def _open_body_part(self, multipart: PartBuilder) -> None:
        """A body part starts after a delimiter line (RFC 2046 §5.1.1)."""
        if len(self._parts) >= self._limits.max_parts:
            if not self._parts_exhausted:
                self._parts_exhausted = True
                self._defect(DefectKind.TOO_MANY_PARTS, multipart)
            multipart.multi = Multi.SKIPPING
            self._mode = _Mode.BODY
            return
        number = len(multipart.children) + 1
        child = self._new_node(
            multipart, _join_section(multipart.section, number), message_root=False
        )
        multipart.multi = Multi.CHILD
        self._stack.append(child)
        self._mode = _Mode.HEADER

    def _finish_headers(self, node: PartBuilder) -> None:
        """The header block ended here: read it and start the body."""
        fields = split_fields(node.lines or ())
        node.lines = None
        content = read_content(fields)
        for kind in content.defects:
            self._defect(kind, node)
        node.content = content
        ct = content.content_type or (MESSAGE_RFC822 if node.digest_child else TEXT_PLAIN)
        node.content_type = ct
        if node.message_root:
            node.envelope = read_envelope(fields)
        node.in_headers = False
        node.body_start = self._pos
        node.body_lf = self._lf
        node.kind = self._kind_of(node, ct, content.transfer_encoding)
        if node.message_root:
            prefix = node.section
            node.section = prefix if node.kind is PartKind.MULTIPART else _join_section(prefix, 1)
        match node.kind:
            case PartKind.MULTIPART:
                self._set_active()
                self._mode = _Mode.BODY
            case PartKind.MESSAGE:
                self._stack.append(self._new_node(node, node.section, message_root=True))
                self._mode = _Mode.HEADER
            case PartKind.LEAF:
                self._mode = _Mode.BODY

    def _kind_of(self, node: PartBuilder, ct: ContentType, encoding: str) -> PartKind:
        """Whether to parse the body as multipart (RFC 2046 §5.1) or as a
        message (§5.2.1, RFC 6532 §3.7), within the limits."""
        limits = self._limits
        if ct.type == "multipart":
            boundary = ct.param("boundary")
            if not boundary:
                self._defect(DefectKind.MISSING_BOUNDARY_PARAMETER, node)
                return PartKind.LEAF
            raw = boundary.encode("utf-8", errors="replace")
            if len(raw) > MAX_BOUNDARY_OCTETS:
                self._defect(DefectKind.BOUNDARY_TOO_LONG, node)
                return PartKind.LEAF
            if node.depth >= limits.max_depth:
                self._defect(DefectKind.TOO_DEEP, node)
                return PartKind.LEAF
            node.boundary = raw
            node.multi = Multi.PREAMBLE
            return PartKind.MULTIPART
        if ct.type == "message" and ct.subtype in ("rfc822", "global"):
            if encoding not in _IDENTITY_ENCODINGS:
                # §5.2.1 forbids encoding message/rfc822; RFC 6532 §3.5
                # allows it for message/global. Either way it stays opaque.
                if ct.subtype == "rfc822":
                    self._defect(DefectKind.ENCODED_MESSAGE, node)
                return PartKind.LEAF
            if node.depth >= limits.max_depth:
                self._defect(DefectKind.TOO_DEEP, node)
                return PartKind.LEAF
            if len(self._parts) >= limits.max_parts:
                if not self._parts_exhausted:
                    self._parts_exhausted = True
                    self._defect(DefectKind.TOO_MANY_PARTS, node)
                return PartKind.LEAF
            return PartKind.MESSAGE
        return PartKind.LEAF

    def _finalize(self, node: PartBuilder, end: BodyEnd) -> None:
        if node.kind is PartKind.MULTIPART:
            if not node.seen_boundary:
                self._defect(DefectKind.BOUNDARY_NOT_FOUND, node)
            elif node.multi is not Multi.EPILOGUE:
                self._defect(DefectKind.MISSING_CLOSE_DELIMITER, node)
        self._parts[node.index] = node.build(end)


def parse_bytes(data: bytes, limits: MimeLimits = DEFAULT_LIMITS) -> MessageStructure:
    """Parse a whole message held in memory, in slices so that the parser's
    buffer never copies all of it."""
    parser = MimeParser(limits)
    view = memoryview(data)
    for start in range(0, len(view), PARSE_BYTES_SLICE_OCTETS):
        parser.feed(view[start : start + PARSE_BYTES_SLICE_OCTETS])
    return parser.close()
