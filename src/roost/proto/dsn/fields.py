"""Header fields and the message/delivery-status body (RFC 3464 §2).

Every line the composer writes goes through `fold`: RFC 5322 §2.2.3
folding at white space so lines stay within 78 octets where the value
allows, and never beyond the 998-octet limit of RFC 5322 §2.1.1. Values
from outside (remote replies, addresses, ENVID) are first made single-line
by `clean_text`, and made 7-bit unless the notice is the internationalised
variant of RFC 6533.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

from roost.proto.dsn.model import Action, Notice, ReportedRecipient
from roost.proto.dsn.xtext import (
    utf8_addr_unitext_encode,
    utf8_addr_xtext_encode,
    xtext_encode,
)

CRLF = "\r\n"
# RFC 5322 §2.1.1: lines SHOULD be at most 78 octets and MUST be at most 998.
FOLD_OCTETS = 78
MAX_LINE_OCTETS = 998
# A longer word is split with a space inserted; 998 minus room for the fold.
_MAX_WORD_OCTETS = 900
# Remote replies are at most 512 octets a line (RFC 5321 §4.5.3.1.5); a
# multi-line reply longer than this is cut, as the text part repeats it.
MAX_DIAGNOSTIC_CHARS = 2000

_SPACE = re.compile(r"\s+")
_PIECE = re.compile(r" +[^ ]+")


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def clean_text(text: str, *, ascii_only: bool, limit: int | None = None) -> str:
    """`text` on one line: runs of white space (CR and LF included) become
    one space, other control characters and lone surrogates are dropped,
    and with `ascii_only` every non-ASCII character becomes "?"."""
    out: list[str] = []
    for c in _SPACE.sub(" ", text).strip():
        point = ord(c)
        if point < 0x20 or 0x7F <= point < 0xA0 or 0xD800 <= point <= 0xDFFF:
            continue
        out.append("?" if ascii_only and point > 0x7F else c)
    cleaned = "".join(out)
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def _split_long(piece: str) -> list[str]:
    """A piece (" word") cut into pieces of at most _MAX_WORD_OCTETS octets,
    each starting with a space so it can begin a continuation line."""
    if _octets(piece) <= _MAX_WORD_OCTETS:
        return [piece]
    out: list[str] = []
    current = ""
    for c in piece:
        if _octets(current) + _octets(c) > _MAX_WORD_OCTETS:
            out.append(current)
            current = " "
        current += c
    out.append(current)
    return out


def fold(name: str, value: str) -> str:
    """The field `name: value` as CRLF-terminated lines (RFC 5322 §2.2.3).

    The value is folded before a space that precedes a word, so no line is
    white space alone and unfolding gives the value back. A word longer
    than fits a line is split, which inserts a space (only garbage is ever
    that long: no address, host or reply word is).
    """
    pieces: list[str] = []
    for piece in _PIECE.findall(" " + value.strip()):
        pieces.extend(_split_long(piece))
    lines: list[str] = []
    current = f"{name}:"
    started = False
    for piece in pieces:
        if started and _octets(current) + _octets(piece) > FOLD_OCTETS:
            lines.append(current)
            current = piece
        else:
            current += piece
        started = True
    lines.append(current)
    return CRLF.join(lines) + CRLF


def format_date(value: datetime) -> str:
    """An RFC 5322 §3.3 date-time, as DSN date fields use (RFC 3464 §2.1.2)."""
    return format_datetime(value)


def _printable_ascii(text: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F for c in text)


def _valid_unicode(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def ascii_host(host: str) -> str:
    """A host name as 7-bit text: an IDN becomes its A-label (RFC 5890)."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return clean_text(host, ascii_only=True)


def envelope_id(envid: str) -> str:
    """The Original-Envelope-Id value (RFC 3464 §2.2.1).

    RFC 3461 §4.4 requires the decoded ENVID to be printable US-ASCII
    precisely so that it can be written here as it is; one that is not
    is written as xtext so the field stays valid and lossless.
    """
    return envid if _printable_ascii(envid) else xtext_encode(envid)


def address_value(addr_type: str, address: str, *, utf8: bool) -> str:
    """`address-type ";" generic-address` for Original-Recipient and
    Final-Recipient (RFC 3464 §2.3.1, §2.3.2).

    A printable ASCII address is written as it is, under its own type. A
    non-ASCII one is of type `utf-8` (RFC 6533 §3): written as the UTF-8
    address in message/global-delivery-status, and as 7-bit
    utf-8-addr-xtext in message/delivery-status. Anything else (control
    characters, octets that are not UTF-8) is written as xtext.
    """
    addr_type = addr_type.lower()
    if _printable_ascii(address):
        return f"{addr_type}; {address}"
    if addr_type in ("rfc822", "utf-8") and _valid_unicode(address):
        if not utf8:
            return f"utf-8; {utf8_addr_xtext_encode(address)}"
        if address.isprintable() and " " not in address:
            return f"utf-8; {address}"
        return f"utf-8; {utf8_addr_unitext_encode(address)}"
    return f"{addr_type}; {xtext_encode(address)}"


def diagnostic_value(rcpt: ReportedRecipient, *, utf8: bool) -> str | None:
    """`diagnostic-type ";" text` (RFC 3464 §2.3.6), the reply's lines
    joined with spaces; UTF-8 is kept only in the RFC 6533 variant."""
    if rcpt.diagnostic is None:
        return None
    text = clean_text(rcpt.diagnostic, ascii_only=not utf8, limit=MAX_DIAGNOSTIC_CHARS)
    if not text:
        return None
    return f"{rcpt.diagnostic_type}; {text}"


def _host(host: str, utf8: bool) -> str:
    return clean_text(host if utf8 else ascii_host(host), ascii_only=not utf8)


def per_message_fields(notice: Notice) -> str:
    """The per-message fields (RFC 3464 §2.2), in the order of its ABNF."""
    utf8 = notice.smtputf8
    out: list[str] = []
    if notice.envid is not None:
        out.append(fold("Original-Envelope-Id", envelope_id(notice.envid)))
    out.append(fold("Reporting-MTA", f"dns; {_host(notice.reporting_mta, utf8)}"))
    if notice.received_from_mta:
        out.append(fold("Received-From-MTA", f"dns; {_host(notice.received_from_mta, utf8)}"))
    out.append(fold("Arrival-Date", format_date(notice.arrival_date)))
    return "".join(out)


def per_recipient_fields(rcpt: ReportedRecipient, *, utf8: bool) -> str:
    """One recipient's fields (RFC 3464 §2.3), in the order of its ABNF."""
    out: list[str] = []
    if rcpt.original_recipient is not None:
        addr_type, address = rcpt.original_recipient
        out.append(fold("Original-Recipient", address_value(addr_type, address, utf8=utf8)))
    out.append(fold("Final-Recipient", address_value("rfc822", rcpt.final_recipient, utf8=utf8)))
    out.append(fold("Action", rcpt.action.value))
    out.append(fold("Status", rcpt.status))
    if rcpt.remote_mta:
        out.append(fold("Remote-MTA", f"dns; {_host(rcpt.remote_mta, utf8)}"))
    diagnostic = diagnostic_value(rcpt, utf8=utf8)
    if diagnostic is not None:
        out.append(fold("Diagnostic-Code", diagnostic))
    if rcpt.last_attempt is not None:
        out.append(fold("Last-Attempt-Date", format_date(rcpt.last_attempt)))
    if rcpt.action is Action.DELAYED and rcpt.will_retry_until is not None:
        out.append(fold("Will-Retry-Until", format_date(rcpt.will_retry_until)))
    return "".join(out)


def delivery_status_body(notice: Notice) -> str:
    """The body of message/delivery-status (RFC 3464 §2.1): per-message
    fields, then each recipient's block, separated by empty lines."""
    blocks = [per_message_fields(notice)]
    blocks.extend(per_recipient_fields(r, utf8=notice.smtputf8) for r in notice.recipients)
    return CRLF.join(blocks)
