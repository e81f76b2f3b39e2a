"""Compose a notice: an RFC 5322 message of type multipart/report
(RFC 6522) holding a text part, a message/delivery-status part (RFC 3464)
and the original message or its header section.

Theory of operation. `iter_notice` is a generator of output chunks:

1. It reads the original's header section (`header_end` octets) and, only
   when a size cap must be checked and the size was not given, up to the
   cap plus one octet more. Nothing else of the original is held.
2. It decides what to return (`return_rule`), builds the first two parts
   and the returned header in memory (a few kilobytes), picks a boundary
   that none of them contains, and yields the top header and those parts.
3. With a full return it then passes the original through chunk by
   chunk, turning any bare CR or LF into CRLF and watching for the
   boundary, and yields the closing delimiter.

So a 50 MB original returned whole costs one input chunk of memory (plus
the peek of step 1, at most `max_full_octets`) through `iter_notice` or
`write_notice`; `build_notice` joins the output, which holds the notice
once in memory on top of whatever the caller holds.

A random boundary cannot be predicted by the sender, so it cannot occur in
the streamed original except by a 2**-96 chance; if it does, `DsnError`
is raised mid-stream and the caller must discard what was written.
"""

from __future__ import annotations

import quopri
import re
import secrets
from collections.abc import Callable, Generator, Iterable, Iterator

from roost.proto.dsn.fields import clean_text, delivery_status_body, fold, format_date
from roost.proto.dsn.human import human_text
from roost.proto.dsn.model import DsnError, Notice, NoticeKind, NoticeResult, Returned
from roost.proto.dsn.notify import DEFAULT_MAX_FULL_OCTETS, return_rule

Original = bytes | bytearray | memoryview | Iterable[bytes] | None

CHUNK_OCTETS = 65_536
DISPLAY_NAME = "Mail Delivery System"
_SUBJECTS = {
    NoticeKind.FAILURE: "Undelivered Mail Returned to Sender",
    NoticeKind.DELAY: "Delayed Mail (still being retried)",
    NoticeKind.SUCCESS: "Successful Mail Delivery Report",
}
_EOL = re.compile(rb"\r\n|\r|\n")
# Safe in a boundary (RFC 2046 §5.1.1 bcharsnospace) and a msg-id (RFC 5322 §3.6.4).
_TOKEN = re.compile(r"[A-Za-z0-9.-]{1,40}")
_PREAMBLE = b"This is a MIME-encapsulated message.\r\n"


class _Reader:
    """Reads an iterable of chunks by octet counts, keeping only what was
    read past the count."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def take(self, count: int) -> bytes:
        """Up to `count` octets: fewer only at the end of the input."""
        parts = [self._pending]
        have = len(self._pending)
        while have < count:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            parts.append(bytes(chunk))
            have += len(chunk)
        data = b"".join(parts)
        self._pending = data[count:]
        return data[:count]

    def rest(self) -> Iterator[bytes]:
        if self._pending:
            yield self._pending
            self._pending = b""
        for chunk in self._chunks:
            yield bytes(chunk)


class _CrlfStream:
    """Turns every bare CR or LF into CRLF across chunk boundaries, so no
    bare line end reaches the notice (RFC 5322 §2.3)."""

    def __init__(self) -> None:
        self._cr = False

    def feed(self, data: bytes) -> bytes:
        if self._cr:
            data = b"\r" + data
            self._cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._cr = True
        crlf = data.count(b"\r\n")
        if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
            return data
        return _EOL.sub(b"\r\n", data)

    def close(self) -> bytes:
        return b"\r\n" if self._cr else b""


def _chunks_of(original: Original) -> Iterator[bytes]:
    if original is None:
        return iter(())
    if isinstance(original, bytes | bytearray | memoryview):
        data = memoryview(original)
        return (bytes(data[i : i + CHUNK_OCTETS]) for i in range(0, len(data), CHUNK_OCTETS))
    return iter(original)


def _header_lines(head: bytes) -> bytes:
    """The header section as CRLF lines, without the empty line that ends it."""
    lines = _EOL.split(head)
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def _text_part(text: str, *, utf8: bool) -> tuple[list[str], bytes, bool]:
    """(MIME fields, body, is 8-bit) of the text/plain part: us-ascii 7bit
    when it can be, else UTF-8, as 8bit only in the RFC 6533 variant and
    quoted-printable otherwise (RFC 2045 §6.7)."""
    if text.isascii():
        return ["Content-Type: text/plain; charset=us-ascii"], text.encode("ascii"), False
    fields = ["Content-Type: text/plain; charset=utf-8"]
    if utf8:
        return [*fields, "Content-Transfer-Encoding: 8bit"], text.encode("utf-8"), True
    lines = text.split("\r\n")[:-1]
    body = b"".join(
        quopri.encodestring(line.encode("utf-8")).replace(b"\n", b"\r\n") + b"\r\n"
        for line in lines
    )
    return [*fields, "Content-Transfer-Encoding: quoted-printable"], body, False


def _part(fields: list[str], description: str, eight_bit: bool) -> bytes:
    lines = [*fields, f"Content-Description: {description}"]
    if eight_bit and not any(f.startswith("Content-Transfer-Encoding") for f in fields):
        lines.append("Content-Transfer-Encoding: 8bit")
    return "".join(fold(*line.split(": ", 1)) for line in lines).encode("ascii") + b"\r\n"


def _pick_boundary(token: str, contents: Iterable[bytes]) -> str:
    """A boundary (RFC 2046 §5.1.1) whose delimiter occurs in none of
    `contents`; "=_" cannot occur in base64 or quoted-printable text."""
    held = list(contents)
    for attempt in range(100):
        boundary = f"=_roost.{token}" + (f".{attempt}" if attempt else "")
        marker = b"--" + boundary.encode("ascii")
        if not any(marker in content for content in held):
            return boundary
    raise DsnError("no usable MIME boundary")  # pragma: no cover - needs 100 collisions


def _top_header(
    notice: Notice, boundary: str, message_id: str, eight_bit: bool, report_type: str
) -> bytes:
    """The header of the notice (RFC 5322 §3.6, RFC 3834 §5, RFC 6522 §3)."""
    utf8 = notice.smtputf8
    fields = [
        fold("From", f"{DISPLAY_NAME} <{clean_text(notice.postmaster_from, ascii_only=not utf8)}>"),
        fold("To", clean_text(notice.original_sender, ascii_only=not utf8)),
        fold("Subject", _SUBJECTS[notice.kind]),
        fold("Date", format_date(notice.now)),
        fold("Message-ID", message_id),
        fold("Auto-Submitted", "auto-replied"),
        fold("MIME-Version", "1.0"),
        fold(
            "Content-Type",
            f'multipart/report; report-type={report_type}; boundary="{boundary}"',
        ),
    ]
    if eight_bit:
        fields.append(fold("Content-Transfer-Encoding", "8bit"))
    return "".join(fields).encode("utf-8") + b"\r\n"


def iter_notice(
    notice: Notice,
    original: Original,
    header_end: int,
    *,
    original_size: int | None = None,
    max_full_octets: int = DEFAULT_MAX_FULL_OCTETS,
    max_requested_octets: int | None = None,
    nonce: str | None = None,
) -> Generator[bytes, None, NoticeResult]:
    """Yield the notice in chunks; return (as StopIteration value) what
    was written.

    `original` is the message as stored (bytes, or an iterable of byte
    chunks, or None to return nothing of it); `header_end` is the offset of
    its body, that is the length of its header section with the empty line
    (`Part.header_end` of `roost.proto.mime`). `original_size` saves the
    peek when a size cap applies. `nonce` fixes the boundary and Message-ID
    token, for tests.
    """
    rule = return_rule(
        notice.kind,
        notice.ret,
        max_full_octets=max_full_octets,
        max_requested_octets=max_requested_octets,
    )
    reader = _Reader(_chunks_of(original))
    head = peek = b""
    if original is None:
        returned = Returned.NONE
    else:
        head = reader.take(max(header_end, 0))
        if original_size is not None:
            returned = rule.choose(original_size)
        elif not rule.full or rule.max_octets is None:
            returned = rule.choose(0)
        else:
            need = rule.max_octets + 1 - len(head)
            peek = reader.take(need) if need > 0 else b""
            returned = Returned.FULL if need > 0 and len(peek) < need else Returned.HEADERS

    utf8 = notice.smtputf8
    text_fields, text_body, text_8bit = _text_part(human_text(notice, returned), utf8=utf8)
    status_body = delivery_status_body(notice).encode("utf-8")
    status_8bit = not status_body.isascii()
    returned_body = b""
    returned_8bit = False
    match returned:
        case Returned.HEADERS:
            returned_body = _header_lines(head)
            returned_8bit = not returned_body.isascii()
        case Returned.FULL:
            returned_8bit = notice.original_8bit or not (head.isascii() and peek.isascii())
        case Returned.NONE:
            pass

    token = nonce if nonce is not None else secrets.token_hex(12)
    if not _TOKEN.fullmatch(token):
        raise DsnError("nonce must be 1-40 letters, digits, dots or hyphens")
    boundary = _pick_boundary(token, (text_body, status_body, returned_body, head, peek))
    delimiter = b"\r\n--" + boundary.encode("ascii") + b"\r\n"
    message_id = f"<{notice.now:%Y%m%d%H%M%S}.{token}@{notice.message_id_domain}>"
    report_type = "global-delivery-status" if utf8 else "delivery-status"
    eight_bit = text_8bit or status_8bit or returned_8bit

    octets = 0
    saw_8bit = eight_bit

    def emit(data: bytes) -> bytes:
        nonlocal octets
        octets += len(data)
        return data

    yield emit(_top_header(notice, boundary, message_id, eight_bit, report_type) + _PREAMBLE)
    yield emit(delimiter + _part(text_fields, "Notification", text_8bit) + text_body)
    status_type = f"Content-Type: message/{report_type}"
    yield emit(delimiter + _part([status_type], "Delivery report", status_8bit) + status_body)
    if returned is Returned.HEADERS:
        kind = "message/global-headers" if utf8 else "text/rfc822-headers"
        fields = [f"Content-Type: {kind}"]
        yield emit(delimiter + _part(fields, "Message header", returned_8bit) + returned_body)
    elif returned is Returned.FULL:
        kind = "message/global" if utf8 else "message/rfc822"
        fields = [f"Content-Type: {kind}"]
        yield emit(delimiter + _part(fields, "Undelivered message", returned_8bit))
        marker = b"--" + boundary.encode("ascii")
        tail = b""
        crlf = _CrlfStream()
        held = [head, peek]
        head = peek = b""  # the stream below holds them until they are sent
        for raw in _drain(held, reader.rest()):
            chunk = crlf.feed(raw)
            if marker in chunk or marker in tail + chunk[: len(marker)]:
                raise DsnError("the returned message contains the MIME boundary")
            tail = (tail + chunk[-len(marker) :])[-len(marker) :]
            saw_8bit = saw_8bit or not chunk.isascii()
            if chunk:
                yield emit(chunk)
        yield emit(crlf.close())
    yield emit(b"\r\n--" + boundary.encode("ascii") + b"--\r\n")
    return NoticeResult(
        octets=octets,
        returned=returned,
        eight_bit=saw_8bit,
        smtputf8=utf8,
        message_id=message_id,
    )


def _drain(held: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """`held` then `rest`, letting go of each held chunk once it is sent."""
    while held:
        chunk = held.pop(0)
        if chunk:
            yield chunk
    yield from rest


def write_notice(
    notice: Notice,
    original: Original,
    header_end: int,
    sink: Callable[[bytes], object],
    *,
    original_size: int | None = None,
    max_full_octets: int = DEFAULT_MAX_FULL_OCTETS,
    max_requested_octets: int | None = None,
    nonce: str | None = None,
) -> NoticeResult:
    """Write the notice to `sink` chunk by chunk (see `iter_notice`) and
    say what was written: the Spool sends it with MAIL FROM:<> and, as the
    result says, BODY=8BITMIME and SMTPUTF8."""
    chunks = iter_notice(
        notice,
        original,
        header_end,
        original_size=original_size,
        max_full_octets=max_full_octets,
        max_requested_octets=max_requested_octets,
        nonce=nonce,
    )
    while True:
        try:
            sink(next(chunks))
        except StopIteration as done:
            result: NoticeResult = done.value
            return result


def build_notice(
    notice: Notice,
    original: Original,
    header_end: int,
    *,
    original_size: int | None = None,
    max_full_octets: int = DEFAULT_MAX_FULL_OCTETS,
    max_requested_octets: int | None = None,
    nonce: str | None = None,
) -> bytes:
    """The whole notice as one bytes value (a convenience over
    `write_notice` for small originals and tests)."""
    out: list[bytes] = []
    write_notice(
        notice,
        original,
        header_end,
        out.append,
        original_size=original_size,
        max_full_octets=max_full_octets,
        max_requested_octets=max_requested_octets,
        nonce=nonce,
    )
    return b"".join(out)
