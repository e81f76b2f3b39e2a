"""Issue 10, "Judged by": the multi-user chat scenario with slixmpp
(xep_0045, xep_0313, xep_0030), first against Debian's Prosody (its
``muc`` component with ``muc_mam``) to prove the test right, then against
Roost. Both serve example.org with alice, bob and carol.

The scenario: create a room, three clients join, a message reaches all,
a kick, history on rejoin, a MAM query at the room; a nickname conflict;
a members-only room that refuses a non-member until made one; a ban; a
password room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import slixmpp
import trustme
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.prosody_peer import prosody_peer
from tests.xmpp_support import (
    ACTOR,
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    DOMAIN,
    TIMEOUT_S,
    Client,
    certificate,
    signed_in_at,
    xmpp_port,
    xmpp_roost,
)

CAROL = "carol@example.org"
CAROL_PASSWORD = "carol-password"
SERVICE = "conference.example.org"
LOBBY = slixmpp.JID(f"lobby@{SERVICE}")
CLUB = slixmpp.JID(f"club@{SERVICE}")
VAULT = slixmpp.JID(f"vault@{SERVICE}")
PLUGINS = ("xep_0045", "xep_0313", "xep_0059")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def server(kind: str, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[int]:
    """The client port of a fresh server with alice, bob and carol."""
    users = [(ALICE, ALICE_PASSWORD), (BOB, BOB_PASSWORD), (CAROL, CAROL_PASSWORD)]
    if kind == "prosody":
        accounts = [(jid.split("@")[0], password) for jid, password in users]
        tls = certificate(ca, tmp_path / "certs")
        with prosody_peer(DOMAIN, accounts, tls, muc=True) as peer:
            yield peer.port
    else:
        async with xmpp_roost(tmp_path, ca) as roost:
            await roost.directory.add_user(ACTOR, CAROL, CAROL_PASSWORD)
            yield xmpp_port(roost)


class Room:
    """What one client sees of the rooms: groupchat messages and presence."""

    def __init__(self, client: Client) -> None:
        self.messages: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.presences: asyncio.Queue[slixmpp.Presence] = asyncio.Queue()
        client.add_event_handler("groupchat_message", self._message)
        client.add_event_handler("groupchat_presence", self.presences.put_nowait)

    def _message(self, message: slixmpp.Message) -> None:
        if message["body"] and message.get_plugin("delay", check=True) is None:
            self.messages.put_nowait(message)

    async def body(self, what: str) -> str:
        message = await asyncio.wait_for(self.messages.get(), TIMEOUT_S)
        assert message["body"] == what, f"{message['body']!r} instead of {what!r}"
        return str(message["from"].resource)

    async def presence_from(self, nick: str, kind: str) -> slixmpp.Presence:
        """The next presence of ``kind`` from ``nick`` (others are skipped)."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                presence = await self.presences.get()
                if presence["from"].resource == nick and presence["type"] == kind:
                    return presence


def codes(presence: slixmpp.Presence) -> set[int]:
    return set(presence["muc"]["status_codes"])


async def configure(client: Client, room: slixmpp.JID, values: dict[str, object]) -> None:
    """Submit the room's own form with ``values`` for the fields it has."""
    muc = client.plugin["xep_0045"]
    form = await muc.get_room_config(room, timeout=TIMEOUT_S)
    fields = form.get_fields()
    for var, value in values.items():
        if var in fields:
            fields[var]["value"] = value
    await muc.set_room_config(room, form, timeout=TIMEOUT_S)


async def create(client: Client, room: slixmpp.JID, nick: str, values: dict[str, object]) -> None:
    presence, _subject, _occupants, _history = await client.plugin["xep_0045"].join_muc_wait(
        room, nick, maxstanzas=0, timeout=TIMEOUT_S
    )
    assert 110 in codes(presence) and 201 in codes(presence)
    await configure(client, room, values)


async def refused(client: Client, room: slixmpp.JID, nick: str, **kw: object) -> str:
    """Try to enter; the error condition (Prosody's errors do not echo the
    join's ``<x/>``, which slixmpp's own join waits for, so this waits for
    the error itself)."""
    errors: asyncio.Queue[slixmpp.Presence] = asyncio.Queue()
    # slixmpp's own presence events skip a room it has been in: a handler of
    # our own sees every presence.
    handler = f"muc-refusal-{room}-{nick}"
    client.register_handler(
        Callback(handler, MatchXPath("{jabber:client}presence"), errors.put_nowait)
    )
    try:
        client.plugin["xep_0045"].make_join_stanza(room, nick, **kw).send()
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                error = await errors.get()
                if error["type"] == "error" and error["from"] == slixmpp.JID(f"{room}/{nick}"):
                    return str(error["error"]["condition"])
    finally:
        client.remove_handler(handler)


@pytest.mark.parametrize("kind", ["prosody", "roost"])
async def test_muc_scenario(tmp_path: Path, ca: trustme.CA, kind: str) -> None:
    async with server(kind, tmp_path, ca) as port, AsyncExitStack() as stack:
        clients = []
        for jid, password in (
            (ALICE, ALICE_PASSWORD),
            (BOB, BOB_PASSWORD),
            (CAROL, CAROL_PASSWORD),
        ):
            clients.append(
                await stack.enter_async_context(
                    signed_in_at(port, ca, jid, password, plugins=PLUGINS)
                )
            )
        alice, bob, carol = clients
        rooms = {id(c): Room(c) for c in clients}

        # The service is listed by the domain and says it is a MUC service.
        items = await alice.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=TIMEOUT_S)
        assert SERVICE in {str(item[0]) for item in items["disco_items"]["items"]}
        info = await alice.plugin["xep_0030"].get_info(jid=SERVICE, timeout=TIMEOUT_S)
        assert ("conference", "text") in {i[:2] for i in info["disco_info"]["identities"]}
        assert "http://jabber.org/protocol/muc" in info["disco_info"]["features"]

        # Create the room; three clients join; a message reaches everyone.
        await create(alice, LOBBY, "Alice", {"muc#roomconfig_publicroom": True})
        for client, nick in ((bob, "Bob"), (carol, "Carol")):
            presence, *_ = await client.plugin["xep_0045"].join_muc_wait(
                LOBBY, nick, maxstanzas=0, timeout=TIMEOUT_S
            )
            assert 110 in codes(presence)
        await rooms[id(alice)].presence_from("Carol", "available")
        alice.send_message(mto=LOBBY, mbody="hello all", mtype="groupchat")
        for client in clients:
            assert await rooms[id(client)].body("hello all") == "Alice"

        # A public room is listed by the service.
        items = await bob.plugin["xep_0030"].get_items(jid=SERVICE, timeout=TIMEOUT_S)
        assert str(LOBBY) in {str(item[0]) for item in items["disco_items"]["items"]}

        # Kick Carol: she and the others see her go with 307.
        await alice.plugin["xep_0045"].set_role(LOBBY, "Carol", "none", timeout=TIMEOUT_S)
        gone = await rooms[id(carol)].presence_from("Carol", "unavailable")
        assert {110, 307} <= codes(gone)
        assert 307 in codes(await rooms[id(bob)].presence_from("Carol", "unavailable"))
        bob.send_message(mto=LOBBY, mbody="after the kick", mtype="groupchat")
        assert await rooms[id(alice)].body("after the kick") == "Bob"

        # Carol, out of the room, cannot come back as Bob: conflict (§7.2.9).
        assert await refused(carol, LOBBY, "Bob", maxstanzas=0) == "conflict"

        # Carol comes back and gets the history.
        _presence, _subject, _occupants, history = await carol.plugin["xep_0045"].join_muc_wait(
            LOBBY, "Carol", maxstanzas=10, timeout=TIMEOUT_S
        )
        assert [m["body"] for m in history] == ["hello all", "after the kick"]
        assert all(m["delay"]["from"] == LOBBY for m in history)

        # The room archive, queried at the room's JID (XEP-0313 §5).
        result = await alice.plugin["xep_0313"].retrieve(jid=LOBBY, timeout=TIMEOUT_S)
        bodies = [m["mam_result"]["forwarded"]["stanza"]["body"] for m in result["mam"]["results"]]
        assert bodies[-2:] == ["hello all", "after the kick"]

        # A members-only room refuses Bob until he is a member.
        await create(alice, CLUB, "Alice", {"muc#roomconfig_membersonly": True})
        assert await refused(bob, CLUB, "Bob", maxstanzas=0) == "registration-required"
        await alice.plugin["xep_0045"].set_affiliation(
            CLUB, "member", jid=slixmpp.JID(BOB), timeout=TIMEOUT_S
        )
        presence, *_ = await bob.plugin["xep_0045"].join_muc_wait(
            CLUB, "Bob", maxstanzas=0, timeout=TIMEOUT_S
        )
        assert presence["muc"]["affiliation"] == "member"

        # Ban Carol from the lobby: out with 301, and not back in.
        await alice.plugin["xep_0045"].set_affiliation(
            LOBBY, "outcast", jid=slixmpp.JID(CAROL), timeout=TIMEOUT_S
        )
        banned = await rooms[id(carol)].presence_from("Carol", "unavailable")
        assert {110, 301} <= codes(banned)
        assert await refused(carol, LOBBY, "Carol", maxstanzas=0) == "forbidden"

        # A password room.
        await create(
            alice,
            VAULT,
            "Alice",
            {
                "muc#roomconfig_passwordprotectedroom": True,
                "muc#roomconfig_roomsecret": "s3cret",
            },
        )
        assert await refused(bob, VAULT, "Bob", maxstanzas=0) == "not-authorized"
        assert await refused(bob, VAULT, "Bob", password="wrong", maxstanzas=0) == "not-authorized"
        presence, *_ = await bob.plugin["xep_0045"].join_muc_wait(
            VAULT, "Bob", password="s3cret", maxstanzas=0, timeout=TIMEOUT_S
        )
        assert 110 in codes(presence)
