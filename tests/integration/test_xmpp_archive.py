"""The message archive: XEP-0313 MAM, XEP-0359 stanza ids, XEP-0059 paging."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    RawClient,
    next_of,
    signed_in,
    xmpp_of,
    xmpp_port,
    xmpp_roost,
)

MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def mam_query(query_id: str, paging: str = "", fields: str = "") -> str:
    form = ""
    if fields:
        form = (
            "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
            f"<value>{MAM}</value></field>{fields}</x>"
        )
    return (
        f"<iq type='set' id='{query_id}'><query xmlns='{MAM}' queryid='{query_id}'>"
        f"{form}<set xmlns='{RSM}'>{paging}</set></query></iq>"
    )


async def query(client: RawClient, query_id: str, paging: str = "", fields: str = "") -> bytes:
    """Send a query; everything up to its IQ answer."""
    client.seen = b""
    client.send(mam_query(query_id, paging, fields))
    return await client.expect(f"id='{query_id}'".encode())


def result_ids(answer: bytes) -> list[str]:
    return re.findall(
        r"<result xmlns=.urn:xmpp:mam:2. queryid=.\w+. id=.([\w-]+).", answer.decode()
    )


async def test_raw_archive_paging_and_stanza_ids(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        port = xmpp_port(roost)
        bob = await RawClient.bound(port, BOB, BOB_PASSWORD, "phone")
        bob.send("<presence/>")
        alice = await RawClient.bound(port, ALICE, ALICE_PASSWORD, "desk")
        alice.send("<presence/>")
        for n in range(5):
            # A stanza-id in Bob's name from Alice is a forgery and is dropped.
            forged = f"<stanza-id xmlns='urn:xmpp:sid:0' by='{BOB}' id='forged{n}'/>"
            alice.send(
                f"<message to='{BOB}' type='chat' id='m{n}'><body>note {n}</body>{forged}</message>"
            )
        seen = (await bob.expect(b"note 4")).decode()
        assert "forged" not in seen
        stanza_ids = re.findall(rf"<stanza-id xmlns=.urn:xmpp:sid:0. by=.{BOB}. id=.([\w-]+)", seen)
        assert len(stanza_ids) == 5
        assert dict(xmpp_of(roost).status().counters)["archived"] == 5

        # Bob pages forwards two at a time; the ids are those he was given.
        first = await query(bob, "q1", "<max>2</max>")
        await bob.expect(b"</fin>")
        assert result_ids(bob.seen) == stanza_ids[:2]
        assert b"note 0" in first and b"urn:xmpp:delay" in first
        assert b"complete=" not in bob.seen
        assert b"<count>5</count>" in bob.seen and b"index='0'" in bob.seen
        await query(bob, "q2", f"<max>2</max><after>{stanza_ids[1]}</after>")
        await bob.expect(b"</fin>")
        assert result_ids(bob.seen) == stanza_ids[2:4]
        await query(bob, "q3", f"<max>2</max><after>{stanza_ids[3]}</after>")
        await bob.expect(b"</fin>")
        assert result_ids(bob.seen) == stanza_ids[4:]
        assert b"complete='true'" in bob.seen
        # The last page (an empty <before/>), and a page before an id.
        await query(bob, "q4", "<max>2</max><before/>")
        await bob.expect(b"</fin>")
        assert result_ids(bob.seen) == stanza_ids[3:]
        assert b"index='3'" in bob.seen
        await query(bob, "q5", f"<max>10</max><before>{stanza_ids[1]}</before>")
        await bob.expect(b"</fin>")
        assert result_ids(bob.seen) == stanza_ids[:1]
        # Filtered by the other party: Alice's own archive holds what she sent.
        await query(alice, "q6", "", f"<field var='with'><value>{BOB}/phone</value></field>")
        await alice.expect(b"</fin>")
        assert len(result_ids(alice.seen)) == 5 and b"<count>5</count>" in alice.seen
        await query(alice, "q7", "", "<field var='with'><value>carol@example.org</value></field>")
        await alice.expect(b"</fin>")
        assert result_ids(alice.seen) == [] and b"<count>0</count>" in alice.seen

        # Bad queries are answered with the error XEP-0313 names.
        answer = await query(bob, "q8", "<after>no-such-id</after>")
        assert b"item-not-found" in await bob.expect(b"</iq>") or b"item-not-found" in answer
        await query(bob, "q9", "", "<field var='colour'><value>red</value></field>")
        assert b"bad-request" in await bob.expect(b"</iq>")
        await query(bob, "q10", "", "<field var='start'><value>yesterday</value></field>")
        assert b"bad-request" in await bob.expect(b"</iq>")
        # Another account's archive is not Bob's to read.
        bob.seen = b""
        bob.send(f"<iq type='set' id='q11' to='{ALICE}'><query xmlns='{MAM}'/></iq>")
        assert b"forbidden" in await bob.expect(b"</iq>")
        # The form of the query (§4.1.1).
        bob.seen = b""
        bob.send(f"<iq type='get' id='q12'><query xmlns='{MAM}'/></iq>")
        form = await bob.expect(b"</iq>")
        for var in ("with", "start", "end", "after-id", "before-id"):
            assert f"var='{var}'".encode() in form
        alice.close()
        bob.close()


async def test_slixmpp_pages_through_the_archive(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
        signed_in(roost, ca, BOB, BOB_PASSWORD) as bob,
    ):
        alice.register_plugin("xep_0059")
        alice.register_plugin("xep_0313")
        for n in range(7):
            alice.send_message(mto=BOB, mbody=f"archived {n}", mtype="chat")
        for _ in range(7):
            await next_of(bob.messages, "an archived message")
        bodies = [
            message["mam_result"]["forwarded"]["stanza"]["body"]
            async for message in alice.plugin["xep_0313"].iterate(
                with_jid=BOB, rsm={"max": 3}, total=7
            )
        ]
        assert bodies == [f"archived {n}" for n in range(7)]


async def test_no_archive_when_retention_is_zero(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca, xmpp={"archive_days": 0}) as roost:
        bob = await RawClient.bound(xmpp_port(roost), BOB, BOB_PASSWORD, "phone")
        bob.send("<presence/>")
        bob.send(f"<message to='{BOB}/phone' type='chat'><body>to myself</body></message>")
        assert b"stanza-id" not in await bob.expect(b"to myself")
        await query(bob, "q1")
        assert b"service-unavailable" in await bob.expect(b"</iq>")
        bob.seen = b""
        bob.send(
            "<iq type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        assert MAM.encode() not in await bob.expect(b"</iq>")
        assert "archived" not in dict(xmpp_of(roost).status().counters)
        bob.close()
