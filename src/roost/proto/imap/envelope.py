"""IMAP ENVELOPE data built from a stored `Envelope` (RFC 9051 §7.5.2, RFC 3501 §7.4.2).

The MIME parser keeps the raw, unfolded values of the ten envelope fields
and their parsed address lists; this module shapes them as IMAP sends them:

    (date subject from sender reply-to to cc bcc in-reply-to message-id)

Strings stay as the message wrote them: RFC 2047 encoded-words are not
decoded (clients decode them), and raw 8-bit UTF-8 (RFC 6532) stays UTF-8;
the writer picks a quoted string or a literal. The remaining choices follow
Dovecot 2.3, whose output is what clients have long been tested against:

- Sender and Reply-To fall back to From when absent or empty (RFC 3501
  §7.4.2 requires it; RFC 9051 §7.5.2 allows it).
- An empty address list is NIL; an empty Date or Subject is "".
- Subject and display names are "for humans": each run of white space
  becomes one space and the ends are trimmed.
- A mailbox with no local part or no domain gets `MISSING_MAILBOX` or
  `MISSING_DOMAIN`, so that it is never read as a group marker (NIL host).
- A group is `(NIL NIL name NIL)`, its members, then `(NIL NIL NIL NIL)`.
- A quoted local part is sent unquoted (`"joe q"@x` gives "joe q").
"""

from __future__ import annotations

import re

from roost.proto.imap.values import ImapData, Juxtaposed
from roost.proto.mime.model import Address, AddressField, Envelope, Group

MISSING_MAILBOX = "MISSING_MAILBOX"
"""Local part sent for an address that has none (`<>`, `@example.com`)."""
MISSING_DOMAIN = "MISSING_DOMAIN"
"""Host sent for an address without a domain (`Sender: root`)."""

_NIL_ENVELOPE: tuple[ImapData, ...] = (None,) * 10
_WHITESPACE_RUN = re.compile(r"[ \t\r\n]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")

AddressItem = tuple[str | None, str | None, str | None, str | None]
"""One IMAP address structure: (name adl mailbox host)."""


def clean_text(value: str) -> str:
    """A header value as an IMAP string: no CR or LF (RFC 9051 §4.3 TEXT-CHAR),
    and no NUL, which no IMAP string may hold."""
    return _LINE_BREAKS.sub("", value).replace("\x00", "\ufffd")


def for_humans(value: str) -> str:
    """Subject and display names: white space runs become one space, the
    ends are trimmed (as Dovecot sends them)."""
    return _WHITESPACE_RUN.sub(" ", value).strip(" ").replace("\x00", "\ufffd")


def _unquote_local_part(local: str) -> str:
    """`"joe q"` -> `joe q`; backslash escapes inside quotes are undone."""
    if '"' not in local:
        return local
    out: list[str] = []
    quoted = False
    escaped = False
    for ch in local:
        if escaped:
            out.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        else:
            out.append(ch)
    return "".join(out)


def address_item(address: Address) -> AddressItem:
    """One mailbox as `(name adl mailbox host)` (RFC 9051 §7.5.2)."""
    name = None if address.name is None else for_humans(address.name)
    mailbox = (
        clean_text(_unquote_local_part(address.mailbox)) if address.mailbox else MISSING_MAILBOX
    )
    host = clean_text(address.host) if address.host else MISSING_DOMAIN
    adl = None if address.adl is None else clean_text(address.adl)
    return (name or None, adl, mailbox, host)


def address_items(items: tuple[Address | Group, ...]) -> tuple[AddressItem, ...]:
    """Addresses and groups in IMAP form, groups spliced in as start marker,
    members and end marker (RFC 3501 §7.4.2)."""
    out: list[AddressItem] = []
    for item in items:
        if isinstance(item, Group):
            out.append((None, None, clean_text(item.name), None))
            out.extend(address_item(member) for member in item.members)
            out.append((None, None, None, None))
        else:
            out.append(address_item(item))
    return tuple(out)


def address_list(field: AddressField | None) -> ImapData:
    """An address header as a parenthesised list of addresses, or NIL when
    the header is absent or holds no address."""
    if field is None or not field.addresses:
        return None
    return (Juxtaposed(address_items(field.addresses)),)


def _has_addresses(field: AddressField | None) -> bool:
    return field is not None and bool(field.addresses)


def build_envelope(envelope: Envelope | None) -> tuple[ImapData, ...]:
    """The ENVELOPE of a message (RFC 9051 §7.5.2); all NIL for None."""
    if envelope is None:
        return _NIL_ENVELOPE
    sender = envelope.sender if _has_addresses(envelope.sender) else envelope.from_
    reply_to = envelope.reply_to if _has_addresses(envelope.reply_to) else envelope.from_
    return (
        None if envelope.date is None else clean_text(envelope.date),
        None if envelope.subject is None else for_humans(envelope.subject),
        address_list(envelope.from_),
        address_list(sender),
        address_list(reply_to),
        address_list(envelope.to),
        address_list(envelope.cc),
        address_list(envelope.bcc),
        None if envelope.in_reply_to is None else clean_text(envelope.in_reply_to),
        None if envelope.message_id is None else clean_text(envelope.message_id),
    )
