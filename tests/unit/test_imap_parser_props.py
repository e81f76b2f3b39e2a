"""Properties of the grammar: printing a command and parsing it gives it back,
and no input makes the parser raise anything but `ParseError`.

The strategies build every command type from values the parser can return
(canonical flags, upper-cased names, no NUL in text), in both mailbox-name
modes: modified UTF-7 and UTF-8. Hypothesis keeps no example database
(``database=None``) so a run writes nothing into the shared tree.
"""

from __future__ import annotations

import datetime
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.proto.imap.commands import Command
from roost.proto.imap.commands.anystate import Capability, Id, Logout, Noop
from roost.proto.imap.commands.auth import (
    SPECIAL_USES,
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
from roost.proto.imap.commands.listing import List, ListReturn, ListSelect, Lsub, Status, StatusItem
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
    SortCriterion,
    SortKey,
    Store,
    StoreMode,
    Thread,
    UidExpunge,
    Unselect,
)
from roost.proto.imap.errors import ParseError
from roost.proto.imap.fetch import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchItem,
    Partial,
    Section,
    SectionText,
)
from roost.proto.imap.parser import parse_command
from roost.proto.imap.printer import print_command
from roost.proto.imap.reader import NUMBER64_MAX, NUMBER_MAX, SYSTEM_FLAGS
from roost.proto.imap.search import (
    AgeKey,
    AllKey,
    And,
    DateKey,
    DateRelation,
    DateSource,
    FlagKey,
    HeaderKey,
    ModSeqEntry,
    ModSeqKey,
    Not,
    ObjectIdKey,
    Or,
    SaveDateSupportedKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextField,
    TextKey,
    UidKey,
)
from roost.proto.imap.sequence import STAR, SavedResult, SeqRange, SequenceSet
from roost.proto.imap.writer import rejection

PROPS = settings(
    max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ATOM_CHARS = "".join(c for c in string.printable[:94] if c not in '(){%*"\\]')
UPPER_ATOM_CHARS = "".join(c for c in ATOM_CHARS if not c.islower())

atoms = st.text(ATOM_CHARS, min_size=1, max_size=12)
names = st.text(UPPER_ATOM_CHARS, min_size=1, max_size=12)
tags = st.text(ATOM_CHARS.replace("+", "") + "]", min_size=1, max_size=8)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=16)
short_ascii = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20)
mailboxes = texts.filter(
    lambda name: name == "INBOX" or not (name.isascii() and name.upper() == "INBOX")
)
flags = st.one_of(st.sampled_from(SYSTEM_FLAGS), atoms)
flag_tuples = st.lists(flags, max_size=4).map(tuple)
numbers = st.integers(1, NUMBER_MAX)
number64 = st.integers(0, NUMBER64_MAX)
dates = st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31))
zones = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
date_times = st.builds(
    lambda day, seconds, zone: datetime.datetime.combine(
        day, datetime.time(seconds // 3600, seconds // 60 % 60, seconds % 60), zone
    ),
    dates,
    st.integers(0, 86399),
    zones,
)


def sets(*, star: bool = True) -> st.SearchStrategy[SequenceSet]:
    number = st.one_of(numbers, st.just(STAR)) if star else numbers
    ranges = st.builds(SeqRange, number, number)
    return st.lists(ranges, min_size=1, max_size=5).map(lambda items: SequenceSet(tuple(items)))


message_sets = st.one_of(sets(), st.just(SavedResult()))

simple_keys: st.SearchStrategy[SearchKey] = st.one_of(
    st.just(AllKey()),
    st.builds(FlagKey, flags, st.booleans()),
    st.builds(TextKey, st.sampled_from(TextField), texts),
    st.builds(HeaderKey, texts, texts),
    st.builds(DateKey, st.sampled_from(DateSource), st.sampled_from(DateRelation), dates),
    st.builds(SizeKey, st.booleans(), number64),
    st.builds(AgeKey, st.booleans(), numbers),
    st.builds(SequenceKey, message_sets),
    st.builds(UidKey, message_sets),
    st.builds(
        ModSeqKey,
        number64,
        st.none() | st.builds(ModSeqEntry, flags, st.sampled_from(["priv", "shared", "all"])),
    ),
    st.builds(
        ObjectIdKey,
        st.sampled_from(["EMAILID", "THREADID"]),
        st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
    ),
    st.just(SaveDateSupportedKey()),
)


def _compound(inner: st.SearchStrategy[SearchKey]) -> st.SearchStrategy[SearchKey]:
    return st.one_of(
        st.builds(Not, inner),
        st.builds(Or, inner, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda keys: And(tuple(keys))),
    )


search_keys = st.recursive(simple_keys, _compound, max_leaves=8)


def _section() -> st.SearchStrategy[Section]:
    part = st.lists(numbers, max_size=3).map(tuple)
    field_names = st.lists(
        st.text(string.ascii_uppercase + '-()"\\', min_size=1, max_size=8), min_size=1, max_size=3
    ).map(tuple)
    return st.one_of(
        st.builds(Section, part),
        st.builds(Section, part, st.sampled_from([SectionText.HEADER, SectionText.TEXT])),
        st.builds(Section, part.filter(bool), st.just(SectionText.MIME)),
        st.builds(
            Section,
            part,
            st.sampled_from([SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT]),
            field_names,
        ),
    )


partials = st.none() | st.builds(Partial, number64, st.integers(1, NUMBER64_MAX))
parts = st.lists(numbers, max_size=3).map(tuple)
fetch_attrs = st.one_of(
    st.sampled_from(FetchItem),
    st.builds(BodySection, _section(), st.booleans(), partials),
    st.builds(BinarySection, parts, st.booleans(), partials),
    st.builds(BinarySize, parts),
)


@st.composite
def fetches(draw: st.DrawFn) -> Fetch:
    tag = draw(tags)
    uid = draw(st.booleans())
    changed = draw(st.none() | number64)
    vanished = uid and changed is not None and draw(st.booleans())
    attrs = tuple(draw(st.lists(fetch_attrs, min_size=1, max_size=4)))
    return Fetch(tag, draw(message_sets), attrs, uid, changed, vanished)


@st.composite
def lists(draw: st.DrawFn) -> List:
    tag = draw(tags)
    select = draw(st.frozensets(st.sampled_from(ListSelect)))
    if ListSelect.RECURSIVEMATCH in select:
        select |= {ListSelect.SUBSCRIBED}
    patterns = tuple(draw(st.lists(texts, min_size=1, max_size=3)))
    status = draw(st.none() | st.lists(st.sampled_from(StatusItem), min_size=1).map(tuple))
    returns = draw(st.frozensets(st.sampled_from(ListReturn)))
    return List(tag, draw(texts), patterns, select, returns, status)


@st.composite
def appends(draw: st.DrawFn) -> Append:
    tag = draw(tags)
    kind = draw(st.sampled_from(["literal", "binary", "utf8"]))
    message = draw(st.binary(max_size=40))
    if kind == "literal":
        message = message.replace(b"\0", b"")
    return Append(
        tag,
        draw(mailboxes),
        message,
        draw(flag_tuples),
        draw(st.none() | date_times),
        binary=kind == "binary",
        utf8=kind == "utf8",
    )


qresync = st.builds(
    QresyncParams,
    numbers,
    number64,
    st.none() | sets(star=False),
    st.none() | st.tuples(sets(star=False), sets(star=False)),
)
special_uses = st.sampled_from(SPECIAL_USES) | atoms.map(lambda atom: "\\" + atom).filter(
    lambda use: use.upper() not in {known.upper() for known in SPECIAL_USES}
)
search_returns = st.none() | st.frozensets(st.sampled_from(SearchReturn))
charsets = st.sampled_from(["UTF-8"])
id_params = st.none() | st.lists(
    st.tuples(short_ascii.filter(lambda s: len(s) <= 30), st.none() | short_ascii), max_size=5
).map(tuple)


def _commands() -> st.SearchStrategy[Command]:
    b = st.builds
    t = tags
    return st.one_of(
        *(
            b(kind, t)
            for kind in (
                Capability,
                Noop,
                Logout,
                StartTls,
                Namespace,
                Idle,
                Check,
                Close,
                Unselect,
                Expunge,
            )
        ),
        b(Id, t, id_params),
        b(Authenticate, t, names, st.none() | st.binary(max_size=30)),
        b(Login, t, texts, texts),
        b(Enable, t, st.lists(names, min_size=1, max_size=3).map(tuple)),
        b(Select, t, mailboxes, st.booleans(), st.none() | qresync),
        b(Examine, t, mailboxes, st.booleans(), st.none() | qresync),
        b(Create, t, mailboxes, st.lists(special_uses, max_size=3).map(tuple)),
        b(Delete, t, mailboxes),
        b(Rename, t, mailboxes, mailboxes),
        b(Subscribe, t, mailboxes),
        b(Unsubscribe, t, mailboxes),
        lists(),
        b(Lsub, t, texts, texts),
        b(
            Status,
            t,
            mailboxes,
            st.lists(st.sampled_from(StatusItem), min_size=1).map(tuple),
        ),
        appends(),
        b(GetQuota, t, texts),
        b(GetQuotaRoot, t, mailboxes),
        b(SetQuota, t, texts, st.lists(st.tuples(names, number64)).map(tuple)),
        b(Compress, t, names),
        b(UidExpunge, t, message_sets),
        b(Search, t, search_keys, st.booleans(), st.none() | charsets, search_returns),
        fetches(),
        b(
            Store,
            t,
            message_sets,
            st.sampled_from(StoreMode),
            flag_tuples,
            st.booleans(),
            st.booleans(),
            st.none() | number64,
        ),
        b(Copy, t, message_sets, mailboxes, st.booleans()),
        b(Move, t, message_sets, mailboxes, st.booleans()),
        b(
            Sort,
            t,
            st.lists(
                st.builds(SortCriterion, st.sampled_from(SortKey), st.booleans()), min_size=1
            ).map(tuple),
            charsets,
            search_keys,
            st.booleans(),
            search_returns,
        ),
        b(Thread, t, names, charsets, search_keys, st.booleans()),
    )


any_command = _commands()


@PROPS
@given(any_command, st.booleans(), st.booleans())
def test_print_then_parse_gives_the_command(command: Command, utf8: bool, plus: bool) -> None:
    wire = print_command(command, utf8=utf8, literal_plus=plus)
    assert parse_command(wire, utf8=utf8) == command


@PROPS
@given(any_command, st.booleans())
def test_printing_is_canonical(command: Command, utf8: bool) -> None:
    wire = print_command(command, utf8=utf8)
    assert print_command(parse_command(wire, utf8=utf8), utf8=utf8) == wire


def _parses_or_refuses(data: bytes, utf8: bool) -> None:
    try:
        parse_command(data, utf8=utf8)
    except ParseError as error:
        # Whatever was refused, the refusal is plain ASCII and can be written.
        assert error.text.isascii()
        answer = rejection(error)
        assert answer.endswith(b"\r\n")
        assert answer.count(b"\n") == 1


@PROPS
@given(st.binary(max_size=200), st.booleans())
def test_arbitrary_bytes_raise_only_parse_errors(data: bytes, utf8: bool) -> None:
    _parses_or_refuses(data, utf8)


TOKENS = [
    b" ",
    b"\r\n",
    b"(",
    b")",
    b"[",
    b"]",
    b"<",
    b">",
    b".",
    b'"',
    b"\\",
    b"{",
    b"}",
    b"~{",
    b"{3}\r\n",
    b"{0+}\r\n",
    b"*",
    b"$",
    b":",
    b",",
    b"1",
    b"0",
    b"4294967296",
    b"99999999999999999999999",
    b"a1",
    b"UID",
    b"FETCH",
    b"SEARCH",
    b"STORE",
    b"APPEND",
    b"LIST",
    b"SELECT",
    b"BODY",
    b"BODY.PEEK",
    b"BINARY",
    b"HEADER.FIELDS",
    b"MIME",
    b"OR",
    b"NOT",
    b"NIL",
    b"CHARSET",
    b"RETURN",
    b"QRESYNC",
    b"MODSEQ",
    b'"/flags/\\\\Seen"',
    b"FLAGS",
    b"+FLAGS",
    b"UTF8",
    b"1-Feb-2024",
    b"\xc3\xa9",
    b"\xff",
    b"&Jjo-",
    b"&",
    b"\0",
    b"\n",
    b"SORT",
    b"THREAD",
    b"ID",
    b"CREATE",
    b"USE",
    b"STATUS",
]


@PROPS
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.booleans())
def test_token_soup_raises_only_parse_errors(tokens: list[bytes], utf8: bool) -> None:
    _parses_or_refuses(b"a1 " + b"".join(tokens) + b"\r\n", utf8)


@PROPS
@given(any_command, st.data())
def test_mutated_commands_raise_only_parse_errors(command: Command, data: st.DataObject) -> None:
    wire = bytearray(print_command(command))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(wire)))
        match data.draw(st.sampled_from(["insert", "delete", "replace"])):
            case "insert":
                wire[at:at] = data.draw(st.sampled_from(TOKENS))
            case "delete":
                del wire[at : at + data.draw(st.integers(1, 5))]
            case "replace":
                wire[at : at + 1] = bytes([data.draw(st.integers(0, 255))])
    _parses_or_refuses(bytes(wire), data.draw(st.booleans()))
