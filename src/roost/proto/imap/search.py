"""Search keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4) as values, and their grammar.

Keys of the base protocols and of the extensions Roost offers: MODSEQ
(RFC 7162 §3.1.5), OLDER and YOUNGER (RFC 5032), EMAILID and THREADID
(RFC 8474 §6), SAVEDBEFORE/ON/SINCE and SAVEDATESUPPORTED (RFC 8514 §4),
``$`` (RFC 5182), and RFC 3501's NEW, OLD and RECENT for IMAP4rev1 clients.

Several spellings share one value, so the engine meets fewer cases: every
flag test is a `FlagKey` (UNSEEN is ``FlagKey("\\Seen", False)``, OLD is
``FlagKey("\\Recent", False)``), NEW is the ``(RECENT UNSEEN)`` it is
defined as, a parenthesised group of one key is that key, and keys side by
side are an `And`.

Nesting is limited to `MAX_SEARCH_DEPTH` levels of parentheses, NOT and
OR, so a hostile client cannot exhaust the stack; anything deeper is a BAD.
"""

from __future__ import annotations

import datetime
import enum
import re
from dataclasses import dataclass

from roost.proto.imap.errors import ParseError
from roost.proto.imap.reader import NUMBER64_MAX, Reader, canonical_flag
from roost.proto.imap.sequence import MessageSet, parse_message_set

MAX_SEARCH_DEPTH = 64
"""Deepest nesting of ``(``, NOT and OR a search may use. Clients that
build OR chains for a list of senders stay far below; each level costs a
few stack frames, and Python's default stack holds about a thousand."""

_OBJECT_ID = re.compile(rb"[A-Za-z0-9_-]{1,255}")
_MODSEQ_KINDS = ("priv", "shared", "all")
_SET_START = frozenset(b"0123456789*$")


class TextField(enum.Enum):
    """Where a text key looks (RFC 9051 §6.4.4)."""

    BCC = "BCC"
    BODY = "BODY"
    CC = "CC"
    FROM = "FROM"
    SUBJECT = "SUBJECT"
    TEXT = "TEXT"
    TO = "TO"


class DateSource(enum.Enum):
    """Which date a date key compares: internal, Date: header, or save date."""

    INTERNAL = ""
    SENT = "SENT"
    SAVED = "SAVED"


class DateRelation(enum.Enum):
    BEFORE = "BEFORE"
    ON = "ON"
    SINCE = "SINCE"


@dataclass(frozen=True, slots=True)
class AllKey:
    """ALL: every message."""


@dataclass(frozen=True, slots=True)
class FlagKey:
    """A flag or keyword is set (``present``) or not: SEEN, UNSEEN, KEYWORD x, OLD ..."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class TextKey:
    """BCC, BODY, CC, FROM, SUBJECT, TEXT or TO with its string."""

    field: TextField
    value: str


@dataclass(frozen=True, slots=True)
class HeaderKey:
    """HEADER name value; an empty value matches any message with the field."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class DateKey:
    """BEFORE, ON, SINCE and their SENT and SAVED forms."""

    source: DateSource
    relation: DateRelation
    date: datetime.date


@dataclass(frozen=True, slots=True)
class SizeKey:
    """LARGER n (``larger``) or SMALLER n, in octets of RFC 822 size."""

    larger: bool
    octets: int


@dataclass(frozen=True, slots=True)
class AgeKey:
    """OLDER n (``older``) or YOUNGER n, in seconds of internal date (RFC 5032)."""

    older: bool
    seconds: int


@dataclass(frozen=True, slots=True)
class SequenceKey:
    """A bare sequence set: messages by sequence number, or ``$``."""

    messages: MessageSet


@dataclass(frozen=True, slots=True)
class UidKey:
    """UID set."""

    uids: MessageSet


@dataclass(frozen=True, slots=True)
class ModSeqEntry:
    """The ``"/flags/<flag>" priv|shared|all`` part of a MODSEQ key (RFC 7162 §3.1.5)."""

    flag: str
    kind: str


@dataclass(frozen=True, slots=True)
class ModSeqKey:
    """MODSEQ [entry] n: messages whose mod-sequence is at least ``modseq``."""

    modseq: int
    entry: ModSeqEntry | None = None


@dataclass(frozen=True, slots=True)
class ObjectIdKey:
    """EMAILID or THREADID (RFC 8474 §6); ``field`` is the key's name."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class SaveDateSupportedKey:
    """SAVEDATESUPPORTED (RFC 8514 §4): all messages if the mailbox keeps save dates."""


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class And:
    """Keys that must all match: a parenthesised group, or keys side by side."""

    keys: tuple[SearchKey, ...]


SearchKey = (
    AllKey
    | FlagKey
    | TextKey
    | HeaderKey
    | DateKey
    | SizeKey
    | AgeKey
    | SequenceKey
    | UidKey
    | ModSeqKey
    | ObjectIdKey
    | SaveDateSupportedKey
    | Not
    | Or
    | And
)

FLAG_KEYS: dict[str, FlagKey] = {
    "ANSWERED": FlagKey("\\Answered"),
    "UNANSWERED": FlagKey("\\Answered", False),
    "DELETED": FlagKey("\\Deleted"),
    "UNDELETED": FlagKey("\\Deleted", False),
    "DRAFT": FlagKey("\\Draft"),
    "UNDRAFT": FlagKey("\\Draft", False),
    "FLAGGED": FlagKey("\\Flagged"),
    "UNFLAGGED": FlagKey("\\Flagged", False),
    "SEEN": FlagKey("\\Seen"),
    "UNSEEN": FlagKey("\\Seen", False),
    "RECENT": FlagKey("\\Recent"),
    "OLD": FlagKey("\\Recent", False),
}
"""Keys that test one system flag, by name (RFC 9051 §6.4.4, RFC 3501 for RECENT, OLD)."""

_NAMED: dict[str, SearchKey] = {
    **FLAG_KEYS,
    "ALL": AllKey(),
    "NEW": And((FlagKey("\\Recent"), FlagKey("\\Seen", False))),
    "SAVEDATESUPPORTED": SaveDateSupportedKey(),
}
_DATES = {
    source.value + relation.value: (source, relation)
    for source in DateSource
    for relation in DateRelation
}


def parse_search_keys(r: Reader, *, ascii_only: bool = False) -> SearchKey:
    """``search-key *(SP search-key)`` up to the end of the line.

    ``ascii_only`` is set by ``CHARSET US-ASCII``; otherwise strings are
    UTF-8, which US-ASCII is part of.
    """
    keys = [_key(r, 0, ascii_only)]
    while r.skip(b" "):
        keys.append(_key(r, 0, ascii_only))
    return keys[0] if len(keys) == 1 else And(tuple(keys))


def _key(r: Reader, depth: int, ascii_only: bool) -> SearchKey:
    if depth >= MAX_SEARCH_DEPTH:
        raise r.error(f"search keys are nested deeper than {MAX_SEARCH_DEPTH} levels")
    if r.next_is(b"("):
        keys = r.parenthesized(lambda: _key(r, depth + 1, ascii_only))
        return keys[0] if len(keys) == 1 else And(keys)
    if r.peek() in _SET_START:
        return SequenceKey(parse_message_set(r))
    name = r.keyword("a search key")
    named = _NAMED.get(name)
    if named is not None:
        return named
    if name in _DATES:
        r.sp()
        return DateKey(*_DATES[name], r.date())
    r.sp()
    match name:
        case "NOT":
            return Not(_key(r, depth + 1, ascii_only))
        case "OR":
            left = _key(r, depth + 1, ascii_only)
            r.sp()
            return Or(left, _key(r, depth + 1, ascii_only))
        case "BCC" | "BODY" | "CC" | "FROM" | "SUBJECT" | "TEXT" | "TO":
            return TextKey(TextField(name), _string(r, ascii_only))
        case "HEADER":
            field = r.text()
            r.sp()
            return HeaderKey(field, _string(r, ascii_only))
        case "KEYWORD" | "UNKEYWORD":
            return FlagKey(r.atom("a keyword"), name == "KEYWORD")
        case "LARGER" | "SMALLER":
            return SizeKey(name == "LARGER", r.number(NUMBER64_MAX, "a size"))
        case "OLDER" | "YOUNGER":
            return AgeKey(name == "OLDER", r.nz_number(what="an age in seconds"))
        case "UID":
            return UidKey(parse_message_set(r))
        case "MODSEQ":
            return _modseq(r)
        case "EMAILID" | "THREADID":
            found = _OBJECT_ID.match(r.data, r.pos)
            if found is None:
                raise r.error("expected an object id (RFC 8474)")
            r.pos = found.end()
            return ObjectIdKey(name, found.group().decode("ascii"))
    raise r.error(f"unknown search key {name[:32]}")


def _string(r: Reader, ascii_only: bool) -> str:
    value = r.text()
    if ascii_only and not value.isascii():
        raise r.error("the search string is not US-ASCII as its CHARSET says")
    return value


def _modseq(r: Reader) -> SearchKey:
    entry = None
    if r.next_is(b'"'):
        name = r.decode(r.quoted(), "an entry name")
        flag = name.removeprefix("/flags/")
        if flag == name or not _is_flag(flag):
            raise r.error('a MODSEQ entry name is "/flags/" and a flag (RFC 7162 section 3.1.5)')
        r.sp()
        kind = r.atom("priv, shared or all").lower()
        if kind not in _MODSEQ_KINDS:
            raise r.error("a MODSEQ entry type is priv, shared or all")
        r.sp()
        entry = ModSeqEntry(canonical_flag(flag), kind)
    return ModSeqKey(r.number(NUMBER64_MAX, "a mod-sequence"), entry)


def _is_flag(flag: str) -> bool:
    probe = Reader(flag.encode("utf-8"))
    try:
        probe.flag()
    except ParseError:
        return False
    return probe.pos == len(probe.data)
