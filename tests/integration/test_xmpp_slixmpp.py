"""slixmpp against the XMPP service over STARTTLS with a test CA: SASL with
each mechanism, chat both ways, presence, the domain roster, disco, ping,
version, and a stanza to a domain Roost does not serve."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
async def test_login_with_each_mechanism(tmp_path: Path, ca: trustme.CA, mechanism: str) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, mechanism) as alice,
    ):
        assert alice.mechanism == mechanism
        assert alice.boundjid.bare == ALICE and alice.boundjid.resource
        roster = alice.client_roster
        assert BOB in roster and roster[BOB]["subscription"] == "both"
        counters = dict(xmpp_of(roost).status().counters)
        assert counters["logins"] == 1 and counters["bound_starttls"] == 1


async def test_wrong_password_is_refused(tmp_path: Path, ca: trustme.CA) -> None:
    from tests.xmpp_support import Client, xmpp_port

    async with xmpp_roost(tmp_path, ca) as roost:
        client = Client(ALICE, "wrong", ca, "SCRAM-SHA-256")
        client.connect("127.0.0.1", xmpp_port(roost))
        try:
            await next_of_event(client)
            assert not client.started.is_set()
        finally:
            client.abort()
        assert dict(xmpp_of(roost).status().counters)["auth_failures"] >= 1


async def next_of_event(client: slixmpp.ClientXMPP) -> None:
    import asyncio

    async with asyncio.timeout(TIMEOUT_S):
        await client.failed.wait()


async def test_chat_both_ways_and_presence(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        async with signed_in(roost, ca, BOB, BOB_PASSWORD) as bob:
            # Bob's initial presence reaches Alice, and Alice's (a probe's answer) Bob.
            seen = await next_of(alice.presences, "presence of bob")
            while seen["from"].bare != BOB:
                seen = await next_of(alice.presences, "presence of bob")
            got = await next_of(bob.presences, "presence of alice")
            while got["from"].bare != ALICE:
                got = await next_of(bob.presences, "presence of alice")

            alice.send_message(mto=BOB, mbody="hello bob", mtype="chat")
            message = await next_of(bob.messages, "message to bob")
            assert message["body"] == "hello bob" and message["from"] == alice.boundjid

            bob.send_message(mto=message["from"], mbody="hello alice", mtype="chat")
            answer = await next_of(alice.messages, "message to alice")
            assert answer["body"] == "hello alice" and answer["from"] == bob.boundjid
        gone = await next_of(alice.presences, "unavailable of bob")
        while gone["from"].bare != BOB:
            gone = await next_of(alice.presences, "unavailable of bob")
        assert gone["type"] == "unavailable"
        assert dict(xmpp_of(roost).status().counters)["stanzas_routed"] >= 2


async def test_disco_ping_and_version(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        info = await alice.plugin["xep_0030"].get_info(jid="example.org", timeout=TIMEOUT_S)
        features = set(info["disco_info"]["features"])
        assert features == {
            "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/disco#items",
            "urn:xmpp:ping",
            "jabber:iq:version",
            "urn:xmpp:carbons:2",  # test_xmpp_storage.py
            "msgoffline",  # test_xmpp_storage.py
        }
        account = await alice.plugin["xep_0030"].get_info(jid=ALICE, timeout=TIMEOUT_S)
        assert set(account["disco_info"]["features"]) == {
            "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/disco#items",
            "urn:xmpp:blocking",  # test_xmpp_storage.py
            "vcard-temp",  # test_xmpp_storage.py
            "jabber:iq:private",  # test_xmpp_storage.py
            "urn:xmpp:mam:2",  # test_xmpp_archive.py
            "urn:xmpp:sid:0",  # test_xmpp_archive.py
            # test_xmpp_pep.py, each of them:
            *(
                f"http://jabber.org/protocol/pubsub{suffix}"
                for suffix in (
                    "",
                    "#publish",
                    "#publish-options",
                    "#auto-create",
                    "#retrieve-items",
                    "#retract-items",
                    "#persistent-items",
                    "#filtered-notifications",
                    "#last-published",
                    "#access-presence",
                    "#access-open",
                    "#access-whitelist",
                )
            ),
            "urn:xmpp:bookmarks:1#compat",  # test_xmpp_pep.py
        }
        assert ("server", "im", None, "Roost") in info["disco_info"]["identities"]
        items = await alice.plugin["xep_0030"].get_items(jid="example.org", timeout=TIMEOUT_S)
        # The domain's components (test_xmpp_upload.py, the MUC's tests), no accounts.
        listed = {str(item[0]) for item in items["disco_items"]["items"]}
        assert "upload.example.org" in listed
        assert all(jid.endswith(".example.org") and "@" not in jid for jid in listed)
        rtt = await alice.plugin["xep_0199"].ping(jid="example.org", timeout=TIMEOUT_S)
        assert rtt >= 0
        version = await alice.plugin["xep_0092"].get_version("example.org", timeout=TIMEOUT_S)
        assert version["software_version"]["name"] == "Roost"
        # Anything else the server does not do is answered, never left waiting.
        with pytest.raises(IqError) as refused:
            await alice.plugin["xep_0030"].get_info(
                jid="example.org", node="nothing", timeout=TIMEOUT_S
            )
        assert refused.value.condition == "item-not-found"
        assert roost is not None


async def test_stanzas_to_a_remote_domain(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        alice.send_message(mto="carol@elsewhere.example", mbody="hi", mtype="chat")
        bounce = await next_of(alice.messages, "the error")
        assert bounce["type"] == "error"
        assert bounce["error"]["condition"] == "remote-server-not-found"
        with pytest.raises(IqError) as refused:
            await alice.plugin["xep_0199"].send_ping("elsewhere.example", timeout=TIMEOUT_S)
        assert refused.value.condition == "remote-server-not-found"
        assert dict(xmpp_of(roost).status().counters)["remote_refused"] == 2


async def test_probe_opens_a_stream(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        result = await xmpp_of(roost).probe()
        assert result.ok, result.detail
