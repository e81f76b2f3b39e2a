"""XEP-0163 personal eventing with XEP-0115 capabilities, through slixmpp's
own plugins: avatars (XEP-0084), an OMEMO device list with the open access
model, bookmarks (XEP-0402, and XEP-0048 over XEP-0049 and XEP-0223)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import slixmpp
import trustme
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0004.stanza import Form
from slixmpp.plugins.xep_0048.stanza import Bookmarks
from slixmpp.plugins.xep_0402.stanza import Conference
from slixmpp.xmlstream import ET

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

AVATAR = ("xep_0084",)
PEP = ("xep_0060", "xep_0163")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


DEVICES = "eu.siacs.conversations.axolotl.devicelist"
PUBSUB = "http://jabber.org/protocol/pubsub"


def options(**fields: str | bool) -> Form:
    form = Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden", value=f"{PUBSUB}#publish-options")
    for var, value in fields.items():
        form.add_field(var=f"pubsub#{var}", value=value)
    return form


def watch(client: slixmpp.ClientXMPP, event: str) -> asyncio.Queue[slixmpp.Message]:
    queue: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
    client.add_event_handler(event, queue.put_nowait)
    return queue


async def test_avatar_notifies_interested_clients_and_persists(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, plugins=AVATAR) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD, plugins=AVATAR) as bob,
    ):
        # A client of bob's that advertises no +notify gets no event.
        raw = await RawClient.bound(xmpp_port(roost), BOB, BOB_PASSWORD, "plain")
        raw.send("<presence/>")
        await raw.expect(b"<presence")
        events = watch(bob, "avatar_metadata_publish")
        avatar = b"\x89PNG not really"
        avatar_id = alice.plugin["xep_0084"].generate_id(avatar)
        await alice.plugin["xep_0084"].publish_avatar(avatar, timeout=TIMEOUT_S)
        await alice.plugin["xep_0084"].publish_avatar_metadata(
            {"id": avatar_id, "type": "image/png", "bytes": len(avatar)}, timeout=TIMEOUT_S
        )
        # Caps are asked once presence arrives, so the notification may
        # be the publish itself or the newest item sent when bob's
        # +notify became known (XEP-0163 §4.3.2): either names it.
        event = await next_of(events, "alice's avatar metadata")
        assert event["from"].bare == ALICE
        info = event["pubsub_event"]["items"]["item"]["avatar_metadata"]["info"]
        assert info["id"] == avatar_id
        data = await bob.plugin["xep_0084"].retrieve_avatar(ALICE, avatar_id, timeout=TIMEOUT_S)
        assert data["pubsub"]["items"]["item"]["avatar_data"]["value"] == avatar
        alice.send_message(mto=f"{BOB}/plain", mbody="marker", mtype="chat")
        seen = await raw.expect(b"marker")
        assert b"pubsub#event" not in seen
        raw.close()
        # alice and bob run the same client: asked once, then cached.
        counters = dict(xmpp_of(roost).status().counters)
        assert counters["caps_queries"] == 1 and counters["caps_cache_hits"] >= 1
        # A client that comes later gets the newest item (§4.3.2).
        late: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        async with signed_in(
            roost,
            ca,
            BOB,
            BOB_PASSWORD,
            plugins=AVATAR,
            setup=lambda c: c.add_event_handler("avatar_metadata_publish", late.put_nowait),
        ):
            newest = await next_of(late, "the newest avatar metadata")
            assert newest["from"].bare == ALICE
    # After a restart on the same data, the items are still there.
    async with (
        xmpp_roost(tmp_path, ca, fresh=False) as roost,
        signed_in(roost, ca, BOB, BOB_PASSWORD, plugins=AVATAR) as bob,
    ):
        items = await bob.plugin["xep_0060"].get_items(
            ALICE, "urn:xmpp:avatar:data", timeout=TIMEOUT_S
        )
        assert [i["id"] for i in items["pubsub"]["items"]] == [avatar_id]


async def test_open_device_list_and_access_models(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca, xmpp={"domain_roster": False}) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, plugins=PEP) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD, plugins=PEP) as bob,
    ):
        devices = ET.fromstring(
            "<list xmlns='eu.siacs.conversations.axolotl'><device id='7'/></list>"
        )
        await alice.plugin["xep_0060"].publish(
            None,
            DEVICES,
            id="current",
            payload=devices,
            options=options(access_model="open"),
            timeout=TIMEOUT_S,
        )
        # bob is no contact of alice's, but the node is open.
        got = await bob.plugin["xep_0060"].get_items(ALICE, DEVICES, max_items=1, timeout=TIMEOUT_S)
        (item,) = got["pubsub"]["items"]
        assert (
            item["id"] == "current"
            and item.xml.find("{eu.siacs.conversations.axolotl}list") is not None
        )
        # A node of the default (presence) model is closed to him.
        mood = ET.fromstring("<mood xmlns='http://jabber.org/protocol/mood'><happy/></mood>")
        await alice.plugin["xep_0060"].publish(
            None,
            "http://jabber.org/protocol/mood",
            payload=mood,
            options=options(access_model="presence"),
            timeout=TIMEOUT_S,
        )
        with pytest.raises(IqError) as refused:
            await bob.plugin["xep_0060"].get_items(
                ALICE, "http://jabber.org/protocol/mood", timeout=TIMEOUT_S
            )
        assert refused.value.condition == "not-authorized"
        assert b"presence-subscription-required" in ET.tostring(refused.value.iq.xml)
        # Options the node does not meet: conflict, precondition-not-met.
        with pytest.raises(IqError) as unmet:
            await alice.plugin["xep_0060"].publish(
                None,
                DEVICES,
                id="current",
                payload=devices,
                options=options(access_model="whitelist"),
                timeout=TIMEOUT_S,
            )
        assert unmet.value.condition == "conflict"
        assert b"precondition-not-met" in ET.tostring(unmet.value.iq.xml)
        # Retract removes the item.
        await alice.plugin["xep_0060"].retract(None, DEVICES, "current", timeout=TIMEOUT_S)
        empty = await bob.plugin["xep_0060"].get_items(ALICE, DEVICES, timeout=TIMEOUT_S)
        assert list(empty["pubsub"]["items"]) == []
        info = await alice.plugin["xep_0030"].get_info(jid=ALICE, timeout=TIMEOUT_S)
        assert ("pubsub", "pep", None, None) in info["disco_info"]["identities"]


async def test_bookmarks_native_and_compat(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(
            roost,
            ca,
            ALICE,
            ALICE_PASSWORD,
            plugins=("xep_0048", "xep_0402", "xep_0223", "xep_0049"),
        ) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD, plugins=PEP) as bob,
    ):
        conference = Conference()
        conference["name"] = "Team"
        conference["autojoin"] = True
        conference["nick"] = "alice"
        room = "team@rooms.example.org"
        await alice.plugin["xep_0060"].publish(
            None,
            "urn:xmpp:bookmarks:1",
            id=room,
            payload=conference.xml,
            options=options(
                persist_items=True,
                max_items="max",
                send_last_published_item="never",
                access_model="whitelist",
            ),
            timeout=TIMEOUT_S,
        )
        # XEP-0049 clients see it as storage:bookmarks (XEP-0402 §5.3).
        legacy = await alice.plugin["xep_0048"].get_bookmarks(method="xep_0049", timeout=TIMEOUT_S)
        (seen,) = legacy["private"]["bookmarks"]["conferences"]
        assert seen["jid"] == room and seen["nick"] == "alice" and seen["autojoin"]
        # Stored through XEP-0049, bookmarks land in the native node.
        bookmarks = Bookmarks()
        bookmarks.add_conference("other@rooms.example.org", "al", name="Other", autojoin=False)
        await alice.plugin["xep_0048"].set_bookmarks(
            bookmarks, method="xep_0049", timeout=TIMEOUT_S
        )
        native = await alice.plugin["xep_0060"].get_items(
            ALICE, "urn:xmpp:bookmarks:1", timeout=TIMEOUT_S
        )
        assert [i["id"] for i in native["pubsub"]["items"]] == ["other@rooms.example.org"]
        # Whitelist: nobody else reads them.
        with pytest.raises(IqError) as refused:
            await bob.plugin["xep_0060"].get_items(ALICE, "urn:xmpp:bookmarks:1", timeout=TIMEOUT_S)
        assert refused.value.condition == "not-allowed"
        # XEP-0048 over PEP (XEP-0223): its own node, kept whole.
        await alice.plugin["xep_0048"].set_bookmarks(
            bookmarks, method="xep_0223", timeout=TIMEOUT_S
        )
        kept = await alice.plugin["xep_0048"].get_bookmarks(method="xep_0223", timeout=TIMEOUT_S)
        (conf,) = kept["pubsub"]["items"]["item"]["bookmarks"]["conferences"]
        assert conf["jid"] == "other@rooms.example.org"
        assert roost is not None
