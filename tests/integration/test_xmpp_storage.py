"""slixmpp against what the XMPP service keeps in the store: a roster that
survives a restart, the subscription handshake between two users,
offline messages with a delay stamp, carbons to a second resource, the
block list, vcard-temp and private XML storage."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import slixmpp
import trustme
from slixmpp.exceptions import IqError

from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    next_of,
    signed_in,
    xmpp_of,
    xmpp_roost,
)

CAROL = "carol@example.org"
NO_DOMAIN_ROSTER = {"domain_roster": False}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def next_matching(queue: asyncio.Queue, what: str, test) -> object:  # type: ignore[no-untyped-def,type-arg]
    while True:
        item = await next_of(queue, what)
        if test(item):
            return item


def drain(queue: asyncio.Queue) -> list:  # type: ignore[type-arg]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def settled(*clients: slixmpp.ClientXMPP) -> None:
    """A ping round trip each: the pushes sent before it have arrived."""
    for client in clients:
        await client.plugin["xep_0199"].ping(jid="example.org", timeout=TIMEOUT_S)


async def test_roster_persists_across_a_restart(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca, xmpp=NO_DOMAIN_ROSTER) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        assert CAROL not in alice.client_roster
        await alice.update_roster(CAROL, name="Carol", groups=["Friends"], timeout=TIMEOUT_S)
        # The push has updated the client's roster and its version.
        item = alice.client_roster[CAROL]
        assert item["name"] == "Carol" and item["groups"] == ["Friends"]
        assert alice.client_roster.version
    async with (
        xmpp_roost(tmp_path, ca, fresh=False, xmpp=NO_DOMAIN_ROSTER) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        item = alice.client_roster[CAROL]
        assert item["name"] == "Carol" and item["groups"] == ["Friends"]
        assert item["subscription"] == "none"
        # The same version asked again: nothing changed, so no items (RFC 6121 §2.6.3).
        unchanged = await alice.get_roster(timeout=TIMEOUT_S)
        assert not unchanged["roster"]["items"]
        await alice.update_roster(CAROL, subscription="remove", timeout=TIMEOUT_S)
        assert CAROL not in alice.client_roster
        alice.client_roster.version = ""
        full = await alice.get_roster(timeout=TIMEOUT_S)
        assert CAROL not in full["roster"]["items"]


async def test_subscription_handshake(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca, xmpp=NO_DOMAIN_ROSTER) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
    ):
        bob.roster[BOB].auto_authorize = None  # ask the test, neither accept nor refuse
        bob.roster[BOB].auto_subscribe = False
        assert BOB not in alice.client_roster
        alice.send_presence_subscription(pto=BOB)
        request = await next_matching(
            bob.subscriptions, "the request", lambda p: p["type"] == "subscribe"
        )
        assert request["from"] == ALICE  # bare, stamped by the server
        bob.send_presence(pto=ALICE, ptype="subscribed")
        answer = await next_matching(
            alice.subscriptions, "the approval", lambda p: p["type"] == "subscribed"
        )
        assert answer["from"] == BOB
        # Bob's presence follows the approval.
        seen = await next_matching(
            alice.presences, "bob's presence", lambda p: p["from"].bare == BOB
        )
        assert seen["type"] == "available"
        await settled(alice, bob)
        assert alice.client_roster[BOB]["subscription"] == "to"
        assert bob.client_roster[ALICE]["subscription"] == "from"
        # Bob's presence changes reach Alice now; hers do not reach him (no 'from').
        alice.send_presence(pstatus="not for bob")
        bob.send_presence(pstatus="here")
        status = await next_matching(
            alice.presences, "bob's status", lambda p: p["from"].bare == BOB
        )
        assert status["status"] == "here"
        await settled(alice, bob)
        assert all(p["from"].bare != ALICE for p in drain(bob.presences))
        # Alice cancels: both rosters drop the subscription.
        alice.send_presence(pto=BOB, ptype="unsubscribe")
        await next_matching(bob.subscriptions, "the cancel", lambda p: p["type"] == "unsubscribe")
        await settled(alice, bob)
        assert alice.client_roster[BOB]["subscription"] == "none"
        assert bob.client_roster[ALICE]["subscription"] == "none"
        assert roost is not None


async def test_domain_roster_answers_a_request_at_once(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        await alice.update_roster(BOB, name="Bobby", timeout=TIMEOUT_S)
        item = alice.client_roster[BOB]
        assert item["name"] == "Bobby" and item["subscription"] == "both"
        alice.send_presence_subscription(pto=BOB)
        answer = await next_of(alice.subscriptions, "the answer")
        assert answer["type"] == "subscribed" and answer["from"] == BOB
        assert roost is not None


async def test_offline_message_delivered_with_delay_at_next_login(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"offline_max_messages": 2}) as roost:
        async with signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice:
            for n in range(3):
                alice.send_message(mto=BOB, mbody=f"while you were out {n}", mtype="chat")
            # The third one is over the limit (RFC 6121 §8.5.2.2.1).
            bounce = await next_of(alice.messages, "the refusal")
            assert bounce["type"] == "error"
            assert bounce["error"]["condition"] == "service-unavailable"
        await xmpp_of(roost).probe()
        assert dict(xmpp_of(roost).status().counters)["offline_waiting"] == 2
        async with signed_in(roost, ca, BOB, BOB_PASSWORD) as bob:
            got = [await next_of(bob.messages, "an offline message") for _ in range(2)]
            assert [m["body"] for m in got] == ["while you were out 0", "while you were out 1"]
            assert all(m["from"].bare == ALICE for m in got)
            stamp = got[0]["delay"]["stamp"]
            assert stamp is not None and stamp.year >= 2026
            assert got[0]["delay"]["from"] == "example.org"
        counters = dict(xmpp_of(roost).status().counters)
        assert counters["offline_delivered"] == 2 and counters["offline_full"] == 1


async def test_carbons_to_a_second_resource(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE + "/phone", ALICE_PASSWORD) as phone,
        signed_in(roost, ca, ALICE + "/desk", ALICE_PASSWORD) as desk,
        signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
    ):
        await desk.plugin["xep_0280"].enable(timeout=TIMEOUT_S)
        # Sent from the phone: the desk gets a <sent/> copy.
        phone.send_message(mto=BOB, mbody="from my phone", mtype="chat")
        await next_of(bob.messages, "the message")
        copy = await next_of(desk.carbons, "the sent carbon")
        assert copy["carbon_sent"]["body"] == "from my phone"
        assert copy["from"] == ALICE
        # To the phone's full JID: the desk gets a <received/> copy.
        bob.send_message(mto=phone.boundjid, mbody="to your phone", mtype="chat")
        assert (await next_of(phone.messages, "bob's answer"))["body"] == "to your phone"
        copy = await next_of(desk.carbons, "the received carbon")
        assert copy["carbon_received"]["body"] == "to your phone"
        # The phone did not enable carbons: it never gets copies.
        desk.send_message(mto=BOB, mbody="from my desk", mtype="chat")
        await next_of(bob.messages, "the desk message")
        await phone.plugin["xep_0199"].ping(jid="example.org", timeout=TIMEOUT_S)
        assert phone.carbons.empty() and phone.messages.empty()
        assert roost is not None


async def test_blocking(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
    ):
        await next_matching(alice.presences, "bob online", lambda p: p["from"].bare == BOB)
        await alice.plugin["xep_0191"].block([BOB], timeout=TIMEOUT_S)
        assert await alice.plugin["xep_0191"].get_blocked_jids(timeout=TIMEOUT_S) == {
            slixmpp.JID(BOB)
        }
        # Bob sees Alice go away (XEP-0191 §3.3.1) and his messages vanish.
        gone = await next_matching(
            bob.presences, "alice unavailable", lambda p: p["type"] == "unavailable"
        )
        assert gone["from"].bare == ALICE
        bob.send_message(mto=ALICE, mbody="can you hear me", mtype="chat")
        with pytest.raises(IqError) as refused:
            await bob.plugin["xep_0199"].send_ping(alice.boundjid, timeout=TIMEOUT_S)
        assert refused.value.condition == "service-unavailable"
        # Alice cannot write to Bob either.
        alice.send_message(mto=BOB, mbody="hello?", mtype="chat")
        error = await next_of(alice.messages, "the refusal")
        assert error["type"] == "error" and error["error"]["condition"] == "not-acceptable"
        assert error.xml.find(".//{urn:xmpp:blocking:errors}blocked") is not None
        await alice.plugin["xep_0191"].unblock([BOB], timeout=TIMEOUT_S)
        bob.send_message(mto=ALICE, mbody="and now?", mtype="chat")
        got = await next_of(alice.messages, "bob's message after unblocking")
        assert got["body"] == "and now?"  # the one sent while blocked never came
        assert roost is not None


async def test_vcard_and_private_storage(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
    ):
        vcards = alice.plugin["xep_0054"]
        card = vcards.make_vcard()
        card["FN"] = "Alice Liddell"
        card["NICKNAME"] = "alice"
        await vcards.publish_vcard(card, timeout=TIMEOUT_S)
        mine = await vcards.get_vcard(jid=ALICE, local=False, cached=False, timeout=TIMEOUT_S)
        assert mine["vcard_temp"]["FN"] == "Alice Liddell"
        theirs = await bob.plugin["xep_0054"].get_vcard(
            jid=ALICE, local=False, cached=False, timeout=TIMEOUT_S
        )
        assert theirs["vcard_temp"]["NICKNAME"] == ["alice"]
        # Bob cannot change Alice's.
        forged = bob.make_iq_set(ito=ALICE)
        forged.append(ET.fromstring("<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>"))
        with pytest.raises(IqError) as refused:
            await forged.send(timeout=TIMEOUT_S)
        assert refused.value.condition == "forbidden"

        store = alice.make_iq_set()
        store.append(
            ET.fromstring(
                "<query xmlns='jabber:iq:private'>"
                "<prefs xmlns='roost:test'><a>1</a></prefs></query>"
            )
        )
        await store.send(timeout=TIMEOUT_S)
        fetch = alice.make_iq_get()
        fetch.append(
            ET.fromstring("<query xmlns='jabber:iq:private'><prefs xmlns='roost:test'/></query>")
        )
        found = await fetch.send(timeout=TIMEOUT_S)
        value = found.xml.find("{jabber:iq:private}query/{roost:test}prefs/{roost:test}a")
        assert value is not None and value.text == "1"
        reserved = alice.make_iq_set()
        reserved.append(
            ET.fromstring("<query xmlns='jabber:iq:private'><q xmlns='jabber:iq:roster'/></query>")
        )
        with pytest.raises(IqError) as refused:
            await reserved.send(timeout=TIMEOUT_S)
        assert refused.value.condition == "not-acceptable"
        assert roost is not None
