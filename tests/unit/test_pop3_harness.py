"""A scripted service and C:/S: transcripts for the POP3 core's tests.

`Peer` plays the service: it feeds the core what the client sends,
answers every event that needs an answer from a small in-memory
maildrop (password ``secret``, two messages) and returns what the server
wrote. `transcript` runs a script of ``C:`` and ``S:`` lines; an ``S:``
line ending in ``...`` matches any line that starts with what precedes
the dots (a hole for text that may vary).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from roost.proto.pop3 import (
    NEEDS_ANSWER,
    Authenticated,
    ConnectionLost,
    Event,
    Maildrop,
    PasswordLogin,
    Phase,
    Pop3ServerConnection,
    Pop3Settings,
    Quit,
    Retrieve,
    ScramKeysRequested,
    SessionAborted,
    StartTlsRequested,
    Update,
    replies,
)
from roost.proto.sasl import (
    SaslConfig,
    ScramAlgorithm,
    ScramCredentials,
    derive_scram_credentials,
)

PASSWORD = "secret"
MESSAGES: dict[str, bytes] = {
    "uid-1": b"Subject: one\r\nFrom: a@example.org\r\n\r\nHello\r\n.dot line\r\n",
    "uid-2": b"Subject: two\r\n\r\nLine 1\r\nLine 2\r\nLine 3\r\n",
}
MAILDROP = Maildrop.of((len(body), uid) for uid, body in MESSAGES.items())
SETTINGS = Pop3Settings(plaintext_auth_allowed=True, tls_available=True)
SASL = SaslConfig(server_secret=b"0123456789abcdef0123", nonce_source=lambda: "servernonce")
SCRAM_KEYS: dict[str, ScramCredentials] = {
    "alice": derive_scram_credentials(PASSWORD, ScramAlgorithm.SHA_256, salt=b"saltsaltsaltsalt")
}
TERMINAL = (Quit, SessionAborted, ConnectionLost)

Policy = Callable[["Peer", Event], None]
E = TypeVar("E")


def serve(peer: Peer, event: Event) -> None:
    """What a well-behaved service answers."""
    conn = peer.conn
    match event:
        case PasswordLogin(password=password):
            if password == PASSWORD:
                conn.login_accepted(peer.maildrop)
            else:
                conn.reject(replies.AUTH_FAILED)
        case ScramKeysRequested(user=user):
            conn.scram_keys(SCRAM_KEYS.get(user))
        case Authenticated():
            conn.login_accepted(peer.maildrop)
        case StartTlsRequested() | Update():
            conn.accept()
        case Retrieve(uid=uid):
            conn.begin_message()
            body = peer.messages[uid]
            size = peer.chunk_octets
            for start in range(0, len(body), size):
                if not conn.message_data(body[start : start + size]):
                    break
            conn.end_message()
        case _:
            raise AssertionError(f"unexpected {event}")


def rejecting(kind: type, reply: replies.Reply) -> Policy:
    """Reject events of one type with ``reply``; serve the rest."""

    def policy(peer: Peer, event: Event) -> None:
        if isinstance(event, kind):
            peer.conn.reject(reply)
        else:
            serve(peer, event)

    return policy


class Peer:
    """The service side of a test: a core, a policy, and what happened."""

    __test__ = False

    def __init__(
        self,
        settings: Pop3Settings = SETTINGS,
        *,
        policy: Policy = serve,
        sasl: SaslConfig | None = SASL,
        tls: bool = False,
        messages: dict[str, bytes] | None = None,
        chunk_octets: int = 7,
    ) -> None:
        self.conn = Pop3ServerConnection(settings, sasl=sasl, tls=tls)
        self.policy = policy
        self.messages = MESSAGES if messages is None else messages
        self.maildrop = Maildrop.of((len(body), uid) for uid, body in self.messages.items())
        self.chunk_octets = chunk_octets
        self.events: list[Event] = []
        self.conn.greeting()
        self.greeting = self.conn.data_to_send()

    def run(self) -> None:
        """Ask for events until the core needs input, answering each."""
        conn = self.conn
        while not conn.closing or conn.awaiting is not None:
            event = conn.next_event()
            if event is None:
                return
            self.events.append(event)
            if isinstance(event, NEEDS_ANSWER):
                self.policy(self, event)
                if conn.phase is Phase.TLS:
                    return
            if isinstance(event, TERMINAL):
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

    def login(self, user: str = "alice") -> None:
        assert self.say(f"USER {user}", f"PASS {PASSWORD}")[-1].startswith("+OK Maildrop")


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


def settings(**changes: object) -> Pop3Settings:
    """SETTINGS with some fields changed."""
    return replace(SETTINGS, **changes)  # type: ignore[arg-type]


def test_transcript_matches_holes() -> None:
    assert matches("+OK ...", "+OK Maildrop has 2 messages (99 octets)")
    assert not matches("+OK ...", "-ERR No such message")
    assert matches("+OK", "+OK")


def test_peer_serves_a_whole_session() -> None:
    peer = Peer()
    peer.login()
    assert peer.say("STAT")[0].startswith("+OK 2 ")
    assert peer.say("QUIT") == ["+OK Roost POP3 server signing off (2 messages left)"]
    assert peer.conn.closing
