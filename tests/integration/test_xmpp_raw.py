"""Raw XMPP streams for what a well-behaved client library never does: stop
reading, race another stream for a resource, fall silent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from roost.proto.xmpp import Jid
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    RawClient,
    xmpp_of,
    xmpp_port,
    xmpp_roost,
)

BODY = "x" * 4000
MAX_MESSAGES = 5000


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_a_client_that_stops_reading_is_closed(tmp_path: Path, ca: trustme.CA) -> None:
    limits = {"outbound_queue_stanzas": 10, "output_buffer_bytes": 16_384}
    async with xmpp_roost(tmp_path, ca, xmpp=limits) as roost:
        service = xmpp_of(roost)
        port = xmpp_port(roost)
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "stalled", rcvbuf=4096)
        bob.send("<presence/>")
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "sender")
        alice.send("<presence/>")
        await alice.expect(b"bob@example.org/stalled")  # bob is online
        # Bob reads nothing from now on; Alice sends until the server gives up on
        # him, reading all the while (the bounces once Bob is gone), for as long
        # as the bounded waits below may take on a loaded machine.
        reading = asyncio.create_task(alice.read_to_end(TIMEOUT_S * 8))
        sent = 0
        async with asyncio.timeout(TIMEOUT_S * 4):
            while service.counters.get("stalled_closed", 0) == 0 and sent < MAX_MESSAGES:
                alice.send(
                    f"<message to='{BOB}/stalled' type='chat' id='m{sent}'>"
                    f"<body>{BODY}</body></message>"
                )
                await alice.writer.drain()
                sent += 1
        assert service.counters.get("stalled_closed") == 1, f"{sent} messages sent"
        # Bob's connection ends; Alice's session goes on unharmed.
        await bob.read_to_end()
        # Alice has every bounce to read before the ping's answer: a slow
        # machine needs more than one usual bound for that.
        async with asyncio.timeout(TIMEOUT_S * 2):
            while service.sessions.resources(Jid.parse(BOB)):
                await asyncio.sleep(0.01)
        alice.send("<iq type='get' id='alive' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>")
        async with asyncio.timeout(TIMEOUT_S * 4):
            while b"id='alive'" not in alice.seen:
                await asyncio.sleep(0.01)
        assert service.counters["stalled_closed"] == 1
        alice.close()
        bob.close()
        await asyncio.wait_for(reading, TIMEOUT_S)


@pytest.mark.parametrize("policy", ["replace", "refuse", "new"])
async def test_resource_conflict(tmp_path: Path, ca: trustme.CA, policy: str) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"resource_conflict": policy}) as roost:
        port = xmpp_port(roost)
        first = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "phone")
        first.send("<presence/>")
        await first.expect(b"<presence")
        second = await RawClient.signed_in(port, ALICE, ALICE_PASSWORD)
        answer = await second.bind("phone")
        sessions = xmpp_of(roost).sessions.resources(Jid.parse(ALICE))
        match policy:
            case "replace":
                assert b"<jid>alice@example.org/phone</jid>" in answer
                ended = await first.read_to_end()
                assert b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in ended
                assert xmpp_of(roost).counters["resources_replaced"] == 1
            case "refuse":
                assert b"type='error'" in answer
                assert b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in answer
                assert len(sessions) == 1
            case _:
                assert b"<jid>alice@example.org/" in answer
                assert b"<jid>alice@example.org/phone</jid>" not in answer
                assert len(sessions) == 2
        first.close()
        second.close()


async def test_a_silent_client_is_pinged_then_closed(tmp_path: Path, ca: trustme.CA) -> None:
    timers = {"ping_after_s": 10, "ping_timeout_s": 1}
    async with xmpp_roost(tmp_path, ca, xmpp=timers) as roost:
        alice = await RawClient.bound(xmpp_port(roost), ALICE, ALICE_PASSWORD, "quiet")
        alice.seen = b""
        await alice.expect(b"<ping xmlns='urn:xmpp:ping'/>")
        ended = await alice.read_to_end()
        assert b"<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in ended
        counters = xmpp_of(roost).counters
        assert counters["pings_sent"] == 1 and counters["timeouts"] == 1
        alice.close()


async def test_a_quiet_stream_lets_its_parser_go_and_reads_on(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """A client silent past ``parser_rest_s`` loses nothing: its next stanzas
    (one using a prefix its stream header declared) and its closing tag are
    read by the parser that takes over."""
    async with xmpp_roost(tmp_path, ca, xmpp={"parser_rest_s": 0.1}) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "quiet")
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone")
        counters = xmpp_of(roost).counters
        async with asyncio.timeout(TIMEOUT_S):
            while counters.get("parsers_rested", 0) < 2:
                await asyncio.sleep(0.05)
        bob.seen = b""
        alice.send(
            f"<message to='{BOB}/phone' type='chat' id='m1'>"
            "<body>after a rest</body><stream:x xmlns:q='urn:example:q'/></message>"
        )
        received = await bob.expect(b"</message>")
        assert b"<body>after a rest</body>" in received
        async with asyncio.timeout(TIMEOUT_S):
            while counters.get("parsers_rested", 0) < 3:
                await asyncio.sleep(0.05)
        alice.seen = b""
        alice.send("</stream:stream>")
        ended = await alice.read_to_end()
        assert ended.endswith(b"</stream:stream>")
        assert counters.get("stream_errors", 0) == 0
        alice.close()
        bob.close()
