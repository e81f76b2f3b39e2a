"""Issue 9, "Judged by": the extensions' slixmpp scenario — message archive
paging (XEP-0313 with XEP-0059), PEP publish and notify through caps
(XEP-0163 with XEP-0084 avatars), blocking (XEP-0191) — run against
Debian's Prosody first, to prove the test itself right, then against Roost.

Prosody gives presence only to contacts with a subscription, so the
scenario starts with a mutual subscription; Roost accepts the same steps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import slixmpp
import trustme
from slixmpp.exceptions import IqError

from tests.integration.test_xmpp_scenario import body_of, server
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    Client,
    next_of,
    signed_in_at,
)

PLUGINS = ("xep_0059", "xep_0313", "xep_0084")
ARCHIVED = 5


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def next_matching(
    queue: asyncio.Queue[slixmpp.Presence], what: str, test: Callable[[slixmpp.Presence], bool]
) -> slixmpp.Presence:
    while True:
        item = await next_of(queue, what)  # type: ignore[arg-type]
        if test(item):
            return item  # type: ignore[no-any-return]


def events(client: Client, event: str) -> asyncio.Queue[slixmpp.Message]:
    queue: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
    client.add_event_handler(event, queue.put_nowait)
    return queue


async def subscribe_both(alice: Client, bob: Client) -> None:
    """A mutual subscription (slixmpp authorises and subscribes back by
    default), ended when each sees the other available."""
    alice.send_presence_subscription(pto=BOB)
    await next_matching(alice.presences, "bob's presence", lambda p: p["from"].bare == BOB)
    await next_matching(bob.presences, "alice's presence", lambda p: p["from"].bare == ALICE)


@pytest.mark.parametrize("kind", ["prosody", "roost"])
async def test_archive_pep_and_blocking(tmp_path: Path, ca: trustme.CA, kind: str) -> None:
    async with (
        server(kind, tmp_path, ca) as port,
        signed_in_at(port, ca, ALICE, ALICE_PASSWORD, plugins=PLUGINS) as alice,
        signed_in_at(port, ca, BOB, BOB_PASSWORD, plugins=PLUGINS) as bob,
    ):
        await subscribe_both(alice, bob)

        # The archive, page by page (XEP-0313 §4, XEP-0059).
        for n in range(ARCHIVED):
            alice.send_message(mto=BOB, mbody=f"archived {n}", mtype="chat")
        for n in range(ARCHIVED):
            assert (await body_of(bob, "an archived message"))["body"] == f"archived {n}"
        bodies = [
            message["mam_result"]["forwarded"]["stanza"]["body"]
            async for message in alice.plugin["xep_0313"].iterate(
                with_jid=BOB, rsm={"max": 2}, total=ARCHIVED
            )
        ]
        assert bodies == [f"archived {n}" for n in range(ARCHIVED)]

        # PEP: bob's client says +notify for avatars through caps; alice publishes.
        published = events(bob, "avatar_metadata_publish")
        avatar = b"\x89PNG scenario"
        avatar_id = alice.plugin["xep_0084"].generate_id(avatar)
        await alice.plugin["xep_0084"].publish_avatar(avatar, timeout=TIMEOUT_S)
        await alice.plugin["xep_0084"].publish_avatar_metadata(
            {"id": avatar_id, "type": "image/png", "bytes": len(avatar)}, timeout=TIMEOUT_S
        )
        while True:
            event = await next_of(published, "alice's avatar notification")  # type: ignore[arg-type]
            info = event["pubsub_event"]["items"]["item"]["avatar_metadata"]["info"]
            if info["id"] == avatar_id:
                break
        assert event["from"].bare == ALICE
        data = await bob.plugin["xep_0084"].retrieve_avatar(ALICE, avatar_id, timeout=TIMEOUT_S)
        assert data["pubsub"]["items"]["item"]["avatar_data"]["value"] == avatar

        # Blocking: bob sees alice leave, alice cannot write to bob, then can again.
        await alice.plugin["xep_0191"].block([BOB], timeout=TIMEOUT_S)
        assert await alice.plugin["xep_0191"].get_blocked_jids(timeout=TIMEOUT_S) == {
            slixmpp.JID(BOB)
        }
        gone = await next_matching(
            bob.presences, "alice unavailable", lambda p: p["type"] == "unavailable"
        )
        assert gone["from"].bare == ALICE
        with pytest.raises(IqError) as refused:
            await bob.plugin["xep_0199"].send_ping(alice.boundjid, timeout=TIMEOUT_S)
        assert refused.value.condition == "service-unavailable"
        alice.send_message(mto=BOB, mbody="hello?", mtype="chat")
        error = await next_of(alice.messages, "the refusal")  # type: ignore[arg-type]
        assert error["type"] == "error" and error["error"]["condition"] == "not-acceptable"
        assert error.xml.find(".//{urn:xmpp:blocking:errors}blocked") is not None
        await alice.plugin["xep_0191"].unblock([BOB], timeout=TIMEOUT_S)
        assert await alice.plugin["xep_0191"].get_blocked_jids(timeout=TIMEOUT_S) == set()
        bob.send_message(mto=ALICE, mbody="and now?", mtype="chat")
        assert (await body_of(alice, "bob's message after unblocking"))["body"] == "and now?"
