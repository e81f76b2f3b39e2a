"""Contract of the Groupware role, on SQLite and PostgreSQL: default collections,
items with ETags, time-range candidates, and the RFC 6578 change log."""

from __future__ import annotations

from datetime import UTC, datetime

from roost.store.groupware import ADDRESSBOOK, CALENDAR, NOTES, NewItem, etag_of
from roost.store.store import Store
from roost.store.types import Account


async def make_account(store: Store, address: str = "gw@example.org") -> Account:
    async def work(tx):  # type: ignore[no-untyped-def]
        domain = address.rpartition("@")[2]
        if await store.directory.local_domain(tx, domain) is None:
            await store.directory.add_domain(tx, domain)
        return await store.directory.add_account(
            tx, address, display_name="G", password_hash="x", scram="{}"
        )

    return await store.write(work)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


async def test_every_user_starts_with_the_defaults_once(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    first = await store.write(role.ensure_defaults, account.id)
    assert [(c.kind, c.name, c.components) for c in first] == [
        (ADDRESSBOOK, "contacts", ("VCARD",)),
        (CALENDAR, "calendar", ("VEVENT",)),
        (CALENDAR, "tasks", ("VTODO",)),
        (NOTES, "notes", ("NOTE",)),
    ]
    assert await store.write(role.ensure_defaults, account.id) == first
    # A user who deleted a default does not get it back behind their back.
    await store.write(role.delete_collection, first[0].id)
    again = await store.write(role.ensure_defaults, account.id)
    assert [c.name for c in again] == ["calendar", "tasks", "notes"]
    other = await make_account(store, "other@example.org")
    assert await store.read(role.collections, other.id) == []


async def test_collections_are_unique_by_kind_and_name_and_editable(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    made = await store.write(
        role.create_collection,
        account.id,
        CALENDAR,
        "work",
        display_name="Work",
        components=("VEVENT", "VTODO"),
    )
    assert made is not None and made.display_name == "Work" and made.modseq == 0
    assert made.components == ("VEVENT", "VTODO")
    assert await store.write(role.create_collection, account.id, CALENDAR, "work") is None
    # The same name in another kind is another collection.
    assert await store.write(role.create_collection, account.id, ADDRESSBOOK, "work")
    changed = await store.write(role.update_collection, made.id, colour="#ff0000", display_name="W")
    assert changed is not None and changed.colour == "#ff0000" and changed.display_name == "W"
    assert await store.read(role.collection_count, account.id) == 2


async def test_items_have_etags_and_stable_ids(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    book = await store.write(role.create_collection, account.id, ADDRESSBOOK, "book")
    assert book is not None
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ann\r\nEND:VCARD\r\n"
    first = await store.write(
        role.put_item, book.id, NewItem("u1.vcf", "u1", "VCARD", card, title="Ann")
    )
    assert first.etag == etag_of(card) and first.modseq == 1 and first.title == "Ann"
    edited = card.replace("Ann", "Anne")
    second = await store.write(role.put_item, book.id, NewItem("u1.vcf", "u1", "VCARD", edited))
    assert second.id == first.id and second.etag != first.etag and second.modseq == 2
    assert (await store.read(role.item, book.id, "u1.vcf")) == second
    assert (await store.read(role.item_by_uid, book.id, "u1")) == second
    assert await store.read(role.item, book.id, "missing.vcf") is None
    named = await store.read(role.items_named, book.id, ["u1.vcf", "missing.vcf"])
    assert [i.name for i in named] == ["u1.vcf"]
    assert await store.read(role.item_count, book.id) == 1
    assert await store.write(role.delete_item, book.id, "u1.vcf")
    assert not await store.write(role.delete_item, book.id, "u1.vcf")
    assert await store.read(role.items, book.id) == []


async def test_change_log_reports_changes_and_tombstones(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    cal = await store.write(role.create_collection, account.id, CALENDAR, "cal")
    assert cal is not None
    start = await store.read(role.changes_since, cal.id, 0)
    assert start is not None and start.modseq == 0 and start.changed == start.deleted == ()
    for name in ("a.ics", "b.ics", "c.ics"):
        await store.write(role.put_item, cal.id, NewItem(name, name[0], "VEVENT", "x" + name))
    token = (await store.read(role.collection_by_id, cal.id)).modseq  # type: ignore[union-attr]
    assert token == 3
    await store.write(role.put_item, cal.id, NewItem("b.ics", "b", "VEVENT", "changed"))
    await store.write(role.delete_item, cal.id, "c.ics")
    await store.write(role.put_item, cal.id, NewItem("d.ics", "d", "VEVENT", "new"))
    since = await store.read(role.changes_since, cal.id, token)
    assert since is not None and since.modseq == 6
    assert since.changed == ("b.ics", "d.ics") and since.deleted == ("c.ics",)
    everything = await store.read(role.changes_since, cal.id, 0)
    assert everything is not None
    assert set(everything.changed) == {"a.ics", "b.ics", "d.ics"}
    assert everything.deleted == ("c.ics",)
    # A token the collection never gave is refused, not answered with nothing.
    assert await store.read(role.changes_since, cal.id, 7) is None
    assert await store.read(role.changes_since, cal.id, -1) is None
    # A name that comes back after a delete is a change again, not a tombstone.
    await store.write(role.put_item, cal.id, NewItem("c.ics", "c", "VEVENT", "again"))
    again = await store.read(role.changes_since, cal.id, 6)
    assert again is not None and again.changed == ("c.ics",) and again.deleted == ()


async def test_time_range_candidates(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    cal = await store.write(role.create_collection, account.id, CALENDAR, "cal")
    assert cal is not None

    async def put(name: str, start: datetime | None, end: datetime | None, rec: bool) -> None:
        new = NewItem(name, name, "VEVENT", name, starts_at=start, ends_at=end, recurring=rec)
        await store.write(role.put_item, cal.id, new)

    await put("early", at(1, 9), at(1, 10), False)
    await put("inside", at(5, 9), at(5, 10), False)
    await put("late", at(20, 9), at(20, 10), False)
    await put("weekly", at(1, 8), at(1, 9), True)
    await put("undated", None, None, False)
    await store.write(role.put_item, cal.id, NewItem("task", "task", "VTODO", "t"))
    found = await store.read(role.items_in_range, cal.id, "VEVENT", at(4), at(10))
    assert [i.name for i in found] == ["inside", "undated", "weekly"]
    assert len(await store.read(role.items_in_range, cal.id, "VEVENT", None, None)) == 5
    edge = await store.read(role.items_in_range, cal.id, "VEVENT", at(5, 10), at(6))
    assert "inside" not in [i.name for i in edge]  # the end is exclusive (RFC 4791 §9.9)
    tasks = await store.read(role.items_in_range, cal.id, "VTODO", at(4), at(10))
    assert [i.name for i in tasks] == ["task"]


async def test_notes_keep_title_colour_and_folder(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    folders = await store.write(role.ensure_defaults, account.id)
    notes = next(c for c in folders if c.kind == NOTES)
    note = NewItem("n1", "n1", "NOTE", "Buy milk\nand bread", title="Shopping", colour="yellow")
    saved = await store.write(role.put_item, notes.id, note)
    assert (saved.title, saved.colour, saved.data) == ("Shopping", "yellow", note.data)
    work = await store.write(role.create_collection, account.id, NOTES, "work")
    assert work is not None
    assert await store.read(role.items, work.id) == []


async def test_deleting_a_collection_removes_its_items(store: Store) -> None:
    account = await make_account(store)
    role = store.groupware
    cal = await store.write(role.create_collection, account.id, CALENDAR, "gone")
    assert cal is not None
    await store.write(role.put_item, cal.id, NewItem("a.ics", "a", "VEVENT", "a"))
    assert await store.write(role.delete_collection, cal.id)
    assert await store.read(role.collection_by_id, cal.id) is None
    assert await store.read(role.items, cal.id) == []
    assert await store.read(role.changes_since, cal.id, 0) is None
