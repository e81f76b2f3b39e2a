"""The server's own entity capabilities (XEP-0115 §6.3): ``<c/>`` in the
stream features of an authenticated stream, and disco#info on its
``node#ver`` hashing back to that ``ver``."""

from __future__ import annotations

import re
from pathlib import Path

import trustme

from roost.proto.xmpp import Element
from roost.proto.xmpp.parser import ParsedElement, parse_message
from roost.services.xmpp.caps import ver_of
from tests.xmpp_support import ALICE, ALICE_PASSWORD, RawClient, xmpp_port, xmpp_roost

DISCO_INFO = "http://jabber.org/protocol/disco#info"


def _query(reply: bytes) -> Element:
    iq = reply[reply.index(b"<iq") : reply.index(b"</iq>") + len(b"</iq>")]
    item = parse_message(
        iq.replace(b"<iq ", b"<iq xmlns='jabber:client' ", 1), max_octets=65536, max_depth=16
    )
    assert isinstance(item, ParsedElement), item
    query = item.element.find("query", DISCO_INFO)
    assert query is not None, reply
    return query


async def test_server_caps_in_features_and_disco_on_node_ver(tmp_path: Path) -> None:
    async with xmpp_roost(tmp_path, trustme.CA()) as roost:
        alice = await RawClient.signed_in(xmpp_port(roost), ALICE, ALICE_PASSWORD)
        features = alice.seen
        found = re.search(
            rb"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
            rb"node='(urn:x-roost:server)' ver='([^']+)'/>",
            features,
        )
        assert found is not None, features
        node, ver = found.group(1).decode(), found.group(2).decode()
        assert b"</jid>" in await alice.bind("desk")
        alice.seen = b""
        alice.send(
            f"<iq type='get' id='c1' to='example.org'><query xmlns='{DISCO_INFO}' "
            f"node='{node}#{ver}'/></iq>"
        )
        query = _query(await alice.expect(b"</iq>"))
        assert query.get("node") == f"{node}#{ver}"
        assert ver_of(query, "sha-1") == ver  # the hash of what disco says
        alice.seen = b""
        alice.send(f"<iq type='get' id='c2' to='example.org'><query xmlns='{DISCO_INFO}'/></iq>")
        assert ver_of(_query(await alice.expect(b"</iq>")), "sha-1") == ver
        alice.seen = b""
        alice.send(
            f"<iq type='get' id='c3' to='example.org'><query xmlns='{DISCO_INFO}' "
            f"node='{node}#not-the-ver'/></iq>"
        )
        assert b"item-not-found" in await alice.expect(b"</iq>")
        alice.close()
