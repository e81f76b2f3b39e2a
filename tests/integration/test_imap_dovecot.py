"""The same messages through Roost's IMAP and through Debian's Dovecot IMAP,
compared answer by answer.

Both servers get the MIME corpus of the parser tests and the IMAP samples,
byte for byte the same (Roost without trace fields, Dovecot from Maildir
files in the same order). A raw client then sends each server the same
commands: FETCH of ENVELOPE, BODYSTRUCTURE, BODY, sections and partials,
RFC822.SIZE; SEARCH with header, body, size and date keys; SORT; THREAD.
The untagged answers must be equal, except for the differences listed in
`KNOWN`, each with the message, the command and its reason (RFC section).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from tests.dovecot_peer import dovecot_peer
from tests.imap_support import (
    ALICE,
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)
from tests.unit.mime_corpus import CORPUS

MESSAGES: list[tuple[str, bytes]] = [
    *((name, build()) for name, build in CORPUS.items()),
    ("plain", PLAIN),
    ("multipart", MULTIPART),
    ("newsletter", NEWSLETTER),
]
NAMES = [name for name, _ in MESSAGES]

SECTIONS = (
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]",
    "BODY.PEEK[1]",
    "BODY.PEEK[1.MIME]",
    "BODY.PEEK[2]",
    "BODY.PEEK[2.MIME]",
    "BODY.PEEK[1.1]",
    "BODY.PEEK[2.HEADER]",
    "BODY.PEEK[2.TEXT]",
    "BODY.PEEK[2.1]",
    "BODY.PEEK[HEADER.FIELDS (From Subject)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (From Subject Date)]",
    "BODY.PEEK[]<0.30>",
    "BODY.PEEK[TEXT]<5.10>",
    "BODY.PEEK[1]<2.5>",
    "BODY.PEEK[]<100000.10>",
)
PER_MESSAGE = ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE", *SECTIONS)
WHOLE_MAILBOX = (
    "SEARCH SUBJECT lunch",
    "SEARCH FROM example.org",
    "SEARCH TO alice",
    "SEARCH HEADER Message-ID example",
    "SEARCH BODY menu",
    "SEARCH TEXT news",
    "SEARCH LARGER 1000",
    "SEARCH SMALLER 300",
    "SEARCH SENTBEFORE 1-Jan-2010",
    "SEARCH SENTSINCE 1-Jan-2024",
    "SEARCH OR SUBJECT digest NOT FROM example.org",
    "SEARCH CHARSET UTF-8 SUBJECT caf\u00e9",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (REVERSE DATE) UTF-8 ALL",
    "SORT (FROM) UTF-8 ALL",
    "SORT (SIZE) UTF-8 ALL",
    "SORT (TO CC) UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
    "THREAD ORDEREDSUBJECT UTF-8 ALL",
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


KNOWN: dict[tuple[str, str], str] = {
    ("bare_lf", "*"): (
        "Dovecot turns bare LF into CRLF on the way out; Roost sends the octets it "
        "stored, so RFC822.SIZE, the part sizes and every section agree with the "
        "bytes BODY[] delivers (RFC 9051 section 7.5.2)"
    ),
    ("*", "SORT (SIZE) UTF-8 ALL"): "bare_lf is 13 octets smaller in Roost (see bare_lf)",
    ("prefix_boundaries", "BODY.PEEK[1]"): (
        "the CRLF before the outer delimiter belongs to the delimiter (RFC 2046 "
        "section 5.1.1); Dovecot counts it into the nested multipart"
    ),
    ("eight_bit_headers", "ENVELOPE"): (
        "the raw Latin-1 octet of the Cc name: Roost sends UTF-8 (RFC 9051 section 4.3 "
        "requires valid UTF-8 in 8-bit strings), Dovecot the invalid octet"
    ),
    ("message_global", "BODYSTRUCTURE"): (
        "a base64 message/rfc822 is forbidden (RFC 2046 section 5.2.1): Roost leaves "
        "it unparsed (empty body, 0 lines), Dovecot parses the encoded text as a "
        "header; the part size differs by the CRLF of the close delimiter (RFC 2046 "
        "section 5.1.1), which Dovecot counts here"
    ),
    ("message_global", "BODY"): "as BODYSTRUCTURE of message_global",
    ("message_global", "BODY.PEEK[2]"): "the CRLF of the delimiter (RFC 2046 section 5.1.1)",
    ("message_global", "BODY.PEEK[2.HEADER]"): (
        "Dovecot takes the base64 text of the forbidden encoded message/rfc822 as its "
        "header (RFC 2046 section 5.2.1); Roost shows it unparsed, with no header"
    ),
    ("missing_separator", "*"): (
        "no blank line after the header: a line without a colon is no header field "
        "(RFC 5322 section 2.2), so Roost starts the body there; Dovecot reads "
        "everything as header. Without that blank line Roost's header fetches end "
        "without one (RFC 9051 section 6.4.5)"
    ),
    ("*", "SEARCH SENTBEFORE 1-Jan-2010"): (
        "a message without Date: matches no SENT* key in Roost (RFC 9051 section "
        "6.4.4 compares the Date: field); Dovecot gives them the date 0. And Dovecot "
        "does not take routes_and_groups' Date (folded over six lines, 1969, both "
        "allowed by RFC 5322 section 3.3), so it uses INTERNALDATE"
    ),
    ("*", "SEARCH SENTSINCE 1-Jan-2024"): "as SENTBEFORE: routes_and_groups' Date",
    ("*", "SORT (REVERSE DATE) UTF-8 ALL"): (
        "routes_and_groups' Date (1969) that Dovecot does not parse; without a "
        "usable Date both use INTERNALDATE (RFC 5256 section 2.2)"
    ),
    ("*", "THREAD REFERENCES UTF-8 ALL"): (
        "threads are ordered by sent date (RFC 5256 section 4): routes_and_groups "
        "(1969) comes first in Roost, last in Dovecot (see SENTBEFORE)"
    ),
    ("*", "THREAD ORDEREDSUBJECT UTF-8 ALL"): (
        "the same date: routes_and_groups is the oldest message with an empty base "
        "subject, so it is the thread's root (RFC 5256 section 4)"
    ),
    ("*", "SORT (TO CC) UTF-8 ALL"): (
        "nested_rfc822's first To address is a@example.com inside the group "
        "'Friends' (RFC 5322 section 3.4); RFC 5256 section 3 sorts by it, "
        "Dovecot by c@example.com after the group"
    ),
}
"""(message name or "*", command or "*") -> why Roost's answer differs from
Dovecot's while following the RFC (or where the RFC leaves it open)."""

DEFECTS: dict[tuple[str, str], str] = {}
"""Differences where Dovecot is right: known Roost defects in the MIME parser,
listed so the test keeps running; each must still differ, so that a fix
removes its entry."""


def _listed(table: dict[tuple[str, str], str], key: tuple[str, str]) -> bool:
    name, command = key
    return any(k in table for k in (key, (name, "*"), ("*", command)))


_LITERAL = re.compile(rb"\{(\d+)\}\r\n")


def canonical(response: bytes) -> bytes:
    """`response` with every literal written as a quoted string: a server may
    send any string either way (RFC 9051 section 4.3), and Roost and Dovecot
    choose differently for some."""
    out = bytearray()
    at = 0
    quoted = False
    while at < len(response):
        byte = response[at : at + 1]
        if quoted:
            out += byte
            if byte == b"\\":
                out += response[at + 1 : at + 2]
                at += 1
            elif byte == b'"':
                quoted = False
            at += 1
            continue
        found = _LITERAL.match(response, at)
        if found is None:
            quoted = byte == b'"'
            out += byte
            at += 1
            continue
        start = found.end()
        data = response[start : start + int(found.group(1))]
        out += b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        at = start + len(data)
    return bytes(out)


def survey(port: int, user: str, password: str) -> dict[tuple[str, str], list[bytes]]:
    wire = Wire(port, login=False)
    try:
        wire.ok(f"LOGIN {user} {password}")
        wire.ok("SELECT INBOX")
        out: dict[tuple[str, str], list[bytes]] = {}
        for number, name in enumerate(NAMES, start=1):
            for item in PER_MESSAGE:
                untagged, done = wire.command(f"FETCH {number} ({item})")
                out[(name, item)] = [*map(canonical, untagged), done.split(b" ", 1)[0]]
        for command in WHOLE_MAILBOX:
            untagged, done = wire.command(command)
            out[("*", command)] = [*untagged, done.split(b" ", 1)[0]]
        return out
    finally:
        wire.close()


async def test_answers_match_dovecot(tmp_path: Path, ca: trustme.CA) -> None:
    bodies = [body for _, body in MESSAGES]
    with dovecot_peer(["alice"], "secret", imap=True) as peer:
        peer.deliver("alice", bodies)
        theirs = await in_thread(lambda: survey(peer.imap_port, "alice", "secret"))
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, bodies, trace=b"")
        port = imap_port(roost)
        ours = await in_thread(lambda: survey(port, ALICE, "alice-password"))
    differ = {key for key, want in theirs.items() if ours[key] != want}
    unexplained = [
        f"{key}:\n  dovecot {theirs[key]!r}\n  roost   {ours[key]!r}"
        for key in sorted(differ)
        if not _listed(KNOWN, key) and not _listed(DEFECTS, key)
    ]
    assert not unexplained, "\n".join(unexplained)
    # Every listed difference is still there (a fixed one loses its entry).
    for table in (KNOWN, DEFECTS):
        for name, command in table:
            matching = {key for key in theirs if name in ("*", key[0]) and command in ("*", key[1])}
            assert matching, f"{(name, command)} names no command of the survey"
            assert matching & differ, f"{(name, command)} no longer differs: remove it"
