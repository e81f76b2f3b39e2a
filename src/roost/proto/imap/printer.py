"""Commands back to bytes, in one canonical form: the inverse of the parser.

``parse_command(print_command(c)) == c`` for every command the parser can
return (the hypothesis tests hold it to that), which is what makes the
printer useful: tests build commands as values instead of as byte strings,
and the IMAP retrieval client can speak the same grammar.

The canonical form: names upper-case; an astring as an atom when it can be,
else quoted, else a literal (``{n}``, or ``{n+}`` with ``literal_plus``);
mailbox names in modified UTF-7 unless ``utf8``; lists parenthesised; empty
optional parts (no flags, no return options) left out; macros never used,
since the parser expanded them.
"""

from __future__ import annotations

import base64
import datetime
import re
from typing import assert_never

from roost.proto.imap import mutf7
from roost.proto.imap.commands import Command
from roost.proto.imap.commands.anystate import Capability, Id, Logout, Noop
from roost.proto.imap.commands.auth import (
    Append,
    Compress,
    Create,
    Delete,
    Enable,
    Examine,
    GetQuota,
    GetQuotaRoot,
    Idle,
    Namespace,
    QresyncParams,
    Rename,
    Select,
    SetQuota,
    Subscribe,
    Unsubscribe,
)
from roost.proto.imap.commands.listing import List, ListReturn, ListSelect, Lsub, Status
from roost.proto.imap.commands.nonauth import Authenticate, Login, StartTls
from roost.proto.imap.commands.selected import (
    Check,
    Close,
    Copy,
    Expunge,
    Fetch,
    Move,
    Search,
    SearchReturn,
    Sort,
    Store,
    Thread,
    UidExpunge,
    Unselect,
)
from roost.proto.imap.fetch import attribute_name
from roost.proto.imap.reader import MONTHS
from roost.proto.imap.search import (
    FLAG_KEYS,
    AgeKey,
    AllKey,
    And,
    DateKey,
    FlagKey,
    HeaderKey,
    ModSeqKey,
    Not,
    ObjectIdKey,
    Or,
    SaveDateSupportedKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextKey,
    UidKey,
)
from roost.proto.imap.sequence import MessageSet
from roost.proto.imap.writer import atom_bytes, quoted_or_none

_ASTRING_SAFE = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')
_LIST_SAFE = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')
_FLAG_NAMES = {(key.flag, key.present): name for name, key in FLAG_KEYS.items()}
_UID_FORMS = (Search, Fetch, Store, Copy, Move, Sort, Thread)


class _Out:
    """The bytes of one command as they are built."""

    __slots__ = ("literal_plus", "parts", "utf8")

    def __init__(self, *, utf8: bool, literal_plus: bool) -> None:
        self.parts: list[bytes] = []
        self.utf8 = utf8
        self.literal_plus = literal_plus

    def add(self, *pieces: bytes | str) -> None:
        """Raw pieces; a str must be ASCII (names, numbers, punctuation)."""
        for piece in pieces:
            self.parts.append(piece.encode("ascii") if isinstance(piece, str) else piece)

    def literal(self, data: bytes, *, binary: bool = False) -> None:
        plus = "+" if self.literal_plus else ""
        self.add("~{" if binary else "{", str(len(data)), plus, "}\r\n", data)

    def string(self, text: str) -> None:
        """A quoted string or a literal, never an atom (nstring positions, ID)."""
        quoted = quoted_or_none(text, utf8=self.utf8)
        if quoted is None:
            self.literal(text.encode("utf-8"))
        else:
            self.add(quoted)

    def astring(self, text: str, safe: re.Pattern[bytes] = _ASTRING_SAFE) -> None:
        raw = text.encode("utf-8")
        if safe.fullmatch(raw):
            self.add(raw)
        else:
            self.string(text)

    def mailbox(self, name: str, *, pattern: bool = False) -> None:
        encoded = name if self.utf8 else mutf7.encode(name)
        self.astring(encoded, _LIST_SAFE if pattern else _ASTRING_SAFE)

    def listed(self, items: list[str] | tuple[str, ...]) -> None:
        self.add("(", " ".join(items), ")")

    def flags(self, flags: tuple[str, ...]) -> None:
        self.add("(", b" ".join(atom_bytes(flag) for flag in flags), ")")

    def messages(self, messages: MessageSet) -> None:
        self.add(str(messages))

    def search(self, key: SearchKey, *, top: bool = False) -> None:
        _search_key(self, key, top)


def print_command(command: Command, *, utf8: bool = False, literal_plus: bool = False) -> bytes:
    """``command`` as a client sends it, CRLF included.

    Raises `ImapUsageError` for a value the parser could not have returned
    (a keyword that is no atom, a flag with a line break in it).
    """
    out = _Out(utf8=utf8, literal_plus=literal_plus)
    out.add(atom_bytes(command.tag), " ")
    if isinstance(command, UidExpunge) or (isinstance(command, _UID_FORMS) and command.uid):
        out.add("UID ")
    out.add("EXPUNGE" if isinstance(command, UidExpunge) else command.NAME)
    _arguments(out, command)
    out.add("\r\n")
    return b"".join(out.parts)


def _arguments(out: _Out, command: Command) -> None:
    match command:
        case (
            Capability()
            | Noop()
            | Logout()
            | StartTls()
            | Namespace()
            | Idle()
            | Check()
            | Close()
            | Unselect()
            | Expunge()
        ):
            pass
        case Id(params=None):
            out.add(" NIL")
        case Id(params=params):
            out.add(" (")
            for index, (field, value) in enumerate(params or ()):
                out.add(" " if index else "")
                out.string(field)
                out.add(" ")
                if value is None:
                    out.add("NIL")
                else:
                    out.string(value)
            out.add(")")
        case Authenticate(mechanism=mechanism, initial_response=response):
            out.add(" ", mechanism)
            if response is not None:
                out.add(" ", base64.b64encode(response) if response else b"=")
        case Login(username=username, password=password):
            out.add(" ")
            out.astring(username)
            out.add(" ")
            out.astring(password)
        case Enable(capabilities=names):
            out.add(" ", " ".join(names))
        case Select() | Examine():
            out.add(" ")
            out.mailbox(command.mailbox)
            _select_params(out, command.condstore, command.qresync)
        case Create(mailbox=mailbox, special_use=uses):
            out.add(" ")
            out.mailbox(mailbox)
            if uses:
                out.add(" (USE ")
                out.listed(uses)
                out.add(")")
        case Delete() | Subscribe() | Unsubscribe() | GetQuotaRoot():
            out.add(" ")
            out.mailbox(command.mailbox)
        case Rename(source=source, destination=destination):
            out.add(" ")
            out.mailbox(source)
            out.add(" ")
            out.mailbox(destination)
        case List():
            _list(out, command)
        case Lsub(reference=reference, pattern=pattern):
            out.add(" ")
            out.mailbox(reference)
            out.add(" ")
            out.mailbox(pattern, pattern=True)
        case Status(mailbox=mailbox, items=items):
            out.add(" ")
            out.mailbox(mailbox)
            out.add(" ")
            out.listed([item.value for item in items])
        case Append():
            _append(out, command)
        case GetQuota(root=root):
            out.add(" ")
            out.astring(root)
        case SetQuota(root=root, limits=limits):
            out.add(" ")
            out.astring(root)
            out.add(" ")
            out.listed([f"{name} {limit}" for name, limit in limits])
        case Compress(algorithm=algorithm):
            out.add(" ", algorithm)
        case UidExpunge(uids=uids):
            out.add(" ")
            out.messages(uids)
        case Search():
            _search_returns(out, command.returns)
            if command.charset is not None:
                out.add(" CHARSET ", command.charset)
            out.add(" ")
            out.search(command.criteria, top=True)
        case Fetch():
            _fetch(out, command)
        case Store():
            _store(out, command)
        case Copy() | Move():
            out.add(" ")
            out.messages(command.messages)
            out.add(" ")
            out.mailbox(command.mailbox)
        case Sort():
            _search_returns(out, command.returns)
            out.add(" ")
            out.listed([("REVERSE " if c.reverse else "") + c.key.value for c in command.criteria])
            out.add(" ", command.charset, " ")
            out.search(command.key, top=True)
        case Thread(algorithm=algorithm, charset=charset, key=key):
            out.add(" ", algorithm, " ", charset, " ")
            out.search(key, top=True)
        case _:
            assert_never(command)


def _select_params(out: _Out, condstore: bool, qresync: QresyncParams | None) -> None:
    params = ["CONDSTORE"] if condstore else []
    if qresync is not None:
        text = f"QRESYNC ({qresync.uidvalidity} {qresync.modseq}"
        if qresync.known_uids is not None:
            text += f" {qresync.known_uids}"
        if qresync.seq_match is not None:
            text += f" ({qresync.seq_match[0]} {qresync.seq_match[1]})"
        params.append(text + ")")
    if params:
        out.add(" ")
        out.listed(params)


def _list(out: _Out, command: List) -> None:
    if command.select:
        out.add(" ")
        out.listed([option.value for option in ListSelect if option in command.select])
    out.add(" ")
    out.mailbox(command.reference)
    out.add(" ")
    if len(command.patterns) == 1:
        out.mailbox(command.patterns[0], pattern=True)
    else:
        out.add("(")
        for index, pattern in enumerate(command.patterns):
            out.add(" " if index else "")
            out.mailbox(pattern, pattern=True)
        out.add(")")
    options = [option.value for option in ListReturn if option in command.returns]
    if command.status is not None:
        options.append("STATUS (" + " ".join(item.value for item in command.status) + ")")
    if options:
        out.add(" RETURN ")
        out.listed(options)


def _append(out: _Out, command: Append) -> None:
    out.add(" ")
    out.mailbox(command.mailbox)
    if command.flags:
        out.add(" ")
        out.flags(command.flags)
    if command.internal_date is not None:
        out.add(" ", '"', _date_time(command.internal_date), '"')
    out.add(" ")
    if command.utf8:
        out.add("UTF8 (")
        out.literal(command.message, binary=True)
        out.add(")")
    else:
        out.literal(command.message, binary=command.binary)


def _fetch(out: _Out, command: Fetch) -> None:
    out.add(" ")
    out.messages(command.messages)
    out.add(" ")
    out.listed([attribute_name(attr) for attr in command.attrs])
    if command.changed_since is not None:
        vanished = " VANISHED" if command.vanished else ""
        out.add(f" (CHANGEDSINCE {command.changed_since}{vanished})")


def _store(out: _Out, command: Store) -> None:
    out.add(" ")
    out.messages(command.messages)
    if command.unchanged_since is not None:
        out.add(f" (UNCHANGEDSINCE {command.unchanged_since})")
    out.add(" ", command.mode.value, "FLAGS.SILENT " if command.silent else "FLAGS ")
    out.flags(command.flags)


def _search_returns(out: _Out, returns: frozenset[SearchReturn] | None) -> None:
    if returns is not None:
        out.add(" RETURN ")
        out.listed([option.value for option in SearchReturn if option in returns])


def _search_key(out: _Out, key: SearchKey, top: bool) -> None:
    match key:
        case And(keys) if top:
            for index, inner in enumerate(keys):
                out.add(" " if index else "")
                _search_key(out, inner, False)
        case And(keys):
            out.add("(")
            _search_key(out, key, True)
            out.add(")")
        case AllKey():
            out.add("ALL")
        case FlagKey(flag, present):
            name = _FLAG_NAMES.get((flag, present))
            if name is None:
                out.add("KEYWORD " if present else "UNKEYWORD ", atom_bytes(flag))
            else:
                out.add(name)
        case TextKey(field, value):
            out.add(field.value, " ")
            out.astring(value)
        case HeaderKey(name, value):
            out.add("HEADER ")
            out.astring(name)
            out.add(" ")
            out.astring(value)
        case DateKey(source, relation, date):
            out.add(source.value, relation.value, " ", _date(date))
        case SizeKey(larger, octets):
            out.add("LARGER " if larger else "SMALLER ", str(octets))
        case AgeKey(older, seconds):
            out.add("OLDER " if older else "YOUNGER ", str(seconds))
        case SequenceKey(messages):
            out.messages(messages)
        case UidKey(uids):
            out.add("UID ")
            out.messages(uids)
        case ModSeqKey(modseq, entry):
            out.add("MODSEQ ")
            if entry is not None:
                out.string("/flags/" + entry.flag)
                out.add(" ", entry.kind, " ")
            out.add(str(modseq))
        case ObjectIdKey(field, value):
            out.add(field, " ", value)
        case SaveDateSupportedKey():
            out.add("SAVEDATESUPPORTED")
        case Not(inner):
            out.add("NOT ")
            _search_key(out, inner, False)
        case Or(left, right):
            out.add("OR ")
            _search_key(out, left, False)
            out.add(" ")
            _search_key(out, right, False)
        case _:
            assert_never(key)


def _date(date: datetime.date) -> str:
    return f"{date.day}-{MONTHS[date.month - 1]}-{date.year:04d}"


def _date_time(when: datetime.datetime) -> str:
    offset = when.utcoffset() or datetime.timedelta(0)
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return (
        f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )
