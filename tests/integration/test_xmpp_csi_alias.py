"""XEP-0352 client state indication, and chat to a mail alias."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from roost.control.directory import Actor
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    RawClient,
    xmpp_port,
    xmpp_roost,
)

CSI = "urn:xmpp:csi:0"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_inactive_client_gets_presence_held_until_a_body(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        bob = await RawClient.signed_in(port, BOB, BOB_PASSWORD)
        assert CSI.encode() in bob.seen  # advertised in the stream features
        assert b"</jid>" in await bob.bind("phone")
        bob.send("<presence/>")
        await bob.expect(b"<presence")
        bob.send(f"<inactive xmlns='{CSI}'/>")
        # Read in order: once the ping is answered, the state is taken in.
        bob.send("<iq type='get' id='p0'><ping xmlns='urn:xmpp:ping'/></iq>")
        await bob.expect(b"p0")
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        alice.send("<presence><status>here</status></presence>")
        await alice.expect(b"here")
        alice.send(
            f"<message to='{BOB}/phone' type='chat'>"
            "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )
        # Held: a ping from bob comes back before either.
        bob.seen = b""
        bob.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
        seen = await bob.expect(b"p1")
        assert b"here" not in seen and b"composing" not in seen
        # A message with a body brings them, in order, then itself.
        alice.send(f"<message to='{BOB}/phone' type='chat'><body>wake up</body></message>")
        seen = await bob.expect(b"wake up")
        assert seen.index(b"here") < seen.index(b"composing") < seen.index(b"wake up")
        # Active again: held presence goes out at once.
        bob.send(f"<inactive xmlns='{CSI}'/>")
        alice.send("<presence><status>away now</status></presence>")
        bob.send(f"<active xmlns='{CSI}'/>")
        await bob.expect(b"away now")
        alice.close()
        bob.close()


async def test_message_to_an_alias_reaches_its_members(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        await roost.directory.add_user(Actor("test"), "carol@example.org", "carol-password")
        await roost.directory.add_alias(
            Actor("test"), "team@example.org", ["bob@example.org", "carol@example.org"]
        )
        port = xmpp_port(roost)
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone")
        bob.send("<presence/>")
        await bob.expect(b"<presence")
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        alice.send(
            "<message to='team@example.org' type='chat' id='m1'><body>to the team</body></message>"
        )
        seen = await bob.expect(b"to the team")
        assert f'to="{BOB}'.encode() in seen or f"to='{BOB}".encode() in seen
        # carol is offline: the message waits for her (stored before she comes).
        async with asyncio.timeout(TIMEOUT_S):
            while not await roost.store.read(roost.store.xmpp.offline_count, "carol@example.org"):
                await asyncio.sleep(0.02)
        carol = await RawClient.bound(port, "carol@example.org", "carol-password", "tab")
        carol.send("<presence/>")
        assert b"Offline Storage" in await carol.expect(b"to the team")
        for client in (alice, bob, carol):
            client.close()
