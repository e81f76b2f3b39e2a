"""The searchable text of a message: one definition for IMAP SEARCH and the indexer.

IMAP SEARCH BODY matches the body of a message and TEXT its header or body
(RFC 9051 §6.4.4); the full-text indexer stores the same two texts, so that
a search gives the same answer whether the index serves it or a scan does.

- Body: every text/* leaf part, with its Content-Transfer-Encoding undone
  (RFC 2045 §6) and its charset decoded (RFC 2046 §4.1.2), in message
  order, one line break between parts; line breaks become LF. text/html
  becomes plain text: tags and comments dropped, script and style content
  dropped, character references unescaped, white space collapsed. Attachments are left out: a
  part whose Content-Disposition is `attachment`, everything inside one,
  and every part that is not text (images, PDF files; attachment text is
  the indexer's own extraction job).
- Header: the header fields as `name: value` lines, RFC 2047 encoded-words
  decoded (RFC 2047 §6), raw 8-bit read as UTF-8 (RFC 6532): the message's
  own, then each body part's (its MIME header fields: Content-Type,
  Content-Disposition and the rest, attachments' included), in message
  order. RFC 9051 §6.4.4 has TEXT match "the header (including MIME header
  fields) or body"; Dovecot reads it so too.
- Header fields (SUBJECT, FROM, TO, CC, BCC and HEADER name): the values of
  every top-level field of that name, unfolded and decoded the same way,
  one by one (`header_field_values`).

A part without a charset, or naming us-ascii, UTF-8 or a charset Python
does not know, is read as UTF-8 and, from the first octet that is not
UTF-8, as Latin-1, as `decode_raw` reads header bytes: mislabelled Latin-1
mail is common. Undecodable octets in another named charset become U+FFFD.

Work is bounded: at most `max_chars` characters of body text are produced
(`MAX_SEARCH_TEXT_CHARS`), at most `MAX_SEARCH_SOURCE_OCTETS` decoded
octets are looked at, and the header block is read up to the parser's own
header limit. `SearchTextExtractor` takes the message in chunks, so no
caller holds a whole message; `done` says when the rest need not be read.
"""

from __future__ import annotations

import codecs
import enum
import html
import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Protocol

from roost.proto.mime.decoder import BodyDecoder, body_decoder
from roost.proto.mime.encoded_words import decode_header, normalize_charset
from roost.proto.mime.headers import split_fields
from roost.proto.mime.model import DEFAULT_LIMITS, MessageStructure, Part, PartKind

MAX_SEARCH_TEXT_CHARS = 1_000_000
"""Body text kept per message: about 300 pages; past it a message is cut,
so one huge text attachment cannot fill the index."""
MAX_SEARCH_SOURCE_OCTETS = 8 * 1024 * 1024
"""Decoded octets of text parts read per message, since HTML can be large
and hold little text (inline images as data: URLs)."""
MAX_SEARCH_HEADER_OCTETS = DEFAULT_LIMITS.max_header_octets
"""Octets of each header block (the message's and each part's) read for TEXT
searches; the parser keeps no more either."""

_HTML_RAWTEXT = {
    "script": re.compile(r"</script", re.IGNORECASE),
    "style": re.compile(r"</style", re.IGNORECASE),
}
_RAW_END_OCTETS = len("</script")
_TAG_NAME = re.compile(r"(/?)([A-Za-z][A-Za-z0-9:-]{0,31})")
_TAG_STOP = re.compile("[>\"']")
# A whole tag in one match. Its alternatives start with different
# characters, so a failed match backtracks in linear time.
_WHOLE_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9:-]{0,31})(?:[^>"']|"[^"]*"|'[^']*')*>""")
_MARKUP = re.compile(r"<[!?/A-Za-z]")
_MARKUP_LOOKAHEAD = 4  # "<!--"
_MAX_REFERENCE_CHARS = 40  # "&CounterClockwiseContourIntegral;" is 33
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip
_HTML_SPACE = re.compile(r"[ \t\n\r\f\v\u00a0]+")


class _TextDecoder(Protocol):
    def decode(self, data: bytes, final: bool = False) -> str: ...


class _Utf8ThenLatin1:
    """UTF-8 until the first octet that is not, then Latin-1 (as `decode_raw`)."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._latin1 = False

    def decode(self, data: bytes, final: bool = False) -> str:
        if self._latin1:
            return data.decode("latin-1")
        try:
            return self._utf8.decode(data, final)
        except UnicodeDecodeError as e:
            self._latin1 = True
            seen = bytes(e.object)
            return seen[: e.start].decode("utf-8") + seen[e.start :].decode("latin-1")


def _text_decoder(charset: str | None) -> _TextDecoder:
    codec = normalize_charset(charset) if charset else None
    if codec is None or codecs.lookup(codec).name in ("ascii", "utf-8"):
        return _Utf8ThenLatin1()
    try:
        decoder: _TextDecoder = codecs.getincrementaldecoder(codec)(errors="replace")
    except (LookupError, TypeError):
        return _Utf8ThenLatin1()
    return decoder


class _Html(enum.Enum):
    TEXT = "text"
    TAG = "tag"  # inside a tag, after its name: up to ">", quotes honoured
    COMMENT = "comment"  # up to "-->"
    DECLARATION = "declaration"  # <!DOCTYPE ...>, <?xml ...?>: up to ">"
    RAWTEXT = "rawtext"  # script or style content: up to its end tag


class _HtmlText:
    """HTML to plain text in one pass: text outside tags, comments, script
    and style, character references unescaped (`html.unescape`), one line
    break per block element, runs of white space as one space.

    Written as a small tokenizer rather than on `html.parser`, which is
    quadratic on some hostile input (a few hundred kilobytes of "<a<a<a"
    take minutes in Python 3.11). Each octet is looked at a bounded number
    of times, and what is held back between chunks is a few dozen
    characters: the start of markup, or a reference that may continue.
    """

    def __init__(self, sink: list[str]) -> None:
        self._sink = sink
        self._buf = ""
        self._mode = _Html.TEXT
        self._quote = ""
        self._raw_end: re.Pattern[str] | None = None
        self._space = True  # the last character written was white space, or none was

    def feed(self, text: str) -> None:
        self._buf += text
        self._run(final=False)

    def close(self) -> None:
        self._run(final=True)
        self._buf = ""

    def _run(self, final: bool) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            match self._mode:
                case _Html.TEXT:
                    # A "<" that starts no markup is text (HTML5 §13.2.5.6).
                    m = _MARKUP.search(buf, pos)
                    if m is None:
                        end = n if final else _text_end(buf, pos)
                        self._text(buf[pos:end])
                        pos = end
                        break
                    lt = m.start()
                    self._text(buf[pos:lt])
                    pos = lt
                    whole = _WHOLE_TAG.match(buf, lt)
                    if whole is not None:
                        self._tag(whole.group(2).lower(), closing=bool(whole.group(1)))
                        if self._raw_end is not None:
                            self._mode = _Html.RAWTEXT
                        pos = whole.end()
                        continue
                    if not final and n - lt < _MARKUP_LOOKAHEAD:
                        break  # "<!-" may become a comment, "</" an end tag
                    pos = self._markup(buf, lt, final)
                    if pos == lt:
                        break
                case _Html.TAG:
                    if self._quote:
                        q = buf.find(self._quote, pos)
                        if q < 0:
                            pos = n
                            break
                        self._quote = ""
                        pos = q + 1
                    else:
                        m = _TAG_STOP.search(buf, pos)
                        if m is None:
                            pos = n
                            break
                        pos = m.end()
                        if m.group() == ">":
                            self._mode = _Html.RAWTEXT if self._raw_end else _Html.TEXT
                        else:
                            self._quote = m.group()
                case _Html.COMMENT | _Html.DECLARATION as mode:
                    close = "-->" if mode is _Html.COMMENT else ">"
                    end = buf.find(close, pos)
                    if end < 0:
                        pos = max(pos, n - len(close) + 1)
                        break
                    pos = end + len(close)
                    self._mode = _Html.TEXT
                case _Html.RAWTEXT:
                    assert self._raw_end is not None
                    found = self._raw_end.search(buf, pos)
                    if found is None:
                        pos = max(pos, n - _RAW_END_OCTETS)
                        break
                    # The end tag itself is read as a tag.
                    self._raw_end = None
                    self._mode = _Html.TEXT
                    pos = found.start()
        self._buf = "" if final else buf[pos:]

    def _markup(self, buf: str, lt: int, final: bool) -> int:
        """Classify the markup at `lt`; returns where to go on, or `lt` to
        wait for more data."""
        if buf.startswith("<!--", lt):
            self._mode = _Html.COMMENT
            return lt + 4
        m = _TAG_NAME.match(buf, lt + 1)
        if m is not None:
            if m.end() == len(buf) and not final:
                return lt  # the name may go on
            self._tag(m.group(2).lower(), closing=bool(m.group(1)))
            self._mode = _Html.TAG
            return m.end()
        # "<!DOCTYPE", "<?xml", and "</" without a name: up to ">" (HTML5 §13.2.5.7).
        self._mode = _Html.DECLARATION
        return lt + 2

    def _tag(self, name: str, closing: bool) -> None:
        if name in _HTML_RAWTEXT and not closing:
            self._raw_end = _HTML_RAWTEXT[name]
        elif name in _HTML_BLOCKS:
            self._break()

    def _text(self, raw: str) -> None:
        if not raw:
            return
        text = _HTML_SPACE.sub(" ", html.unescape(raw) if "&" in raw else raw)
        if self._space:
            text = text.lstrip(" ")
        if text:
            self._sink.append(text)
            self._space = text.endswith(" ")

    def _break(self) -> None:
        if not self._space:
            self._sink.append("\n")
            self._space = True


def html_text(markup: str) -> str:
    """HTML as the plain text a search looks in (the converter the body uses)."""
    sink: list[str] = []
    converter = _HtmlText(sink)
    converter.feed(markup)
    converter.close()
    return "".join(sink)


def text_decoder(charset: str | None) -> _TextDecoder:
    """An incremental decoder for a text part's charset, as the body is read."""
    return _text_decoder(charset)


def _text_end(buf: str, pos: int) -> int:
    """How far text can be written when more may follow: not into a "<" at
    the very end (markup may start there), nor past a trailing "&" with no
    ";" after it (a character reference may be cut)."""
    end = len(buf) - 1 if buf.endswith("<") else len(buf)
    amp = buf.rfind("&", max(pos, end - _MAX_REFERENCE_CHARS), end)
    if amp >= 0 and ";" not in buf[amp:end]:
        end = amp
    return max(end, pos)


class _PartText:
    """One text part on its way from transfer-encoded octets to text."""

    def __init__(self, part: Part) -> None:
        self.part = part
        self._transfer: BodyDecoder = body_decoder(part.transfer_encoding)
        self._charset = _text_decoder(part.content_type.param("charset"))
        self.pieces: list[str] = []
        self._cr = ""
        self._html = _HtmlText(self.pieces) if part.content_type.subtype == "html" else None

    def feed(self, data: bytes) -> int:
        """Decode a chunk of the body; returns the decoded octets seen."""
        decoded = self._transfer.feed(data)
        self._text(self._charset.decode(decoded))
        return len(decoded)

    def close(self) -> None:
        self._text(self._charset.decode(self._transfer.close(), True), final=True)
        if self._html is not None:
            self._html.close()

    def _text(self, text: str, final: bool = False) -> None:
        # Line breaks become "\n"; a CR at the end of a chunk waits for the
        # next one, which may start with its LF.
        text = self._cr + text
        self._cr = ""
        if text.endswith("\r") and not final:
            text, self._cr = text[:-1], "\r"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return
        if self._html is not None:
            self._html.feed(text)
        else:
            self.pieces.append(text)


def _is_attachment(part: Part) -> bool:
    return part.disposition is not None and part.disposition.type == "attachment"


def searchable_parts(structure: MessageStructure) -> tuple[Part, ...]:
    """The text/* leaf parts whose text is searched, in message order:
    neither attachments nor inside one. The top level of a message always
    counts, whatever its disposition says."""
    out: list[Part] = []
    excluded: set[int] = set()
    for part in structure.parts:
        if part.parent is not None and (part.parent in excluded or _is_attachment(part)):
            excluded.add(part.index)
            continue
        if part.kind is PartKind.LEAF and part.content_type.type == "text":
            out.append(part)
    return tuple(out)


def header_search_text(header: bytes, max_chars: int = MAX_SEARCH_TEXT_CHARS) -> str:
    """A header block as `name: decoded value` lines (RFC 2047 §6, RFC 6532),
    for TEXT searches; names are lowercase."""
    lines = [
        f"{name}: {decode_header(value)}"
        for name, value in split_fields(header[:MAX_SEARCH_HEADER_OCTETS].splitlines(True))
    ]
    return "\n".join(lines)[:max_chars]


SEARCHED_FIELDS = frozenset({"subject", "from", "to", "cc", "bcc"})
"""The header fields that have a search key of their own (RFC 9051 §6.4.4)."""


def header_field_values(header: bytes, names: Container[str] | None = None) -> dict[str, list[str]]:
    """The decoded values of a header block's fields by lowercase name, in
    order (`names`, lowercase, keeps only those): what SUBJECT, FROM, TO, CC,
    BCC and HEADER match, one value at a time, in a scan and in the index."""
    fields: dict[str, list[str]] = {}
    for name, value in split_fields(header.splitlines(True)):
        if names is None or name in names:
            fields.setdefault(name, []).append(decode_header(value))
    return fields


@dataclass(frozen=True, slots=True)
class SearchText:
    """The searchable text of one message: `body` for SEARCH BODY, `header`
    and `body` both for SEARCH TEXT."""

    header: str
    body: str
    truncated: bool = False
    """The body reached `max_chars` or the source bound and was cut."""

    @property
    def text(self) -> str:
        """Header and body, what SEARCH TEXT looks in."""
        return f"{self.header}\n{self.body}" if self.header else self.body


class SearchTextExtractor:
    """Builds a message's `SearchText` from its bytes fed in order.

    `feed(chunk)` takes the next chunk of the stored message; a caller that
    reads ranges instead passes `offset`, the position of the chunk in the
    message (never going back), and may read only `ranges()`. `done` is
    True once nothing after the current position can change the result.
    """

    def __init__(
        self,
        structure: MessageStructure,
        *,
        max_chars: int = MAX_SEARCH_TEXT_CHARS,
        with_header: bool = True,
    ) -> None:
        self._parts = searchable_parts(structure)
        self._max_chars = max_chars
        # The header blocks read for TEXT: the message's, then every part's.
        self._header_ranges = (
            tuple(
                (p.header_start, min(p.header_end, p.header_start + MAX_SEARCH_HEADER_OCTETS))
                for p in structure.parts
                if p.header_end > p.header_start
            )
            if with_header
            else ()
        )
        self._headers: list[bytearray] = [bytearray() for _ in self._header_ranges]
        self._pos = 0
        self._next = 0  # index in _parts of the first part not finished
        self._current: _PartText | None = None
        self._body: list[str] = []
        self._chars = 0
        self._source = 0
        self._truncated = False
        self._closed = False
        self._end = max((end for _, end in self.ranges()), default=0)

    def ranges(self) -> tuple[tuple[int, int], ...]:
        """(start, end) offsets of the message that are read: the header
        block when wanted, then each searchable part's body."""
        out = list(self._header_ranges)
        out.extend((p.body_start, p.body_end) for p in self._parts if p.body_end > p.body_start)
        return tuple(sorted(out))

    @property
    def done(self) -> bool:
        """Whether the rest of the message can be left unread."""
        if self._truncated:
            return self._pos >= max((end for _, end in self._header_ranges), default=0)
        return self._pos >= self._end

    def feed(self, chunk: bytes, offset: int | None = None) -> None:
        if self._closed:
            raise ValueError("feed() after close()")
        start = self._pos if offset is None else offset
        if start < self._pos:
            raise ValueError("chunks must come in message order")
        end = start + len(chunk)
        for (lo, hi), header in zip(self._header_ranges, self._headers, strict=True):
            if lo >= end:
                break
            have = lo + len(header)
            if start <= have < hi:
                # Only contiguous octets from the block's start make a header.
                header += chunk[have - start : hi - start]
        self._pos = end
        if not self._truncated:
            self._body_chunk(chunk, start, end)

    def _body_chunk(self, chunk: bytes, start: int, end: int) -> None:
        parts = self._parts
        while self._next < len(parts) and not self._truncated:
            part = parts[self._next]
            if part.body_start >= end:
                return
            if part.body_end > start:
                if self._current is None:
                    self._current = _PartText(part)
                lo = max(part.body_start, start) - start
                hi = min(part.body_end, end) - start
                self._source += self._current.feed(chunk[lo:hi])
                self._collect()
                if self._source > MAX_SEARCH_SOURCE_OCTETS:
                    self._truncated = True
                    return
            if part.body_end > end:
                return
            self._finish_part()

    def _finish_part(self) -> None:
        """The current part has all its octets: flush it and move on."""
        if self._current is not None:
            self._current.close()
            self._collect()
            self._current = None
        self._next += 1
        if self._body and not self._body[-1].endswith("\n"):
            self._emit("\n")

    def _collect(self) -> None:
        current = self._current
        if current is None:
            return
        for piece in current.pieces:
            self._emit(piece)
        current.pieces.clear()

    def _emit(self, text: str) -> None:
        if self._truncated:
            return
        room = self._max_chars - self._chars
        if len(text) > room:
            text = text[:room]
            self._truncated = True
        self._body.append(text)
        self._chars += len(text)

    def close(self) -> SearchText:
        """End of the message: flush what is pending and return the text."""
        if self._closed:
            raise ValueError("close() called twice")
        self._closed = True
        # A part cut short (the data ended early) still gives what it has.
        while not self._truncated and self._next < len(self._parts):
            self._finish_part()
        header = "\n".join(
            text for block in self._headers if (text := header_search_text(bytes(block)))
        )
        body = "".join(self._body).rstrip("\n")
        return SearchText(header[: self._max_chars], body, self._truncated)


def message_search_text(
    message: bytes,
    structure: MessageStructure,
    *,
    max_chars: int = MAX_SEARCH_TEXT_CHARS,
    with_header: bool = True,
) -> SearchText:
    """The `SearchText` of a message held in memory."""
    extractor = SearchTextExtractor(structure, max_chars=max_chars, with_header=with_header)
    view = memoryview(message)
    step = 64 * 1024
    for start in range(0, len(view), step):
        extractor.feed(bytes(view[start : start + step]))
        if extractor.done:
            break
    return extractor.close()


def body_search_text(
    message: bytes, structure: MessageStructure, *, max_chars: int = MAX_SEARCH_TEXT_CHARS
) -> str:
    """What SEARCH BODY looks in (RFC 9051 §6.4.4), for a message in memory."""
    return message_search_text(message, structure, max_chars=max_chars, with_header=False).body
