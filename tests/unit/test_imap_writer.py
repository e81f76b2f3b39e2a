"""The response writer: data items, quoted strings against literals, status lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.reader import Reader
from roost.proto.imap.responses import BADCHARSET, TOOBIG, Condition, ResponseCode
from roost.proto.imap.sequence import sequence_of
from roost.proto.imap.values import Atom, Binary, ImapData
from roost.proto.imap.writer import (
    QUOTED_MAX_OCTETS,
    challenge,
    continuation,
    literal,
    quoted_or_none,
    rejection,
    tagged,
    untagged,
    untagged_status,
    write_data,
)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (None, b"NIL"),
        (0, b"0"),
        (2**63 - 1, b"9223372036854775807"),
        (Atom("\\Seen"), b"\\Seen"),
        (Atom("BODY[HEADER.FIELDS (FROM)]"), b"BODY[HEADER.FIELDS (FROM)]"),
        ("", b'""'),
        ("hello world", b'"hello world"'),
        ('say "hi" \\ bye', b'"say \\"hi\\" \\\\ bye"'),
        ("NIL", b'"NIL"'),
        ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
        ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),
        ("a\0b", b"{3}\r\na\0b"),
        (b"raw\xff", b"{4}\r\nraw\xff"),
        (b"", b"{0}\r\n"),
        (Binary(b"\0\x01"), b"~{2}\r\n\0\x01"),
        ((), b"()"),
        ((1, None, "x", (Atom("A"), ())), b'(1 NIL "x" (A ()))'),
    ],
    ids=repr,
)
def test_values(value: ImapData, wire: bytes) -> None:
    assert write_data(value) == wire


def test_utf8_mode_quotes_utf8() -> None:
    assert write_data("caf\u00e9", utf8=True) == '"café"'.encode()
    assert write_data("line\nbreak", utf8=True) == b"{10}\r\nline\nbreak"


def test_long_strings_become_literals() -> None:
    assert write_data("x" * QUOTED_MAX_OCTETS) == b'"' + b"x" * QUOTED_MAX_OCTETS + b'"'
    assert write_data("x" * (QUOTED_MAX_OCTETS + 1)).startswith(b"{1025}\r\n")
    # The limit counts octets: 600 two-octet characters are 1200 octets.
    assert write_data("é" * 600, utf8=True).startswith(b"{1200}\r\n")


def test_lone_surrogates_do_not_raise() -> None:
    assert write_data("a\udcffb") == b"{3}\r\na?b"


@pytest.mark.parametrize(
    "value", [Atom(""), Atom("a b\r\n"), Atom("x\0"), Atom("caf\u00e9"), -1, True, (1, Atom("\n"))]
)
def test_values_only_a_bug_could_build_raise(value: ImapData) -> None:
    with pytest.raises(ImapUsageError):
        write_data(value)


def test_untagged_data() -> None:
    assert untagged(23, Atom("EXISTS")) == b"* 23 EXISTS\r\n"
    assert untagged(Atom("LIST"), (Atom("\\HasNoChildren"),), "/", "INBOX") == (
        b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
    )
    assert untagged(12, Atom("FETCH"), (Atom("UID"), 4, Atom("BODY[]"), b"abc")) == (
        b"* 12 FETCH (UID 4 BODY[] {3}\r\nabc)\r\n"
    )
    assert untagged(Atom("SEARCH")) == b"* SEARCH\r\n"
    with pytest.raises(ImapUsageError):
        untagged()


def test_status_lines() -> None:
    assert tagged("a1", Condition.OK, "LOGIN completed") == b"a1 OK LOGIN completed\r\n"
    assert tagged("a2", Condition.NO, "too big", TOOBIG) == b"a2 NO [TOOBIG] too big\r\n"
    assert (
        tagged(
            "A", Condition.OK, "done", ResponseCode("COPYUID", (38505, Atom("3:5"), Atom("7:9")))
        )
        == b"A OK [COPYUID 38505 3:5 7:9] done\r\n"
    )
    code = ResponseCode("PERMANENTFLAGS", ((Atom("\\Deleted"), Atom("\\*")),))
    assert untagged_status(Condition.OK, "Limited", code) == (
        b"* OK [PERMANENTFLAGS (\\Deleted \\*)] Limited\r\n"
    )
    assert untagged_status(Condition.BYE, "") == b"* BYE\r\n"
    assert untagged_status(
        Condition.PREAUTH, "hi", ResponseCode("CAPABILITY", (Atom("IMAP4rev2"),))
    )
    assert (
        tagged("a", Condition.BAD, "x", BADCHARSET) == b"a BAD [BADCHARSET (UTF-8 US-ASCII)] x\r\n"
    )
    uids = ResponseCode("COPYUID", (1, Atom(str(sequence_of([1, 2, 3, 7]))), Atom("9:12")))
    assert b"[COPYUID 1 1:3,7 9:12]" in tagged("a", Condition.OK, "ok", uids)


def test_status_text_is_one_safe_line() -> None:
    assert tagged("a", Condition.BAD, "evil\r\na2 OK fake\0") == b"a BAD evil  a2 OK fake \r\n"
    assert tagged("a", Condition.NO, "déjà vu") == b"a NO d?j? vu\r\n"
    assert tagged("a", Condition.NO, "déjà vu", utf8=True) == "a NO déjà vu\r\n".encode()
    # Without a code, text opening with "[" must not read as one.
    assert tagged("a", Condition.OK, "[ALERT] no") == b"a OK  [ALERT] no\r\n"


@pytest.mark.parametrize(
    ("tag", "condition"),
    [("a b", Condition.OK), ("", Condition.OK), ("a+", Condition.OK), ("a", Condition.BYE)],
)
def test_bad_tags_and_conditions_raise(tag: str, condition: Condition) -> None:
    with pytest.raises(ImapUsageError):
        tagged(tag, condition, "x")


def test_continuations() -> None:
    assert continuation() == b"+ Ready for literal data\r\n"
    assert continuation("idling") == b"+ idling\r\n"
    assert challenge(b"") == b"+ \r\n"
    assert challenge(b"\0fred") == b"+ AGZyZWQ=\r\n"


def test_rejections() -> None:
    assert rejection(ParseError("unknown command FOO", tag="a1")) == (
        b"a1 BAD unknown command FOO\r\n"
    )
    assert rejection(ParseError("no tag")) == b"* BAD no tag\r\n"
    refused = ParseError("too big", tag="a", condition=Condition.NO, code=TOOBIG)
    assert rejection(refused) == b"a NO [TOOBIG] too big\r\n"


def test_literal_helper() -> None:
    assert literal(b"abc") == b"{3}\r\nabc"
    assert literal(b"\0", binary=True) == b"~{1}\r\n\0"


TEXTS = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=300, database=None)
@given(TEXTS.filter(lambda text: "\0" not in text), st.booleans())
def test_strings_read_back_as_written(text: str, utf8: bool) -> None:
    wire = write_data(text, utf8=utf8)
    assert Reader(wire).decode(Reader(wire).string()) == text
    if quoted_or_none(text, utf8=utf8) is None:
        assert wire.startswith(b"{")


@settings(max_examples=300, database=None)
@given(TEXTS)
def test_quoted_strings_are_safe(text: str) -> None:
    for utf8 in (False, True):
        quoted = quoted_or_none(text, utf8=utf8)
        if quoted is not None:
            assert b"\r" not in quoted and b"\n" not in quoted and b"\0" not in quoted
            assert utf8 or quoted.isascii()
