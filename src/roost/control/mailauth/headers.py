"""The header block as mail authentication reads it.

Three needs: the header block of a message (DKIM canonicalises the rest),
the RFC 5322.From domain that DMARC protects (RFC 7489 §6.6.1), and the
removal of `Authentication-Results` fields that claim to come from us
(RFC 8601 §5), which a receiving MTA must do before it adds its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.proto.mime.addresses import parse_address_list
from roost.proto.mime.encoded_words import decode_raw
from roost.proto.mime.headers import split_fields
from roost.proto.mime.model import Group
from roost.proto.mime.tokens import TokenKind, tokenize

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
AUTH_RESULTS = "authentication-results"


def split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block ending with its last line break, body after the empty line).

    A message that is all header has an empty body.
    """
    if message.startswith((b"\r\n", b"\n")):
        return b"", message[2 if message.startswith(b"\r\n") else 1 :]
    m = _BLANK_LINE.search(message)
    if m is None:
        return message, b""
    cut = m.start() + (2 if message[m.start() : m.start() + 2] == b"\r\n" else 1)
    return message[:cut], message[m.end() :]


def fields(header_block: bytes) -> list[tuple[str, bytes]]:
    """(lowercased name, unfolded value) of each field, in order."""
    return split_fields(header_block.splitlines(keepends=True))


@dataclass(frozen=True, slots=True)
class FromDomain:
    """The RFC 5322.From domain, or why there is none to evaluate."""

    domain: str | None
    problem: str = ""


def from_domain(header_block: bytes) -> FromDomain:
    """The author domain DMARC evaluates (RFC 7489 §6.6.1).

    A message without exactly one From field, or whose From names mailboxes
    in more than one domain, has no single author domain: DMARC cannot apply
    a policy to it, and the caller reports that as a permanent error.
    """
    values = [value for name, value in fields(header_block) if name == "from"]
    if not values:
        return FromDomain(None, "no From field")
    if len(values) > 1:
        return FromDomain(None, "more than one From field")
    domains: set[str] = set()
    for item in parse_address_list(decode_raw(values[0])):
        mailboxes = item.members if isinstance(item, Group) else (item,)
        for mailbox in mailboxes:
            domains.add(mailbox.host.strip().rstrip(".").lower())
    if not domains or "" in domains:
        return FromDomain(None, "From has an address without a domain")
    if len(domains) > 1:
        return FromDomain(None, "From names more than one domain")
    domain = domains.pop()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
        return FromDomain(None, "From has a domain that is not a valid name")
    return FromDomain(domain)


def authserv_id_of(value: str) -> str | None:
    """The authserv-id an Authentication-Results value starts with (RFC 8601 §2.2).

    Comments before it are skipped; a quoted-string is unquoted. None when the
    value does not start with one.
    """
    for token in tokenize(value, ";/="):
        if token.kind is TokenKind.COMMENT:
            continue
        if token.kind in (TokenKind.ATOM, TokenKind.QUOTED) and token.text:
            return token.text.lower()
        return None
    return None


def strip_authentication_results(header_block: bytes, authserv_id: str) -> bytes:
    """The header block without the Authentication-Results fields bearing our id.

    RFC 8601 §5: a border MTA must remove such fields that arrive from
    outside, or a sender could forge our verdict. Fields of other
    authserv-ids are kept; they carry other servers' findings.
    """
    ours = authserv_id.lower()
    out: list[bytes] = []
    field_lines: list[bytes] = []

    def flush() -> None:
        if field_lines and not _is_ours(field_lines, ours):
            out.extend(field_lines)
        field_lines.clear()

    for line in header_block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and field_lines:
            field_lines.append(line)
            continue
        flush()
        field_lines.append(line)
    flush()
    return b"".join(out)


def _is_ours(field_lines: list[bytes], ours: str) -> bool:
    m = _FIELD_NAME.match(field_lines[0])
    if m is None or m.group(1).lower() != AUTH_RESULTS.encode():
        return False
    raw = b"".join(field_lines)[m.end() :]
    value = decode_raw(re.sub(rb"\r?\n", b"", raw))
    return authserv_id_of(value) == ours
