"""The c2s state machine: transcripts of whole sessions, bytes in and out."""

from __future__ import annotations

from dataclasses import replace

import pytest
from scramp import ScramClient

from roost.proto.sasl import ScramAlgorithm
from roost.proto.xmpp import (
    AuthFailed,
    BindRequested,
    ConnectionLost,
    Element,
    Event,
    Iq,
    Jid,
    Message,
    Nonza,
    PasswordLogin,
    Phase,
    Presence,
    ScramKeysRequested,
    StanzaErrorCondition,
    State,
    StreamClosed,
    StreamErrorCondition,
    TlsPolicy,
    XmppStateError,
    namespaces,
)
from tests.unit.test_xmpp_harness import (
    CLIENT_HEADER,
    CLIENT_NONCE,
    DOMAIN,
    PASSWORD,
    SETTINGS,
    Peer,
    b64,
    bind_iq,
    plain_auth,
    sasl_text,
    scram_login,
    serve,
    server_header,
    transcript,
)

TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
HEADER = CLIENT_HEADER.decode()
MECHANISMS = (
    f"<mechanisms xmlns='{SASL_NS}'><mechanism>SCRAM-SHA-256</mechanism>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
)
BOUND_FEATURES = (
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
    "</stream:features>"
)


def test_rfc6120_session_starttls_scram_sha_1_bind() -> None:
    """RFC 6120 §9.1 and §9.2: juliet's session, with the SCRAM-SHA-1 values
    of §9.2.2 (her nonce, salt and our server nonce)."""
    peer = Peer()
    transcript(
        peer,
        f"""
        C: {HEADER}
        S: {server_header("s1")}
        S: <stream:features><starttls xmlns='{TLS_NS}'><required/></starttls></stream:features>
        C: <starttls xmlns='{TLS_NS}'/>
        S: <proceed xmlns='{TLS_NS}'/>
        C: {HEADER}
        S: {server_header("s2")}<stream:features>{MECHANISMS}</stream:features>
        C: <auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-1'>
        C: {b64("n,,n=juliet,r=" + CLIENT_NONCE)}</auth>
        S: <challenge xmlns='{SASL_NS}'>
        S: cj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQTNyZmNOSFlKWTFaVnZXVnM3aixz
        S: PVFTWENSK1E2c2VrOGJmOTIsaT00MDk2</challenge>
        """,
    )
    assert peer.of(ScramKeysRequested) == [
        ScramKeysRequested("juliet", ScramAlgorithm.SHA_1, DOMAIN)
    ]
    client = ScramClient(["SCRAM-SHA-1"], "juliet", PASSWORD, c_nonce=CLIENT_NONCE)
    client.get_client_first()
    client.set_server_first(
        "r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    )
    success = peer.say(f"<response xmlns='{SASL_NS}'>{b64(client.get_client_final())}</response>")
    client.set_server_final(sasl_text(success, "success"))  # the server proved itself
    transcript(
        peer,
        f"""
        C: {HEADER}
        S: {server_header("s3")}{BOUND_FEATURES}
        C: <iq id='yhc13a95' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>
        C: <resource>balcony</resource></bind></iq>
        S: <iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>
        S: <jid>juliet@im.example.com/balcony</jid></bind></iq>
        C: <message from='juliet@im.example.com/balcony' to='romeo@example.net' xml:lang='en'>
        C: <body>Art thou not Romeo, and a Montague?</body></message>
        S:
        C: </stream:stream>
        S: </stream:stream>
        """,
    )
    assert peer.conn.jid == Jid.parse("juliet@im.example.com/balcony")
    (message,) = peer.of(Message)
    assert message.to == Jid.parse("romeo@example.net")
    assert message.stanza.get("from") == "juliet@im.example.com/balcony"
    assert peer.last == StreamClosed()
    assert peer.conn.phase is Phase.CLOSED and peer.conn.closing


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
def test_each_mechanism_logs_in(mechanism: str) -> None:
    peer = Peer()
    peer.bind(mechanism=mechanism)
    assert peer.conn.state is State.BOUND
    assert peer.conn.user_jid == Jid.parse("juliet@im.example.com")


def test_plain_over_tls_with_its_events() -> None:
    peer = Peer(tls=True)
    assert peer.open() == f"{server_header('s1')}<stream:features>{MECHANISMS}</stream:features>"
    assert peer.say(plain_auth()) == f"<success xmlns='{SASL_NS}'/>"
    (login,) = peer.of(PasswordLogin)
    assert (login.user, login.password, login.domain) == ("juliet", PASSWORD, DOMAIN)
    assert "r0m30" not in repr(login)
    assert peer.conn.phase is Phase.HEADER and peer.conn.state is State.AUTHENTICATED


def test_plain_without_initial_response_and_empty_one() -> None:
    peer = Peer(tls=True)
    peer.open()
    assert peer.say(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'/>") == (
        f"<challenge xmlns='{SASL_NS}'/>"
    )
    response = b64("\0juliet\0" + PASSWORD)
    assert peer.say(f"<response xmlns='{SASL_NS}'>{response}</response>") == (
        f"<success xmlns='{SASL_NS}'/>"
    )


def test_starttls_offered_beside_scram() -> None:
    peer = Peer(replace(SETTINGS, starttls=TlsPolicy.OFFERED))
    assert peer.open() == (
        f"{server_header('s1')}<stream:features><starttls xmlns='{TLS_NS}'/>"
        f"<mechanisms xmlns='{SASL_NS}'><mechanism>SCRAM-SHA-256</mechanism>"
        "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
    )
    # SCRAM needs no TLS; PLAIN does.
    assert scram_login(peer, "SCRAM-SHA-256").startswith("<success")


def test_plaintext_listener_without_starttls() -> None:
    settings = replace(SETTINGS, starttls=TlsPolicy.DISABLED, plaintext_auth_allowed=True)
    peer = Peer(settings)
    assert peer.open() == f"{server_header('s1')}<stream:features>{MECHANISMS}</stream:features>"
    assert peer.say(plain_auth()) == f"<success xmlns='{SASL_NS}'/>"


def test_plaintext_sent_after_starttls_is_discarded() -> None:
    """RFC 6120 §5.4.3.3 and DESIGN.md: nothing sent before the handshake
    counts; the injected stanza never reaches the service."""
    peer = Peer()
    peer.open()
    out = peer.say(f"<starttls xmlns='{TLS_NS}'/>{plain_auth()}<presence/>")
    assert out == f"<proceed xmlns='{TLS_NS}'/>"
    assert peer.conn.phase is Phase.TLS
    peer.conn.receive_data(b"\x16\x03\x01 more plaintext the TLS layer owns")
    with pytest.raises(XmppStateError):
        peer.conn.next_event()
    peer.conn.tls_established()
    assert peer.conn.tls
    assert peer.open().startswith(server_header("s2"))
    assert peer.of(PasswordLogin) == []


def test_restart_after_sasl_parses_what_was_pipelined() -> None:
    peer = Peer(tls=True)
    peer.open()
    out = peer.say(plain_auth() + HEADER + bind_iq())
    assert out == (
        f"<success xmlns='{SASL_NS}'/>{server_header('s2')}{BOUND_FEATURES}"
        "<iq id='bind_1' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<jid>juliet@im.example.com/balcony</jid></bind></iq>"
    )


def test_restart_split_anywhere() -> None:
    data = (HEADER + plain_auth() + HEADER + bind_iq() + "<presence/>").encode()
    expected: bytes | None = None
    for cut in range(1, len(data), 7):
        peer = Peer(tls=True)
        out = peer.send(data[:cut]) + peer.send(data[cut:])
        if expected is None:
            expected = out
        assert out == expected
        assert len(peer.of(Presence)) == 1


def test_server_picks_the_resource_when_asked() -> None:
    peer = Peer()
    peer.authenticate()
    reply = peer.say(bind_iq(None))
    assert peer.of(BindRequested) == [BindRequested(None)]
    assert "<jid>juliet@im.example.com/generated</jid>" in reply


def test_resource_conflict_policies() -> None:
    def refuse_conflict(peer: Peer, event: Event) -> None:
        if isinstance(event, BindRequested):
            peer.conn.bind_refused(StanzaErrorCondition.CONFLICT)
        else:
            serve(peer, event)

    peer = Peer(policy=refuse_conflict)
    peer.authenticate()
    assert peer.say(bind_iq("balcony")) == (
        "<iq id='bind_1' type='error'><error type='cancel'>"
        "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    )
    assert peer.conn.state is State.AUTHENTICATED
    # The client may try again; this time the service binds another resource.
    peer.policy = lambda p, e: p.conn.bind_accepted("balcony-2")
    assert "balcony-2</jid>" in peer.say(bind_iq("balcony", "bind_2"))


def test_bad_resource_is_bad_request() -> None:
    peer = Peer()
    peer.authenticate()
    reply = peer.say(bind_iq("zero\u200bwidth"))
    assert reply.startswith("<iq id='bind_1' type='error'><error type='modify'><bad-request ")
    assert peer.of(BindRequested) == []


def test_legacy_session_is_a_no_op() -> None:
    peer = Peer()
    peer.bind()
    assert (
        peer.say(
            "<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        )
        == "<iq id='sess_1' type='result' to='juliet@im.example.com/balcony'/>"
    )
    assert peer.say(
        f"<iq type='set' id='sess_2' to='{DOMAIN}'>"
        "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
    ) == (f"<iq id='sess_2' type='result' from='{DOMAIN}' to='juliet@im.example.com/balcony'/>")
    assert peer.of(Iq) == []


def test_second_bind_is_not_allowed() -> None:
    peer = Peer()
    peer.bind()
    reply = peer.say(bind_iq("other", "b2"))
    assert "<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in reply
    assert peer.conn.jid == Jid.parse("juliet@im.example.com/balcony")


def test_stanzas_are_stamped_with_the_bound_jid() -> None:
    peer = Peer()
    peer.bind()
    peer.say(
        "<presence/><presence type='subscribe' to='romeo@example.net'/>"
        "<message from='juliet@im.example.com' to='romeo@example.net'/>"
        "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"
    )
    available, subscribe = peer.of(Presence)
    assert available.stanza.get("from") == "juliet@im.example.com/balcony"
    assert available.to is None
    assert subscribe.stanza.get("from") == "juliet@im.example.com"  # RFC 6121 §3.1.2
    (message,) = peer.of(Message)
    assert message.stanza.get("from") == "juliet@im.example.com/balcony"
    (iq,) = peer.of(Iq)
    assert (iq.id, iq.type, iq.to) == ("r1", "get", None)
    assert iq.payload == Element("query", "jabber:iq:roster")
    assert "query" in repr(iq) and "juliet" not in repr(message)


def test_service_sends_stanzas_and_nonzas() -> None:
    settings = replace(
        SETTINGS,
        nonza_namespaces=frozenset({"urn:xmpp:sm:3"}),
        features_after_auth=(Element("sm", "urn:xmpp:sm:3"),),
    )
    peer = Peer(settings, tls=True)
    peer.open()
    peer.say(plain_auth())
    assert "<sm xmlns='urn:xmpp:sm:3'/></stream:features>" in peer.open()
    peer.say("<enable xmlns='urn:xmpp:sm:3'/>")
    assert peer.of(Nonza) == [Nonza(Element("enable", "urn:xmpp:sm:3"))]
    assert peer.conn.send(Element("enabled", "urn:xmpp:sm:3"))
    with pytest.raises(XmppStateError):
        peer.conn.send(Element("message", namespaces.CLIENT))  # not bound yet
    assert peer.conn.data_to_send() == b"<enabled xmlns='urn:xmpp:sm:3'/>"
    peer.say(bind_iq())
    message = Element.of(
        "message",
        namespaces.CLIENT,
        {"from": "romeo@example.net/orchard", "to": "juliet@im.example.com/balcony"},
        [Element.of("body", namespaces.CLIENT, children=["Neither, fair saint"])],
    )
    assert peer.conn.send(message)
    assert peer.conn.data_to_send() == (
        b"<message from='romeo@example.net/orchard' to='juliet@im.example.com/balcony'>"
        b"<body>Neither, fair saint</body></message>"
    )


def test_server_closes_gracefully_and_waits_for_the_client() -> None:
    peer = Peer()
    peer.bind()
    peer.conn.close()
    assert peer.conn.data_to_send() == b"</stream:stream>"
    assert peer.conn.closing and not peer.conn.send(Element("presence", namespaces.CLIENT))
    # Stanzas after our close are not processed (RFC 6120 §4.4).
    assert peer.say("<message to='romeo@example.net'/></stream:stream>") == ""
    assert peer.of(Message) == []
    assert peer.last == StreamClosed()


def test_server_closes_with_a_stream_error() -> None:
    peer = Peer()
    peer.bind()
    peer.conn.close(StreamErrorCondition.CONFLICT, "Replaced by new connection")
    assert peer.conn.data_to_send() == (
        b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>"
        b"Replaced by new connection</text></stream:error></stream:stream>"
    )
    peer.hangup()
    assert peer.last == ConnectionLost()


def test_close_before_the_client_spoke_sends_a_header_first() -> None:
    peer = Peer()
    peer.conn.close(StreamErrorCondition.SYSTEM_SHUTDOWN)
    out = peer.conn.data_to_send().decode()
    assert out.startswith(server_header("s1"))
    assert out.endswith(
        "<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        "</stream:error></stream:stream>"
    )


def test_connection_lost_mid_stanza() -> None:
    peer = Peer()
    peer.bind()
    peer.say("<message to='romeo@example.net'><body>unfinis")
    peer.hangup()
    assert peer.last == ConnectionLost()
    assert peer.of(Message) == []
    assert peer.conn.next_event() == ConnectionLost()
    with pytest.raises(XmppStateError):
        peer.conn.receive_data(b"<presence/>")


def test_client_stream_error_is_a_close() -> None:
    peer = Peer()
    peer.bind()
    out = peer.say(
        "<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        "</stream:error>"
    )
    assert out == "</stream:stream>"
    assert peer.last == StreamClosed("connection-timeout")


def test_driving_the_core_wrongly_raises() -> None:
    peer = Peer(tls=True)
    with pytest.raises(XmppStateError):
        peer.conn.accept()
    with pytest.raises(XmppStateError):
        peer.conn.tls_established()
    with pytest.raises(XmppStateError):
        peer.conn.messages_to_send()
    with pytest.raises(XmppStateError):
        peer.conn.receive_message(b"<open/>")
    peer.open()
    peer.conn.receive_data(plain_auth().encode())
    assert isinstance(peer.conn.next_event(), PasswordLogin)
    with pytest.raises(XmppStateError):
        peer.conn.next_event()
    with pytest.raises(XmppStateError):
        peer.conn.bind_accepted("x")
    with pytest.raises(XmppStateError):
        peer.conn.login_accepted(Jid.parse("juliet@elsewhere.example"))
    with pytest.raises(XmppStateError):
        peer.conn.login_accepted(Jid.parse("juliet@im.example.com/res"))


def test_auth_failed_notices_name_the_reason() -> None:
    peer = Peer(tls=True)
    peer.open()
    assert scram_login(peer, "SCRAM-SHA-256", user="nobody").startswith("<failure")
    assert scram_login(peer, "SCRAM-SHA-256", password="wrong").startswith("<failure")
    reasons = [event.reason.value for event in peer.of(AuthFailed)]
    assert reasons == ["unknown-user", "bad-credentials"]
