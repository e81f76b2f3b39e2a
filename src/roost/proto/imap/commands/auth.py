"""Commands of the authenticated state (RFC 9051 §6.3) other than the listing ones.

ENABLE (RFC 5161), SELECT and EXAMINE with CONDSTORE and QRESYNC (RFC 7162
§3.1.8, §3.2.5), CREATE with USE (RFC 6154 §3), DELETE, RENAME,
SUBSCRIBE, UNSUBSCRIBE, NAMESPACE (RFC 2342), APPEND with literal8
(RFC 3516) and UTF8 (RFC 6855 §4), IDLE (RFC 2177), the quota commands
(RFC 9208) and COMPRESS (RFC 4978). LIST, LSUB and STATUS live in
`roost.proto.imap.commands.listing`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from roost.proto.imap.reader import NUMBER64_MAX, Reader
from roost.proto.imap.sequence import SequenceSet, parse_sequence_set

SPECIAL_USES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
"""RFC 6154 §2: the special-use attributes, in their canonical spelling."""

_CANONICAL_USES = {use.upper(): use for use in SPECIAL_USES}


@dataclass(frozen=True, slots=True)
class Enable:
    """ENABLE cap... (RFC 5161 §3.1); capability names upper-cased."""

    NAME: ClassVar[str] = "ENABLE"
    tag: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QresyncParams:
    """The QRESYNC select parameter (RFC 7162 §3.2.5).

    ``known_uids`` is the client's set of UIDs it knows (no ``*``);
    ``seq_match`` pairs known sequence numbers with their UIDs.
    """

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True)
class Select:
    """SELECT mailbox [(CONDSTORE) / (QRESYNC (...))] (RFC 9051 §6.3.2)."""

    NAME: ClassVar[str] = "SELECT"
    tag: str
    mailbox: str
    condstore: bool = False
    qresync: QresyncParams | None = None


@dataclass(frozen=True, slots=True)
class Examine:
    """EXAMINE: SELECT read-only (RFC 9051 §6.3.3); the same parameters."""

    NAME: ClassVar[str] = "EXAMINE"
    tag: str
    mailbox: str
    condstore: bool = False
    qresync: QresyncParams | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """CREATE mailbox [(USE (\\Drafts ...))] (RFC 9051 §6.3.4, RFC 6154 §3)."""

    NAME: ClassVar[str] = "CREATE"
    tag: str
    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    NAME: ClassVar[str] = "DELETE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename:
    NAME: ClassVar[str] = "RENAME"
    tag: str
    source: str
    destination: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    NAME: ClassVar[str] = "SUBSCRIBE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    NAME: ClassVar[str] = "UNSUBSCRIBE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Namespace:
    NAME: ClassVar[str] = "NAMESPACE"
    tag: str


@dataclass(frozen=True, slots=True)
class Append:
    """APPEND one message (RFC 9051 §6.3.12).

    ``binary`` says it came as a literal8 (RFC 3516 §4.4), ``utf8`` that it
    came as ``UTF8 (~{n})`` (RFC 6855 §4); the repr never shows the message.
    """

    NAME: ClassVar[str] = "APPEND"
    tag: str
    mailbox: str
    message: bytes
    flags: tuple[str, ...] = ()
    internal_date: datetime.datetime | None = None
    binary: bool = False
    utf8: bool = False

    def __repr__(self) -> str:
        return (
            f"Append(tag={self.tag!r}, mailbox={self.mailbox!r}, "
            f"message=<{len(self.message)} octets>, flags={self.flags!r}, "
            f"internal_date={self.internal_date!r}, binary={self.binary}, utf8={self.utf8})"
        )


@dataclass(frozen=True, slots=True)
class Idle:
    """IDLE (RFC 2177, RFC 9051 §6.3.13); the DONE line is read by the framer."""

    NAME: ClassVar[str] = "IDLE"
    tag: str


@dataclass(frozen=True, slots=True)
class GetQuota:
    """GETQUOTA root (RFC 9208 §4.1.1)."""

    NAME: ClassVar[str] = "GETQUOTA"
    tag: str
    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot:
    """GETQUOTAROOT mailbox (RFC 9208 §4.1.2)."""

    NAME: ClassVar[str] = "GETQUOTAROOT"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota:
    """SETQUOTA root (resource limit ...) (RFC 9208 §4.1.3); names upper-cased."""

    NAME: ClassVar[str] = "SETQUOTA"
    tag: str
    root: str
    limits: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Compress:
    """COMPRESS algorithm (RFC 4978 §3); only DEFLATE is defined."""

    NAME: ClassVar[str] = "COMPRESS"
    tag: str
    algorithm: str


AuthenticatedCommand = (
    Enable
    | Select
    | Examine
    | Create
    | Delete
    | Rename
    | Subscribe
    | Unsubscribe
    | Namespace
    | Append
    | Idle
    | GetQuota
    | GetQuotaRoot
    | SetQuota
    | Compress
)


def _parse_enable(r: Reader, tag: str) -> Enable:
    names = []
    while r.skip(b" "):
        names.append(r.keyword("a capability"))
    if not names:
        raise r.error("ENABLE needs at least one capability")
    return Enable(tag, tuple(names))


def _select_params(r: Reader) -> tuple[str, bool, QresyncParams | None]:
    r.sp()
    mailbox = r.mailbox()
    condstore, qresync = False, None
    if r.skip(b" "):
        for name in r.parenthesized(lambda: _select_param(r)):
            if isinstance(name, QresyncParams):
                if qresync is not None:
                    raise r.error("QRESYNC given twice")
                qresync = name
            else:
                condstore = True
    return mailbox, condstore, qresync


def _select_param(r: Reader) -> QresyncParams | bool:
    name = r.keyword("a select parameter")
    if name == "CONDSTORE":
        return True
    if name != "QRESYNC":
        raise r.error(f"unknown select parameter {name[:32]}")
    r.sp()
    r.expect(b"(", "'('")
    uidvalidity = r.nz_number(what="a UIDVALIDITY")
    r.sp()
    modseq = r.number(NUMBER64_MAX, "a mod-sequence")
    known_uids = seq_match = None
    if r.skip(b" "):
        if r.next_is(b"("):
            seq_match = _seq_match(r)
        else:
            known_uids = parse_sequence_set(r, star=False)
            if r.skip(b" "):
                seq_match = _seq_match(r)
    r.expect(b")", "')' after QRESYNC")
    return QresyncParams(uidvalidity, modseq, known_uids, seq_match)


def _seq_match(r: Reader) -> tuple[SequenceSet, SequenceSet]:
    r.expect(b"(", "'('")
    known = parse_sequence_set(r, star=False)
    r.sp()
    uids = parse_sequence_set(r, star=False)
    r.expect(b")", "')'")
    return known, uids


def _parse_select(r: Reader, tag: str) -> Select:
    return Select(tag, *_select_params(r))


def _parse_examine(r: Reader, tag: str) -> Examine:
    return Examine(tag, *_select_params(r))


def _parse_create(r: Reader, tag: str) -> Create:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.skip(b" "):
        r.expect(b"(", "'('")
        if not r.take_keyword("USE"):
            raise r.error("the only CREATE parameter is USE (RFC 6154)")
        r.sp()
        uses = r.parenthesized(lambda: _special_use(r), empty=True)
        r.expect(b")", "')'")
    return Create(tag, mailbox, uses)


def _special_use(r: Reader) -> str:
    r.expect(b"\\", "a special-use attribute")
    use = "\\" + r.atom("a special-use attribute")
    return _CANONICAL_USES.get(use.upper(), use)


def _one_mailbox(r: Reader) -> str:
    r.sp()
    return r.mailbox()


def _parse_rename(r: Reader, tag: str) -> Rename:
    source = _one_mailbox(r)
    return Rename(tag, source, _one_mailbox(r))


def _parse_append(r: Reader, tag: str) -> Append:
    mailbox = _one_mailbox(r)
    r.sp()
    flags: tuple[str, ...] = ()
    when = None
    if r.next_is(b"("):
        flags = r.flag_list()
        r.sp()
    if r.next_is(b'"'):
        when = r.date_time()
        r.sp()
    if r.take_keyword("UTF8"):
        r.sp()
        r.expect(b"(", "'(' after UTF8")
        if not r.is_literal8():
            raise r.error("UTF8 takes a literal8 (RFC 6855 section 4)")
        message = r.literal(binary=True)
        r.expect(b")", "')'")
        return Append(tag, mailbox, message, flags, when, binary=False, utf8=True)
    binary = r.is_literal8()
    return Append(tag, mailbox, r.literal(binary=binary), flags, when, binary=binary)


def _parse_setquota(r: Reader, tag: str) -> SetQuota:
    r.sp()
    root = r.text()
    r.sp()

    def resource() -> tuple[str, int]:
        name = r.keyword("a resource name")
        r.sp()
        return name, r.number(NUMBER64_MAX, "a resource limit")

    return SetQuota(tag, root, r.parenthesized(resource, empty=True))


def _parse_getquota(r: Reader, tag: str) -> GetQuota:
    r.sp()
    return GetQuota(tag, r.text())


def _parse_compress(r: Reader, tag: str) -> Compress:
    r.sp()
    return Compress(tag, r.keyword("a compression algorithm"))


PARSERS: dict[str, Callable[[Reader, str], AuthenticatedCommand]] = {
    "ENABLE": _parse_enable,
    "SELECT": _parse_select,
    "EXAMINE": _parse_examine,
    "CREATE": _parse_create,
    "DELETE": lambda r, tag: Delete(tag, _one_mailbox(r)),
    "RENAME": _parse_rename,
    "SUBSCRIBE": lambda r, tag: Subscribe(tag, _one_mailbox(r)),
    "UNSUBSCRIBE": lambda r, tag: Unsubscribe(tag, _one_mailbox(r)),
    "NAMESPACE": lambda r, tag: Namespace(tag),
    "APPEND": _parse_append,
    "IDLE": lambda r, tag: Idle(tag),
    "GETQUOTA": _parse_getquota,
    "GETQUOTAROOT": lambda r, tag: GetQuotaRoot(tag, _one_mailbox(r)),
    "SETQUOTA": _parse_setquota,
    "COMPRESS": _parse_compress,
}
