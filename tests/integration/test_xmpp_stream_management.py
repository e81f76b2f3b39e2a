"""XEP-0198 stream management against the service: slixmpp resumes after a
dropped TCP connection without loss; a raw client shows unacknowledged
stanzas sent again on resumption, and kept offline when its session times
out; a resumption of someone else's session fails."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import trustme

from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    RawClient,
    next_of,
    signed_in,
    xmpp_of,
    xmpp_port,
    xmpp_roost,
)

SM = "urn:xmpp:sm:3"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def counters(roost: object) -> dict[str, int]:
    return dict(xmpp_of(roost).status().counters)  # type: ignore[arg-type]


async def wait_for(condition: object, what: str) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_slixmpp_resumes_after_a_dropped_connection(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        enabled = asyncio.Event()
        resumed = asyncio.Event()

        def setup(client: object) -> None:
            client.add_event_handler("sm_enabled", lambda _: enabled.set())  # type: ignore[attr-defined]
            client.add_event_handler("session_resumed", lambda _: resumed.set())  # type: ignore[attr-defined]

        async with (
            signed_in(
                roost, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0198",), setup=setup
            ) as alice,
            signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
        ):
            async with asyncio.timeout(TIMEOUT_S):
                await enabled.wait()
            sm = alice.plugin["xep_0198"]
            assert sm.sm_id
            full = str(alice.boundjid)
            await wait_for(lambda: counters(roost).get("bound_starttls") == 2, "two bound")
            alice.transport.abort()  # the TCP connection drops, no closing tag
            await wait_for(lambda: counters(roost).get("sessions_parked") == 1, "parked")
            for n in range(3):
                bob.send_message(mto=full, mbody=f"while away {n}", mtype="chat")
            bob.send_message(mto=ALICE, mbody="to the bare JID", mtype="chat")
            alice.connect("127.0.0.1", xmpp_port(roost))
            async with asyncio.timeout(TIMEOUT_S):
                await resumed.wait()
            assert str(alice.boundjid) == full
            got = [(await next_of(alice.messages, "message"))["body"] for _ in range(4)]
            assert got == ["while away 0", "while away 1", "while away 2", "to the bare JID"]
            alice.send_message(mto=BOB, mbody="back", mtype="chat")
            assert (await next_of(bob.messages, "reply"))["body"] == "back"
            seen = counters(roost)
            assert seen["sessions_resumed"] == 1 and seen.get("sessions_expired", 0) == 0
            assert seen["bound_starttls"] == 2
            # Bob never saw alice go away: no unavailable presence while parked.
            while not bob.presences.empty():
                presence = bob.presences.get_nowait()
                assert not (presence["from"] == full and presence["type"] == "unavailable")


async def enable(client: RawClient) -> str:
    client.seen = b""
    client.send(f"<enable xmlns='{SM}' resume='true'/>")
    reply = await client.expect(b"<enabled")
    await client.expect(b"/>")
    found = re.search(rb"id='([^']+)'", client.seen)
    assert found is not None, reply
    return found.group(1).decode()


async def bob_sends(roost: object, to: str, bodies: list[str]) -> None:
    bob = await RawClient.bound(xmpp_port(roost), BOB, BOB_PASSWORD, "desk")  # type: ignore[arg-type]
    try:
        for body in bodies:
            bob.send(f"<message to='{to}' type='chat'><body>{body}</body></message>")
        bob.send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
        await bob.expect(b"id='sync'")
    finally:
        bob.close()


async def test_unacknowledged_stanzas_are_sent_again_on_resumption(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "phone")
        previd = await enable(alice)
        await bob_sends(roost, f"{ALICE}/phone", ["one", "two", "three"])
        alice.seen = b""
        await alice.expect(b"three</body>")
        await alice.expect(f"<r xmlns='{SM}'/>".encode())  # the server asks for acks
        alice.send(f"<a xmlns='{SM}' h='1'/>")  # says it handled "one" only
        alice.send(f"<r xmlns='{SM}'/>")
        await alice.expect(f"<a xmlns='{SM}' h='0'/>".encode())
        alice.writer.transport.abort()
        await wait_for(lambda: counters(roost).get("sessions_parked") == 1, "parked")
        await bob_sends(roost, f"{ALICE}/phone", ["four"])

        again = await RawClient.signed_in(port, ALICE, ALICE_PASSWORD)
        again.seen = b""
        again.send(f"<resume xmlns='{SM}' previd='{previd}' h='1'/>")
        seen = await again.expect(b"four</body>")
        assert f"<resumed xmlns='{SM}' previd='{previd}' h='0'/>".encode() in seen
        assert b"one</body>" not in seen
        assert seen.index(b"two</body>") < seen.index(b"three</body>") < seen.index(b"four</body>")
        again.send(f"<a xmlns='{SM}' h='4'/>")
        again.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        await again.expect(b"id='p'")
        assert counters(roost)["sessions_resumed"] == 1
        # The resumption id now names the new stream; nobody can take it twice.
        third = await RawClient.signed_in(port, ALICE, ALICE_PASSWORD)
        third.seen = b""
        third.send(f"<resume xmlns='{SM}' previd='{previd}' h='4'/>")
        # The live stream is taken over: the old one is aborted and parks first.
        await third.expect(b"<resumed")
        await again.read_to_end()
        again.close()
        third.close()
        alice.close()


async def test_timed_out_session_keeps_its_messages_offline(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"resume_timeout_s": 1}) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "phone")
        await enable(alice)
        alice.send("<presence/>")
        await bob_sends(roost, f"{ALICE}/phone", ["kept for later"])
        await alice.expect(b"kept for later</body>")
        alice.writer.transport.abort()  # never acknowledged
        await wait_for(lambda: counters(roost).get("sessions_expired") == 1, "expired")
        # The expiry is counted first, then the unacknowledged message is stored.
        await wait_for(lambda: counters(roost).get("unacked_stored") == 1, "stored offline")
        back = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "laptop")
        back.seen = b""
        back.send("<presence/>")
        seen = await back.expect(b"kept for later</body>")
        await back.expect(b"Offline Storage")
        assert b"urn:xmpp:delay" in seen
        back.close()
        alice.close()


async def test_resuming_another_accounts_session_fails(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "phone")
        previd = await enable(alice)
        alice.writer.transport.abort()
        await wait_for(lambda: counters(roost).get("sessions_parked") == 1, "parked")
        bob = await RawClient.signed_in(port, BOB, BOB_PASSWORD)
        bob.seen = b""
        bob.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
        await bob.expect(b"<item-not-found")
        assert b"</jid>" in await bob.bind("desk")  # binding still works
        bob.close()
        alice.close()
