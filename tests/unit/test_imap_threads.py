"""Base subjects (RFC 5256 §2.1) and the THREAD algorithms (RFC 5256 §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.proto.imap.threads import (
    ThreadItem,
    ascii_casemap,
    base_subject,
    message_ids,
    ordered_subject,
    references,
    thread_data,
)
from roost.proto.imap.values import Juxtaposed
from roost.proto.imap.writer import write_data

DAY0 = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Hello", "Hello", False),
        ("Re: Hello", "Hello", True),
        ("RE: [list] Re: hello (fwd)", "hello", True),
        ("Fwd:  Re:\tSubject   here  ", "Subject here", True),
        ("Fw: x", "x", True),
        ("[fwd: Re: lunch]", "lunch", True),
        ("[PATCH] fix it", "fix it", False),
        ("[PATCH]", "[PATCH]", False),
        ("[a][b] Re: [c] Re[2]: twice", "twice", True),
        ("Rex: not a reply", "Rex: not a reply", False),
        ("Re: ", "", True),
        ("", "", False),
        (None, "", False),
        ("Caf\u00e9 (fwd) (FWD)", "Caf\u00e9", True),
    ],
)
def test_base_subject(subject: str | None, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


@given(st.text(alphabet="Rre:Ffwd[]() \tx\u00e9", max_size=40))
def test_base_subject_is_a_fixed_point(subject: str) -> None:
    """Extracting from a base subject changes nothing more (no crash on any text)."""
    base, _ = base_subject(subject)
    assert base_subject(base)[0] == base


def test_ascii_casemap_folds_ascii_only() -> None:
    assert ascii_casemap("caf\u00e9 Re") == "CAF\u00e9 RE"


def test_message_ids() -> None:
    assert message_ids("<a@x> junk <b@y>\r\n <c@z>") == ("a@x", "b@y", "c@z")
    assert message_ids("no id here <nope>") == ()
    assert message_ids(None) == ()


def item(
    number: int,
    day: int,
    subject: str,
    mid: str | None = None,
    refs: tuple[str, ...] = (),
) -> ThreadItem:
    sent = DAY0 + timedelta(days=day)
    return ThreadItem(number, number, sent, subject, mid, refs)


def wire(threads: list) -> bytes:  # type: ignore[type-arg]
    data = thread_data(threads)
    return write_data(Juxtaposed(data)) if data else b""


def test_ordered_subject() -> None:
    items = [item(1, 3, "A"), item(2, 4, "Re: A"), item(3, 1, "B"), item(4, 2, "re: a")]
    assert wire(ordered_subject(items)) == b"(3)(4 (1)(2))"
    assert wire(ordered_subject(items[:2])) == b"(1 2)"
    assert wire(ordered_subject([])) == b""


def test_references_builds_the_tree_from_references() -> None:
    items = [
        item(1, 1, "Hello", "1@x"),
        item(2, 2, "Re: Hello", "2@x", ("1@x",)),
        item(3, 3, "Re: Hello", "3@x", ("1@x", "2@x")),
        item(4, 4, "Re: Hello", "4@x", ("1@x",)),
        item(5, 5, "Other", "5@x"),
        # Both answer a message that is not in the set: a dummy keeps them together.
        item(6, 0, "Lost", "6@x", ("missing@x",)),
        item(7, 6, "Lost too", "7@x", ("missing@x",)),
        # No references but a reply subject: it joins the thread of its subject.
        item(8, 7, "Re: Other", "8@x"),
        # Two originals of one subject: a dummy above both.
        item(9, 8, "Party", "9@x"),
        item(10, 9, "Party", "10@x"),
    ]
    assert wire(references(items)) == b"((6)(7))(1 (2 3)(4))(5 8)((9)(10))"


def test_references_survives_loops_duplicates_and_missing_ids() -> None:
    items = [
        item(1, 1, "a", "a@x", ("b@x",)),
        item(2, 2, "b", "b@x", ("a@x",)),
        item(3, 3, "c", "a@x"),  # a duplicate Message-ID gets its own
        item(4, 4, "d"),
        item(5, 5, "e", None, ("4@nowhere", "a@x")),
    ]
    out = wire(references(items))
    numbers = sorted(int(n) for n in out.replace(b"(", b" ").replace(b")", b" ").split())
    assert numbers == [1, 2, 3, 4, 5]


def test_references_rfc_shapes() -> None:
    """A chain is written flat, branching nodes with their branches side by side."""
    items = [
        item(1, 1, "x", "1@x"),
        item(2, 2, "Re: x", "2@x", ("1@x",)),
        item(3, 3, "Re: x", "3@x", ("1@x", "2@x")),
        item(4, 4, "Re: x", "4@x", ("1@x", "2@x", "3@x")),
        item(5, 5, "Re: x", "5@x", ("1@x", "2@x")),
    ]
    assert wire(references(items)) == b"(1 2 (3 4)(5))"
