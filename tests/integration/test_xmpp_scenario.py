"""Issue 9, "Judged by": the same slixmpp scenario against Debian's Prosody
first, to prove the test itself right, then against Roost. Both serve
example.org with alice and bob over STARTTLS with a test CA.

The scenario: login with each SASL mechanism (Prosody 0.12 has no
SCRAM-SHA-256); chat both ways; carbons to
a second resource; offline delivery with a delay stamp; stream resumption
(XEP-0198) after a dropped TCP connection without loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import slixmpp
import trustme

from tests.prosody_peer import prosody_peer
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    Client,
    certificate,
    next_of,
    signed_in_at,
    xmpp_port,
    xmpp_roost,
)

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def server(kind: str, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[int]:
    """The client port of a fresh server with alice and bob."""
    if kind == "prosody":
        accounts = [(ALICE.split("@")[0], ALICE_PASSWORD), (BOB.split("@")[0], BOB_PASSWORD)]
        tls = certificate(ca, tmp_path / "certs")
        with prosody_peer("example.org", accounts, tls) as peer:
            yield peer.port
    else:
        async with xmpp_roost(tmp_path, ca) as roost:
            yield xmpp_port(roost)


async def body_of(client: Client, what: str) -> slixmpp.Message:
    """The next message with a body (carbon wrappers have none)."""
    while True:
        message = await next_of(client.messages, what)
        if message["body"]:
            return message


@pytest.mark.parametrize("kind", ["prosody", "roost"])
async def test_slixmpp_scenario(tmp_path: Path, ca: trustme.CA, kind: str) -> None:
    async with server(kind, tmp_path, ca) as port:
        # Prosody 0.12's internal_hashed keeps SCRAM-SHA-1 keys only.
        mechanisms = ("SCRAM-SHA-1", "PLAIN") if kind == "prosody" else MECHANISMS
        for mechanism in mechanisms:
            async with signed_in_at(port, ca, ALICE, ALICE_PASSWORD, mechanism) as alice:
                assert alice.mechanism == mechanism

        async with (
            signed_in_at(port, ca, ALICE + "/phone", ALICE_PASSWORD) as phone,
            signed_in_at(port, ca, ALICE + "/desk", ALICE_PASSWORD) as desk,
            signed_in_at(port, ca, BOB, BOB_PASSWORD) as bob,
        ):
            await desk.plugin["xep_0280"].enable(timeout=TIMEOUT_S)
            bob.send_message(mto=phone.boundjid, mbody="hello phone", mtype="chat")
            assert (await body_of(phone, "bob's message"))["body"] == "hello phone"
            copy = await next_of(desk.carbons, "the received carbon")
            assert copy["carbon_received"]["body"] == "hello phone"
            phone.send_message(mto=BOB, mbody="hello bob", mtype="chat")
            got = await body_of(bob, "alice's answer")
            assert got["body"] == "hello bob" and got["from"] == phone.boundjid
            copy = await next_of(desk.carbons, "the sent carbon")
            assert copy["carbon_sent"]["body"] == "hello bob"

        async with signed_in_at(port, ca, ALICE, ALICE_PASSWORD) as alice:
            alice.send_message(mto=BOB, mbody="while you were out", mtype="chat")
            await alice.plugin["xep_0199"].ping(jid="example.org", timeout=TIMEOUT_S)
        async with signed_in_at(port, ca, BOB, BOB_PASSWORD) as bob:
            kept = await body_of(bob, "the offline message")
            assert kept["body"] == "while you were out" and kept["from"].bare == ALICE
            assert kept["delay"]["stamp"] is not None and kept["delay"]["stamp"].year >= 2026

        await resumption(port, ca)


async def resumption(port: int, ca: trustme.CA) -> None:
    enabled, resumed = asyncio.Event(), asyncio.Event()

    def setup(client: Client) -> None:
        client.add_event_handler("sm_enabled", lambda _: enabled.set())
        client.add_event_handler("session_resumed", lambda _: resumed.set())

    async with (
        signed_in_at(port, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0198",), setup=setup) as alice,
        signed_in_at(port, ca, BOB, BOB_PASSWORD) as bob,
    ):
        async with asyncio.timeout(TIMEOUT_S):
            await enabled.wait()
        full = alice.boundjid.full
        bob.send_message(mto=full, mbody="before", mtype="chat")
        assert (await body_of(alice, "the first message"))["body"] == "before"
        alice.transport.abort()  # the TCP connection drops without a closing tag
        await asyncio.sleep(0.5)  # the server notices the reset
        for n in range(3):
            bob.send_message(mto=full, mbody=f"while away {n}", mtype="chat")
        await bob.plugin["xep_0199"].ping(jid="example.org", timeout=TIMEOUT_S)
        alice.connect("127.0.0.1", port)
        async with asyncio.timeout(TIMEOUT_S):
            await resumed.wait()
        assert alice.boundjid.full == full
        got = [(await body_of(alice, "a message sent while away"))["body"] for _ in range(3)]
        assert got == ["while away 0", "while away 1", "while away 2"]
        alice.send_message(mto=BOB, mbody="back", mtype="chat")
        assert (await body_of(bob, "alice's return"))["body"] == "back"
