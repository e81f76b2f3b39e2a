"""XMPP over WebSocket (RFC 7395): one document per message, both ways."""

from __future__ import annotations

import pytest

from roost.proto.xmpp import (
    Message,
    StreamClosed,
    StreamErrorCondition,
    StreamFailed,
    XmppStateError,
)
from tests.unit.test_xmpp_harness import WS_OPEN, Peer, b64, bind_iq, plain_auth

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"


def server_open(stream_id: str) -> str:
    return (
        f"<open xmlns='{FRAMING}' id='{stream_id}' from='im.example.com' version='1.0' "
        "xml:lang='en'/>"
    )


def with_namespace(stanza: str) -> str:
    """A stanza as a WebSocket message: it declares its own namespace."""
    name_end = stanza.index(" ") if " " in stanza.split(">")[0] else stanza.index(">")
    return stanza[:name_end] + " xmlns='jabber:client'" + stanza[name_end:]


def test_a_whole_session() -> None:
    peer = Peer(websocket=True, tls=True)
    assert peer.message(WS_OPEN) == [
        server_open("s1"),
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
        f"<mechanisms xmlns='{SASL_NS}'><mechanism>SCRAM-SHA-256</mechanism>"
        "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
        "</stream:features>",
    ]
    assert peer.message(plain_auth()) == [f"<success xmlns='{SASL_NS}'/>"]
    assert peer.message(WS_OPEN) == [
        server_open("s2"),
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
        "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
        "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
        "</stream:features>",
    ]
    assert peer.message(with_namespace(bind_iq())) == [
        "<iq xmlns='jabber:client' id='bind_1' type='result'>"
        "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<jid>juliet@im.example.com/balcony</jid></bind></iq>"
    ]
    assert (
        peer.message(
            "<message xmlns='jabber:client' to='romeo@example.net'><body>hi</body></message>"
        )
        == []
    )
    (message,) = peer.of(Message)
    assert message.stanza.get("from") == "juliet@im.example.com/balcony"
    # Each stanza the service sends is a message of its own.
    assert peer.conn.send(message.stanza)
    assert peer.conn.send(message.stanza)
    sent = peer.conn.messages_to_send()
    assert len(sent) == 2 and sent[0].startswith(b"<message xmlns='jabber:client' to=")
    # RFC 7395: <close/> is answered with <close/>.
    assert peer.message(f"<close xmlns='{FRAMING}'/>") == [f"<close xmlns='{FRAMING}'/>"]
    assert peer.last == StreamClosed()


def test_no_starttls_over_websocket() -> None:
    peer = Peer(websocket=True)  # ws: without TLS
    features = peer.message(WS_OPEN)[1]
    assert "starttls" not in features
    assert "<mechanism>PLAIN</mechanism>" not in features  # no password in the clear
    assert peer.message("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") == [
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        f"<close xmlns='{FRAMING}'/>",
    ]


@pytest.mark.parametrize(
    ("message", "condition"),
    [
        (
            "<message xmlns='jabber:client'/><presence xmlns='jabber:client'/>",
            StreamErrorCondition.NOT_WELL_FORMED,
        ),
        ("<!DOCTYPE m><message xmlns='jabber:client'/>", StreamErrorCondition.RESTRICTED_XML),
        ("<message/>", StreamErrorCondition.UNSUPPORTED_STANZA_TYPE),
        ("<message xmlns='jabber:client'/>", StreamErrorCondition.NOT_AUTHORIZED),
        (WS_OPEN, StreamErrorCondition.BAD_FORMAT),
    ],
)
def test_stream_errors_are_followed_by_close(message: str, condition: StreamErrorCondition) -> None:
    peer = Peer(websocket=True, tls=True)
    peer.message(WS_OPEN)
    error, close = peer.message(message)
    assert error.startswith(
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
        f"<{condition.value} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    )
    assert close == f"<close xmlns='{FRAMING}'/>"
    assert peer.of(StreamFailed)[-1].condition is condition
    # The client's <close/> after ours ends it; nothing else is answered.
    assert peer.message(f"<close xmlns='{FRAMING}'/>") == []
    assert peer.last == StreamClosed()


def test_errors_before_open_get_an_open_first() -> None:
    peer = Peer(websocket=True)
    out = peer.message("<message xmlns='jabber:client'/>")
    assert out[0] == server_open("s1")
    assert "<bad-format " in out[1] and out[2] == f"<close xmlns='{FRAMING}'/>"


def test_scram_over_websocket() -> None:
    peer = Peer(websocket=True)
    peer.message(WS_OPEN)
    first = b64("n,,n=juliet,r=abcdef")
    (challenge,) = peer.message(f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-1'>{first}</auth>")
    assert challenge.startswith(f"<challenge xmlns='{SASL_NS}'>")


def test_transport_methods_match_the_framing() -> None:
    peer = Peer(websocket=True)
    with pytest.raises(XmppStateError):
        peer.conn.receive_data(b"<presence/>")
    with pytest.raises(XmppStateError):
        peer.conn.data_to_send()
    peer.conn.receive_data(b"")  # the socket went away
    peer.run()
    assert type(peer.last).__name__ == "ConnectionLost"
