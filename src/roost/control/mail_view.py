"""The read pane's model: a message's headers, its body made safe, its attachments.

Shared by the webmail's pages and, later, the JSON API. Nothing here trusts
the message:

- HTML goes through nh3 with an explicit allow-list of tags, attributes,
  style properties (none that can name a URL) and URL schemes (http, https,
  mailto, cid). Remote images lose their address unless the user asked to
  see them; `cid:` images point at our own part URL. The result is shown in
  an `<iframe sandbox>` without `allow-scripts`, under its own
  Content-Security-Policy (see `frame_csp`), so even a sanitiser miss can
  neither run nor load anything from elsewhere.
- Text is decoded from its charset (every charset Python knows; unknown
  ones as UTF-8 or Latin-1) after its transfer encoding; header fields are
  decoded from RFC 2047 words, file names from RFC 2231 parameters, by
  `roost.proto.mime`.
- An attachment is served as a download (`Content-Disposition: attachment`
  with an RFC 6266 `filename*`); only raster images whose bytes say so and
  PDF files may be shown inline, never HTML or SVG.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import nh3

from roost.core.errors import InvalidName, NotFound
from roost.proto.mime import (
    AddressField,
    MessageStructure,
    Part,
    PartKind,
    StructureDecodeError,
    decode_body,
    decode_raw,
    decode_text,
)
from roost.proto.mime.parser import parse_bytes
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import Flag, FlagMode, MessageInfo

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
        "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
        "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt",
        "u", "ul", "var",
    }
)  # fmt: skip
"""No script, style, link, meta, base, form, input, button, iframe, object, embed,
svg, math, video, audio, source: none of them belongs in a letter."""
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "title", "align", "dir", "lang", "valign", "width", "height"},
    "a": {"href"},
    "img": {"src", "alt"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap", "scope"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor"},
    "tr": {"bgcolor"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "col": {"span"},
    "colgroup": {"span"},
}
ALLOWED_STYLE_PROPERTIES = frozenset(
    {
        "background-color", "border", "border-bottom", "border-collapse", "border-color",
        "border-left", "border-radius", "border-right", "border-spacing", "border-style",
        "border-top", "border-width", "clear", "color", "direction", "display", "float",
        "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
        "height", "letter-spacing", "line-height", "list-style-type", "margin",
        "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height",
        "max-width", "min-height", "min-width", "padding", "padding-bottom", "padding-left",
        "padding-right", "padding-top", "table-layout", "text-align", "text-decoration",
        "text-indent", "text-transform", "vertical-align", "white-space", "width",
        "word-break", "word-spacing",
    }
)  # fmt: skip
"""No property that takes a URL (background, background-image, list-style,
list-style-image, border-image, content, cursor, filter, mask) and none that
can cover the page (position, z-index)."""
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "template", "noscript", "xmp", "noembed", "noframes"}
)
"""Elements whose content is code or markup, not text: dropped whole."""
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
_URL_IN_STYLE = re.compile(r"url\s*\(|image-set|expression\s*\(|@import|\\", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_FILENAME_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_FILENAME_CHARS = 180
MAX_SENDER_CHARS = 320
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


@dataclass(frozen=True, slots=True)
class Attachment:
    part: int
    """The part's index in the structure: the key of its URL."""
    filename: str
    """Safe to show and to offer as a file name."""
    declared_type: str
    size: int
    inline: bool
    """Part of the body (a `cid:` image) rather than a file sent along."""


@dataclass(frozen=True, slots=True)
class MessageView:
    uid: int
    subject: str
    from_: str
    to: str
    cc: str
    date: str
    html: str | None
    """Sanitised HTML for the sandboxed frame; None when the message has none."""
    text: str | None
    """The plain-text body when there is no HTML part."""
    remote_content: bool
    """The HTML asked for remote images that were not loaded."""
    attachments: tuple[Attachment, ...]
    truncated: bool
    """The body was longer than the view shows."""


@dataclass(frozen=True, slots=True)
class Loaded:
    info: MessageInfo
    data: bytes
    """The message without the trace headers Roost added (the structure's offsets)."""
    structure: MessageStructure


@dataclass(frozen=True, slots=True)
class PartData:
    filename: str
    media_type: str
    """What the bytes are, checked: a raster image type or PDF when they say so,
    else `application/octet-stream`."""
    inline_ok: bool
    data: bytes


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name without paths, control or bidirectional characters."""
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", name)
    name = _FILENAME_BAD.sub("_", name).strip(" .")
    return name[:MAX_FILENAME_CHARS] or fallback


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266 §4.3: an ASCII fallback and the UTF-8 name in `filename*` (RFC 8187)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def sniff(data: bytes) -> str | None:
    """The raster image or PDF type the bytes themselves show, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def frame_csp(*, images: bool) -> str:
    """The read frame's own policy: nothing runs, nothing loads but our parts,
    and remote images only when the user allowed them."""
    img = "'self' data:" + (" https: http:" if images else "")
    return (
        f"default-src 'none'; img-src {img}; style-src 'unsafe-inline'; "
        "font-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
        "sandbox allow-popups allow-popups-to-escape-sandbox"
    )


def _text_of(part: Part, data: bytes) -> str:
    body = decode_body(data[part.body_start : part.body_end], part.transfer_encoding)
    return decode_text(body, part.content_type.param("charset"))


def _is_attachment(part: Part) -> bool:
    disposition = part.disposition.type.lower() if part.disposition else None
    return disposition == "attachment" or (
        part.filename is not None and disposition != "inline" and part.content_id is None
    )


def _body_parts(structure: MessageStructure) -> tuple[Part | None, Part | None]:
    """The first HTML and the first plain-text part that are not attachments (not
    descending into attached messages)."""
    html = text = None
    for part in structure.parts:
        if part.kind is not PartKind.LEAF or _is_attachment(part):
            continue
        if _inside_message(structure, part):
            continue
        kind = part.content_type.mime_type.lower()
        if kind == "text/html" and html is None:
            html = part
        elif kind == "text/plain" and text is None:
            text = part
    return html, text


def _inside_message(structure: MessageStructure, part: Part) -> bool:
    parent = part.parent
    while parent is not None:
        up = structure.parts[parent]
        if up.kind is PartKind.MESSAGE:
            return True
        parent = up.parent
    return False


class Sanitiser:
    """nh3 with Roost's allow-list; URLs rewritten per message."""

    def __init__(self, cid_url: dict[str, str], *, images: bool) -> None:
        self._cid_url = cid_url
        self._images = images
        self.remote_content = False

    def _attribute(self, tag: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return None if _URL_IN_STYLE.search(value) else value
        scheme = value.split(":", 1)[0].strip().lower() if ":" in value else ""
        if tag == "img" and attribute == "src":
            if scheme == "cid":
                return self._cid_url.get(value[4:].strip().strip("<>").lower())
            if scheme in ("http", "https"):
                if self._images:
                    return value
                self.remote_content = True
            return None  # no request at all: not even to our own origin
        if tag == "a" and attribute == "href":
            return value if scheme in ("http", "https", "mailto") else None
        return value

    def clean(self, html: str) -> str:
        return nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(DROPPED_WITH_CONTENT),
            attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=self._attribute,
            filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
            url_schemes=set(URL_SCHEMES),
            link_rel="noopener noreferrer",
            set_tag_attribute_values={"a": {"target": "_blank"}},
            strip_comments=True,
        )


class MailView:
    def __init__(self, store: Store, max_view_chars: int, max_image_senders: int = 1000) -> None:
        self._store = store
        self._max_view_chars = max_view_chars
        self._max_image_senders = max_image_senders

    # --- senders whose remote images the user always loads (a per-user setting)

    async def images_allowed(self, account_id: int, sender: str) -> bool:
        if not sender:
            return False
        roles = self._store.webmail_sessions
        return sender in await self._store.read(roles.image_senders, account_id, [sender])

    async def allow_images(self, account_id: int, sender: str) -> None:
        """Load remote images of this sender's messages from now on."""
        sender = _checked_sender(sender)
        roles = self._store.webmail_sessions
        cap = self._max_image_senders

        async def work(tx: Tx) -> None:
            if await roles.image_senders(tx, account_id, [sender]):
                return
            if await roles.image_sender_count(tx, account_id) >= cap:
                raise InvalidName(
                    f"You let {cap} senders show images already, the most allowed "
                    f"(webmail max_image_senders = {cap}): remove one first."
                )
            await roles.allow_images(tx, account_id, sender)

        await self._store.write(work)

    async def forbid_images(self, account_id: int, sender: str) -> bool:
        return await self._store.write(
            self._store.webmail_sessions.forbid_images, account_id, _checked_sender(sender)
        )

    async def load(self, account_id: int, folder: str, uid: int) -> Loaded:
        """The message, its bytes (without trace headers) and its structure."""
        store = self._store
        box = await store.read(store.mail.mailbox, account_id, folder)
        found = await store.read(store.mail.messages, box.id, [(uid, uid)])
        if not found:
            raise NotFound(f"There is no message {uid} in {box.name!r} (it may have moved).")
        info = found[0]
        data = await store.blobs.read(info.blob_hash)
        raw = await store.read(store.blobs.structure, info.blob_hash)
        structure = None
        if raw is not None:
            try:
                structure = MessageStructure.from_json(raw)
            except StructureDecodeError:
                structure = None
        if structure is None:
            structure = await asyncio.to_thread(parse_bytes, data)
        return Loaded(info, data, structure)

    async def mark_seen(self, account_id: int, folder: str, uid: int) -> None:
        """Opening a message reads it, as IMAP FETCH BODY[] does (RFC 9051 §6.4.5)."""
        mail = self._store.mail

        async def work(tx: Tx) -> None:
            box = await mail.mailbox(tx, account_id, folder)
            await mail.store_flags(tx, box.id, [(uid, uid)], FlagMode.ADD, Flag.SEEN)

        await self._store.write(work)

    def view(
        self, loaded: Loaded, inline_url: Callable[[int], str], *, images: bool
    ) -> MessageView:
        """The read pane of a loaded message; `inline_url(index)` is the URL a
        `cid:` image of part `index` becomes."""
        structure, data = loaded.structure, loaded.data
        envelope = structure.envelope
        html_part, text_part = _body_parts(structure)
        body_parts = {p.index for p in (html_part, text_part) if p is not None}
        cid_url: dict[str, str] = {}
        attachments = []
        for part in structure.parts:
            if part.kind is not PartKind.LEAF or part.index in body_parts:
                continue
            inline = part.content_id is not None and not _is_attachment(part)
            if inline and part.content_id:
                cid_url[part.content_id.strip().strip("<>").lower()] = inline_url(part.index)
            attachments.append(
                Attachment(
                    part=part.index,
                    filename=safe_filename(part.filename, f"part-{part.index}"),
                    declared_type=clean_text(part.content_type.mime_type.lower(), 100),
                    size=part.body_octets,
                    inline=inline,
                )
            )
        html = text = None
        truncated = False
        remote = False
        if html_part is not None:
            source, truncated = self._cut(_text_of(html_part, data))
            sanitiser = Sanitiser(cid_url, images=images)
            html = sanitiser.clean(source)
            remote = sanitiser.remote_content
        elif text_part is not None:
            text, truncated = self._cut(_text_of(text_part, data))
        return MessageView(
            uid=loaded.info.uid,
            subject=clean_text(envelope.subject_text or "", 1000),
            from_=_addresses(envelope.from_),
            to=_addresses(envelope.to),
            cc=_addresses(envelope.cc),
            date=clean_text(envelope.date or "", 200),
            html=html,
            text=text,
            remote_content=remote,
            attachments=tuple(attachments),
            truncated=truncated,
        )

    def _cut(self, text: str) -> tuple[str, bool]:
        if len(text) > self._max_view_chars:
            return text[: self._max_view_chars], True
        return text, False

    def headers(self, loaded: Loaded) -> str:
        """The message's header block as text (8-bit bytes as UTF-8, else Latin-1)."""
        root = loaded.structure.root
        return decode_raw(loaded.data[root.header_start : root.header_end])

    def part(self, loaded: Loaded, index: int) -> PartData:
        """One leaf part's decoded bytes and what may be done with them."""
        parts = loaded.structure.parts
        if not 0 <= index < len(parts) or parts[index].kind is not PartKind.LEAF:
            raise NotFound(f"This message has no part {index}.")
        part = parts[index]
        body = decode_body(loaded.data[part.body_start : part.body_end], part.transfer_encoding)
        found = sniff(body)
        return PartData(
            filename=safe_filename(part.filename, f"part-{index}"),
            media_type=found or "application/octet-stream",
            inline_ok=found in INLINE_TYPES,
            data=body,
        )


def sender_address(structure: MessageStructure) -> str:
    """The From address, lower-cased: the key of the per-sender image setting."""
    field = structure.envelope.from_
    found = field.mailboxes() if field else ()
    return found[0].addr_spec.strip().lower()[:MAX_SENDER_CHARS] if found else ""


def _checked_sender(sender: str) -> str:
    sender = sender.strip().lower()
    if not sender or len(sender) > MAX_SENDER_CHARS or _CONTROL.search(sender) or "@" not in sender:
        raise InvalidName("That is not a sender address.")
    return sender


def clean_text(text: str, limit: int) -> str:
    return _CONTROL.sub(" ", text).strip()[:limit]


def _addresses(field: AddressField | None) -> str:
    if field is None:
        return ""
    shown = []
    for a in field.mailboxes():
        name = a.display_name
        shown.append(f"{name} <{a.addr_spec}>" if name else a.addr_spec)
    return clean_text(", ".join(shown) if shown else field.raw, 2000)
