"""Attachment text for web search: file names, text/* attachments, PDF and
OOXML/ODF documents. IMAP SEARCH never looks at it (RFC 9051 §6.4.4 BODY and
TEXT are the message's own text: `roost.proto.mime.searchtext`).

An attachment is a leaf part that the searchable body leaves out: one whose
Content-Disposition is `attachment`, one inside such a part, or one that is
not text. Each one gives, in message order:

- its file name (Content-Disposition filename, else Content-Type name);
- for text/* (HTML through the body's converter), its text;
- for PDF (by type or `.pdf` name), the text of its first
  `[indexing] pdf_max_pages` pages, by pypdf;
- for OOXML (`.docx`, `.xlsx`, `.pptx`) and ODF (`.odt`, `.ods`, `.odp`),
  the text of the XML members that hold the document's words, read with
  zipfile.

Bad input is indexed as far as it goes and never raises: an attachment
larger than `[indexing] attachment_max_bytes` (decoded) gives its name
alone; a PDF that is not a PDF gives its name and the error is counted; an
archive member that expands more than `archive_max_ratio` times its
compressed size, or past `archive_max_bytes` in all (counted as read, not
as the archive claims), is skipped or cut. At most `attachment_max_chars`
characters are kept per message.
"""

from __future__ import annotations

import html
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field

from roost.proto.mime.decoder import BodyDecoder, body_decoder
from roost.proto.mime.model import MessageStructure, Part, PartKind
from roost.proto.mime.searchtext import html_text, searchable_parts, text_decoder

log = logging.getLogger(__name__)

ARCHIVE_READ_OCTETS = 64 * 1024
PDF_HEADER_WINDOW = 1024
"""A PDF's header may follow some junk (PDF 1.7 §7.5.2 readers allow it)."""
_XML_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)?[^>]*>")
_XML_BREAKS = frozenset({"w:p", "w:br", "w:tab", "a:p", "text:p", "text:h", "text:line-break"})
_XML_CELLS = frozenset({"si", "c", "table:table-cell", "a:tc", "w:tc"})
_SPACE = re.compile(r"[ \t]+")
_OOXML_MEMBERS = re.compile(
    r"^(word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/sharedStrings\.xml|xl/worksheets/sheet\d+\.xml"
    r"|ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml)$"
)
_ODF_MEMBERS = frozenset({"content.xml", "meta.xml"})
_OFFICE_SUFFIXES = (".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".docm", ".xlsm")
_OFFICE_TYPES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """The caps of `[indexing]` (see `roost.core.config.IndexingSettings`)."""

    max_octets: int = 10 * 1024 * 1024
    max_chars: int = 1_000_000
    archive_max_octets: int = 50 * 1024 * 1024
    archive_max_ratio: int = 100
    pdf_max_pages: int = 500


def attachment_parts(structure: MessageStructure) -> tuple[Part, ...]:
    """The leaf parts that are attachments: every leaf the searchable body
    leaves out (message/rfc822 inside is walked into, its text parts count)."""
    body = {part.index for part in searchable_parts(structure)}
    return tuple(
        part
        for part in structure.parts
        if part.kind is PartKind.LEAF and part.index not in body and part.index != 0
    )


@dataclass(slots=True)
class _Collected:
    part: Part
    decoder: BodyDecoder
    data: bytearray = field(default_factory=bytearray)
    too_big: bool = False


class AttachmentCollector:
    """Takes a message's bytes in order (as `SearchTextExtractor` does) and
    keeps the decoded bytes of each attachment small enough to read."""

    def __init__(self, structure: MessageStructure, limits: AttachmentLimits) -> None:
        self._limits = limits
        self._parts = [
            _Collected(p, body_decoder(p.transfer_encoding)) for p in attachment_parts(structure)
        ]
        for item in self._parts:
            item.too_big = not self._worth_reading(item.part)
        self._pos = 0

    def _worth_reading(self, part: Part) -> bool:
        """Whether the part's text can be extracted and it is small enough.
        Encoded octets: base64 takes 4 for 3, quoted-printable up to 3 for 1."""
        if _kind_of(part, part.filename or "") is None:
            return False  # an image, an unknown type: its name is all there is
        return self._limits.max_octets > 0 and part.body_octets <= 3 * self._limits.max_octets + 4

    @property
    def done(self) -> bool:
        """Whether the rest of the message can be left unread."""
        return all(item.too_big or item.part.body_end <= self._pos for item in self._parts)

    def feed(self, chunk: bytes) -> None:
        start, end = self._pos, self._pos + len(chunk)
        self._pos = end
        for item in self._parts:
            part = item.part
            if item.too_big or part.body_end <= start or part.body_start >= end:
                continue
            if not self._worth_reading(part):
                item.too_big = True
                continue
            lo = max(part.body_start, start) - start
            hi = min(part.body_end, end) - start
            item.data += item.decoder.feed(chunk[lo:hi])
            if len(item.data) > self._limits.max_octets or _not_a_pdf(item):
                item.too_big = True
                item.data = bytearray()

    def close(self) -> AttachmentText:
        """The attachments' names and bytes (decoded) for `extract`."""
        found = []
        for item in self._parts:
            if not item.too_big and item.part.body_end <= self._pos:
                item.data += item.decoder.close()
            complete = not item.too_big and item.part.body_end <= self._pos
            found.append((item.part, bytes(item.data) if complete else None))
        return AttachmentText(tuple(found), self._limits)


@dataclass(frozen=True, slots=True)
class AttachmentText:
    """What `AttachmentCollector` kept; `extract` is CPU work (run it in a thread)."""

    parts: tuple[tuple[Part, bytes | None], ...]
    limits: AttachmentLimits

    def extract(self) -> tuple[str, list[str]]:
        """The attachments' text, and the problems met (in words)."""
        out: list[str] = []
        problems: list[str] = []
        room = self.limits.max_chars
        for part, data in self.parts:
            if room <= 0:
                break
            name = part.filename or ""
            pieces = [name] if name else []
            if data is not None:
                try:
                    pieces.append(_text_of(part, name, data, self.limits))
                except Exception as exc:  # bad input of any kind: the name stays
                    problems.append(f"{name or part.section}: {type(exc).__name__}: {exc}"[:200])
            text = "\n".join(piece for piece in pieces if piece)[:room]
            if text:
                out.append(text)
                room -= len(text) + 1
        return "\n".join(out), problems


def _not_a_pdf(item: _Collected) -> bool:
    """A "PDF" whose start shows it is none: the rest need not be decoded."""
    if len(item.data) < PDF_HEADER_WINDOW or _kind_of(item.part, item.part.filename or "") != "pdf":
        return False
    return b"%PDF-" not in item.data[:PDF_HEADER_WINDOW]


def _kind_of(part: Part, name: str) -> str | None:
    """`text`, `pdf`, `archive`, or None for a part whose text is not read."""
    kind = f"{part.content_type.type}/{part.content_type.subtype}".lower()
    lowered = name.lower()
    if part.content_type.type == "text":
        return "text"
    if kind == "application/pdf" or lowered.endswith(".pdf"):
        return "pdf"
    if kind.startswith(_OFFICE_TYPES) or lowered.endswith(_OFFICE_SUFFIXES):
        return "archive"
    return None


def _text_of(part: Part, name: str, data: bytes, limits: AttachmentLimits) -> str:
    match _kind_of(part, name):
        case "text":
            decoder = text_decoder(part.content_type.param("charset"))
            text = decoder.decode(data, True).replace("\r\n", "\n")
            return html_text(text) if part.content_type.subtype == "html" else text
        case "pdf":
            return pdf_text(data, limits.pdf_max_pages)
        case "archive":
            return archive_text(data, limits.archive_max_octets, limits.archive_max_ratio)
    return ""


def pdf_text(data: bytes, max_pages: int) -> str:
    """The text of a PDF's first pages; raises on a PDF that will not open.
    A page that fails is skipped."""
    if b"%PDF-" not in data[:PDF_HEADER_WINDOW]:
        raise ValueError("not a PDF (no %PDF- header)")
    from pypdf import PdfReader  # imported when a PDF comes: it is a large module

    # pypdf logs every repair it makes as a warning: one line per bad PDF
    # in the server's log is ours (the caller's), not dozens of its own.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    pages: list[str] = []
    for number, page in enumerate(reader.pages):
        if number >= max_pages:
            break
        try:
            pages.append(page.extract_text() or "")
        except Exception as exc:  # one broken page: the others still count
            log.debug("indexing: PDF page %d skipped: %s", number, exc)
    return "\n".join(pages)


def archive_text(data: bytes, max_octets: int, max_ratio: int) -> str:
    """The text of an OOXML or ODF document's word-holding XML members.
    A member whose declared expansion passes `max_ratio` is skipped; reading
    stops after `max_octets` octets actually inflated, whatever the headers
    claim."""
    budget = max_octets
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if budget <= 0:
                break
            if not (_OOXML_MEMBERS.match(info.filename) or info.filename in _ODF_MEMBERS):
                continue
            if info.file_size > max_ratio * max(info.compress_size, 1):
                log.debug("indexing: archive member %s skipped (ratio)", info.filename)
                continue
            raw = bytearray()
            with archive.open(info) as member:
                while len(raw) < budget:
                    chunk = member.read(min(ARCHIVE_READ_OCTETS, budget - len(raw)))
                    if not chunk:
                        break
                    raw += chunk
                    if len(raw) > max_ratio * max(info.compress_size, 1):
                        break  # expands past what its header said: a bomb
            budget -= len(raw)
            texts.append(xml_text(raw.decode("utf-8", "replace")))
    return "\n".join(text for text in texts if text)


def xml_text(markup: str) -> str:
    """The character data of an office XML member: paragraphs on lines,
    cells apart, entities unescaped."""

    def tag(match: re.Match[str]) -> str:
        name = match.group(2)
        if name in _XML_BREAKS:
            return "\n"
        if name in _XML_CELLS and match.group(1):
            return " "
        return ""

    if markup.rfind("<") > markup.rfind(">"):
        markup = markup[: markup.rfind("<")]  # a tag cut by a cap
    text = html.unescape(_XML_TAG.sub(tag, markup))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
