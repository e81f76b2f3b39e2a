"""FETCH: macros, attributes, sections and partials, modifiers, response names."""

from __future__ import annotations

import pytest

from roost.proto.imap.commands.selected import Fetch
from roost.proto.imap.errors import ParseError
from roost.proto.imap.fetch import (
    MACROS,
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttr,
    FetchItem,
    Partial,
    Section,
    SectionText,
    attribute_name,
    response_name,
)
from roost.proto.imap.parser import parse_command
from roost.proto.imap.sequence import STAR, SavedResult, SeqRange, SequenceSet


def fetch(text: bytes, *, prefix: bytes = b"a FETCH 1 ") -> Fetch:
    command = parse_command(prefix + text + b"\r\n")
    assert isinstance(command, Fetch)
    return command


def attrs(text: bytes) -> tuple[FetchAttr, ...]:
    return fetch(text).attrs


def test_macros_expand() -> None:
    assert attrs(b"ALL") == MACROS["ALL"]
    assert attrs(b"fast") == (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE)
    assert attrs(b"FULL")[-1] is FetchItem.BODY


@pytest.mark.parametrize("item", list(FetchItem), ids=lambda item: item.value)
def test_every_simple_attribute(item: FetchItem) -> None:
    assert attrs(item.value.encode()) == (item,)
    assert attrs(item.value.lower().encode()) == (item,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"BODY[]", BodySection(Section())),
        (b"BODY.PEEK[]", BodySection(Section(), peek=True)),
        (b"BODY[HEADER]", BodySection(Section(text=SectionText.HEADER))),
        (b"body[text]", BodySection(Section(text=SectionText.TEXT))),
        (b"BODY[1]", BodySection(Section((1,)))),
        (b"BODY[1.2.3]", BodySection(Section((1, 2, 3)))),
        (b"BODY[3.MIME]", BodySection(Section((3,), SectionText.MIME))),
        (b"BODY[4.2.HEADER]", BodySection(Section((4, 2), SectionText.HEADER))),
        (b"BODY[4.2.TEXT]", BodySection(Section((4, 2), SectionText.TEXT))),
        (
            b"BODY.PEEK[HEADER.FIELDS (DATE FROM)]",
            BodySection(Section((), SectionText.HEADER_FIELDS, ("DATE", "FROM")), True),
        ),
        (
            b'BODY[1.HEADER.FIELDS.NOT (x-spam "Received")]',
            BodySection(Section((1,), SectionText.HEADER_FIELDS_NOT, ("X-SPAM", "RECEIVED"))),
        ),
        (b"BODY[]<0.2048>", BodySection(Section(), partial=Partial(0, 2048))),
        (
            b"BODY.PEEK[TEXT]<100.5>",
            BodySection(Section(text=SectionText.TEXT), True, Partial(100, 5)),
        ),
        (b"BINARY[]", BinarySection(())),
        (b"BINARY[1.2]", BinarySection((1, 2))),
        (b"BINARY.PEEK[1]<0.10>", BinarySection((1,), True, Partial(0, 10))),
        (b"BINARY.SIZE[2]", BinarySize((2,))),
        (b"BINARY.SIZE[]", BinarySize(())),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_sections(text: bytes, expected: FetchAttr) -> None:
    assert attrs(text) == (expected,)


def test_lists_sets_and_modifiers() -> None:
    command = fetch(
        b"(FLAGS UID BODY.PEEK[HEADER.FIELDS (From)]) (CHANGEDSINCE 12345 VANISHED)",
        prefix=b"a UID FETCH 300:500,* ",
    )
    assert command.uid
    assert command.messages == SequenceSet((SeqRange(300, 500), SeqRange(STAR, STAR)))
    assert command.attrs[:2] == (FetchItem.FLAGS, FetchItem.UID)
    assert command.changed_since == 12345
    assert command.vanished
    assert fetch(b"FLAGS (CHANGEDSINCE 1)").changed_since == 1
    assert fetch(b"FLAGS", prefix=b"a FETCH $ ").messages == SavedResult()


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"()",
        b"FOO",
        b"BODY.PEEK",
        b"BODY[",
        b"BODY[FOO]",
        b"BODY[MIME]",
        b"BODY[0]",
        b"BODY[1.]",
        b"BODY[1..2]",
        b"BODY[HEADER.FIELDS]",
        b"BODY[HEADER.FIELDS ()]",
        b"BODY[HEADER.FIELDS (a:b)]",
        b"BODY[TEXT (x)]",
        b"BODY[]<0>",
        b"BODY[]<0.0>",
        b"BODY[]<1.2",
        b"BINARY",
        b"BINARY[TEXT]",
        b"BINARY[1.MIME]",
        b"BINARY.SIZE[1]<0.1>",
        b"BODY[" + b"1." * 70 + b"1]",
        b"(FLAGS",
        b"FLAGS (VANISHED)",
        b"FLAGS (CHANGEDSINCE)",
        b"FLAGS (FOO 1)",
        b"FLAGS ()",
        b"ALL FLAGS",
    ],
    ids=repr,
)
def test_malformed_fetches_are_bad(text: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        fetch(text)
    assert caught.value.tag == "a"


def test_vanished_needs_uid_and_changedsince() -> None:
    with pytest.raises(ParseError, match="UID FETCH only"):
        fetch(b"FLAGS (CHANGEDSINCE 1 VANISHED)")
    with pytest.raises(ParseError, match="needs CHANGEDSINCE"):
        fetch(b"FLAGS (VANISHED)", prefix=b"a UID FETCH 1 ")


@pytest.mark.parametrize(
    ("attr", "command_name", "reply_name"),
    [
        (FetchItem.RFC822_SIZE, "RFC822.SIZE", "RFC822.SIZE"),
        (BodySection(Section(), True, Partial(0, 100)), "BODY.PEEK[]<0.100>", "BODY[]<0>"),
        (
            BodySection(Section((1,), SectionText.HEADER_FIELDS, ("FROM", "X(Y)"))),
            'BODY[1.HEADER.FIELDS (FROM "X(Y)")]',
            'BODY[1.HEADER.FIELDS (FROM "X(Y)")]',
        ),
        (BinarySection((1, 2), True, Partial(5, 5)), "BINARY.PEEK[1.2]<5.5>", "BINARY[1.2]<5>"),
        (BinarySize(()), "BINARY.SIZE[]", "BINARY.SIZE[]"),
    ],
)
def test_names(attr: FetchAttr, command_name: str, reply_name: str) -> None:
    assert attribute_name(attr) == command_name
    assert response_name(attr) == reply_name
