"""The command framer: lines, literals of every kind, limits, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.imap.commands.auth import Append
from roost.proto.imap.commands.nonauth import Login
from roost.proto.imap.errors import ImapUsageError, ParseError
from roost.proto.imap.framing import (
    LITERAL_MINUS_OCTETS,
    CommandFramer,
    CommandReceived,
    CommandRefused,
    ContinuationNeeded,
    FramingEvent,
    FramingLimits,
    InputClosed,
    LineReceived,
)
from roost.proto.imap.parser import parse_command
from roost.proto.imap.responses import TOOBIG, Condition
from roost.proto.imap.writer import continuation, rejection, tagged

SMALL = FramingLimits(line_octets=64, literal_octets=100, command_octets=300)


def drain(framer: CommandFramer) -> list[FramingEvent]:
    events: list[FramingEvent] = []
    while (event := framer.next_event()) is not None:
        events.append(event)
        if isinstance(event, InputClosed):
            break
    return events


def frame(data: bytes, limits: FramingLimits = SMALL) -> list[FramingEvent]:
    framer = CommandFramer(limits)
    framer.receive_data(data)
    return drain(framer)


def refusal(event: FramingEvent) -> ParseError:
    assert isinstance(event, CommandRefused)
    return event.error


def test_lines_are_commands() -> None:
    assert frame(b"a NOOP\r\nb CAPABILITY\r\nc LOGOUT\n") == [
        CommandReceived(b"a NOOP\r\n"),
        CommandReceived(b"b CAPABILITY\r\n"),
        CommandReceived(b"c LOGOUT\n"),
    ]


def test_nothing_until_the_line_ends() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a NO")
    assert framer.next_event() is None
    framer.receive_data(b"OP\r")
    assert framer.next_event() is None
    framer.receive_data(b"\n")
    assert framer.next_event() == CommandReceived(b"a NOOP\r\n")


def test_synchronising_literal_asks_for_continuation() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a LOGIN {4}\r\n")
    assert framer.next_event() == ContinuationNeeded("a", 4)
    assert framer.in_command
    assert framer.next_event() is None
    framer.receive_data(b"fred {6}\r\n")
    assert framer.next_event() == ContinuationNeeded("a", 6)
    framer.receive_data(b"sec")
    assert framer.next_event() is None
    framer.receive_data(b"ret\r\nb NOOP\r\n")
    received = framer.next_event()
    assert received == CommandReceived(b"a LOGIN {4}\r\nfred {6}\r\nsecret\r\n")
    assert isinstance(received, CommandReceived)
    assert parse_command(received.raw) == Login("a", "fred", "secret")
    assert framer.next_event() == CommandReceived(b"b NOOP\r\n")


def test_non_synchronising_and_binary_literals_need_no_continuation() -> None:
    wire = b"a LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n"
    assert frame(wire) == [CommandReceived(wire)]
    append = b"a APPEND x ~{5+}\r\na\0\r\nb\r\n"
    [received] = frame(append)
    assert isinstance(received, CommandReceived)
    assert parse_command(received.raw) == Append("a", "x", b"a\0\r\nb", binary=True)
    assert frame(b"a APPEND x ~{1}\r\n") == [ContinuationNeeded("a", 1)]


def test_literal_octets_are_not_searched_for_line_ends() -> None:
    wire = b"a LOGIN {10+}\r\n\r\nb NOOP\r\n x\r\n"
    assert frame(wire) == [CommandReceived(wire)]


def test_an_empty_literal() -> None:
    assert frame(b'a LOGIN {0}\r\n ""\r\n') == [
        ContinuationNeeded("a", 0),
        CommandReceived(b'a LOGIN {0}\r\n ""\r\n'),
    ]


def test_sync_literal_over_the_limit_is_refused_before_it_is_sent() -> None:
    framer = CommandFramer(SMALL)
    framer.receive_data(b"a APPEND x {101}\r\n")
    error = refusal(framer.next_event())  # type: ignore[arg-type]
    assert (error.tag, error.condition, error.code) == ("a", Condition.NO, TOOBIG)
    assert rejection(error).startswith(b"a NO [TOOBIG] ")
    assert not framer.in_command
    framer.receive_data(b"b NOOP\r\n")
    assert framer.next_event() == CommandReceived(b"b NOOP\r\n")


def test_non_sync_literal_over_the_limit_is_read_discarded_then_refused() -> None:
    framer = CommandFramer(SMALL)
    framer.receive_data(b"a APPEND x {150+}\r\n" + b"x" * 149)
    assert framer.next_event() is None  # still reading it
    framer.receive_data(b"x {3+}\r\nabc\r\nb NOOP\r\n")
    error = refusal(framer.next_event())  # type: ignore[arg-type]
    assert (error.tag, error.condition, error.code) == ("a", Condition.NO, TOOBIG)
    assert framer.next_event() == CommandReceived(b"b NOOP\r\n")


def test_a_refused_command_ends_at_its_next_sync_literal() -> None:
    # The client waits for "+" there: the refusal is its answer.
    events = frame(b"a APPEND x {150+}\r\n" + b"x" * 150 + b" {3}\r\nb NOOP\r\n")
    assert refusal(events[0]).code == TOOBIG
    assert events[1:] == [CommandReceived(b"b NOOP\r\n")]


def test_literal_minus_limits_non_sync_literals_to_4096() -> None:
    limits = FramingLimits(literal_minus=True)
    ok = b"a LOGIN {4096+}\r\n" + b"x" * LITERAL_MINUS_OCTETS + b" y\r\n"
    assert frame(ok, limits) == [CommandReceived(ok)]
    events = frame(b"a LOGIN {4097+}\r\n" + b"x" * 4097 + b" y\r\nb NOOP\r\n", limits)
    error = refusal(events[0])
    assert (error.tag, error.condition, error.code) == ("a", Condition.BAD, TOOBIG)
    assert events[1:] == [CommandReceived(b"b NOOP\r\n")]
    # A synchronising literal of any size within the limit is fine.
    assert frame(b"a LOGIN {5000}\r\n", limits) == [ContinuationNeeded("a", 5000)]


def test_brace_minus_is_framed_as_non_sync_and_then_refused_by_the_parser() -> None:
    [received] = frame(b"a LOGIN {3-}\r\nabc b\r\n")
    assert isinstance(received, CommandReceived)
    with pytest.raises(ParseError):
        parse_command(received.raw)


def test_overlong_line_is_dropped_as_it_arrives() -> None:
    framer = CommandFramer(SMALL)
    framer.receive_data(b"a1 SEARCH ")
    for _ in range(1000):
        framer.receive_data(b"UNSEEN ")
        assert framer.next_event() is None
        assert framer.buffered <= SMALL.line_octets
    framer.receive_data(b"ALL\r\nb NOOP\r\n")
    error = refusal(framer.next_event())  # type: ignore[arg-type]
    assert (error.tag, error.condition, error.code) == ("a1", Condition.BAD, TOOBIG)
    assert framer.next_event() == CommandReceived(b"b NOOP\r\n")


def test_overlong_line_in_one_piece() -> None:
    events = frame(b"a1 NOOP " + b"x" * 100 + b"\r\nb NOOP\r\n")
    assert refusal(events[0]).tag == "a1"
    assert events[1:] == [CommandReceived(b"b NOOP\r\n")]


def test_overlong_line_announcing_a_literal_drops_the_literal_too() -> None:
    events = frame(b"a1 LOGIN " + b"x" * 100 + b" {5+}\r\nb NOO\r\nc NOOP\r\n")
    assert refusal(events[0]).tag == "a1"
    assert events[1:] == [CommandReceived(b"c NOOP\r\n")]
    events = frame(b"a1 LOGIN " + b"x" * 100 + b" {5}\r\nc NOOP\r\n")
    assert refusal(events[0]).tag == "a1"
    assert events[1:] == [CommandReceived(b"c NOOP\r\n")]


def test_overlong_line_without_a_tag_is_untagged() -> None:
    [event] = frame(b"x" * 100 + b"\r\n")
    assert refusal(event).tag is None
    assert rejection(refusal(event)).startswith(b"* BAD [TOOBIG] ")


def test_whole_command_limit_counts_lines_and_literals() -> None:
    chunk = b"{90+}\r\n" + b"x" * 90
    events = frame(b"a SEARCH TEXT " + chunk + b" TEXT " + chunk + b" TEXT " + chunk + b"\r\n")
    error = refusal(events[0])
    assert (error.tag, error.condition, error.code) == ("a", Condition.NO, TOOBIG)
    assert len(events) == 1


def test_a_million_range_sequence_set_is_refused_by_the_line_limit() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a UID FETCH ")
    chunk = b",".join(b"%d:%d" % (n, n + 1) for n in range(1, 30_000, 3)) + b","
    for _ in range(100):
        framer.receive_data(chunk)
        assert framer.next_event() is None
    framer.receive_data(b"1 FLAGS\r\n")
    assert refusal(framer.next_event()).code == TOOBIG  # type: ignore[arg-type]


def test_plain_lines_for_idle_and_authenticate() -> None:
    framer = CommandFramer(SMALL)
    framer.receive_data(b"a IDLE\r\nDONE\r\nb AUTHENTICATE PLAIN\r\n{5}\r\n*\r\n")
    assert framer.next_event() == CommandReceived(b"a IDLE\r\n")
    assert framer.next_line() == LineReceived(b"DONE")
    assert framer.next_event() == CommandReceived(b"b AUTHENTICATE PLAIN\r\n")
    assert framer.next_line() == LineReceived(b"{5}")  # a line, not a literal
    assert framer.next_line() == LineReceived(b"*")
    assert framer.next_line() is None
    framer.receive_data(b"y" * 100 + b"\r\nDONE\n")
    assert isinstance(framer.next_line(), CommandRefused)
    assert framer.next_line() == LineReceived(b"DONE")


def test_next_line_refuses_the_middle_of_a_command() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a LOGIN {3}\r\n")
    assert isinstance(framer.next_event(), ContinuationNeeded)
    with pytest.raises(ImapUsageError):
        framer.next_line()


def test_abandon_a_command_instead_of_sending_the_continuation() -> None:
    framer = CommandFramer()
    with pytest.raises(ImapUsageError):
        framer.abandon_command()
    framer.receive_data(b"a APPEND x {3}\r\n")
    assert framer.next_event() == ContinuationNeeded("a", 3)
    framer.abandon_command()
    framer.receive_data(b"b NOOP\r\n")
    assert framer.next_event() == CommandReceived(b"b NOOP\r\n")


def test_clear_drops_buffered_input_for_starttls() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a STARTTLS\r\nb INJECTED\r\n")
    assert framer.next_event() == CommandReceived(b"a STARTTLS\r\n")
    framer.clear()
    assert framer.buffered == 0
    assert framer.next_event() is None


def test_end_of_input() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a NOOP\r\nb LOGIN {5}\r\nab")
    framer.receive_data(b"")
    assert drain(framer) == [
        CommandReceived(b"a NOOP\r\n"),
        ContinuationNeeded("b", 5),
        InputClosed(),
    ]
    assert framer.next_event() == InputClosed()
    with pytest.raises(ImapUsageError):
        framer.receive_data(b"more")


def test_reprs_hide_the_bytes() -> None:
    assert "secret" not in repr(CommandReceived(b"a LOGIN fred secret\r\n"))
    assert "secret" not in repr(LineReceived(b"secret"))


def test_limits_must_make_sense() -> None:
    with pytest.raises(ImapUsageError):
        FramingLimits(line_octets=0)
    with pytest.raises(ImapUsageError):
        FramingLimits(line_octets=10)


STREAM_PIECES = [
    b"a NOOP\r\n",
    b"b LOGIN {3+}\r\nabc {0+}\r\n\r\n",
    b"c LOGIN {3}\r\nxyz y\r\n",
    b"d APPEND x ~{4+}\r\n\0\r\n\n\r\n",
    b"e APPEND x {200+}\r\n" + b"z" * 200 + b"\r\n",
    b"f APPEND x {200}\r\n",
    b"g SEARCH " + b"ALL " * 30 + b"ALL\r\n",
    b"h X {99999999999999999999999+}\r\n",
    b"i NOOP\n",
    b"\r\n",
    b"{5}\r\n",
    b"garbage without end",
]


@settings(max_examples=250, database=None, deadline=None)
@given(
    st.lists(st.sampled_from(STREAM_PIECES), max_size=8),
    st.lists(st.integers(1, 40), min_size=1, max_size=30),
)
def test_chunking_never_changes_the_events(pieces: list[bytes], sizes: list[int]) -> None:
    stream = b"".join(pieces)
    whole = CommandFramer(SMALL)
    whole.receive_data(stream)
    whole.receive_data(b"")
    expected = drain(whole)
    framer = CommandFramer(SMALL)
    events: list[FramingEvent] = []
    at = 0
    index = 0
    while at < len(stream):
        size = sizes[index % len(sizes)]
        framer.receive_data(stream[at : at + size])
        at += size
        index += 1
        events.extend(drain(framer))
    framer.receive_data(b"")
    events.extend(drain(framer))
    assert [_comparable(e) for e in events] == [_comparable(e) for e in expected]


def _comparable(event: FramingEvent) -> object:
    # Exceptions compare by identity; compare what the client would be told.
    if isinstance(event, CommandRefused):
        return rejection(event.error)
    return event


@settings(max_examples=250, database=None, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_frame_and_parse_without_surprises(data: bytes, minus: bool) -> None:
    framer = CommandFramer(
        FramingLimits(line_octets=64, literal_octets=40, command_octets=100, literal_minus=minus)
    )
    framer.receive_data(data)
    framer.receive_data(b"")
    for event in drain(framer):
        if isinstance(event, CommandReceived):
            assert len(event.raw) <= 100
            try:
                parse_command(event.raw)
            except ParseError as error:
                rejection(error)
        elif isinstance(event, CommandRefused):
            rejection(event.error)


def _serve(framer: CommandFramer, data: bytes) -> bytes:
    """The loop a connection runs, reduced to the grammar: bytes in, bytes out."""
    framer.receive_data(data)
    out = bytearray()
    while (event := framer.next_event()) is not None:
        match event:
            case CommandReceived(raw):
                try:
                    command = parse_command(raw)
                except ParseError as error:
                    out += rejection(error)
                else:
                    out += tagged(command.tag, Condition.OK, f"{command.NAME} completed")
            case ContinuationNeeded():
                out += continuation()
            case CommandRefused(error):
                out += rejection(error)
            case InputClosed():
                break
    return bytes(out)


def test_a_connection_loop_transcript() -> None:
    framer = CommandFramer(SMALL)
    assert _serve(framer, b"a1 LOGIN {4}\r\n") == b"+ Ready for literal data\r\n"
    assert _serve(framer, b"fred {6}\r\n") == b"+ Ready for literal data\r\n"
    assert _serve(framer, b"secret\r\n") == b"a1 OK LOGIN completed\r\n"
    assert _serve(framer, b"a2 APPEND INBOX {1000}\r\n") == b"a2 NO [TOOBIG] literal too big\r\n"
    assert _serve(framer, b"a3 APPEND INBOX {1000+}\r\n" + b"x" * 1000 + b"\r\na4 FROB\r\n") == (
        b"a3 NO [TOOBIG] literal too big\r\na4 BAD unknown command FROB\r\n"
    )
    assert _serve(framer, b"a5 NOOP\r\n") == b"a5 OK NOOP completed\r\n"
