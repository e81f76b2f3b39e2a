"""What a reply, a forward or a reopened draft takes from the original
message: its threading fields, its addresses (RFC 2047 names decoded), the
reply's recipients, the quoted text and its files, byte for byte."""

from __future__ import annotations

import re
from email import policy as email_policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from roost.control.compose_mime import Attachment, Recipient, clean_header_text, valid_address
from roost.control.mail_view import Loaded, MailView
from roost.proto.mime import MessageStructure, PartKind, decode_header

ORIGIN_HEADER = "X-Roost-Origin"
"""A draft's note of the message it answers or forwards (so that sending it
later still flags that message)."""


def quoted_text(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    return "\n".join(("> " + line) if line else ">" for line in lines) + "\n"


def threading_fields(loaded: Loaded) -> dict[str, str]:
    """The header fields threading needs, unfolded (the first of each)."""
    root = loaded.structure.root
    head = loaded.data[root.header_start : root.header_end]
    parsed = BytesHeaderParser(policy=email_policy.compat32).parsebytes(head)
    out: dict[str, str] = {}
    for name in (
        "message-id",
        "references",
        "in-reply-to",
        "from",
        "to",
        "cc",
        "bcc",
        ORIGIN_HEADER.lower(),
    ):
        value = parsed.get(name)
        if value is not None:
            out[name] = re.sub(r"\s+", " ", str(value)).strip()
    return out


def decoded_addresses(raw: str) -> str:
    """An address field as the compose box shows it (RFC 2047 names decoded)."""
    people = []
    for name, address in getaddresses([raw]):
        if not address:
            continue
        people.append(Recipient(_decode_words(name), address).formatted())
    return ", ".join(people)


def _decode_words(text: str) -> str:
    return clean_header_text(decode_header(text), 200)


def _addresses_of(structure: MessageStructure, *names: str) -> list[Recipient]:
    envelope = structure.envelope
    out = []
    for name in names:
        field = getattr(envelope, name)
        if field is None:
            continue
        for a in field.mailboxes():
            if valid_address(a.addr_spec):
                out.append(Recipient(clean_header_text(a.display_name or "", 200), a.addr_spec))
    return out


def own_recipient(loaded: Loaded, own: frozenset[str]) -> str | None:
    """The user's address the message was sent to: a reply comes from it."""
    for person in _addresses_of(loaded.structure, "to", "cc"):
        if person.address.lower() in own:
            return person.address.lower()
    return None


def reply_targets(mode: str, loaded: Loaded, own: frozenset[str]) -> tuple[str, str]:
    """To and Cc of a reply: the author (Reply-To when set); for reply-all, the
    other To and Cc recipients too, never one of the user's own addresses."""
    primary = _addresses_of(
        loaded.structure, "reply_to" if loaded.structure.envelope.reply_to else "from_"
    )
    seen = {a.lower() for a in own}
    to: list[str] = []
    for person in primary:
        if person.address.lower() not in seen or mode == "reply":
            seen.add(person.address.lower())
            to.append(person.formatted())
    cc: list[str] = []
    if mode == "reply_all":
        for person in _addresses_of(loaded.structure, "to", "cc"):
            if person.address.lower() in seen:
                continue
            seen.add(person.address.lower())
            cc.append(person.formatted())
    return ", ".join(to), ", ".join(cc)


def attachments_of(
    view: MailView, loaded: Loaded
) -> tuple[tuple[Attachment, ...], tuple[bytes, ...]]:
    """A message's own files (not the body, not what is inside an attached message)
    and its attached messages, byte for byte."""
    structure, data = loaded.structure, loaded.data
    shown = view.view(loaded, lambda index: "", images=False)
    body = _body_indexes(structure, {a.part for a in shown.attachments})
    files: list[Attachment] = []
    messages: list[bytes] = []
    for part in structure.parts:
        if part.index == 0 or _inside_message(structure, part.index):
            continue
        if part.kind is PartKind.MESSAGE:
            messages.append(data[part.body_start : part.body_end])
        elif part.kind is PartKind.LEAF and part.index not in body:
            found = view.part(loaded, part.index)
            files.append(
                Attachment(
                    found.filename,
                    part.content_type.mime_type.lower(),
                    found.data,
                )
            )
    return tuple(files), tuple(messages)


def _body_indexes(structure: MessageStructure, attachments: set[int]) -> set[int]:
    """The leaf parts the read pane shows as the body (not among its attachments)."""
    return {
        p.index for p in structure.parts if p.kind is PartKind.LEAF and p.index not in attachments
    }


def _inside_message(structure: MessageStructure, index: int) -> bool:
    parent = structure.parts[index].parent
    while parent is not None:
        if structure.parts[parent].kind is PartKind.MESSAGE:
            return True
        parent = structure.parts[parent].parent
    return False
