"""The command parser on every command, mostly with the RFCs' own examples.

Search keys and fetch attributes have their own files
(test_imap_parser_search.py, test_imap_parser_fetch.py); the properties
(round trips, hostile bytes) are in test_imap_parser_props.py.
"""

from __future__ import annotations

import datetime

import pytest

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
from roost.proto.imap.commands.listing import List, ListReturn, ListSelect, Lsub, Status, StatusItem
from roost.proto.imap.commands.nonauth import Authenticate, Login, StartTls, parse_sasl_response
from roost.proto.imap.commands.selected import (
    Check,
    Close,
    Copy,
    Expunge,
    Move,
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
from roost.proto.imap.parser import COMMAND_NAMES, is_done, parse_command
from roost.proto.imap.reader import Reader
from roost.proto.imap.responses import Condition
from roost.proto.imap.search import AllKey, SearchKey, TextField, TextKey, parse_search_keys
from roost.proto.imap.sequence import STAR, SavedResult, SeqNumber, SeqRange, SequenceSet


def seq(*ranges: tuple[SeqNumber, SeqNumber]) -> SequenceSet:
    return SequenceSet(tuple(SeqRange(a, b) for a, b in ranges))


def keys(text: bytes) -> SearchKey:
    return parse_search_keys(Reader(text))


def parse(line: bytes, *, utf8: bool = False) -> Command:
    return parse_command(line + b"\r\n", utf8=utf8)


UTC = datetime.UTC

EXAMPLES: list[tuple[bytes, Command]] = [
    (b"abcd CAPABILITY", Capability("abcd")),
    (b"a002 noop", Noop("a002")),
    (b"A023 LOGOUT", Logout("A023")),
    (b"a STARTTLS", StartTls("a")),
    (b"a ID NIL", Id("a", None)),
    (b'a ID ("name" "sodr" "version" "19.34")', Id("a", (("name", "sodr"), ("version", "19.34")))),
    (b'a ID ("name" NIL "x" "y")', Id("a", (("name", None), ("x", "y")))),
    (b"a ID ()", Id("a", ())),
    (b"a AUTHENTICATE GSSAPI", Authenticate("a", "GSSAPI")),
    (b"a authenticate plain AGZyZWQAc2VjcmV0", Authenticate("a", "PLAIN", b"\0fred\0secret")),
    (b"a AUTHENTICATE EXTERNAL =", Authenticate("a", "EXTERNAL", b"")),
    (b"a001 LOGIN SMITH SESAME", Login("a001", "SMITH", "SESAME")),
    (b'a LOGIN "fred smith" {3}\r\np\xc3\xa9', Login("a", "fred smith", "pé")),
    (b"a ENABLE CONDSTORE utf8=accept", Enable("a", ("CONDSTORE", "UTF8=ACCEPT"))),
    (b"A142 SELECT INBOX", Select("A142", "INBOX")),
    (b"a SELECT inbox", Select("a", "INBOX")),
    (b"a SELECT INBOX.Sent", Select("a", "INBOX.Sent")),
    (b"a EXAMINE blurdybloop (CONDSTORE)", Examine("a", "blurdybloop", condstore=True)),
    (
        b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
        Select(
            "A02",
            "INBOX",
            qresync=QresyncParams(
                67890007, 20050715194045000, seq((41, 41), (43, 211), (214, 541))
            ),
        ),
    ),
    (
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
        b"(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979:29997)))",
        Select(
            "B04",
            "INBOX",
            qresync=QresyncParams(
                67890007,
                90060115194045000,
                seq((1, 29997)),
                (
                    seq((5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)),
                    seq(
                        (15000, 15000),
                        (22500, 22500),
                        (27000, 27000),
                        (29970, 29970),
                        (29973, 29973),
                        (29976, 29976),
                        (29979, 29997),
                    ),
                ),
            ),
        ),
    ),
    (
        b"a SELECT x (CONDSTORE QRESYNC (1 0 (2 3)))",
        Select("a", "x", True, QresyncParams(1, 0, None, (seq((2, 2)), seq((3, 3))))),
    ),
    (b"A003 CREATE owatagusiam/", Create("A003", "owatagusiam/")),
    (
        b"t1 CREATE MySpecialArchive (USE (\\Archive \\drafts \\X-Other))",
        Create("t1", "MySpecialArchive", ("\\Archive", "\\Drafts", "\\X-Other")),
    ),
    (b"A101 DELETE blurdybloop", Delete("A101", "blurdybloop")),
    (b"A683 RENAME blurdybloop sarasoop", Rename("A683", "blurdybloop", "sarasoop")),
    (b"A002 SUBSCRIBE #news.comp.mail.mime", Subscribe("A002", "#news.comp.mail.mime")),
    (b"A002 UNSUBSCRIBE #news.comp.mail.mime", Unsubscribe("A002", "#news.comp.mail.mime")),
    (b'A101 LIST "" ""', List("A101", "", ("",))),
    (b"A102 LIST #news.comp.mail.misc %", List("A102", "#news.comp.mail.misc", ("%",))),
    (b'A103 LIST /usr/staff/jones ""', List("A103", "/usr/staff/jones", ("",))),
    (b'a LIST "" ~/Mail/*', List("a", "", ("~/Mail/*",))),
    (b'a LIST "" foo]bar', List("a", "", ("foo]bar",))),
    (
        b'A02 LIST (SUBSCRIBED) "" "*"',
        List("A02", "", ("*",), frozenset({ListSelect.SUBSCRIBED})),
    ),
    (
        b'A03 LIST () "" "%" RETURN (CHILDREN)',
        List("A03", "", ("%",), returns=frozenset({ListReturn.CHILDREN})),
    ),
    (
        b'A05 LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (SUBSCRIBED CHILDREN)',
        List(
            "A05",
            "",
            ("*",),
            frozenset({ListSelect.REMOTE, ListSelect.SUBSCRIBED, ListSelect.RECURSIVEMATCH}),
            frozenset({ListReturn.SUBSCRIBED, ListReturn.CHILDREN}),
        ),
    ),
    (
        b'BBB LIST "" ("INBOX" "Drafts" "Sent/%")',
        List("BBB", "", ("INBOX", "Drafts", "Sent/%")),
    ),
    (
        b't1 LIST (SPECIAL-USE) "" "*"',
        List("t1", "", ("*",), frozenset({ListSelect.SPECIAL_USE})),
    ),
    (
        b'A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))',
        List("A01", "", ("%",), status=(StatusItem.MESSAGES, StatusItem.UNSEEN)),
    ),
    (
        b'a LIST "" % RETURN (SPECIAL-USE STATUS (SIZE))',
        List(
            "a", "", ("%",), returns=frozenset({ListReturn.SPECIAL_USE}), status=(StatusItem.SIZE,)
        ),
    ),
    (b'A002 LSUB "#news." "comp.mail.*"', Lsub("A002", "#news.", "comp.mail.*")),
    (b"A932 NAMESPACE", Namespace("A932")),
    (
        b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
        Status("A042", "blurdybloop", (StatusItem.UIDNEXT, StatusItem.MESSAGES)),
    ),
    (
        b"a STATUS x (messages uidnext uidvalidity unseen deleted size recent "
        b"highestmodseq appendlimit mailboxid)",
        Status("a", "x", tuple(StatusItem)),
    ),
    (
        b"A003 APPEND saved-messages (\\Seen) {5}\r\nhello",
        Append("A003", "saved-messages", b"hello", ("\\Seen",)),
    ),
    (
        b'A003 APPEND saved-messages (\\seen $MDNSent) "17-Jul-1996 02:44:25 -0700" {5+}\r\nhello',
        Append(
            "A003",
            "saved-messages",
            b"hello",
            ("\\Seen", "$MDNSent"),
            datetime.datetime(
                1996, 7, 17, 2, 44, 25, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))
            ),
        ),
    ),
    (
        b'a APPEND x " 7-Jul-1996 02:44:25 +0000" {0}\r\n',
        Append("a", "x", b"", (), datetime.datetime(1996, 7, 7, 2, 44, 25, tzinfo=UTC)),
    ),
    (b"a APPEND x () ~{3}\r\na\0b", Append("a", "x", b"a\0b", binary=True)),
    (b"a APPEND x UTF8 (~{3+}\r\nab\xc3)", Append("a", "x", b"ab\xc3", utf8=True)),
    (b"a IDLE", Idle("a")),
    (b'G0001 GETQUOTA ""', GetQuota("G0001", "")),
    (b"G0002 GETQUOTAROOT INBOX", GetQuotaRoot("G0002", "INBOX")),
    (
        b'S0000 SETQUOTA "" (STORAGE 512 message 1000)',
        SetQuota("S0000", "", (("STORAGE", 512), ("MESSAGE", 1000))),
    ),
    (b'a SETQUOTA "" ()', SetQuota("a", "", ())),
    (b"a COMPRESS DEFLATE", Compress("a", "DEFLATE")),
    (b"FXXZ CHECK", Check("FXXZ")),
    (b"A341 CLOSE", Close("A341")),
    (b"a UNSELECT", Unselect("a")),
    (b"A202 EXPUNGE", Expunge("A202")),
    (b"A202 UID EXPUNGE 3000:3002", UidExpunge("A202", seq((3000, 3002)))),
    (b"a UID EXPUNGE $", UidExpunge("a", SavedResult())),
    (
        b"A003 STORE 2:4 +FLAGS (\\Deleted)",
        Store("A003", seq((2, 4)), StoreMode.ADD, ("\\Deleted",)),
    ),
    (
        b"a UID STORE 1:* -FLAGS.SILENT \\Seen $Junk",
        Store("a", seq((1, STAR)), StoreMode.REMOVE, ("\\Seen", "$Junk"), True, True),
    ),
    (
        b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
        Store(
            "d105",
            seq((7, 7), (5, 5), (9, 9)),
            StoreMode.ADD,
            ("\\Deleted",),
            silent=True,
            unchanged_since=320162338,
        ),
    ),
    (b"a STORE 1 FLAGS ()", Store("a", seq((1, 1)), StoreMode.REPLACE, ())),
    (b"A003 COPY 2:4 MEETING", Copy("A003", seq((2, 4)), "MEETING")),
    (b"a UID MOVE 42:69 foo", Move("a", seq((42, 69)), "foo", True)),
    (b"a MOVE $ Trash", Move("a", SavedResult(), "Trash")),
    (
        b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994",
        Sort(
            "A282",
            (SortCriterion(SortKey.SUBJECT),),
            "UTF-8",
            keys(b"SINCE 1-Feb-1994"),
        ),
    ),
    (
        b"A283 UID SORT (REVERSE DATE displayfrom) US-ASCII ALL",
        Sort(
            "A283",
            (SortCriterion(SortKey.DATE, True), SortCriterion(SortKey.DISPLAYFROM)),
            "US-ASCII",
            AllKey(),
            uid=True,
        ),
    ),
    (
        b"A284 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000",
        Thread(
            "A284",
            "ORDEREDSUBJECT",
            "UTF-8",
            keys(b"SINCE 5-MAR-2000"),
        ),
    ),
    (
        b'A285 UID THREAD references "utf-8" TEXT "gewp"',
        Thread("A285", "REFERENCES", "UTF-8", TextKey(TextField.TEXT, "gewp"), uid=True),
    ),
]


@pytest.mark.parametrize(("line", "expected"), EXAMPLES, ids=lambda v: repr(v)[:50])
def test_examples(line: bytes, expected: Command) -> None:
    assert parse(line) == expected


def test_every_command_has_an_example() -> None:
    names = {command.NAME for _, command in EXAMPLES}
    plain = {name for name in COMMAND_NAMES if not name.startswith("UID ")}
    assert plain - names == {"SEARCH", "FETCH"}  # each has its own test file


def test_mailbox_names_follow_the_utf8_mode() -> None:
    assert parse(b"a SELECT &U,BTFw-") == Select("a", "台北")
    assert parse(b"a SELECT &U,BTFw-", utf8=True) == Select("a", "&U,BTFw-")
    assert parse('a SELECT "台北"'.encode(), utf8=True) == Select("a", "台北")
    # An IMAP4rev1 client sending 8-bit UTF-8 is taken at its word.
    assert parse(b'a SELECT "Entw\xc3\xbcrfe"') == Select("a", "Entwürfe")
    assert parse(b'a LIST "" &U,BTFw-/%') == List("a", "", ("台北/%",))


@pytest.mark.parametrize(
    "line",
    [
        b"a SELECT &Jjo",  # invalid modified UTF-7
        b'a SELECT "\xff\xfe"',  # invalid UTF-8
        b"a CREATE {2}\r\n\xc3\x28",
        b'a LOGIN "\xc3" x',
        b'a RENAME x "\xed\xa0\x80"',  # an encoded surrogate is not UTF-8
    ],
)
def test_invalid_names_are_bad(line: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(line)
    assert caught.value.tag == "a"
    assert caught.value.condition is Condition.BAD


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        (b"a FOO", "a"),
        (b"a UID NOOP", "a"),
        (b"a  NOOP", "a"),
        (b"a NOOP extra", "a"),
        (b"a SELECT", "a"),
        (b"a SELECT x (FOO)", "a"),
        (b"a SELECT x (QRESYNC (0 1))", "a"),
        (b"a SELECT x (QRESYNC (1 2 1:*))", "a"),
        (b"a SELECT x (QRESYNC (1 2 1:5 ))", "a"),
        (b"a CREATE x (FOO (\\Drafts))", "a"),
        (b'a LIST (RECURSIVEMATCH) "" *', "a"),
        (b'a LIST (FOO) "" *', "a"),
        (b'a LIST "" * RETURN (FOO)', "a"),
        (b'a LIST "" ()', "a"),
        (b"a STATUS x ()", "a"),
        (b"a STATUS x (FOO)", "a"),
        (b"a APPEND x (\\Seen) {3}\r\nabc (\\Seen) {3}\r\nabc", "a"),  # MULTIAPPEND
        (b"a APPEND x {3}\r\na\0b", "a"),  # NUL needs literal8
        (b"a APPEND x {5}\r\nab", "a"),  # shorter than announced
        (b"a APPEND x {3-}\r\nabc", "a"),
        (b'a APPEND x "31-Feb-2024 00:00:00 +0000" {1}\r\na', "a"),
        (b'a APPEND x "01-Feb-2024 24:00:00 +0000" {1}\r\na', "a"),
        (b'a APPEND x "01-Feb-2024 10:00:00 +2400" {1}\r\na', "a"),
        (b"a APPEND x UTF8 ({1}\r\na)", "a"),
        (b"a LOGIN ~{1}\r\na b", "a"),
        (b"a LOGIN {99999999999999999999999}\r\na b", "a"),
        (b"a ENABLE", "a"),
        (b"a AUTHENTICATE PLAIN not*base64", "a"),
        (b"a AUTHENTICATE PLAIN AGZyZWQ", "a"),
        (b"a STORE 1 FLAGS", "a"),
        (b"a STORE 1 +FLAG (\\Seen)", "a"),
        (b"a STORE 1 (FOO 1) FLAGS (\\Seen)", "a"),
        (b"a STORE 1 FLAGS (\\*)", "a"),
        (b"a COPY 1:2", "a"),
        (b"a UID EXPUNGE", "a"),
        (b"a SORT () UTF-8 ALL", "a"),
        (b"a SORT (SENDER) UTF-8 ALL", "a"),
        (b"a THREAD REFERENCES", "a"),
        (b"a ID (" + b'"k" "v" ' * 31 + b")", "a"),
        (b'a ID ("' + b"k" * 31 + b'" "v")', "a"),
        (b"a COMPRESS", "a"),
        (b"a SETQUOTA x (STORAGE)", "a"),
    ],
)
def test_malformed_commands_are_bad_with_the_tag(line: bytes, tag: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(line)
    assert caught.value.tag == tag
    assert caught.value.condition is Condition.BAD


@pytest.mark.parametrize(
    "line", [b"", b"a", b" NOOP", b"+ NOOP", b"(a) NOOP", b"\xff NOOP", b"a{1} NOOP", b"*"]
)
def test_without_a_tag_the_error_is_untagged(line: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(line)
    assert caught.value.tag is None


def test_line_ends() -> None:
    assert parse_command(b"a NOOP\n") == Noop("a")
    for raw in (b"a NOOP", b"a NOOP\r", b"a NOOP\r\n\r\n", b"a NOOP\r\nb NOOP\r\n"):
        with pytest.raises(ParseError):
            parse_command(raw)


def test_tags_may_hold_any_astring_char_but_plus() -> None:
    assert parse(b"A.1]x NOOP") == Noop("A.1]x")


def test_sasl_responses_and_done() -> None:
    assert parse_sasl_response(b"AGZyZWQAc2VjcmV0") == b"\0fred\0secret"
    assert parse_sasl_response(b"") == b""  # an empty line is an empty response
    assert parse_sasl_response(b"=") == b""
    assert parse_sasl_response(b"*") is None
    with pytest.raises(ParseError):
        parse_sasl_response(b"not base64!")
    assert is_done(b"DONE")
    assert is_done(b"done")
    assert not is_done(b"DONE ")
    assert not is_done(b"a NOOP")


def test_secrets_stay_out_of_repr() -> None:
    assert "SESAME" not in repr(parse(b"a LOGIN SMITH SESAME"))
    assert "AGZy" not in repr(parse(b"a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0"))
    assert "hello" not in repr(parse(b"a APPEND x {5}\r\nhello"))
