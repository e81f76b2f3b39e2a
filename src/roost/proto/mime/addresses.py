"""Address lists: From, To, Cc and friends (RFC 5322 §3.4, §4.4).

The parser reads what mail clients actually send, which includes the
obsolete syntax of RFC 5322 §4.4 (source routes, CFWS inside local parts,
empty list elements) and plain mistakes (missing `>`, unquoted commas in
display names, an address with no domain). It never fails; a fragment it
cannot read becomes an `Address` whose mailbox holds the words it saw, as
IMAP servers commonly report such fragments.

The display name keeps RFC 2047 encoded-words undecoded because IMAP
ENVELOPE sends it so (RFC 3501 §7.4.2); `Address.display_name` decodes it.
When an address has no phrase, a trailing comment names it, the RFC 822
convention `jdoe@example.org (John Doe)`.
"""

from __future__ import annotations

from roost.proto.mime.model import Address, Group
from roost.proto.mime.tokens import ADDRESS_SPECIALS, Token, TokenKind, join_words, quote, tokenize

MAX_ADDRESSES = 1000
"""Addresses kept from one header (a Bcc list can be long); the rest are
dropped so a hostile header cannot grow the stored structure."""


def _word_text(tok: Token) -> str:
    return quote(tok.text) if tok.kind is TokenKind.QUOTED else tok.text


def _local_part(tokens: list[Token]) -> str:
    """A local part keeps its quoting, so `mailbox@host` stays valid."""
    return "".join(_word_text(t) for t in tokens if t.kind is not TokenKind.COMMENT)


def _domain(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens if t.kind is not TokenKind.COMMENT)


def _phrase(tokens: list[Token]) -> str | None:
    words = [t for t in tokens if t.kind is not TokenKind.COMMENT]
    text = join_words(words).strip()
    return text or None


class _AddressListParser:
    """One pass over the tokens; `_item` gathers the current list element."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._pos = 0
        self._out: list[Address | Group] = []
        self._group_name: str | None = None
        self._members: list[Address] = []
        self._count = 0

    def parse(self) -> tuple[Address | Group, ...]:
        while self._pos < len(self._tokens):
            self._element()
        self._end_group()
        return tuple(self._out)

    def _emit(self, address: Address) -> None:
        if self._count >= MAX_ADDRESSES:
            return
        self._count += 1
        if self._group_name is not None:
            self._members.append(address)
        else:
            self._out.append(address)

    def _end_group(self) -> None:
        if self._group_name is not None:
            self._out.append(Group(self._group_name, tuple(self._members)))
            self._group_name = None
            self._members = []

    def _element(self) -> None:
        """One mailbox or group start, up to and including its separator."""
        words: list[Token] = []
        comment: str | None = None
        tokens = self._tokens
        while self._pos < len(tokens):
            tok = tokens[self._pos]
            self._pos += 1
            if tok.kind is TokenKind.COMMENT:
                comment = tok.text.strip() or comment
                words.append(tok)
                continue
            if tok.kind is not TokenKind.SPECIAL:
                words.append(tok)
                continue
            match tok.text:
                case "<":
                    self._emit(self._angle_addr(_phrase(words)))
                    self._skip_to_separator()
                    return
                case "@":
                    self._addr_spec(words)
                    return
                case ":" if self._group_name is None:
                    self._group_name = _phrase(words) or ""
                    return
                case ",":
                    self._bare(words, comment)
                    return
                case ";":
                    self._bare(words, comment)
                    self._end_group()
                    return
                case _:
                    continue  # a stray ">" or ":" carries no information
        self._bare(words, comment)

    def _bare(self, words: list[Token], comment: str | None) -> None:
        """Words with no "@" or "<": a local part alone (`root`)."""
        local = _local_part(words)
        if local:
            self._emit(Address(comment, None, local, ""))

    def _addr_spec(self, local: list[Token]) -> None:
        """`local@domain`, then an optional comment that names it."""
        domain: list[Token] = []
        comment: str | None = None
        tokens = self._tokens
        while self._pos < len(tokens):
            tok = tokens[self._pos]
            if tok.kind is TokenKind.SPECIAL and tok.text in ",;<":
                break
            self._pos += 1
            if tok.kind is TokenKind.COMMENT:
                comment = tok.text.strip() or comment
            elif domain and tok.space_before and tok.kind is not TokenKind.SPECIAL:
                continue  # trailing junk after the domain
            else:
                domain.append(tok)
        self._emit(Address(comment, None, _local_part(local), _domain(domain)))
        self._skip_to_separator()

    def _angle_addr(self, name: str | None) -> Address:
        """`<[@route,@route:]local@domain>` (RFC 5322 §3.4, §4.4 obs-route)."""
        inner: list[Token] = []
        tokens = self._tokens
        while self._pos < len(tokens):
            tok = tokens[self._pos]
            self._pos += 1
            if tok.kind is TokenKind.SPECIAL and tok.text == ">":
                break
            if tok.kind is not TokenKind.COMMENT:
                inner.append(tok)
        adl: str | None = None
        colon = next(
            (i for i, t in enumerate(inner) if t.kind is TokenKind.SPECIAL and t.text == ":"), -1
        )
        if colon >= 0 and inner and inner[0].text == "@":
            adl = "".join(t.text for t in inner[:colon])
            inner = inner[colon + 1 :]
        at = max(
            (i for i, t in enumerate(inner) if t.kind is TokenKind.SPECIAL and t.text == "@"),
            default=-1,
        )
        if at < 0:
            return Address(name, adl, _local_part(inner), "")
        return Address(name, adl, _local_part(inner[:at]), _domain(inner[at + 1 :]))

    def _skip_to_separator(self) -> None:
        tokens = self._tokens
        while self._pos < len(tokens):
            tok = tokens[self._pos]
            self._pos += 1
            if tok.kind is TokenKind.SPECIAL and tok.text in ",;":
                if tok.text == ";":
                    self._end_group()
                return


def parse_address_list(value: str) -> tuple[Address | Group, ...]:
    """Parse an address-list or mailbox-list header value; never raises."""
    return _AddressListParser(tokenize(value, ADDRESS_SPECIALS)).parse()


def imap_address_items(
    items: tuple[Address | Group, ...],
) -> tuple[tuple[str | None, str | None, str | None, str | None], ...]:
    """Addresses as IMAP sends them: (name, adl, mailbox, host) each, a group
    as (NIL NIL name NIL) ... (NIL NIL NIL NIL) (RFC 3501 §7.4.2). An address
    without a domain gets UW IMAP's `.MISSING-HOST-NAME.` so that it is not
    read as a group marker."""
    out: list[tuple[str | None, str | None, str | None, str | None]] = []

    def one(a: Address) -> None:
        out.append((a.name, a.adl, a.mailbox, a.host or ".MISSING-HOST-NAME."))

    for item in items:
        if isinstance(item, Group):
            out.append((None, None, item.name, None))
            for member in item.members:
                one(member)
            out.append((None, None, None, None))
        else:
            one(item)
    return tuple(out)
