"""IMAP BODYSTRUCTURE and BODY data built from a stored `MessageStructure`.

RFC 9051 §7.5.2 and the `body` rule of §9 (RFC 3501 §7.4.2 and §9 for
IMAP4rev1) give the shape; where they leave room, this module sends what
Dovecot 2.3 sends, as clients have long been tested against it:

    single part:  (type subtype params id desc enc octets [lines]  md5 dsp lang loc)
    text/*:       ... octets lines ...
    message:      ... octets envelope body lines ...
    multipart:    (part part ... subtype  params dsp lang loc)

The extension data after the blank above is BODYSTRUCTURE only; BODY stops
before it, at every level (RFC 9051 §7.5.2 "BODY").

- Type, subtype, parameter names and the transfer encoding are sent as the
  parser stores them (lowercase); parameter values as the message wrote them.
- A text part without a charset parameter gets `("charset" "us-ascii")`
  appended (RFC 2045 §5.2); an absent or invalid Content-Type is already
  `text/plain; charset=us-ascii` in the structure.
- RFC 2231 parameters are sent as Dovecot presents them: continuations are
  joined, and a parameter with a charset or language goes out as `name*`
  with the value `charset'language'percent-encoded`, after the plain
  parameters and sorted by name. The structure keeps the decoded value, so
  the escapes are rebuilt: exact when the sender escaped canonically.
- A multipart with no body parts (its boundary missing or never found) is
  sent with one empty text/plain part, since the grammar needs one.
- A message/rfc822 part that was not parsed (transfer-encoded, or past a
  limit) gets an all-NIL envelope and an empty text/plain body.
- message/global (RFC 6532) is an encapsulated message in IMAP4rev2 (RFC
  9051 §9 `media-message`) but a basic part in IMAP4rev1 (RFC 3501), so the
  caller says which protocol the session speaks (RFC 9755 §6).

Everything returned is `ImapData`; the writer chooses quoted strings or
literals.
"""

from __future__ import annotations

from roost.proto.imap.envelope import build_envelope, clean_text
from roost.proto.imap.values import ImapData, Juxtaposed
from roost.proto.mime.encoded_words import normalize_charset
from roost.proto.mime.model import MessageStructure, Parameter, Part, PartKind

DEFAULT_CHARSET = "us-ascii"
"""RFC 2045 §5.2: the charset of a text part that names none."""

EMPTY_TEXT_BODY: tuple[ImapData, ...] = (
    "text",
    "plain",
    ("charset", DEFAULT_CHARSET),
    None,
    None,
    "7bit",
    0,
    0,
)
"""An empty text/plain part: stands in for missing parts (BODY form)."""
EMPTY_TEXT_EXTENSION: tuple[ImapData, ...] = (None, None, None, None)

# RFC 2231 §7 attribute-char: what may stay unescaped in an extended value.
_ATTRIBUTE_CHARS = frozenset(c for c in range(0x21, 0x7F) if chr(c) not in "*'%()<>@,;:\\\"/[]?=")


def shows_as_message(part: Part, *, message_global: bool) -> bool:
    """Whether the grammar needs envelope, body and lines after this part's
    fields (RFC 9051 §9 `body-type-msg`): message/rfc822, and message/global
    in IMAP4rev2."""
    ct = part.content_type
    return ct.type == "message" and (
        ct.subtype == "rfc822" or (ct.subtype == "global" and message_global)
    )


def is_message_part(part: Part, *, message_global: bool) -> bool:
    """Whether `part` is an encapsulated message that was parsed, so that
    its envelope, body and inner part numbers exist."""
    return (
        part.kind is PartKind.MESSAGE
        and bool(part.children)
        and shows_as_message(part, message_global=message_global)
    )


def is_multipart(part: Part) -> bool:
    """Whether IMAP shows `part` as a multipart, with or without body parts."""
    return part.kind is PartKind.MULTIPART or part.content_type.type == "multipart"


def _percent_encode(raw: bytes) -> str:
    return "".join(chr(b) if b in _ATTRIBUTE_CHARS else f"%{b:02X}" for b in raw)


def extended_value(param: Parameter) -> str:
    """`charset'language'value` with RFC 2231 §4 escapes, from the decoded
    value; a value the named charset cannot hold goes out as UTF-8."""
    charset = param.charset or ""
    codec = normalize_charset(charset) if charset else None
    try:
        raw = param.value.encode(codec or "utf-8")
    except (UnicodeError, LookupError):
        raw = param.value.encode("utf-8", errors="replace")
        charset = "utf-8"
    return f"{charset}'{param.language or ''}'{_percent_encode(raw)}"


def parameter_list(params: tuple[Parameter, ...], *, text: bool = False) -> ImapData:
    """`body-fld-param`: name value pairs, or NIL when there are none.

    `text` adds the default charset to a text part that names none."""
    items: list[ImapData] = []
    extended: list[tuple[str, str]] = []
    seen_charset = False
    for p in params:
        if p.charset is None and p.language is None:
            items += [clean_text(p.name), clean_text(p.value)]
            seen_charset = seen_charset or p.name == "charset"
        else:
            extended.append((clean_text(p.name) + "*", clean_text(extended_value(p))))
    for name, value in sorted(extended):
        items += [name, value]
    if text and not seen_charset:
        items += ["charset", DEFAULT_CHARSET]
    return tuple(items) if items else None


def _nstring(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def _extension(part: Part, *, multipart: bool) -> tuple[ImapData, ...]:
    """`body-ext-1part` (md5 dsp lang loc) or `body-ext-mpart` (params dsp
    lang loc), RFC 9051 §9."""
    disposition: ImapData = None
    if part.disposition is not None:
        disposition = (
            clean_text(part.disposition.type),
            parameter_list(part.disposition.params),
        )
    language: ImapData = tuple(clean_text(t) for t in part.language) or None
    first: ImapData = parameter_list(part.content_type.params) if multipart else _nstring(part.md5)
    return (first, disposition, language, _nstring(part.location))


class _Builder:
    """Walks the parts once; children always have higher indices than their
    parent, which bounds the walk even on corrupt stored data."""

    def __init__(self, structure: MessageStructure, extended: bool, message_global: bool) -> None:
        self._parts = structure.parts
        self._extended = extended
        self._message_global = message_global

    def _children(self, part: Part) -> list[Part]:
        return [self._parts[i] for i in part.children if part.index < i < len(self._parts)]

    def body(self, part: Part) -> tuple[ImapData, ...]:
        if is_multipart(part):
            return self._multipart(part)
        return self._single(part)

    def _multipart(self, part: Part) -> tuple[ImapData, ...]:
        children: list[ImapData] = [self.body(child) for child in self._children(part)]
        if not children or part.kind is not PartKind.MULTIPART:
            children = [self._empty()]
        out: tuple[ImapData, ...] = (
            Juxtaposed(tuple(children)),
            clean_text(part.content_type.subtype),
        )
        if self._extended:
            out += _extension(part, multipart=True)
        return out

    def _empty(self) -> tuple[ImapData, ...]:
        if self._extended:
            return EMPTY_TEXT_BODY + EMPTY_TEXT_EXTENSION
        return EMPTY_TEXT_BODY

    def _single(self, part: Part) -> tuple[ImapData, ...]:
        ct = part.content_type
        text = ct.type == "text"
        out: tuple[ImapData, ...] = (
            clean_text(ct.type),
            clean_text(ct.subtype),
            parameter_list(ct.params, text=text),
            _nstring(part.content_id),
            _nstring(part.description),
            clean_text(part.transfer_encoding),
            part.body_octets,
        )
        if shows_as_message(part, message_global=self._message_global):
            out += self._encapsulated(part)
        elif text:
            out += (part.body_lines,)
        if self._extended:
            out += _extension(part, multipart=False)
        return out

    def _encapsulated(self, part: Part) -> tuple[ImapData, ...]:
        """envelope, body and lines of a message part (RFC 9051 §9
        `body-type-msg`)."""
        children = self._children(part)
        if part.kind is PartKind.MESSAGE and children:
            inner = children[0]
            return (build_envelope(inner.envelope), self.body(inner), part.body_lines)
        return (build_envelope(None), self._empty(), part.body_lines)


def build_bodystructure(
    structure: MessageStructure, *, message_global: bool = False
) -> tuple[ImapData, ...]:
    """FETCH BODYSTRUCTURE: the MIME structure with extension data.

    `message_global`: True in an IMAP4rev2 session, where message/global
    parts carry an envelope and body like message/rfc822."""
    return _Builder(structure, True, message_global).body(structure.root)


def build_body(
    structure: MessageStructure, *, message_global: bool = False
) -> tuple[ImapData, ...]:
    """FETCH BODY: the non-extensible form of BODYSTRUCTURE."""
    return _Builder(structure, False, message_global).body(structure.root)
