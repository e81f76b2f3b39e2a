"""NOTIFY (RFC 3461 §4.1), RET (§4.3) and the RFC 3463 status table."""

from __future__ import annotations

import pytest

from roost.proto.dsn import (
    DsnError,
    NoticeKind,
    Ret,
    Returned,
    describe_class,
    describe_status,
    parse_status,
    return_rule,
    should_notify,
    status_advice,
)

F, D, S = NoticeKind.FAILURE, NoticeKind.DELAY, NoticeKind.SUCCESS

# NOTIFY value -> (failure, delay, success) notices sent.
NOTIFY_TABLE = [
    (None, (True, True, False)),
    (frozenset({"NEVER"}), (False, False, False)),
    (frozenset({"SUCCESS"}), (False, False, True)),
    (frozenset({"FAILURE"}), (True, False, False)),
    (frozenset({"DELAY"}), (False, True, False)),
    (frozenset({"SUCCESS", "FAILURE", "DELAY"}), (True, True, True)),
    (frozenset({"failure", "delay"}), (True, True, False)),
    (frozenset({"NEVER", "FAILURE"}), (False, False, False)),
]


@pytest.mark.parametrize(("notify", "expected"), NOTIFY_TABLE)
def test_should_notify_table(notify: frozenset[str] | None, expected: tuple[bool, ...]) -> None:
    got = tuple(should_notify(notify, kind, sender="a@example.org") for kind in (F, D, S))
    assert got == expected


@pytest.mark.parametrize(("notify", "expected"), NOTIFY_TABLE)
def test_never_a_notice_to_the_null_sender(
    notify: frozenset[str] | None, expected: tuple[bool, ...]
) -> None:
    assert not any(should_notify(notify, kind, sender="") for kind in (F, D, S))


@pytest.mark.parametrize(
    ("kind", "ret", "size", "expected"),
    [
        (F, None, 10, Returned.FULL),
        (F, None, 1001, Returned.HEADERS),
        (F, Ret.FULL, 10**9, Returned.FULL),
        (F, Ret.HDRS, 10, Returned.HEADERS),
        (D, Ret.FULL, 10, Returned.HEADERS),
        (D, None, 10, Returned.HEADERS),
        (S, Ret.FULL, 10, Returned.HEADERS),
        (S, None, 10, Returned.HEADERS),
    ],
)
def test_return_rule(kind: NoticeKind, ret: Ret | None, size: int, expected: Returned) -> None:
    assert return_rule(kind, ret, max_full_octets=1000).choose(size) is expected


def test_requested_full_return_can_be_capped() -> None:
    rule = return_rule(F, Ret.FULL, max_requested_octets=100)
    assert rule.choose(100) is Returned.FULL
    assert rule.choose(101) is Returned.HEADERS


@pytest.mark.parametrize(
    ("status", "title"),
    [
        ("5.1.1", "Bad destination mailbox address"),
        ("4.2.2", "Mailbox full"),
        ("5.7.1", "Delivery not authorized, message refused"),
        ("4.4.7", "Delivery time expired"),
        ("5.1.99", "Other address status"),
        ("2.0.0", "Other or undefined status"),
        ("5.9.9", "Other or undefined status"),
    ],
)
def test_describe_status(status: str, title: str) -> None:
    assert describe_status(status) == title


def test_status_class_and_advice() -> None:
    assert describe_class("5.1.1") == "Permanent failure"
    assert describe_class("4.4.1") == "Persistent transient failure"
    assert "typing mistakes" in status_advice("5.1.1")
    assert "full" in status_advice("4.2.2")
    assert "smaller" in status_advice("5.3.4")
    assert status_advice("5.9.9")  # unknown subject still gets words


@pytest.mark.parametrize("bad", ["3.1.1", "5.1", "5.1.1.1", "5.a.1", "5.1.1234", "٥.1.1"])
def test_parse_status_rejects(bad: str) -> None:
    with pytest.raises(DsnError):
        parse_status(bad)
