"""SEARCH: every key of RFC 9051/3501 and of the extensions, RETURN, CHARSET, limits."""

from __future__ import annotations

import datetime

import pytest

from roost.proto.imap.commands.selected import Search, SearchReturn
from roost.proto.imap.errors import ParseError
from roost.proto.imap.parser import parse_command
from roost.proto.imap.responses import BADCHARSET, Condition
from roost.proto.imap.search import (
    MAX_SEARCH_DEPTH,
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

FEB_1 = datetime.date(1994, 2, 1)


def search(criteria: bytes, *, prefix: bytes = b"a SEARCH ") -> Search:
    command = parse_command(prefix + criteria + b"\r\n")
    assert isinstance(command, Search)
    return command


def key(criteria: bytes) -> SearchKey:
    return search(criteria).criteria


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"ALL", AllKey()),
        (b"ANSWERED", FlagKey("\\Answered")),
        (b"UNANSWERED", FlagKey("\\Answered", False)),
        (b"DELETED", FlagKey("\\Deleted")),
        (b"UNDELETED", FlagKey("\\Deleted", False)),
        (b"DRAFT", FlagKey("\\Draft")),
        (b"UNDRAFT", FlagKey("\\Draft", False)),
        (b"FLAGGED", FlagKey("\\Flagged")),
        (b"UNFLAGGED", FlagKey("\\Flagged", False)),
        (b"seen", FlagKey("\\Seen")),
        (b"UNSEEN", FlagKey("\\Seen", False)),
        (b"RECENT", FlagKey("\\Recent")),
        (b"OLD", FlagKey("\\Recent", False)),
        (b"NEW", And((FlagKey("\\Recent"), FlagKey("\\Seen", False)))),
        (b"KEYWORD $Forwarded", FlagKey("$Forwarded")),
        (b"UNKEYWORD $Junk", FlagKey("$Junk", False)),
        (b"BCC joe", TextKey(TextField.BCC, "joe")),
        (b'BODY "hello world"', TextKey(TextField.BODY, "hello world")),
        (b"CC {3}\r\nj\xc3\xa9", TextKey(TextField.CC, "jé")),
        (b"FROM Smith", TextKey(TextField.FROM, "Smith")),
        (b'SUBJECT ""', TextKey(TextField.SUBJECT, "")),
        (b"TEXT x", TextKey(TextField.TEXT, "x")),
        (b"TO y", TextKey(TextField.TO, "y")),
        (b'HEADER Message-ID "<a@b>"', HeaderKey("Message-ID", "<a@b>")),
        (b'HEADER X-Spam ""', HeaderKey("X-Spam", "")),
        (b"BEFORE 1-Feb-1994", DateKey(DateSource.INTERNAL, DateRelation.BEFORE, FEB_1)),
        (b'ON "01-feb-1994"', DateKey(DateSource.INTERNAL, DateRelation.ON, FEB_1)),
        (b"SINCE 1-Feb-1994", DateKey(DateSource.INTERNAL, DateRelation.SINCE, FEB_1)),
        (b"SENTBEFORE 1-Feb-1994", DateKey(DateSource.SENT, DateRelation.BEFORE, FEB_1)),
        (b"SENTON 1-Feb-1994", DateKey(DateSource.SENT, DateRelation.ON, FEB_1)),
        (b"SENTSINCE 1-Feb-1994", DateKey(DateSource.SENT, DateRelation.SINCE, FEB_1)),
        (b"SAVEDBEFORE 1-Feb-1994", DateKey(DateSource.SAVED, DateRelation.BEFORE, FEB_1)),
        (b"SAVEDON 1-Feb-1994", DateKey(DateSource.SAVED, DateRelation.ON, FEB_1)),
        (b"SAVEDSINCE 1-Feb-1994", DateKey(DateSource.SAVED, DateRelation.SINCE, FEB_1)),
        (b"SAVEDATESUPPORTED", SaveDateSupportedKey()),
        (b"LARGER 10000", SizeKey(True, 10000)),
        (b"SMALLER 9223372036854775807", SizeKey(False, 2**63 - 1)),
        (b"OLDER 3600", AgeKey(True, 3600)),
        (b"YOUNGER 1", AgeKey(False, 1)),
        (b"2:4,*", SequenceKey(SequenceSet((SeqRange(2, 4), SeqRange(STAR, STAR))))),
        (b"$", SequenceKey(SavedResult())),
        (b"UID 1:*", UidKey(SequenceSet((SeqRange(1, STAR),)))),
        (b"UID $", UidKey(SavedResult())),
        (b"MODSEQ 620162338", ModSeqKey(620162338)),
        (
            b'MODSEQ "/flags/\\\\draft" all 620162338',
            ModSeqKey(620162338, ModSeqEntry("\\Draft", "all")),
        ),
        (b'MODSEQ "/flags/$Junk" PRIV 0', ModSeqKey(0, ModSeqEntry("$Junk", "priv"))),
        (b"EMAILID M6d99ac3275bb4e", ObjectIdKey("EMAILID", "M6d99ac3275bb4e")),
        (b"THREADID T64b478a75b7ea9", ObjectIdKey("THREADID", "T64b478a75b7ea9")),
        (b"NOT SEEN", Not(FlagKey("\\Seen"))),
        (b"OR SEEN FLAGGED", Or(FlagKey("\\Seen"), FlagKey("\\Flagged"))),
        (b"(SEEN)", FlagKey("\\Seen")),
        (b"((SEEN))", FlagKey("\\Seen")),
        (b"(SEEN FLAGGED)", And((FlagKey("\\Seen"), FlagKey("\\Flagged")))),
        (
            b"FLAGGED SINCE 1-Feb-1994 NOT FROM Smith",
            And(
                (
                    FlagKey("\\Flagged"),
                    DateKey(DateSource.INTERNAL, DateRelation.SINCE, FEB_1),
                    Not(TextKey(TextField.FROM, "Smith")),
                )
            ),
        ),
        (
            b"OR (FROM a TO b) NOT (OR 1 UID 2)",
            Or(
                And((TextKey(TextField.FROM, "a"), TextKey(TextField.TO, "b"))),
                Not(
                    Or(
                        SequenceKey(SequenceSet((SeqRange(1, 1),))),
                        UidKey(SequenceSet((SeqRange(2, 2),))),
                    )
                ),
            ),
        ),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_keys(text: bytes, expected: SearchKey) -> None:
    assert key(text) == expected


def test_charset_and_return_options() -> None:
    command = search(b'RETURN (MIN MAX COUNT ALL SAVE) CHARSET utf-8 TEXT "x"')
    assert command.charset == "UTF-8"
    assert command.returns == frozenset(SearchReturn)
    assert search(b"RETURN () ALL").returns == frozenset()
    assert search(b"ALL").returns is None
    assert search(b"CHARSET US-ASCII FROM joe").charset == "US-ASCII"
    uid = search(b"ALL", prefix=b"a UID SEARCH ")
    assert uid.uid
    assert uid.criteria == AllKey()


def test_unknown_charset_is_no_badcharset() -> None:
    with pytest.raises(ParseError) as caught:
        search(b"CHARSET KOI8-R FROM joe")
    assert caught.value.condition is Condition.NO
    assert caught.value.code == BADCHARSET
    assert caught.value.tag == "a"


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"FOO",
        b"ALL ",
        b"ALL  SEEN",
        b"()",
        b"(SEEN",
        b"SEEN)",
        b"NOT",
        b"OR SEEN",
        b"KEYWORD \\Seen",
        b"HEADER X",
        b"LARGER -1",
        b"LARGER 9223372036854775808",
        b"OLDER 0",
        b"BEFORE 30-Feb-2024",
        b"BEFORE 1-Foo-2024",
        b"BEFORE 1-Feb-24",
        b"UID",
        b"1:5,$",
        b'MODSEQ "/flags/" all 1',
        b'MODSEQ "/other/x" all 1',
        b'MODSEQ "/flags/\\\\Seen" mine 1',
        b"MODSEQ x",
        b"EMAILID ",
        b"EMAILID a*b",
        b"RETURN (FOO) ALL",
        b"CHARSET US-ASCII FROM {2}\r\n\xc3\xa9",
        b'FROM "\xff"',
        b"CHARSET",
    ],
    ids=repr,
)
def test_malformed_searches_are_bad(text: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        search(text)
    assert caught.value.condition is Condition.BAD
    assert caught.value.tag == "a"


def test_nesting_up_to_the_limit_is_accepted() -> None:
    depth = MAX_SEARCH_DEPTH - 1
    nested = key(b"(" * depth + b"SEEN" + b")" * depth)
    assert nested == FlagKey("\\Seen")
    chain = key(b"NOT " * depth + b"SEEN")
    for _ in range(depth):
        assert isinstance(chain, Not)
        chain = chain.key


@pytest.mark.parametrize(
    "text",
    [
        b"(" * MAX_SEARCH_DEPTH + b"SEEN" + b")" * MAX_SEARCH_DEPTH,
        b"NOT " * 100_000 + b"SEEN",
        b"OR SEEN " * 100_000 + b"SEEN",
        b"(" * 100_000,
    ],
    ids=["parens", "not", "or", "open"],
)
def test_deep_nesting_is_a_clean_refusal(text: bytes) -> None:
    with pytest.raises(ParseError, match="nested deeper"):
        search(text)
