"""Multi-user chat over raw streams: what slixmpp cannot send (bad names,
join storms), the status codes on the wire, self-ping, persistence across a
restart, alias rooms, and occupants leaving when their session ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from tests.xmpp_support import (
    ACTOR,
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    RawClient,
    xmpp_of,
    xmpp_port,
    xmpp_roost,
)

ROOM = "lobby@conference.example.org"
MUC = "http://jabber.org/protocol/muc"
OWNER = "http://jabber.org/protocol/muc#owner"
ADMIN = "http://jabber.org/protocol/muc#admin"
INSTANT = f"<query xmlns='{OWNER}'><x xmlns='jabber:x:data' type='submit'/></query>"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def join(client: RawClient, room: str, nick: str, extra: str = "") -> None:
    client.seen = b""
    client.send(f"<presence to='{room}/{nick}'><x xmlns='{MUC}'>{extra}</x></presence>")


async def create(client: RawClient, room: str, nick: str, form: str = INSTANT) -> None:
    """Enter a new room and open it with an (instant) configuration."""
    join(client, room, nick)
    seen = await client.expect(b"<subject")
    assert b"code='201'" in seen or b'code="201"' in seen
    client.seen = b""
    client.send(f"<iq type='set' id='config' to='{room}'>{form}</iq>")
    answer = await client.expect(b"id='config'")
    assert b"type='result'" in answer.split(b"id='config'")[0][-200:] + answer[-200:]


def codes(seen: bytes) -> set[str]:
    return set(re.findall(r"code=.(\d{3}).", seen.decode()))


async def test_instant_room_join_message_and_self_ping(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone")
        # A locked room is not there for anyone else (XEP-0045 §10.1.1).
        join(alice, ROOM, "Alice")
        seen = await alice.expect(b"<subject")
        assert {"110", "201"} <= codes(seen)
        join(bob, ROOM, "Bob")
        assert b"item-not-found" in await bob.expect(b"</presence>")
        alice.seen = b""
        alice.send(f"<iq type='set' id='config' to='{ROOM}'>{INSTANT}</iq>")
        await alice.expect(b"id='config'")

        join(bob, ROOM, "Bob")
        seen = await bob.expect(b"<subject")
        assert f"from='{ROOM}/Alice'".encode() in seen  # the occupant already there
        assert "110" in codes(seen)
        assert b"affiliation='owner'" in seen and b"role='moderator'" in seen
        assert b"jid=" not in seen.split(f"from='{ROOM}/Alice'".encode())[1].split(b"</x>")[0]
        # Alice, a moderator, sees Bob's real JID.
        assert f"jid='{BOB}/phone'".encode() in await alice.expect(f"{ROOM}/Bob".encode())

        alice.seen = bob.seen = b""
        alice.send(
            f"<message to='{ROOM}' type='groupchat' id='g1'><body>hello room</body></message>"
        )
        got = await bob.expect(b"hello room")
        assert f"from='{ROOM}/Alice'".encode() in got and b"urn:xmpp:sid:0" in got
        await alice.expect(b"hello room")  # the sender's own copy (§7.2.13 reflection)

        # XEP-0410: a ping to one's own occupant JID while joined.
        bob.seen = b""
        bob.send(f"<iq type='get' id='sp1' to='{ROOM}/Bob'><ping xmlns='urn:xmpp:ping'/></iq>")
        answer = await bob.expect(b"id='sp1'")
        assert b"type='result'" in answer[-300:]

        # A private message (§7.5), from Bob's occupant JID.
        alice.seen = b""
        bob.send(f"<message to='{ROOM}/Alice' type='chat' id='pm'><body>psst</body></message>")
        got = await alice.expect(b"psst")
        assert f"from='{ROOM}/Bob'".encode() in got

        # An IQ to an occupant is relayed from the asker's occupant JID, and
        # the answer comes back the same way (§7.7).
        alice.seen = bob.seen = b""
        bob.send(
            f"<iq type='get' id='v1' to='{ROOM}/Alice'><query xmlns='jabber:iq:version'/></iq>"
        )
        asked = await alice.expect(b"jabber:iq:version")
        assert f"from='{ROOM}/Bob'".encode() in asked and f"to='{ALICE}/desk'".encode() in asked
        alice.send(
            f"<iq type='result' id='v1' to='{ROOM}/Bob'><query xmlns='jabber:iq:version'>"
            "<name>raw</name></query></iq>"
        )
        answer = await bob.expect(b"<name>raw</name>")
        assert f"from='{ROOM}/Alice'".encode() in answer and b"type='result'" in answer

        counters = dict(xmpp_of(roost).status().counters)
        assert counters["muc_rooms"] == 1 and counters["muc_occupants"] == 2

        # Bob's session ends: Alice sees him leave, and his self-ping now fails.
        bob.close()
        await alice.expect(b"type='unavailable'")
        assert dict(xmpp_of(roost).status().counters)["muc_occupants"] == 1
        carol = await RawClient.bound(port, BOB, BOB_PASSWORD, "tablet")
        carol.seen = b""
        carol.send(f"<iq type='get' id='sp2' to='{ROOM}/Bob'><ping xmlns='urn:xmpp:ping'/></iq>")
        answer = await carol.expect(b"</iq>")
        assert b"not-acceptable" in answer
        alice.close()
        carol.close()


async def test_bad_names_refused(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"muc_max_nick_chars": 8}) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        # A control character (a tab, as a character reference: XML itself
        # forbids the others) in a room name or a nickname: RFC 7622 refuses
        # it with jid-malformed.
        for to in ("lo&#9;bby@conference.example.org/Alice", f"{ROOM}/Al&#9;ice"):
            alice.seen = b""
            alice.send(f"<presence to='{to}'><x xmlns='{MUC}'/></presence>")
            assert b"jid-malformed" in await alice.expect(b"</presence>")
        # Too long, or no nickname at all.
        alice.seen = b""
        alice.send(f"<presence to='{ROOM}/ThisNickIsTooLong'><x xmlns='{MUC}'/></presence>")
        assert b"not-acceptable" in await alice.expect(b"</presence>")
        alice.seen = b""
        alice.send(f"<presence to='{ROOM}'><x xmlns='{MUC}'/></presence>")
        assert b"jid-malformed" in await alice.expect(b"</presence>")
        assert dict(xmpp_of(roost).status().counters)["muc_rooms"] == 0
        alice.close()


async def test_join_storm_bounded(tmp_path: Path, ca: trustme.CA) -> None:
    settings = {"muc_max_occupants": 20, "max_resources": 100, "max_connections_per_address": 200}
    async with xmpp_roost(tmp_path, ca, xmpp=settings) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        await create(alice, ROOM, "Alice")
        streams = [await RawClient.bound(port, BOB, BOB_PASSWORD, f"r{n}") for n in range(60)]
        for n, stream in enumerate(streams):
            join(stream, ROOM, f"bob{n}")
        refused = 0
        for stream in streams:
            seen = await stream.expect(b"</presence>")
            if b"type='error'" in seen:
                assert b"service-unavailable" in seen
                refused += 1
            else:
                await stream.expect(b"<subject")
        assert refused == 60 - 19  # Alice holds one of the twenty places
        assert dict(xmpp_of(roost).status().counters)["muc_occupants"] == 20
        # Those inside are undisturbed: a message still reaches everyone.
        alice.seen = b""
        alice.send(f"<message to='{ROOM}' type='groupchat'><body>still here</body></message>")
        await alice.expect(b"still here")
        inside = [s for s in streams if b"<subject" in s.seen]
        assert len(inside) == 19
        for stream in inside:
            await stream.expect(b"still here")
        for stream in streams:
            stream.close()
        alice.close()


async def test_room_limit_per_user(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"muc_max_rooms_per_user": 3}) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        for n in range(3):
            await create(alice, f"room{n}@conference.example.org", "Alice")
        join(alice, "room9@conference.example.org", "Alice")
        assert b"resource-constraint" in await alice.expect(b"</presence>")
        alice.close()


async def test_persistent_room_survives_restart(tmp_path: Path, ca: trustme.CA) -> None:
    persistent = (
        f"<query xmlns='{OWNER}'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
        "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
        "<field var='muc#roomconfig_membersonly'><value>1</value></field>"
        "<field var='muc#roomconfig_roomname'><value>The Lobby</value></field>"
        "</x></query>"
    )
    async with xmpp_roost(tmp_path, ca) as roost:
        alice = await RawClient.bound(xmpp_port(roost), ALICE, ALICE_PASSWORD, "desk")
        await create(alice, ROOM, "Alice", persistent)
        alice.seen = b""
        alice.send(
            f"<iq type='set' id='m' to='{ROOM}'><query xmlns='{ADMIN}'>"
            f"<item jid='{BOB}' affiliation='member'/></query></iq>"
        )
        await alice.expect(b"id='m'")
        alice.send(f"<message to='{ROOM}' type='groupchat'><subject>Plans</subject></message>")
        alice.send(f"<message to='{ROOM}' type='groupchat'><body>kept 1</body></message>")
        await alice.expect(b"kept 1")
        alice.close()
    async with xmpp_roost(tmp_path, ca, fresh=False) as roost:
        assert dict(xmpp_of(roost).status().counters)["muc_rooms"] == 1
        bob = await RawClient.bound(xmpp_port(roost), BOB, BOB_PASSWORD, "phone")
        join(bob, ROOM, "Bob")
        seen = await bob.expect(b"</subject>")
        assert b"affiliation='member'" in seen and b"kept 1" in seen and b"Plans" in seen
        assert b"urn:xmpp:delay" in seen
        bob.send(
            f"<iq type='get' id='info' to='{ROOM}'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        info = await bob.expect(b"id='info'")
        await bob.expect(b"</iq>")
        assert b"muc_persistent" in bob.seen and b"muc_membersonly" in bob.seen
        assert b"The Lobby" in info or b"The Lobby" in bob.seen
        bob.close()


async def test_alias_room_for_members_only(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"muc_alias_rooms": True}) as roost:
        await roost.directory.add_user(ACTOR, "carol@example.org", "carol-password")
        await roost.directory.add_alias(ACTOR, "team@example.org", [ALICE, BOB])
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        carol = await RawClient.bound(port, "carol@example.org", "carol-password", "c")
        join(alice, "team@conference.example.org", "Alice")
        seen = await alice.expect(b"<subject")
        assert b"affiliation='member'" in seen and "201" not in codes(seen)
        join(carol, "team@conference.example.org", "Carol")
        assert b"registration-required" in await carol.expect(b"</presence>")
        alice.close()
        carol.close()


async def test_invitations_nick_change_archive_and_destroy(tmp_path: Path, ca: trustme.CA) -> None:
    members_only = (
        f"<query xmlns='{OWNER}'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='muc#roomconfig_membersonly'><value>1</value></field></x></query>"
    )
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone")
        bob.send("<presence/>")
        await create(alice, ROOM, "Alice", members_only)

        # Before an invitation Bob may neither enter nor read the archive.
        bob.seen = b""
        bob.send(f"<iq type='set' id='mam0' to='{ROOM}'><query xmlns='urn:xmpp:mam:2'/></iq>")
        assert b"forbidden" in await bob.expect(b"</iq>")

        # A mediated invitation (§7.8.2) from the owner makes Bob a member.
        bob.seen = b""
        alice.send(
            f"<message to='{ROOM}'><x xmlns='http://jabber.org/protocol/muc#user'>"
            f"<invite to='{BOB}'><reason>join us</reason></invite></x></message>"
        )
        invitation = await bob.expect(b"</message>")
        assert f"from='{ROOM}'".encode() in invitation
        assert f"<invite from='{ALICE}/desk'>".encode() in invitation and b"join us" in invitation
        join(bob, ROOM, "Bob")
        seen = await bob.expect(b"<subject")
        assert b"affiliation='member'" in seen

        # A direct invitation (XEP-0249) is a message like any other.
        bob.seen = b""
        alice.send(
            f"<message to='{BOB}'><x xmlns='jabber:x:conference' jid='{ROOM}' reason='r'/>"
            "</message>"
        )
        assert f"jid='{ROOM}'".encode() in await bob.expect(b"jabber:x:conference")

        # A nickname change: unavailable with 303 and the new nick, then available.
        alice.seen = b""
        bob.send(f"<presence to='{ROOM}/Robert'/>")
        changed = await alice.expect(f"from='{ROOM}/Robert'".encode())
        assert b"code='303'" in changed and b"nick='Robert'" in changed

        # The room archive now holds what was said, for the member too.
        alice.send(f"<message to='{ROOM}' type='groupchat'><body>archived</body></message>")
        await bob.expect(b"archived")
        bob.seen = b""
        bob.send(f"<iq type='set' id='mam1' to='{ROOM}'><query xmlns='urn:xmpp:mam:2'/></iq>")
        answer = await bob.expect(b"</fin>")
        assert f"from='{ROOM}' to='{BOB}/phone'".encode() in answer
        assert b"archived" in answer and f"from='{ROOM}/Alice'".encode() in answer

        # Unavailable presence to the server takes Bob out of the room.
        alice.seen = b""
        bob.send("<presence type='unavailable'/>")
        await alice.expect(f"from='{ROOM}/Robert' to='{ALICE}/desk' type='unavailable'".encode())

        # The owner destroys the room: it and its archive are gone.
        alice.seen = b""
        alice.send(
            f"<iq type='set' id='kill' to='{ROOM}'><query xmlns='{OWNER}'>"
            "<destroy><reason>done</reason></destroy></query></iq>"
        )
        seen = await alice.expect(b"id='kill'")
        assert b"<destroy" in seen
        assert dict(xmpp_of(roost).status().counters)["muc_rooms"] == 0
        alice.seen = b""
        alice.send(f"<message to='{ROOM}' type='groupchat'><body>anyone?</body></message>")
        assert b"item-not-found" in await alice.expect(b"</message>")
        alice.close()
        bob.close()
