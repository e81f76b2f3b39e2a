"""Issue 9, "Judged by": one client stops reading while a pair exchanges
1,000 messages. Bob's phone enables carbons (XEP-0280), so every message
of the pair is copied to it, and then reads nothing: it is disconnected,
and all 1,000 messages reach alice and bob's desk within the usual bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

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

EACH_WAY = 500
BODY = "y" * 8000
CARBONS = "urn:xmpp:carbons:2"


async def receive(client: RawClient, count: int, label: str) -> int:
    """Read until ``count`` messages labelled ``label`` arrived; how many did."""
    needle = f"<body>{label}-".encode()
    async with asyncio.timeout(TIMEOUT_S * 4):
        while client.seen.count(needle) < count:
            chunk = await client.reader.read(65536)
            if not chunk:
                break
            client.seen += chunk
    return client.seen.count(needle)


async def send(client: RawClient, to: str, label: str) -> None:
    for n in range(EACH_WAY):
        body = f"<body>{label}-{n} {BODY}</body>"
        client.send(f"<message to='{to}' type='chat' id='{label}{n}'>{body}</message>")
        await client.writer.drain()
        if n % 50 == 0:
            await asyncio.sleep(0)


async def test_pair_exchanges_1000_messages_while_a_third_client_stalls(tmp_path: Path) -> None:
    limits = {"outbound_queue_stanzas": 20, "output_buffer_bytes": 16_384}
    async with xmpp_roost(tmp_path, trustme.CA(), xmpp=limits) as roost:
        service = xmpp_of(roost)
        port = xmpp_port(roost)
        phone = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone", rcvbuf=4096)
        phone.send(f"<iq type='set' id='c'><enable xmlns='{CARBONS}'/></iq><presence/>")
        await phone.expect(b"id='c'")
        desk = await RawClient.bound(port, BOB, BOB_PASSWORD, "desk")
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "laptop")
        for client in (desk, alice):
            client.send("<presence/>")
            client.seen = b""
        # From here on the phone reads nothing.
        to_bob = asyncio.create_task(receive(desk, EACH_WAY, "a"))
        to_alice = asyncio.create_task(receive(alice, EACH_WAY, "b"))
        await asyncio.gather(send(alice, f"{BOB}/desk", "a"), send(desk, f"{ALICE}/laptop", "b"))
        assert await to_bob == EACH_WAY
        assert await to_alice == EACH_WAY
        assert service.counters.get("stalled_closed") == 1
        await phone.read_to_end()  # its connection was closed
        assert [str(s.jid) for s in service.sessions.resources(Jid.parse(BOB))] == [f"{BOB}/desk"]
        # Every message arrived once, in order.
        for client, label in ((desk, "a"), (alice, "b")):
            positions = [client.seen.index(f"<body>{label}-{n} ".encode()) for n in range(EACH_WAY)]
            assert positions == sorted(positions)
        for client in (alice, desk, phone):
            client.close()
