"""The XMPP role on both backends: roster items and their version, offline
messages bounded per owner, per-user XML, block lists."""

from __future__ import annotations

from dataclasses import replace

from roost.core.clock import ManualClock
from roost.store.store import Store
from roost.store.xmpp import RosterItem, Subscription

ALICE = "alice@example.org"
BOB = "bob@example.org"


async def test_roster_items_and_version(store: Store) -> None:
    role = store.xmpp
    assert (await store.read(role.roster, ALICE)).version == 0
    item = RosterItem(BOB, name="Bob", groups=("Friends", "Work"), ask=True)
    assert await store.write(role.put_roster_item, ALICE, item) == 1
    roster = await store.read(role.roster, ALICE)
    assert roster.version == 1 and roster.items == (item,)
    both = replace(item, subscription=Subscription.BOTH, ask=False, groups=())
    assert await store.write(role.put_roster_item, ALICE, both) == 2
    assert await store.read(role.roster_item, ALICE, BOB) == both
    # Another owner's roster is its own.
    assert (await store.read(role.roster, BOB)).items == ()
    assert await store.write(role.remove_roster_item, ALICE, BOB) == 3
    assert await store.write(role.remove_roster_item, ALICE, BOB) is None
    assert (await store.read(role.roster, ALICE)).items == ()


async def test_unlisted_items_hold_state_without_a_version(store: Store) -> None:
    role = store.xmpp
    hidden = RosterItem(ALICE, pending_in=True, listed=False)
    assert await store.write(role.put_roster_item, BOB, hidden) == 0
    assert (await store.read(role.roster, BOB)).items == ()
    assert await store.read(role.items_of, BOB) == [hidden]
    shown = replace(hidden, listed=True)
    assert await store.write(role.put_roster_item, BOB, shown) == 1
    assert await store.write(role.remove_roster_item, BOB, ALICE) == 2


async def test_offline_messages_bounded_and_taken_once(store: Store, clock: ManualClock) -> None:
    role = store.xmpp
    assert await store.write(role.store_offline, BOB, "<message>1</message>", limit=2)
    clock.advance(5)
    assert await store.write(role.store_offline, BOB, "<message>2</message>", limit=2)
    assert not await store.write(role.store_offline, BOB, "<message>3</message>", limit=2)
    assert await store.write(role.store_offline, ALICE, "<message>a</message>", limit=2)
    assert await store.read(role.offline_count, BOB) == 2
    assert await store.read(role.offline_count) == 3
    taken = await store.write(role.take_offline, BOB)
    assert [m.stanza for m in taken] == ["<message>1</message>", "<message>2</message>"]
    assert taken[0].stored_at < taken[1].stored_at
    assert await store.write(role.take_offline, BOB) == []
    assert await store.read(role.offline_count) == 1


async def test_user_xml_replaced_by_key(store: Store) -> None:
    role = store.xmpp
    assert await store.read(role.user_xml, ALICE, "vcard") is None
    await store.write(role.put_user_xml, ALICE, "vcard", "<vCard xmlns='vcard-temp'/>")
    await store.write(
        role.put_user_xml, ALICE, "vcard", "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>"
    )
    await store.write(role.put_user_xml, ALICE, "private x", "<x/>")
    assert "<FN>A</FN>" in (await store.read(role.user_xml, ALICE, "vcard") or "")
    assert await store.read(role.user_xml, ALICE, "private x") == "<x/>"
    assert await store.read(role.user_xml, BOB, "vcard") is None


async def test_block_list(store: Store) -> None:
    role = store.xmpp
    assert await store.write(role.block, ALICE, [BOB, "spam.example"]) == [BOB, "spam.example"]
    assert await store.write(role.block, ALICE, [BOB]) == []
    assert await store.read(role.blocked, ALICE) == [BOB, "spam.example"]
    assert await store.read(role.blocked, BOB) == []
    assert await store.write(role.unblock, ALICE, [BOB, "nobody@x"]) == [BOB]
    assert await store.write(role.block, ALICE, ["c@x", "d@x"]) == ["c@x", "d@x"]
    assert await store.write(role.unblock, ALICE, None) == ["c@x", "d@x", "spam.example"]
    assert await store.read(role.blocked, ALICE) == []


async def test_removing_an_owner_leaves_nothing_of_theirs(store: Store) -> None:
    role = store.xmpp
    await store.write(role.put_roster_item, ALICE, RosterItem(BOB, name="Bob"))
    await store.write(role.put_roster_item, BOB, RosterItem(ALICE, name="Alice"))
    await store.write(role.store_offline, ALICE, "<message>1</message>", limit=5)
    await store.write(role.put_user_xml, ALICE, "vcard", "<vCard xmlns='vcard-temp'/>")
    await store.write(role.block, ALICE, ["spam.example"])
    await store.write(role.remove_owner, ALICE)
    roster = await store.read(role.roster, ALICE)
    assert roster.version == 0 and roster.items == ()
    assert await store.read(role.offline_count, ALICE) == 0
    assert await store.read(role.user_xml, ALICE, "vcard") is None
    assert await store.read(role.blocked, ALICE) == []
    # Bob's roster still names Alice, as it would any contact.
    assert [i.contact for i in (await store.read(role.roster, BOB)).items] == [ALICE]
