"""The Search role's groupware items on SQLite (FTS5 trigram) and PostgreSQL
(pg_trgm): exact substring answers equal to a scan's, documents that follow
their items (edit, delete, a deleted collection), the change mark, status
and rebuilds, and one account's items never answering another's search."""

from __future__ import annotations

import pytest

from roost.store.groupware import ADDRESSBOOK, NOTES, Collection, NewItem
from roost.store.search import IndexedItem, ItemDocument, ItemField, fold
from roost.store.store import Store
from tests.contract.test_groupware_store import make_account

TITLES = ["Ann Smith", "JDG2-04711 review", "Straße", "ΣΊΣΥΦΟΣ", "100% under_score", ""]
BODIES = [
    "ann@example.org\n+1-555-0100\nAcme",
    "Room 4\nagenda: JDG2-04712",
    "strasse 12",
    "σίσυφος",
    'quotes "NEAR" AND * ^ ( ) \\ back',
    "nothing here",
]


async def folder(store: Store, address: str = "gw@example.org") -> Collection:
    account = await make_account(store, address)
    made = await store.write(store.groupware.create_collection, account.id, NOTES, "n")
    assert made is not None
    return made


async def put_note(store: Store, into: Collection, name: str, title: str, body: str) -> int:
    item = await store.write(
        store.groupware.put_item, into.id, NewItem(name, name, "NOTE", body, title=title)
    )
    return item.id


async def index_all(store: Store) -> int:
    pending = await store.read(store.search.pending_items)
    await store.write(
        store.search.put_items,
        [
            IndexedItem(p.id, p.account_id, p.component, p.modseq, ItemDocument(p.title, p.data))
            for p in pending
        ],
    )
    return len(pending)


async def test_answers_equal_a_scan(store: Store) -> None:
    notes = await folder(store)
    ids = {}
    for n, (title, body) in enumerate(zip(TITLES, BODIES, strict=True)):
        ids[await put_note(store, notes, f"n{n}", title, body)] = (title, body)
    assert await index_all(store) == len(TITLES)
    assert await store.read(store.search.pending_items) == []
    needles = [
        "jdg2-0471",
        "G2-04",
        "strasse",
        "STRASSE",
        "σίσυφος",
        "100%",
        "r_s",
        "\\ b",
        '"NEAR"',
        "* ^ (",
        "ann@",
        "nowhere",
        "Smith",
    ]
    for needle in needles:
        for field in (ItemField.TITLE, ItemField.BODY, None):
            want = {
                i
                for i, (title, body) in ids.items()
                if (field in (ItemField.TITLE, None) and fold(needle) in fold(title))
                or (field in (ItemField.BODY, None) and fold(needle) in fold(body))
            }
            got = await store.read(store.search.matching_items, notes.account_id, field, needle)
            assert got == want, (needle, field)
    with pytest.raises(ValueError, match="cannot answer"):
        await store.read(store.search.matching_items, notes.account_id, None, "ab")


async def test_documents_follow_edits_and_deletes(store: Store) -> None:
    notes = await folder(store)
    role = store.groupware
    mark = await store.read(role.change_mark)
    first = await put_note(store, notes, "a", "Lunch", "with JDG2-04711")
    await put_note(store, notes, "b", "Dinner", "at eight")
    assert await store.read(role.change_mark) == mark + 2
    await index_all(store)
    owner = notes.account_id
    assert await store.read(store.search.matching_items, owner, None, "jdg2") == {first}
    # An edit keeps the id and makes the document stale: the old text no
    # longer answers, and the item waits for the indexer.
    assert await put_note(store, notes, "a", "Lunch", "moved to Friday") == first
    assert await store.read(store.search.matching_items, owner, None, "jdg2") == set()
    assert [p.id for p in await store.read(store.search.pending_items)] == [first]
    status = await store.read(store.search.item_status, owner)
    assert (status.items, status.indexed, status.failed, status.pending) == (2, 1, 0, 1)
    await index_all(store)
    assert await store.read(store.search.matching_items, owner, None, "friday") == {first}
    # A failed item is not pending (the indexer does not retry it for ever),
    # but a search that scans asks for it.
    failed = IndexedItem(first, owner, "NOTE", await _modseq(store, notes, "a"), "unreadable")
    await store.write(store.search.put_items, [failed])
    assert await store.read(store.search.pending_items) == []
    scanned = await store.read(store.search.pending_items, with_failed=True)
    assert [p.id for p in scanned] == [first]
    status = await store.read(store.search.item_status, owner)
    assert (status.indexed, status.failed, status.pending) == (1, 1, 0)
    # A delete takes the document along; a deleted collection too.
    before = await store.read(role.change_mark)
    assert await store.write(role.delete_item, notes.id, "b")
    assert await store.read(role.change_mark) == before + 1
    assert await store.read(store.search.matching_items, owner, None, "eight") == set()
    await store.write(store.search.collect_item_orphans)
    assert await store.write(role.delete_collection, notes.id)
    assert await store.read(role.change_mark) == before + 2
    await store.write(store.search.collect_item_orphans)
    assert (await store.read(store.search.item_status, owner)).items == 0
    # An item deleted while the indexer read it is left out, not an error.
    other = await store.write(role.create_collection, owner, NOTES, "other")
    assert other is not None
    gone = await put_note(store, other, "g", "Gone", "soon")
    pending = await store.read(store.search.pending_items)
    await store.write(role.delete_item, other.id, "g")
    await store.write(
        store.search.put_items,
        [IndexedItem(p.id, owner, "NOTE", p.modseq, ItemDocument("Gone", "soon")) for p in pending],
    )
    assert await store.read(store.search.matching_items, owner, None, "gone") == set()
    assert gone not in {
        f.item.id for f in await store.read(store.search.items_found, owner, [gone])
    }


async def _modseq(store: Store, into: Collection, name: str) -> int:
    item = await store.read(store.groupware.item, into.id, name)
    assert item is not None
    return item.modseq


async def test_accounts_are_apart_and_rebuilds_forget(store: Store) -> None:
    ann = await folder(store, "ann@example.org")
    bob = await folder(store, "bob@example.org")
    ann_id = await put_note(store, ann, "x", "Budget", "JDG2-04711")
    bob_id = await put_note(store, bob, "x", "Budget", "JDG2-04711")
    book = await store.write(store.groupware.create_collection, bob.account_id, ADDRESSBOOK, "book")
    assert book is not None
    await index_all(store)
    assert await store.read(store.search.matching_items, ann.account_id, None, "budget") == {ann_id}
    assert await store.read(store.search.matching_items, bob.account_id, None, "04711") == {bob_id}
    found = await store.read(store.search.items_found, ann.account_id, [ann_id, bob_id])
    assert [(f.collection, f.item.id) for f in found] == [("n", ann_id)]
    assert await store.write(store.search.forget_items, ann.account_id) == 1
    assert (await store.read(store.search.item_status, ann.account_id)).pending == 1
    assert (await store.read(store.search.item_status, bob.account_id)).indexed == 1
    assert [p.id for p in await store.read(store.search.pending_items)] == [ann_id]
    newest = await store.read(
        store.search.pending_items, account_id=ann.account_id, newest_first=True, limit=1
    )
    assert [p.id for p in newest] == [ann_id]
    assert await store.write(store.search.forget_items) == 1
    total = await store.read(store.search.item_status)
    assert (total.items, total.indexed) == (2, 0)
