"""A message written in the webmail, as RFC 5322 bytes (the stdlib `email` package).

`build` turns a `Letter` into a message: From with the display name, To, Cc
and Bcc, Subject, Date, Message-ID, In-Reply-To and References for a reply
(RFC 5322 §3.6.4), a text/plain body or, for rich text, multipart/alternative
with the HTML (sanitised by the read pane's nh3 allow-list before it gets
here), and files in multipart/mixed with their names in RFC 2231 parameters.
Text parts are 7bit when they can be, else quoted-printable, so the message
needs no 8BITMIME on its way.

A message forwarded as an attachment is carried as message/rfc822 with its
bytes untouched (RFC 2046 §5.2.1 allows no base64 there): the generator writes
a placeholder that is then replaced by the original bytes.

The message is written with its Bcc field (the Sent copy keeps it); `without_bcc`
gives the bytes that go to the queue. Nothing here does I/O.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

__all__ = [
    "Attachment",
    "ComposeError",
    "Letter",
    "Recipient",
    "build",
    "clean_msg_ids",
    "new_message_id",
    "parse_recipients",
    "without_bcc",
]

MSG_ID = re.compile(r"<([^<>\s@\"\\]+@[^<>\s@\"\\]+)>")
"""A msg-id as RFC 5322 §3.6.4 writes it: `<left@right>`, no spaces, no nesting."""
MAX_MSG_ID_CHARS = 250
_LOCAL = re.compile(r"^[^\s<>()\[\]\\,;:@\"\x00-\x1f\x7f]+$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[^\s<>()\[\]\\,;:@\"\x00-\x1f\x7f.]+(\.[^\s<>()\[\]\\,;:@\"\x00-\x1f\x7f.]+)*$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_ADDRESS_CHARS = 320
MAX_NAME_CHARS = 200
MAX_SUBJECT_CHARS = 1000
MAX_LINE_OCTETS = 998
"""RFC 5322 §2.1.1: a longer line needs quoted-printable (or `binary`)."""
PLACEHOLDER = "ROOST-FORWARDED-MESSAGE-{}"


class ComposeError(Exception):
    """What the user wrote cannot be sent as it is; the message says why, and
    `status` is the HTTP status a page answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    address: str

    def formatted(self) -> str:
        return str(_address(self.name, self.address))


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    """`type/subtype` as the browser declared it (application/octet-stream if unsure)."""
    data: bytes


@dataclass(frozen=True, slots=True)
class Letter:
    from_name: str
    from_address: str
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    bcc: tuple[Recipient, ...]
    subject: str
    text: str
    date: datetime
    message_id: str
    """With its angle brackets."""
    html: str | None = None
    """Sanitised HTML: the message is multipart/alternative with `text` beside it."""
    reply_to: tuple[Recipient, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    forwarded: tuple[bytes, ...] = ()
    """Whole messages attached as message/rfc822, byte for byte."""
    extra_headers: tuple[tuple[str, str], ...] = field(default=())
    """Fields only a draft carries (what the compose page needs to reopen it)."""


def new_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain or 'localhost'}>"


def clean_msg_ids(text: str, limit: int) -> tuple[str, ...]:
    """The valid msg-ids of a References or In-Reply-To field, each once, the
    last `limit` of them (but always the first: the thread's root, RFC 5322
    §3.6.4); anything else in the field is dropped."""
    found: list[str] = []
    seen: set[str] = set()
    for match in MSG_ID.finditer(text):
        msg_id = match.group(0)
        if len(msg_id) > MAX_MSG_ID_CHARS or msg_id in seen:
            continue
        seen.add(msg_id)
        found.append(msg_id)
    if len(found) > limit:
        found = [found[0], *found[len(found) - limit + 1 :]]
    return tuple(found)


def clean_header_text(text: str, limit: int) -> str:
    """One line of header text: no control characters (so no header injection)."""
    return _HEADER_CONTROL.sub(" ", text).strip()[:limit]


def parse_recipients(text: str, limit: int) -> tuple[Recipient, ...]:
    """The addresses of a To, Cc or Bcc box ("Ann <ann@x>, bob@y"); `ComposeError`
    naming the first entry that is no address. More than `limit` entries stop
    the parse (the caller refuses them by the recipient limit)."""
    entries = [e for e in _split(text) if e.strip()]
    out: list[Recipient] = []
    for entry in entries[: limit + 1]:
        pairs = getaddresses([entry])
        if len(pairs) != 1 or not pairs[0][1]:
            raise ComposeError(f"{_shown(entry)} is not an e-mail address.")
        name, address = pairs[0]
        address = address.strip()
        if not valid_address(address):
            raise ComposeError(f"{_shown(entry)} is not an e-mail address.")
        out.append(Recipient(clean_header_text(name, MAX_NAME_CHARS), address))
    return tuple(out)


def valid_address(address: str) -> bool:
    if len(address) > MAX_ADDRESS_CHARS or address.count("@") != 1:
        return False
    local, _, domain = address.partition("@")
    return bool(_LOCAL.match(local)) and bool(_DOMAIN.match(domain))


def _split(text: str) -> list[str]:
    """Entries separated by commas or semicolons outside quotes and angle brackets."""
    entries: list[str] = []
    current: list[str] = []
    quoted = False
    angle = 0
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle += 1
        elif char == ">" and not quoted and angle:
            angle -= 1
        elif char in ",;\r\n" and not quoted and not angle:
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return entries


def _shown(entry: str) -> str:
    text = clean_header_text(entry, 80)
    return f"“{text}”" if text else "An empty entry"


def _address(name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    try:
        return Address(
            display_name=clean_header_text(name, MAX_NAME_CHARS), username=local, domain=domain
        )
    except (ValueError, IndexError) as exc:
        raise ComposeError(f"“{address}” is not an e-mail address.") from exc


def _addresses(people: Iterable[Recipient]) -> tuple[Address, ...]:
    return tuple(_address(p.name, p.address) for p in people)


def _cte(text: str) -> str:
    if text.isascii() and all(len(line) <= MAX_LINE_OCTETS for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


def _text(text: str) -> str:
    """Line ends as the generator wants them; no stray control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return text if text.endswith("\n") else text + "\n"


def build(letter: Letter) -> bytes:
    """The whole message (with Bcc), CRLF line ends."""
    if not MSG_ID.fullmatch(letter.message_id):
        raise ComposeError("The Message-ID is not valid.")
    for _ in range(3):
        data, boundaries = _build_once(letter)
        if not any(b in original for b in boundaries for original in letter.forwarded):
            return data
    raise ComposeError("The forwarded message could not be enclosed.")  # pragma: no cover


def _build_once(letter: Letter) -> tuple[bytes, list[bytes]]:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _address(letter.from_name, letter.from_address)
    if letter.to:
        msg["To"] = _addresses(letter.to)
    if letter.cc:
        msg["Cc"] = _addresses(letter.cc)
    if letter.bcc:
        msg["Bcc"] = _addresses(letter.bcc)
    if letter.reply_to:
        msg["Reply-To"] = _addresses(letter.reply_to)
    msg["Subject"] = clean_header_text(letter.subject, MAX_SUBJECT_CHARS)
    msg["Date"] = format_datetime(letter.date)
    msg["Message-ID"] = letter.message_id
    if letter.in_reply_to:
        msg["In-Reply-To"] = letter.in_reply_to
    if letter.references:
        msg["References"] = " ".join(letter.references)
    for name, value in letter.extra_headers:
        msg[name] = clean_header_text(value, MAX_SUBJECT_CHARS)
    text = _text(letter.text)
    msg.set_content(text, cte=_cte(text))
    if letter.html is not None:
        html = _text(letter.html)
        msg.add_alternative(html, subtype="html", cte=_cte(html))
    for item in letter.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        if not maintype or not subtype or maintype in ("multipart", "message"):
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename or "attachment"
        )
    placeholders: list[tuple[bytes, bytes]] = []
    for index, original in enumerate(letter.forwarded):
        if msg.get_content_type() != "multipart/mixed":
            msg.make_mixed()
        token = PLACEHOLDER.format(secrets.token_hex(12))
        part = EmailMessage(policy=policy.SMTP)
        part["Content-Type"] = "message/rfc822"
        part["Content-Disposition"] = f'attachment; filename="forwarded-{index + 1}.eml"'
        part["Content-Transfer-Encoding"] = _rfc822_cte(original)
        part.set_payload(token)
        msg.attach(part)
        placeholders.append((token.encode(), _crlf(original)))
    data = msg.as_bytes()
    boundaries = [b"--" + (p.get_boundary() or "").encode() for p in msg.walk() if p.is_multipart()]
    for marker, original in placeholders:
        data = data.replace(marker, original, 1)
    return data, boundaries


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def _rfc822_cte(data: bytes) -> str:
    if any(len(line) > MAX_LINE_OCTETS for line in data.split(b"\n")):
        return "binary"
    return "7bit" if data.isascii() else "8bit"


def without_bcc(data: bytes) -> bytes:
    """The message as the queue gets it: the same bytes without the Bcc field (and
    its continuation lines), RFC 5322 §3.6.3."""
    end = data.find(b"\r\n\r\n")
    head, body = (data, b"") if end < 0 else (data[: end + 2], data[end + 2 :])
    lines = head.split(b"\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(b"bcc:")
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + body
