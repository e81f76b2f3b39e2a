"""The XMPP multi-user chat role on both backends: persistent rooms with
their configuration and subject, affiliations, and what deleting a room
takes with it (its affiliations and its archive, nothing of another)."""

from __future__ import annotations

from dataclasses import replace

from roost.store.store import Store
from roost.store.xmpp import ArchiveQuery
from roost.store.xmpp_muc import StoredAffiliation, StoredRoom

LOBBY = "lobby@conference.example.org"
CLUB = "club@conference.example.org"
ALICE = "alice@example.org"
BOB = "bob@example.org"


async def test_rooms_kept_and_replaced(store: Store) -> None:
    role = store.muc
    assert await store.read(role.rooms) == []
    lobby = StoredRoom(LOBBY, '{"persistent": true}', creator=ALICE)
    await store.write(role.put_room, lobby)
    await store.write(role.put_room, StoredRoom(CLUB, "{}", creator=ALICE))
    kept = await store.read(role.room, LOBBY)
    assert kept is not None and kept.config == '{"persistent": true}' and kept.creator == ALICE
    created = kept.created_at
    assert created is not None
    await store.write(role.put_room, replace(lobby, config='{"persistent": false}'))
    again = await store.read(role.room, LOBBY)
    assert again is not None and again.config == '{"persistent": false}'
    assert again.created_at == created  # a rewrite keeps the creation time
    assert [r.jid for r in await store.read(role.rooms)] == [CLUB, LOBBY]
    assert await store.read(role.rooms_created_by, ALICE) == 2
    assert await store.read(role.rooms_created_by, BOB) == 0


async def test_subject(store: Store) -> None:
    role = store.muc
    assert not await store.write(role.set_subject, LOBBY, "Plans", "Alice")
    await store.write(role.put_room, StoredRoom(LOBBY, "{}"))
    assert await store.write(role.set_subject, LOBBY, "Plans", "Alice")
    kept = await store.read(role.room, LOBBY)
    assert kept is not None and (kept.subject, kept.subject_by) == ("Plans", "Alice")


async def test_affiliations_set_changed_and_removed(store: Store) -> None:
    role = store.muc
    await store.write(role.set_affiliation, LOBBY, ALICE, "owner")
    await store.write(role.set_affiliation, LOBBY, BOB, "member")
    await store.write(role.set_affiliation, LOBBY, "spam.example", "outcast", "spam")
    await store.write(role.set_affiliation, CLUB, BOB, "admin")
    await store.write(role.set_affiliation, LOBBY, BOB, "outcast", "rude")
    assert await store.read(role.affiliations, LOBBY) == [
        StoredAffiliation(ALICE, "owner"),
        StoredAffiliation(BOB, "outcast", "rude"),
        StoredAffiliation("spam.example", "outcast", "spam"),
    ]
    await store.write(role.set_affiliation, LOBBY, BOB, None)
    assert [a.jid for a in await store.read(role.affiliations, LOBBY)] == [ALICE, "spam.example"]
    assert await store.read(role.affiliations, CLUB) == [StoredAffiliation(BOB, "admin")]


async def test_delete_room_takes_its_affiliations_and_archive(store: Store) -> None:
    role = store.muc
    for room in (LOBBY, CLUB):
        await store.write(role.put_room, StoredRoom(room, "{}"))
        await store.write(role.set_affiliation, room, ALICE, "owner")
        await store.write(store.xmpp.archive, room, f"id-{room}", f"{room}/Alice", "<message/>")
    assert await store.write(role.delete_room, LOBBY)
    assert not await store.write(role.delete_room, LOBBY)
    assert await store.read(role.room, LOBBY) is None
    assert await store.read(role.affiliations, LOBBY) == []
    query = ArchiveQuery(limit=10)
    gone = await store.read(store.xmpp.archive_page, LOBBY, query)
    assert gone is not None and gone.messages == []
    kept = await store.read(store.xmpp.archive_page, CLUB, query)
    assert kept is not None and [m.stanza_id for m in kept.messages] == [f"id-{CLUB}"]
    assert await store.read(role.affiliations, CLUB) == [StoredAffiliation(ALICE, "owner")]
