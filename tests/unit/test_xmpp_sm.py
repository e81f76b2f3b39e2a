"""XEP-0198 stream management in the core: enable, acks, resumption, bytes in and out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roost.proto.xmpp import (
    Element,
    Event,
    Jid,
    Message,
    SmEnableRequested,
    SmResumeRequested,
    SmSnapshot,
    State,
    StreamErrorCondition,
    StreamFailed,
    XmppStateError,
    namespaces,
)
from roost.proto.xmpp.sm import H_MODULO, StreamManagement, parse_h
from tests.unit.test_xmpp_harness import SETTINGS, Peer, serve

SM = "urn:xmpp:sm:3"
JID = Jid.parse("juliet@im.example.com/balcony")
SM_SETTINGS = replace(SETTINGS, stream_management=True, max_unacked_stanzas=3)


PARKED: dict[str, SmSnapshot] = {}
"""The sessions a `managed` service could resume, by id (set per test)."""


def managed(peer: Peer, event: Event) -> None:
    """`serve`, plus: resumption enabled as ``sm-1``; resume from `PARKED`."""
    match event:
        case SmEnableRequested(resume=resume):
            peer.conn.sm_enabled("sm-1" if resume else None, 300 if resume else None)
        case SmResumeRequested(previd=previd) if previd in PARKED:
            peer.conn.sm_resumed(JID, PARKED[previd])
        case SmResumeRequested():
            peer.conn.sm_resume_failed()
        case _:
            serve(peer, event)


def chat(n: int) -> Element:
    body = Element.of("body", namespaces.CLIENT, children=[f"m{n}"])
    return Element.of("message", namespaces.CLIENT, {"to": str(JID), "id": f"m{n}"}, [body])


def enabled_peer(resume: bool = True) -> Peer:
    peer = Peer(SM_SETTINGS, policy=managed, tls=True)
    peer.bind()
    flag = " resume='true'" if resume else ""
    reply = peer.say(f"<enable xmlns='{SM}'{flag}/>")
    expected = f"<enabled xmlns='{SM}' id='sm-1' resume='true' max='300'/>"
    assert reply == (expected if resume else f"<enabled xmlns='{SM}'/>")
    return peer


def test_feature_offered_only_when_configured() -> None:
    peer = Peer(SM_SETTINGS, tls=True)
    peer.authenticate()
    plain = Peer(SETTINGS, tls=True)
    plain.open()
    plain.say(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    )
    assert f"<sm xmlns='{SM}'/>" not in plain.open()
    fresh = Peer(SM_SETTINGS, tls=True)
    fresh.open()
    fresh.say(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    )
    assert f"<sm xmlns='{SM}'/></stream:features>" in fresh.open()


def test_enable_before_bind_and_twice_is_unexpected() -> None:
    peer = Peer(SM_SETTINGS, policy=managed, tls=True)
    peer.authenticate()
    failed = f"<failed xmlns='{SM}'><unexpected-request xmlns='{namespaces.STANZAS}'/></failed>"
    assert peer.say(f"<enable xmlns='{SM}'/>") == failed
    assert peer.say(f"<r xmlns='{SM}'/>") == failed
    peer.say(
        "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<resource>balcony</resource></bind></iq>"
    )
    peer.say(f"<enable xmlns='{SM}' resume='true'/>")
    assert peer.say(f"<enable xmlns='{SM}'/>") == failed
    assert peer.say(f"<resume xmlns='{SM}' previd='sm-1' h='0'/>") == failed


def test_inbound_count_includes_stanzas_the_core_answers() -> None:
    peer = enabled_peer()
    reply = peer.say("<iq type='set' id='x'><query xmlns='a'/><query xmlns='b'/></iq>")
    assert "type='error'" in reply and "bad-request" in reply  # the core's own answer
    reply = peer.say(f"<r xmlns='{SM}'/>")
    assert f"<a xmlns='{SM}' h='1'/>" in reply and peer.conn.sm_unacked() != ()


def test_r_answered_with_h_and_server_asks_for_acks() -> None:
    peer = enabled_peer(resume=False)
    peer.say("<message to='romeo@example.net'><body>1</body></message>")
    peer.say("<presence/>")
    assert peer.say(f"<r xmlns='{SM}'/>") == f"<a xmlns='{SM}' h='2'/>"
    assert peer.conn.send(chat(1)) and peer.conn.send(chat(2))
    out = peer.conn.data_to_send().decode()
    assert out.endswith(f"<r xmlns='{SM}'/>") and out.count("<message") == 2
    peer.conn.send(chat(3))
    assert f"<r xmlns='{SM}'/>" not in peer.conn.data_to_send().decode()  # one outstanding
    assert peer.say(f"<a xmlns='{SM}' h='2'/>") == f"<r xmlns='{SM}'/>"  # chat(3) waits
    assert peer.conn.sm_unacked() == (chat(3),)
    assert peer.say(f"<a xmlns='{SM}' h='3'/>") == ""
    peer.conn.send(chat(4))
    assert peer.conn.data_to_send().decode().endswith(f"<r xmlns='{SM}'/>")
    assert peer.conn.sm_snapshot() is None  # resumption was not asked for


def test_ack_of_stanzas_never_sent_is_a_stream_error() -> None:
    peer = enabled_peer()
    peer.conn.send(chat(1))
    peer.conn.data_to_send()
    reply = peer.say(f"<a xmlns='{SM}' h='2'/>")
    assert "<undefined-condition" in reply and "handled-count-too-high" in reply
    assert peer.of(StreamFailed)[-1].condition is StreamErrorCondition.UNDEFINED_CONDITION


def test_bad_h_is_bad_format() -> None:
    peer = enabled_peer()
    assert "<bad-format" in peer.say(f"<a xmlns='{SM}' h='-1'/>")


def test_too_many_unacked_ends_the_stream() -> None:
    peer = enabled_peer()
    for n in range(4):
        peer.conn.send(chat(n))
    assert "<resource-constraint" in peer.conn.data_to_send().decode()
    assert peer.conn.closing and len(peer.conn.sm_unacked()) == 4


def test_resume_after_a_lost_connection_sends_the_rest_again() -> None:
    old = enabled_peer()
    old.say("<message to='romeo@example.net'><body>1</body></message>")
    for n in (1, 2, 3):
        old.conn.send(chat(n))
    old.conn.data_to_send()
    old.hangup()
    snapshot = old.conn.sm_snapshot()
    assert snapshot == SmSnapshot("sm-1", 1, 0, (chat(1), chat(2), chat(3)))
    PARKED["sm-1"] = snapshot

    new = Peer(SM_SETTINGS, policy=managed, tls=True)
    new.authenticate()
    reply = new.say(f"<resume xmlns='{SM}' previd='sm-1' h='1'/>")
    assert reply.startswith(f"<resumed xmlns='{SM}' previd='sm-1' h='1'/>")
    assert (
        "m1" not in reply and reply.count("<message") == 2 and reply.endswith(f"<r xmlns='{SM}'/>")
    )
    assert new.conn.state is State.BOUND and new.conn.jid == JID
    assert new.say(f"<a xmlns='{SM}' h='3'/>") == ""
    assert new.conn.sm_unacked() == ()
    new.say("<message to='romeo@example.net'><body>2</body></message>")
    assert new.of(Message)[0].stanza.get("from") == str(JID)
    assert new.say(f"<r xmlns='{SM}'/>") == f"<a xmlns='{SM}' h='2'/>"


def test_resume_of_an_unknown_session_fails_and_binding_still_works() -> None:
    peer = Peer(SM_SETTINGS, policy=managed, tls=True)
    peer.authenticate()
    reply = peer.say(f"<resume xmlns='{SM}' previd='gone' h='0'/>")
    assert reply == f"<failed xmlns='{SM}'><item-not-found xmlns='{namespaces.STANZAS}'/></failed>"
    assert "bad-request" in peer.say(f"<resume xmlns='{SM}' h='0'/>")
    assert "type='result'" in peer.say(
        "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
    )


def test_resume_with_h_too_high_fails() -> None:
    PARKED["sm-1"] = SmSnapshot("sm-1", 5, 0, (chat(1),))
    peer = Peer(SM_SETTINGS, policy=managed, tls=True)
    peer.authenticate()
    reply = peer.say(f"<resume xmlns='{SM}' previd='sm-1' h='2'/>")
    assert "handled-count-too-high" in reply and peer.conn.state is State.AUTHENTICATED


def test_resume_for_another_account_is_a_service_bug() -> None:
    raised: list[XmppStateError] = []

    def wrong(peer: Peer, event: Event) -> None:
        if not isinstance(event, SmResumeRequested):
            serve(peer, event)
            return
        romeo = Jid.parse("romeo@example.net/orchard")
        try:
            peer.conn.sm_resumed(romeo, SmSnapshot("sm-1", 0, 0, ()))
        except XmppStateError as e:
            raised.append(e)
            peer.conn.sm_resume_failed()

    peer = Peer(SM_SETTINGS, policy=wrong, tls=True)
    peer.authenticate()
    assert "item-not-found" in peer.say(f"<resume xmlns='{SM}' previd='sm-1' h='0'/>")
    assert len(raised) == 1


def test_counters_wrap_at_two_to_the_32() -> None:
    sm = StreamManagement(10)
    sm.resume(SmSnapshot("x", H_MODULO - 1, H_MODULO - 1, ()), H_MODULO - 1)
    sm.received()
    assert sm.inbound == 0
    sm.sent(chat(1))
    sm.sent(chat(2))
    assert sm.ack(0) and len(sm.unacked) == 1 and sm.acked == 0
    assert not sm.ack(5)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("4294967295", 4294967295),
        ("4294967296", None),
        ("", None),
        ("x", None),
        ("-1", None),
        ("٣", None),
        (None, None),
    ],
)
def test_parse_h(text: str | None, value: int | None) -> None:
    assert parse_h(text) == value
