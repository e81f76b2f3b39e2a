"""The XMPP role on both backends: roster items and their version, offline
messages bounded per owner, per-user XML, block lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from roost.core.clock import ManualClock
from roost.store.store import Store
from roost.store.xmpp import ArchiveQuery, PepNode, RosterItem, Subscription

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


async def test_archive_pages_both_ways_and_filters(store: Store, clock: ManualClock) -> None:
    role = store.xmpp
    start = clock.now()
    for n in range(5):
        await store.write(role.archive, ALICE, f"id{n}", BOB, f"<message>{n}</message>")
        clock.advance(10)
    await store.write(role.archive, ALICE, "other", "carol@example.org", "<message>c</message>")
    await store.write(role.archive, BOB, "id0", ALICE, "<message>b</message>")  # ids per owner
    first = await store.read(role.archive_page, ALICE, ArchiveQuery(limit=2, with_jid=BOB))
    assert first is not None
    assert [m.stanza_id for m in first.messages] == ["id0", "id1"]
    assert (first.count, first.first_index, first.complete) == (5, 0, False)
    assert first.messages[0].stanza == "<message>0</message>"
    assert first.messages[0].with_jid == BOB
    following = await store.read(
        role.archive_page, ALICE, ArchiveQuery(limit=2, with_jid=BOB, after="id3")
    )
    assert following is not None
    assert [m.stanza_id for m in following.messages] == ["id4"]
    assert (following.first_index, following.complete) == (4, True)
    last = await store.read(role.archive_page, ALICE, ArchiveQuery(limit=2, last=True))
    assert last is not None
    assert [m.stanza_id for m in last.messages] == ["id4", "other"]
    assert (last.count, last.first_index, last.complete) == (6, 4, False)
    before = await store.read(role.archive_page, ALICE, ArchiveQuery(limit=10, before="id2"))
    assert before is not None
    assert [m.stanza_id for m in before.messages] == ["id0", "id1"] and before.complete
    timed = await store.read(
        role.archive_page,
        ALICE,
        ArchiveQuery(
            limit=10, start=start + timedelta(seconds=15), end=start + timedelta(seconds=30)
        ),
    )
    assert timed is not None
    assert [m.stanza_id for m in timed.messages] == ["id2", "id3"]
    assert await store.read(role.archive_page, ALICE, ArchiveQuery(limit=2, after="nope")) is None
    empty = await store.read(role.archive_page, "carol@example.org", ArchiveQuery(limit=2))
    assert empty is not None and empty.messages == [] and empty.complete
    assert empty.first_index is None


async def test_archive_pruned_by_age_and_with_its_owner(store: Store, clock: ManualClock) -> None:
    role = store.xmpp
    await store.write(role.archive, ALICE, "old", BOB, "<message>old</message>")
    clock.advance(100)
    await store.write(role.archive, ALICE, "new", BOB, "<message>new</message>")
    await store.write(role.archive, BOB, "b", ALICE, "<message>b</message>")
    assert await store.write(role.prune_archive, clock.now() - timedelta(seconds=50)) == 1
    page = await store.read(role.archive_page, ALICE, ArchiveQuery(limit=10))
    assert page is not None and [m.stanza_id for m in page.messages] == ["new"]
    await store.write(role.remove_owner, ALICE)
    page = await store.read(role.archive_page, ALICE, ArchiveQuery(limit=10))
    assert page is not None and page.count == 0
    page = await store.read(role.archive_page, BOB, ArchiveQuery(limit=10))
    assert page is not None and page.count == 1


async def test_pep_nodes_and_items(store: Store, clock: ManualClock) -> None:
    role = store.xmpp
    assert await store.read(role.pep_node, ALICE, "urn:xmpp:avatar:metadata") is None
    node = PepNode("urn:xmpp:avatar:metadata", "presence", 2)
    await store.write(role.put_pep_node, ALICE, node)
    assert await store.read(role.pep_node, ALICE, node.node) == node
    for n in (1, 2, 3):
        clock.advance(1)
        await store.write(
            role.publish_pep_item, ALICE, node.node, f"i{n}", f"<p>{n}</p>", max_items=2
        )
    items = await store.read(role.pep_items, ALICE, node.node)
    assert [(i.item_id, i.payload) for i in items] == [("i2", "<p>2</p>"), ("i3", "<p>3</p>")]
    # Publishing an id again makes it the newest, replaced.
    await store.write(role.publish_pep_item, ALICE, node.node, "i2", "<p>new</p>", max_items=2)
    newest = await store.read(role.pep_items, ALICE, node.node, newest=1)
    assert [(i.item_id, i.payload) for i in newest] == [("i2", "<p>new</p>")]
    assert [i.item_id for i in await store.read(role.pep_items, ALICE, node.node, ids=("i3",))] == [
        "i3"
    ]
    # A lower limit trims at once; another owner's node is its own.
    await store.write(role.put_pep_node, ALICE, PepNode(node.node, "open", 1))
    assert [i.item_id for i in await store.read(role.pep_items, ALICE, node.node)] == ["i2"]
    assert await store.read(role.pep_items, BOB, node.node) == []
    assert await store.write(role.retract_pep_item, ALICE, node.node, "i2")
    assert not await store.write(role.retract_pep_item, ALICE, node.node, "i2")
    assert await store.read(role.pep_nodes, ALICE) == [PepNode(node.node, "open", 1)]
    assert await store.write(role.delete_pep_node, ALICE, node.node)
    assert await store.read(role.pep_nodes, ALICE) == []
