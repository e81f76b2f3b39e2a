"""The authenticated-state commands that list mailboxes: LIST, LSUB and STATUS.

LIST takes the extended syntax of RFC 5258 (LIST-EXTENDED): selection
options before the reference, several patterns in parentheses, and return
options after them — SUBSCRIBED, CHILDREN, SPECIAL-USE (RFC 6154 §5.1)
and STATUS (RFC 5819). STATUS takes the items of RFC 9051 §6.3.11 and of
the extensions Roost offers: HIGHESTMODSEQ (RFC 7162), APPENDLIMIT
(RFC 7889), MAILBOXID (RFC 8474), RECENT for IMAP4rev1 clients (RFC 3501).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from roost.proto.imap.reader import Reader


class StatusItem(enum.Enum):
    """A STATUS data item (RFC 9051 §6.3.11)."""

    MESSAGES = "MESSAGES"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    DELETED = "DELETED"
    SIZE = "SIZE"
    RECENT = "RECENT"
    HIGHESTMODSEQ = "HIGHESTMODSEQ"
    APPENDLIMIT = "APPENDLIMIT"
    MAILBOXID = "MAILBOXID"


class ListSelect(enum.Enum):
    """A LIST selection option (RFC 5258 §3.1, RFC 6154 §5.1)."""

    SUBSCRIBED = "SUBSCRIBED"
    REMOTE = "REMOTE"
    RECURSIVEMATCH = "RECURSIVEMATCH"
    SPECIAL_USE = "SPECIAL-USE"


class ListReturn(enum.Enum):
    """A LIST return option other than STATUS (RFC 5258 §3.2, RFC 6154 §5.1)."""

    SUBSCRIBED = "SUBSCRIBED"
    CHILDREN = "CHILDREN"
    SPECIAL_USE = "SPECIAL-USE"


@dataclass(frozen=True, slots=True)
class List:
    """LIST [(select ...)] reference pattern(s) [RETURN (...)] (RFC 9051 §6.3.9, RFC 5258).

    ``status`` holds the items of ``RETURN (STATUS (...))`` (RFC 5819), or
    None when the client did not ask for STATUS.
    """

    NAME: ClassVar[str] = "LIST"
    tag: str
    reference: str
    patterns: tuple[str, ...]
    select: frozenset[ListSelect] = frozenset()
    returns: frozenset[ListReturn] = frozenset()
    status: tuple[StatusItem, ...] | None = None


@dataclass(frozen=True, slots=True)
class Lsub:
    """LSUB reference pattern (RFC 3501 §6.3.9; LIST (SUBSCRIBED) in IMAP4rev2)."""

    NAME: ClassVar[str] = "LSUB"
    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS mailbox (item ...) (RFC 9051 §6.3.11); items in the order asked."""

    NAME: ClassVar[str] = "STATUS"
    tag: str
    mailbox: str
    items: tuple[StatusItem, ...]


ListingCommand = List | Lsub | Status

_BASE_SELECTIONS = frozenset({ListSelect.SUBSCRIBED, ListSelect.SPECIAL_USE})


def parse_status_items(r: Reader) -> tuple[StatusItem, ...]:
    """``(`` status-att *(SP status-att) ``)``."""

    def item() -> StatusItem:
        name = r.keyword("a status item")
        try:
            return StatusItem(name)
        except ValueError:
            raise r.error(f"unknown status item {name[:32]}") from None

    return r.parenthesized(item)


def _parse_list(r: Reader, tag: str) -> List:
    r.sp()
    select: frozenset[ListSelect] = frozenset()
    if r.next_is(b"("):
        select = frozenset(r.parenthesized(lambda: _selection(r), empty=True))
        if ListSelect.RECURSIVEMATCH in select and not select & _BASE_SELECTIONS:
            raise r.error("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE (RFC 5258 section 3)")
        r.sp()
    reference = r.mailbox_name(r.astring())
    r.sp()
    patterns = r.parenthesized(r.list_mailbox) if r.next_is(b"(") else (r.list_mailbox(),)
    returns: set[ListReturn] = set()
    status = None
    if r.skip(b" "):
        if not r.take_keyword("RETURN"):
            raise r.error("expected RETURN")
        r.sp()
        for option in r.parenthesized(lambda: _return_option(r), empty=True):
            if isinstance(option, ListReturn):
                returns.add(option)
            elif status is not None:
                raise r.error("STATUS given twice in RETURN")
            else:
                status = option
    return List(tag, reference, patterns, select, frozenset(returns), status)


def _selection(r: Reader) -> ListSelect:
    name = r.keyword("a selection option")
    try:
        return ListSelect(name)
    except ValueError:
        raise r.error(f"unknown LIST selection option {name[:32]}") from None


def _return_option(r: Reader) -> ListReturn | tuple[StatusItem, ...]:
    name = r.keyword("a return option")
    if name == "STATUS":
        r.sp()
        return parse_status_items(r)
    try:
        return ListReturn(name)
    except ValueError:
        raise r.error(f"unknown LIST return option {name[:32]}") from None


def _parse_lsub(r: Reader, tag: str) -> Lsub:
    r.sp()
    reference = r.mailbox_name(r.astring())
    r.sp()
    return Lsub(tag, reference, r.list_mailbox())


def _parse_status(r: Reader, tag: str) -> Status:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Status(tag, mailbox, parse_status_items(r))


PARSERS: dict[str, Callable[[Reader, str], ListingCommand]] = {
    "LIST": _parse_list,
    "LSUB": _parse_lsub,
    "STATUS": _parse_status,
}
