"""Commands of the selected state (RFC 9051 §6.4), with their UID forms.

CHECK (RFC 3501), CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE, SEARCH with
ESEARCH return options (RFC 4731) and SAVE (RFC 5182), FETCH with the
CHANGEDSINCE and VANISHED modifiers (RFC 7162), STORE with UNCHANGEDSINCE,
COPY, MOVE (RFC 6851), SORT with ESORT (RFC 5256, RFC 5267) and THREAD
(RFC 5256). A command sent after ``UID`` has ``uid`` set; the engine then
reads its sequence sets as UIDs (RFC 9051 §6.4.9).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from roost.proto.imap.errors import ParseError
from roost.proto.imap.fetch import FetchAttr, parse_fetch_attrs
from roost.proto.imap.reader import NUMBER64_MAX, Reader
from roost.proto.imap.responses import BADCHARSET, SUPPORTED_CHARSETS, Condition
from roost.proto.imap.search import SearchKey, parse_search_keys
from roost.proto.imap.sequence import MessageSet, parse_message_set


class SearchReturn(enum.Enum):
    """An ESEARCH return option (RFC 4731 §3.1) or SAVE (RFC 5182 §2.1)."""

    MIN = "MIN"
    MAX = "MAX"
    ALL = "ALL"
    COUNT = "COUNT"
    SAVE = "SAVE"


class StoreMode(enum.Enum):
    """FLAGS replaces, +FLAGS adds, -FLAGS removes (RFC 9051 §6.4.6)."""

    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


class SortKey(enum.Enum):
    """RFC 5256 §3 sort keys, and DISPLAYFROM/DISPLAYTO of RFC 5957."""

    ARRIVAL = "ARRIVAL"
    CC = "CC"
    DATE = "DATE"
    FROM = "FROM"
    SIZE = "SIZE"
    SUBJECT = "SUBJECT"
    TO = "TO"
    DISPLAYFROM = "DISPLAYFROM"
    DISPLAYTO = "DISPLAYTO"


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: SortKey
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    NAME: ClassVar[str] = "CHECK"
    tag: str


@dataclass(frozen=True, slots=True)
class Close:
    NAME: ClassVar[str] = "CLOSE"
    tag: str


@dataclass(frozen=True, slots=True)
class Unselect:
    """UNSELECT (RFC 3691, RFC 9051 §6.4.2): CLOSE without the expunge."""

    NAME: ClassVar[str] = "UNSELECT"
    tag: str


@dataclass(frozen=True, slots=True)
class Expunge:
    NAME: ClassVar[str] = "EXPUNGE"
    tag: str


@dataclass(frozen=True, slots=True)
class UidExpunge:
    """UID EXPUNGE set (RFC 4315 §2.1, RFC 9051 §6.4.9)."""

    NAME: ClassVar[str] = "UID EXPUNGE"
    tag: str
    uids: MessageSet


@dataclass(frozen=True, slots=True)
class Search:
    """[UID] SEARCH [RETURN (...)] [CHARSET c] keys (RFC 9051 §6.4.4).

    ``returns`` is None for a plain SEARCH (answered with ``* SEARCH``)
    and a set, maybe empty, when RETURN asked for ESEARCH (RFC 4731 §3.1:
    ``RETURN ()`` means ALL). ``charset`` is upper-cased.
    """

    NAME: ClassVar[str] = "SEARCH"
    tag: str
    criteria: SearchKey
    uid: bool = False
    charset: str | None = None
    returns: frozenset[SearchReturn] | None = None


@dataclass(frozen=True, slots=True)
class Fetch:
    """[UID] FETCH set attrs [(CHANGEDSINCE n [VANISHED])] (RFC 9051 §6.4.5, RFC 7162)."""

    NAME: ClassVar[str] = "FETCH"
    tag: str
    messages: MessageSet
    attrs: tuple[FetchAttr, ...]
    uid: bool = False
    changed_since: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Store:
    """[UID] STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags (RFC 9051 §6.4.6)."""

    NAME: ClassVar[str] = "STORE"
    tag: str
    messages: MessageSet
    mode: StoreMode
    flags: tuple[str, ...]
    uid: bool = False
    silent: bool = False
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    NAME: ClassVar[str] = "COPY"
    tag: str
    messages: MessageSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    """[UID] MOVE set mailbox (RFC 6851, RFC 9051 §6.4.8)."""

    NAME: ClassVar[str] = "MOVE"
    tag: str
    messages: MessageSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Sort:
    """[UID] SORT [RETURN (...)] (criteria) charset keys (RFC 5256 §3, RFC 5267 §3)."""

    NAME: ClassVar[str] = "SORT"
    tag: str
    criteria: tuple[SortCriterion, ...]
    charset: str
    key: SearchKey
    uid: bool = False
    returns: frozenset[SearchReturn] | None = None


@dataclass(frozen=True, slots=True)
class Thread:
    """[UID] THREAD algorithm charset keys (RFC 5256 §3); algorithm upper-cased."""

    NAME: ClassVar[str] = "THREAD"
    tag: str
    algorithm: str
    charset: str
    key: SearchKey
    uid: bool = False


SelectedCommand = (
    Check
    | Close
    | Unselect
    | Expunge
    | UidExpunge
    | Search
    | Fetch
    | Store
    | Copy
    | Move
    | Sort
    | Thread
)


def _return_options(r: Reader) -> frozenset[SearchReturn] | None:
    if not r.take_keyword("RETURN"):
        return None
    r.sp()

    def option() -> SearchReturn:
        name = r.keyword("a return option")
        try:
            return SearchReturn(name)
        except ValueError:
            raise r.error(f"unknown search return option {name[:32]}") from None

    options = frozenset(r.parenthesized(option, empty=True))
    r.sp()
    return options


def _charset(r: Reader) -> str:
    charset = r.charset()
    if charset not in SUPPORTED_CHARSETS:
        named = charset[:32] if charset.isascii() else "of that name"
        raise ParseError(
            f"no charset {named} here",
            condition=Condition.NO,
            code=BADCHARSET,
        )
    return charset


def _parse_search(r: Reader, tag: str, uid: bool) -> Search:
    r.sp()
    returns = _return_options(r)
    charset = None
    if r.take_keyword("CHARSET"):
        r.sp()
        charset = _charset(r)
        r.sp()
    key = parse_search_keys(r, ascii_only=charset == "US-ASCII")
    return Search(tag, key, uid, charset, returns)


def _parse_fetch(r: Reader, tag: str, uid: bool) -> Fetch:
    r.sp()
    messages = parse_message_set(r)
    r.sp()
    attrs = parse_fetch_attrs(r)
    changed_since, vanished = None, False

    def modifier() -> str:
        nonlocal changed_since
        name = r.keyword("a fetch modifier")
        if name == "CHANGEDSINCE":
            r.sp()
            changed_since = r.number(NUMBER64_MAX, "a mod-sequence")
        elif name != "VANISHED":
            raise r.error(f"unknown fetch modifier {name[:32]}")
        elif not uid:
            raise r.error("VANISHED is allowed in UID FETCH only (RFC 7162 section 3.2.6)")
        return name

    if r.skip(b" "):
        vanished = "VANISHED" in r.parenthesized(modifier)
        if vanished and changed_since is None:
            raise r.error("VANISHED needs CHANGEDSINCE (RFC 7162 section 3.2.6)")
    return Fetch(tag, messages, attrs, uid, changed_since, vanished)


def _parse_store(r: Reader, tag: str, uid: bool) -> Store:
    r.sp()
    messages = parse_message_set(r)
    r.sp()
    unchanged_since = None
    if r.skip(b"("):
        if not r.take_keyword("UNCHANGEDSINCE"):
            raise r.error("the only STORE modifier is UNCHANGEDSINCE (RFC 7162 section 3.1.3)")
        r.sp()
        unchanged_since = r.number(NUMBER64_MAX, "a mod-sequence")
        r.expect(b")", "')'")
        r.sp()
    mode = StoreMode.ADD if r.skip(b"+") else StoreMode.REMOVE if r.skip(b"-") else None
    name = r.keyword("FLAGS or FLAGS.SILENT")
    if name not in ("FLAGS", "FLAGS.SILENT"):
        raise r.error("expected FLAGS, +FLAGS or -FLAGS")
    r.sp()
    if r.next_is(b"("):
        flags = r.flag_list()
    else:
        flag_items = [r.flag()]
        while r.skip(b" "):
            flag_items.append(r.flag())
        flags = tuple(flag_items)
    return Store(
        tag,
        messages,
        mode or StoreMode.REPLACE,
        flags,
        uid,
        name == "FLAGS.SILENT",
        unchanged_since,
    )


def _set_and_mailbox(r: Reader) -> tuple[MessageSet, str]:
    r.sp()
    messages = parse_message_set(r)
    r.sp()
    return messages, r.mailbox()


def _parse_sort(r: Reader, tag: str, uid: bool) -> Sort:
    r.sp()
    returns = _return_options(r)

    def criterion() -> SortCriterion:
        reverse = r.take_keyword("REVERSE")
        if reverse:
            r.sp()
        name = r.keyword("a sort key")
        try:
            return SortCriterion(SortKey(name), reverse)
        except ValueError:
            raise r.error(f"unknown sort key {name[:32]}") from None

    criteria = r.parenthesized(criterion)
    r.sp()
    charset = _charset(r)
    r.sp()
    key = parse_search_keys(r, ascii_only=charset == "US-ASCII")
    return Sort(tag, criteria, charset, key, uid, returns)


def _parse_thread(r: Reader, tag: str, uid: bool) -> Thread:
    r.sp()
    algorithm = r.keyword("a threading algorithm")
    r.sp()
    charset = _charset(r)
    r.sp()
    key = parse_search_keys(r, ascii_only=charset == "US-ASCII")
    return Thread(tag, algorithm, charset, key, uid)


def _parse_copy(r: Reader, tag: str, uid: bool) -> Copy:
    return Copy(tag, *_set_and_mailbox(r), uid)


def _parse_move(r: Reader, tag: str, uid: bool) -> Move:
    return Move(tag, *_set_and_mailbox(r), uid)


def _parse_uid_expunge(r: Reader, tag: str, uid: bool) -> UidExpunge:
    r.sp()
    return UidExpunge(tag, parse_message_set(r))


_WITH_UID: dict[str, Callable[[Reader, str, bool], SelectedCommand]] = {
    "SEARCH": _parse_search,
    "FETCH": _parse_fetch,
    "STORE": _parse_store,
    "COPY": _parse_copy,
    "MOVE": _parse_move,
    "SORT": _parse_sort,
    "THREAD": _parse_thread,
}


def _with_uid(
    parse: Callable[[Reader, str, bool], SelectedCommand], uid: bool
) -> Callable[[Reader, str], SelectedCommand]:
    return lambda r, tag: parse(r, tag, uid)


PARSERS: dict[str, Callable[[Reader, str], SelectedCommand]] = {
    "CHECK": lambda r, tag: Check(tag),
    "CLOSE": lambda r, tag: Close(tag),
    "UNSELECT": lambda r, tag: Unselect(tag),
    "EXPUNGE": lambda r, tag: Expunge(tag),
    **{name: _with_uid(parse, False) for name, parse in _WITH_UID.items()},
}

UID_PARSERS: dict[str, Callable[[Reader, str], SelectedCommand]] = {
    "EXPUNGE": _with_uid(_parse_uid_expunge, True),
    **{name: _with_uid(parse, True) for name, parse in _WITH_UID.items()},
}
"""Commands that may follow ``UID`` (RFC 9051 §6.4.9, RFC 5256 for SORT and THREAD)."""
