"""The command grammar (RFC 1939 §3, RFC 2449 §3), apart from the engine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.proto.pop3 import commands as cmd
from roost.proto.pop3 import replies
from roost.proto.pop3.errors import (
    ArgumentSyntaxError,
    Base64Error,
    CharacterError,
    HttpRequestError,
    NotSupportedError,
    PeerError,
    UnknownCommandError,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"USER mrose", cmd.User("mrose")),
        (b"user mrose", cmd.User("mrose")),
        (b"PASS secret", cmd.Pass("secret")),
        (b"PASS  two words ", cmd.Pass(" two words ")),
        (b"QUIT", cmd.Quit()),
        (b"STAT", cmd.Stat()),
        (b"stat ", cmd.Stat()),
        (b"LIST", cmd.List(None)),
        (b"LIST 2", cmd.List(2)),
        (b"LIST  2 ", cmd.List(2)),
        (b"RETR 1", cmd.Retr(1)),
        (b"DELE 1", cmd.Dele(1)),
        (b"NOOP", cmd.Noop()),
        (b"RSET", cmd.Rset()),
        (b"TOP 1 10", cmd.Top(1, 10)),
        (b"TOP 1 0", cmd.Top(1, 0)),
        (b"UIDL", cmd.Uidl(None)),
        (b"UIDL 3", cmd.Uidl(3)),
        (b"CAPA", cmd.Capa()),
        (b"STLS", cmd.Stls()),
        (b"UTF8", cmd.Utf8()),
        (b"AUTH", cmd.Auth(None)),
        (b"AUTH plain", cmd.Auth("PLAIN")),
        (b"AUTH PLAIN =", cmd.Auth("PLAIN", b"")),
        (b"AUTH PLAIN AGFsaWNlAHNlY3JldA==", cmd.Auth("PLAIN", b"\0alice\0secret")),
        (b"USER j\xc3\xb6rg", cmd.User("j\u00f6rg")),
    ],
)
def test_commands_parse(line: bytes, command: cmd.Command) -> None:
    assert cmd.parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"", UnknownCommandError),
        (b"XYZZY", UnknownCommandError),
        (b"LI", UnknownCommandError),
        (b"LIST1", UnknownCommandError),
        (b" STAT", UnknownCommandError),
        (b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", NotSupportedError),
        (b"GET / HTTP/1.1", HttpRequestError),
        (b"POST /x HTTP/1.1", HttpRequestError),
        (b"STAT 1", ArgumentSyntaxError),
        (b"USER", ArgumentSyntaxError),
        (b"USER a b", ArgumentSyntaxError),
        (b"PASS", ArgumentSyntaxError),
        (b"PASS ", ArgumentSyntaxError),
        (b"RETR", ArgumentSyntaxError),
        (b"RETR x", ArgumentSyntaxError),
        (b"RETR -1", ArgumentSyntaxError),
        (b"RETR +1", ArgumentSyntaxError),
        (b"RETR 1 2", ArgumentSyntaxError),
        (b"RETR \xd9\xa1", ArgumentSyntaxError),  # ARABIC-INDIC DIGIT ONE is not ASCII
        (b"LIST 1 2", ArgumentSyntaxError),
        (b"TOP 1", ArgumentSyntaxError),
        (b"TOP 1 x", ArgumentSyntaxError),
        (b"AUTH PLAIN a b", ArgumentSyntaxError),
        (b"AUTH PL@IN", ArgumentSyntaxError),
        (b"AUTH PLAIN abc", Base64Error),
        (b"AUTH PLAIN ab=c", Base64Error),
        (b"STAT\t", CharacterError),
        (b"USER a\x00b", CharacterError),
        (b"USER \xff", CharacterError),
        (b"STAT\r", CharacterError),
    ],
)
def test_bad_lines_raise_peer_errors(line: bytes, error: type[PeerError]) -> None:
    with pytest.raises(error):
        cmd.parse_command(line)


def test_every_peer_error_maps_to_a_negative_reply() -> None:
    for line in (b"XYZZY", b"APOP a b", b"GET /", b"RETR x", b"AUTH PLAIN abc", b"\x00"):
        with pytest.raises(PeerError) as caught:
            cmd.parse_command(line)
        assert not cmd.refusal(caught.value).ok


def test_refusals_name_the_syntax() -> None:
    with pytest.raises(PeerError) as caught:
        cmd.parse_command(b"TOP 1")
    assert cmd.refusal(caught.value).to_bytes() == b"-ERR Syntax: TOP msg n\r\n"


def test_pass_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(cmd.parse_command(b"PASS hunter2"))
    assert "AGFs" not in repr(cmd.parse_command(b"AUTH PLAIN AGFsaWNlAHNlY3JldA=="))


def test_huge_numbers_parse_and_are_the_engines_business() -> None:
    assert cmd.parse_command(b"RETR " + b"9" * 200) == cmd.Retr(int("9" * 200))


# Properties: any input gives a command or a protocol error, never a crash.


def _parse_or_refuse(line: bytes) -> None:
    try:
        command = cmd.parse_command(line)
    except PeerError as exc:
        reply = cmd.refusal(exc)
        assert not reply.ok
        assert reply.to_bytes().startswith(b"-ERR ")
    else:
        assert isinstance(command, cmd.Command)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_peer_error(line: bytes) -> None:
    _parse_or_refuse(line)


keywords = st.sampled_from(
    [
        *("USER", "PASS", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"),
        *("CAPA", "STLS", "AUTH", "UTF8", "APOP", "XTND", "GET"),
    ]
)
arguments = st.lists(
    st.one_of(
        st.text(max_size=12),
        st.integers(min_value=-5, max_value=10**30).map(str),
        st.sampled_from(["=", "*", "PLAIN", "SCRAM-SHA-256", "AGFsaWNlAHNlY3JldA=="]),
    ),
    max_size=4,
)


@given(keywords, arguments, st.sampled_from([" ", "  "]))
def test_keyword_shaped_lines_parse_or_raise_a_peer_error(
    keyword: str, args: list[str], sep: str
) -> None:
    line = sep.join([keyword, *args]).encode("utf-8", "surrogatepass")
    _parse_or_refuse(line)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**6))
def test_printed_numbers_parse_back(number: int, lines: int) -> None:
    assert cmd.parse_command(f"RETR {number}".encode()) == cmd.Retr(number)
    assert cmd.parse_command(f"TOP {number} {lines}".encode()) == cmd.Top(number, lines)
    assert cmd.parse_command(f"LIST {number}".encode()) == cmd.List(number)


@given(st.binary(min_size=0, max_size=100))
def test_base64_initial_responses_round_trip(data: bytes) -> None:
    import base64

    text = base64.b64encode(data).decode() or "="
    assert cmd.parse_command(f"AUTH PLAIN {text}".encode()) == cmd.Auth("PLAIN", data)


def test_refusal_mapping_is_total() -> None:
    assert cmd.refusal(PeerError()) == replies.UNKNOWN_COMMAND
