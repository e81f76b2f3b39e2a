"""Properties: no input crashes the core, and no cut of the input changes it.

Hypothesis keeps no example database here (``database=None``) so that a
test run writes nothing into the shared tree.
"""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from roost.proto.smtp import (
    NEEDS_ANSWER,
    AuthRequested,
    AuthResponse,
    DataChunk,
    DataEnd,
    Event,
    MailFrom,
    MessageRefused,
    RcptTo,
    Reply,
    SmtpServerConnection,
    SmtpSettings,
    replies,
    xtext_decode,
    xtext_encode,
)
from roost.proto.smtp.addresses import parse_path
from roost.proto.smtp.errors import PeerError
from tests.unit.test_smtp_harness import TERMINAL

SMALL = SmtpSettings(
    "mx.example.org",
    max_message_octets=300,
    max_recipients=3,
    max_data_line_octets=1000,
    data_chunk_octets=16,
    max_errors=12,
    auth_mechanisms=("PLAIN", "LOGIN"),
    tls_required_for_auth=False,
    vrfy_enabled=True,
    binarymime=True,
)

FRAGMENTS = [
    b"EHLO c.example\r\n", b"HELO c\r\n", b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> BODY=BINARYMIME SMTPUTF8\r\n", b"MAIL FROM:<a@b> SIZE=9999\r\n",
    b"RCPT TO:<c@d.example>\r\n", b"RCPT TO:<x@d.example>\r\n", b"RCPT TO:<\xc3\xa9@d>\r\n",
    b"RCPT TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;a+2B@b\r\n", b"DATA\r\n", b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n", b"BDAT 0 LAST\r\n", b"BDAT x\r\n", b"hello", b"\r\n", b".\r\n",
    b"..\r\n", b"\n", b"\r", b".", b" ", b"RSET\r\n", b"NOOP\r\n", b"AUTH PLAIN\r\n",
    b"AUTH LOGIN dGlt\r\n", b"AUTH PLAIN =\r\n", b"*\r\n", b"dGlt\r\n", b"VRFY x\r\n",
    b"QUIT\r\n", b"STARTTLS\r\n", b"HELP\r\n", b"\x00", b"\xff", b"x" * 40,
    b"GET / HTTP/1.1\r\n",
]  # fmt: skip
inputs = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=12), max_size=40).map(b"".join)


def policy(conn: SmtpServerConnection, event: Event) -> None:
    match event:
        case RcptTo(address=address) if address.startswith("x"):
            conn.reject(Reply(550, "5.1.1", "No"))
        case AuthRequested(initial_response=None):
            conn.auth_challenge(b"Username:")
        case AuthRequested() | AuthResponse(data=b""):
            conn.auth_succeeded()
        case AuthResponse(data=b"tim"):
            conn.auth_challenge(b"")
        case AuthResponse():
            conn.auth_failed()
        case DataEnd(octets=octets) if octets % 2:
            conn.reject(Reply(451, "4.3.0", "Odd"))
        case _:
            conn.accept()


def play(data: bytes, cuts: list[int], config: SmtpSettings = SMALL) -> tuple[list[Event], bytes]:
    """Feed ``data`` cut at ``cuts``, then end of input; events and output."""
    conn = SmtpServerConnection(config)
    conn.greeting()
    out = bytearray(conn.data_to_send())
    events: list[Event] = []

    def drain() -> None:
        while not (events and isinstance(events[-1], TERMINAL)):
            event = conn.next_event()
            if event is None:
                return
            events.append(event)
            if isinstance(event, NEEDS_ANSWER):
                policy(conn, event)

    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(bounds):
        if end > start:
            conn.receive_data(data[start:end])
            drain()
            out += conn.data_to_send()
    conn.receive_data(b"")
    drain()
    out += conn.data_to_send()
    assert isinstance(events[-1], TERMINAL)
    return events, bytes(out)


@settings(database=None, deadline=None, max_examples=300)
@given(data=inputs, cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12))
def test_any_input_any_cut_same_events_and_replies(data: bytes, cuts: list[int]) -> None:
    assert play(data, cuts) == play(data, [])


ENVELOPE = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
body_pieces = st.lists(
    st.sampled_from([b"text", b"\r\n", b".", b"..", b"\r", b"\n", b"\r\n.\r\n", b"y" * 40])
    | st.binary(max_size=10),
    max_size=20,
).map(b"".join)
data_transaction = body_pieces.map(lambda body: ENVELOPE + b"DATA\r\n" + body + b"\r\n.\r\n")


def bdat_commands(chunks: list[bytes]) -> bytes:
    *middle, last = chunks
    sent = b"".join(b"BDAT %d\r\n" % len(chunk) + chunk for chunk in middle)
    return ENVELOPE + sent + b"BDAT %d LAST\r\n" % len(last) + last


bdat_transaction = st.lists(body_pieces, min_size=1, max_size=5).map(bdat_commands)
sessions = st.lists(
    data_transaction | bdat_transaction | st.sampled_from(FRAGMENTS), max_size=6
).map(lambda parts: b"EHLO c.example\r\n" + b"".join(parts))


@settings(database=None, deadline=None, max_examples=300)
@given(data=sessions, cuts=st.lists(st.integers(min_value=0, max_value=1500), max_size=12))
def test_transactions_any_cut_same_events_and_replies(data: bytes, cuts: list[int]) -> None:
    assert play(data, cuts) == play(data, [])


@settings(database=None, deadline=None, max_examples=100)
@given(data=inputs)
def test_one_byte_at_a_time_changes_nothing(data: bytes) -> None:
    assert play(data, list(range(len(data)))) == play(data, [])


@settings(database=None, deadline=None, max_examples=300)
@given(raw=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_raw_bytes_after_a_greeting(raw: bytes, cuts: list[int]) -> None:
    assert play(b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\n" + raw, cuts)


lines = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=30
)


@settings(database=None, deadline=None, max_examples=200)
@given(body=lines, cuts=st.lists(st.integers(0, 2000), max_size=10))
def test_dot_stuffing_round_trip(body: list[bytes], cuts: list[int]) -> None:
    message = b"".join(line + b"\r\n" for line in body)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in body)
    big = SmtpSettings("mx.example.org", data_chunk_octets=7, max_message_octets=0)
    head = b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
    events, _ = play(head + stuffed + b".\r\nQUIT\r\n", [c + len(head) for c in cuts], big)
    chunks = [e.data for e in events if isinstance(e, DataChunk)]
    assert b"".join(chunks) == message
    assert all(len(chunk) == 7 for chunk in chunks[:-1])
    assert [e for e in events if isinstance(e, DataEnd)] == [DataEnd(len(message))]


def reference(payload: bytes) -> tuple[bool, bytes]:
    """Where a correct server ends the data, and what it must decide."""
    wire = b"\r\n" + payload
    end = wire.find(b"\r\n.\r\n")
    body_lines = wire[2 : end + 2].split(b"\r\n")[:-1]
    bare = any(b"\r" in line or b"\n" in line for line in body_lines)
    unstuffed = b"".join((line[1:] if line[:1] == b"." else line) + b"\r\n" for line in body_lines)
    return bare, unstuffed


smuggling = st.lists(
    st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"MAIL FROM:<e@vil>"]), max_size=40
).map(b"".join)


@settings(database=None, deadline=None, max_examples=400)
@given(payload=smuggling, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_data_ends_only_at_crlf_dot_crlf(payload: bytes, cuts: list[int]) -> None:
    payload += b"\r\n.\r\n"
    relaxed = SmtpSettings("mx.example.org", max_errors=0, data_chunk_octets=5)
    head = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
    events, _ = play(head + payload, [c + len(head) for c in cuts], relaxed)
    bare, unstuffed = reference(payload)
    outcomes = [e for e in events if isinstance(e, DataEnd | MessageRefused)]
    assert len(outcomes) == 1
    if bare:
        assert outcomes == [MessageRefused(replies.BARE_LINE_END)]
    else:
        assert outcomes == [DataEnd(len(unstuffed))]
        assert b"".join(e.data for e in events if isinstance(e, DataChunk)) == unstuffed
    before_end = events[: events.index(outcomes[0])]
    assert len([e for e in before_end if isinstance(e, MailFrom)]) == 1


long_lines = st.lists(st.tuples(st.booleans(), st.integers(990, 1002)), max_size=5)


@settings(database=None, deadline=None, max_examples=100)
@given(body=long_lines, cuts=st.lists(st.integers(0, 6000), max_size=6), chunk=st.integers(1, 3000))
def test_line_cap_matches_the_rfc_count(
    body: list[tuple[bool, int]], cuts: list[int], chunk: int
) -> None:
    # 1000 octets with CRLF, the stuffed period not counted (RFC 5321 §4.5.3.1.6).
    wire = b"".join(b".." * dot + b"y" * n + b"\r\n" for dot, n in body)
    config = SmtpSettings(
        "mx.example.org", max_errors=0, data_chunk_octets=chunk, max_data_line_octets=1000
    )
    head = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
    events, _ = play(head + wire + b".\r\n", [c + len(head) for c in cuts], config)
    outcomes = [e for e in events if isinstance(e, DataEnd | MessageRefused)]
    if any(n + dot + 2 > 1000 for dot, n in body):
        assert outcomes == [MessageRefused(replies.DATA_LINE_TOO_LONG)]
    else:
        assert [type(e) for e in outcomes] == [DataEnd]


@settings(database=None, deadline=None, max_examples=300)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_xtext_round_trip(text: str) -> None:
    assert xtext_decode(xtext_encode(text)) == text


atom = st.text(alphabet="abcXYZ019!#$%&'*+-/=?^_`{|}~", min_size=1, max_size=8)
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@settings(database=None, deadline=None, max_examples=300)
@given(local=st.lists(atom, min_size=1, max_size=4), domain=st.lists(label, min_size=1, max_size=4))
def test_addresses_round_trip(local: list[str], domain: list[str]) -> None:
    address = ".".join(local) + "@" + ".".join(domain)
    assert parse_path(f"<{address}>", null_ok=False, postmaster_ok=False, utf8=False) == (
        address,
        "",
    )
    quoted = '"' + ".".join(local) + '"@' + ".".join(domain)
    assert parse_path(f"<{quoted}>", null_ok=False, postmaster_ok=False, utf8=False)[0] == address


@settings(database=None, deadline=None, max_examples=500)
@given(st.text(max_size=80))
def test_path_parser_raises_only_peer_errors(text: str) -> None:
    with contextlib.suppress(PeerError):
        parse_path(text, null_ok=True, postmaster_ok=True, utf8=True)
