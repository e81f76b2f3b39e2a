"""A scripted service and C:/S: transcripts for the SMTP core's tests.

`Peer` plays the service: it feeds the core what the client sends, answers
every event through a policy (accept everything unless told otherwise)
and returns what the server wrote. `transcript` runs a script of ``C:``
and ``S:`` lines; an ``S:`` line ending in ``...`` matches any line that
starts with what precedes the dots (a hole for text that may vary).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar

from roost.proto.smtp import (
    NEEDS_ANSWER,
    AuthRequested,
    AuthResponse,
    ConnectionLost,
    DataChunk,
    DataEnd,
    Event,
    Quit,
    Reply,
    SessionAborted,
    SmtpServerConnection,
    SmtpSettings,
)

HOST = "mx.example.org"
SETTINGS = SmtpSettings(HOST)
TERMINAL = (Quit, SessionAborted, ConnectionLost)

Policy = Callable[[SmtpServerConnection, Event], None]
E = TypeVar("E")


def accept_all(conn: SmtpServerConnection, event: Event) -> None:
    """Say yes to everything; AUTH succeeds at once."""
    if isinstance(event, AuthRequested | AuthResponse):
        conn.auth_succeeded()
    else:
        conn.accept()


def rejecting(rules: dict[type, Reply], fallback: Policy = accept_all) -> Policy:
    """Reject events of the listed types with the given reply."""

    def policy(conn: SmtpServerConnection, event: Event) -> None:
        reply = rules.get(type(event))
        if reply is None:
            fallback(conn, event)
        elif isinstance(event, AuthRequested | AuthResponse):
            conn.auth_failed(reply)
        else:
            conn.reject(reply)

    return policy


class Peer:
    """The service side of a test: a core, a policy, and what happened."""

    __test__ = False

    def __init__(
        self,
        settings: SmtpSettings = SETTINGS,
        *,
        policy: Policy = accept_all,
        tls: bool = False,
        greet: bool = True,
    ) -> None:
        self.conn = SmtpServerConnection(settings, tls=tls)
        self.policy = policy
        self.events: list[Event] = []
        if greet:
            self.conn.greeting()
            self.greeting = self.conn.data_to_send()

    def run(self) -> None:
        """Ask for events until the core needs input, answering each."""
        conn = self.conn
        while not (self.events and isinstance(self.events[-1], TERMINAL)):
            event = conn.next_event()
            if event is None:
                return
            self.events.append(event)
            if isinstance(event, NEEDS_ANSWER):
                self.policy(conn, event)
                if conn.phase.name == "TLS":
                    return

    def send(self, data: bytes) -> bytes:
        """Deliver client bytes; return what the server wrote meanwhile."""
        self.conn.receive_data(data)
        self.run()
        return self.conn.data_to_send()

    def say(self, *lines: str) -> list[str]:
        """Send CRLF-terminated lines in one packet; return the reply lines."""
        data = "".join(line + "\r\n" for line in lines).encode()
        return lines_of(self.send(data))

    def hangup(self) -> None:
        """The client closes its side."""
        self.conn.receive_data(b"")
        self.run()

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def message(self) -> bytes:
        """All DataChunk bytes so far."""
        return b"".join(event.data for event in self.events if isinstance(event, DataChunk))

    def ends(self) -> list[DataEnd]:
        return [event for event in self.events if isinstance(event, DataEnd)]

    def ehlo(self, name: str = "client.example") -> list[str]:
        return self.say(f"EHLO {name}")


def keywords(ehlo_lines: list[str]) -> list[str]:
    """The extension keywords of an EHLO reply (RFC 5321 §4.1.1.1)."""
    return [line[4:] for line in ehlo_lines[1:]]


def lines_of(data: bytes) -> list[str]:
    text = data.decode()
    assert text == "" or text.endswith("\r\n"), text
    return text.split("\r\n")[:-1]


def matches(expected: str, got: str) -> bool:
    if expected.endswith("..."):
        return got.startswith(expected[:-3])
    return got == expected


def assert_lines(got: list[str], expected: list[str]) -> None:
    ok = len(got) == len(expected) and all(map(matches, expected, got))
    assert ok, "\n".join(["expected:", *expected, "got:", *got])


def transcript(peer: Peer, script: str) -> None:
    """Play a C:/S: script; consecutive C: lines go in one packet."""
    blocks: list[tuple[list[str], list[str]]] = [([], [])]
    for raw in script.strip().splitlines():
        line = raw.strip()
        tag, text = line[:2], line[3:]
        if tag == "C:":
            if blocks[-1][1]:
                blocks.append(([], []))
            blocks[-1][0].append(text)
        elif tag == "S:":
            blocks[-1][1].append(text)
        else:
            raise AssertionError(f"bad transcript line {raw!r}")
    for client, server in blocks:
        got = peer.say(*client) if client else lines_of(peer.greeting)
        assert_lines(got, server)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def settings(**changes: object) -> SmtpSettings:
    """SETTINGS with some fields changed."""
    return SmtpSettings(HOST, **changes)  # type: ignore[arg-type]


def test_transcript_matches_holes() -> None:
    assert matches("250 2.0.0 ...", "250 2.0.0 Ok")
    assert not matches("250 2.0.0 ...", "250 2.1.0 Ok")
    assert matches("250 Ok", "250 Ok")
