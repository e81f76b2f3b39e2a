"""A scripted service and C:/S: transcripts for the XMPP core's tests.

`Peer` plays the service: it feeds the core what the client sends,
answers every event that needs an answer from a small directory (juliet
of RFC 6120 §9 with her password, SCRAM keys for both hashes) and returns
what the server wrote. Stream ids are ``s1``, ``s2``… and the SCRAM server
nonce is fixed, so transcripts hold exact bytes. `transcript` runs a
script of ``C:`` and ``S:`` lines: consecutive ``C:`` lines go in one
packet, consecutive ``S:`` lines are joined and compared with what the
server wrote in answer.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from scramp import ScramClient

from roost.proto.sasl import SaslConfig, ScramAlgorithm, derive_scram_credentials
from roost.proto.xmpp import (
    NEEDS_ANSWER,
    Authenticated,
    BindRequested,
    ConnectionLost,
    Event,
    Jid,
    PasswordLogin,
    Phase,
    ScramKeysRequested,
    StartTlsRequested,
    StreamClosed,
    StreamFailed,
    XmppServerConnection,
    XmppSettings,
)

DOMAIN = "im.example.com"
USER = "juliet"
PASSWORD = "r0m30myr0m30"
JULIET = Jid.parse(f"{USER}@{DOMAIN}")
SALT = base64.b64decode("QSXCR+Q6sek8bf92")
SERVER_NONCE = "3rfcNHYJY1ZVvWVs7j"
CLIENT_NONCE = "oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA"
SASL = SaslConfig(server_secret=b"0123456789abcdef0123", nonce_source=lambda: SERVER_NONCE)
SCRAM_KEYS = {
    algorithm: derive_scram_credentials(PASSWORD, algorithm, salt=SALT)
    for algorithm in ScramAlgorithm
}
SETTINGS = XmppSettings(domains=(DOMAIN,))
TERMINAL = (StreamClosed, StreamFailed, ConnectionLost)

STREAMS_NS = "http://etherx.jabber.org/streams"
CLIENT_HEADER = (
    f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' version='1.0' "
    f"xmlns='jabber:client' xmlns:stream='{STREAMS_NS}'>"
).encode()
WS_OPEN = f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{DOMAIN}' version='1.0'/>"

Policy = Callable[["Peer", Event], None]
E = TypeVar("E")


def server_header(stream_id: str) -> str:
    """The server's stream header with ``stream_id``."""
    return (
        f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{STREAMS_NS}' "
        f"id='{stream_id}' from='{DOMAIN}' version='1.0' xml:lang='en'>"
    )


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def serve(peer: Peer, event: Event) -> None:
    """What a well-behaved service answers."""
    conn = peer.conn
    match event:
        case StartTlsRequested():
            conn.accept()
        case PasswordLogin(user=user, password=password):
            if user == USER and password == PASSWORD:
                conn.login_accepted(JULIET)
            else:
                conn.reject()
        case ScramKeysRequested(user=user, algorithm=algorithm):
            conn.scram_keys(SCRAM_KEYS[algorithm] if user == USER else None)
        case Authenticated():
            conn.login_accepted(JULIET)
        case BindRequested(resource=resource):
            conn.bind_accepted(resource or "generated")
        case _:
            raise AssertionError(f"unexpected {event}")


class Peer:
    """The service side of a test: a core, a policy, and what happened."""

    __test__ = False

    def __init__(
        self,
        settings: XmppSettings = SETTINGS,
        *,
        policy: Policy = serve,
        tls: bool = False,
        websocket: bool = False,
    ) -> None:
        ids = (f"s{n}" for n in itertools.count(1))
        settings = replace(settings, stream_id_source=lambda: next(ids))
        self.conn = XmppServerConnection(settings, sasl=SASL, tls=tls, websocket=websocket)
        self.policy = policy
        self.events: list[Event] = []

    def run(self) -> None:
        """Ask for events until the core needs input, answering each."""
        conn = self.conn
        while conn.phase is not Phase.CLOSED or conn.awaiting is not None:
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

    def send(self, data: bytes | str) -> bytes:
        """Deliver client bytes; return what the server wrote meanwhile. A
        STARTTLS accepted before counts as a finished handshake."""
        if self.conn.phase is Phase.TLS:
            self.conn.tls_established()
        self.conn.receive_data(data.encode() if isinstance(data, str) else data)
        self.run()
        return self.conn.data_to_send()

    def say(self, data: bytes | str) -> str:
        return self.send(data).decode()

    def message(self, text: str) -> list[str]:
        """Deliver one WebSocket message; return the messages written."""
        self.conn.receive_message(text.encode())
        self.run()
        return [message.decode() for message in self.conn.messages_to_send()]

    def hangup(self) -> None:
        self.conn.receive_data(b"")
        self.run()

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    @property
    def last(self) -> Event:
        return self.events[-1]

    # Getting somewhere quickly.

    def open(self) -> str:
        return self.say(CLIENT_HEADER)

    def authenticate(self, mechanism: str = "PLAIN") -> None:
        """Open (over TLS unless the stream began with it) and log in."""
        self.open()
        if not self.conn.tls:
            self.say("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            self.open()
        reply = self.say(plain_auth()) if mechanism == "PLAIN" else scram_login(self, mechanism)
        assert reply.startswith("<success"), reply
        self.open()

    def bind(self, resource: str = "balcony", mechanism: str = "PLAIN") -> None:
        self.authenticate(mechanism)
        reply = self.say(bind_iq(resource))
        assert "type='result'" in reply, reply


def plain_auth(user: str = USER, password: str = PASSWORD, authzid: str = "") -> str:
    payload = b64(f"{authzid}\0{user}\0{password}")
    return f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"


def bind_iq(resource: str | None = "balcony", iq_id: str = "bind_1") -> str:
    inner = f"<resource>{resource}</resource>" if resource is not None else ""
    return (
        f"<iq type='set' id='{iq_id}'>"
        f"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{inner}</bind></iq>"
    )


def sasl_text(reply: str, element: str) -> str:
    """Decode the base64 inside ``<element xmlns=…>…</element>``."""
    start = reply.index(f"<{element} ")
    body = reply[reply.index(">", start) + 1 : reply.index(f"</{element}>", start)]
    return base64.b64decode(body).decode()


def scram_login(peer: Peer, mechanism: str, user: str = USER, password: str = PASSWORD) -> str:
    """Run a SCRAM exchange; return the server's last reply."""
    client = ScramClient([mechanism], user, password, c_nonce=CLIENT_NONCE)
    first = b64(client.get_client_first())
    reply = peer.say(
        f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{first}</auth>"
    )
    if not reply.startswith("<challenge"):
        return reply
    client.set_server_first(sasl_text(reply, "challenge"))
    final = b64(client.get_client_final())
    reply = peer.say(f"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{final}</response>")
    if reply.startswith("<success"):
        client.set_server_final(sasl_text(reply, "success"))  # checks the server's proof
    return reply


def transcript(peer: Peer, script: str) -> None:
    """Play a C:/S: script (see the module docstring)."""
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
        got = peer.say("".join(client))
        assert got == "".join(server), f"\nexpected: {''.join(server)}\ngot:      {got}"
