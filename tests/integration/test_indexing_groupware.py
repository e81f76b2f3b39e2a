"""Groupware items in the index: a running Roost's Indexing service follows
contacts, events, tasks and notes as they are created (through the DAV
rules of `roost.control.groupware`), edited and deleted; `ItemSearch` and
`/api/v1/search/items` find them by any part of their text, one user's
items never in another's answer; with Indexing stopped a search scans what
is not indexed, with the same answer; a rebuild indexes them again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import trustme

from roost.app import Roost
from roost.control.directory import Actor
from roost.control.groupware import Groupware
from roost.control.item_search import ItemKind, ItemSearch, item_document
from roost.store.groupware import Collection, NewItem
from roost.web.api_index import rebuild_index
from tests.imap_support import ALICE, BOB, imap_roost

WAIT_S = 60.0

CONTACT = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ann\r\nFN:Ann Smith\r\nN:Smith;Ann;;Dr.;\r\n"
    "EMAIL:ann.smith@acme.example\r\nTEL;TYPE=cell:+1-555-0100\r\nORG:Acme Widgets;R&D\r\n"
    "ADR:;;1 Main Street;Springfield;;12345;Utopia\r\nNOTE:Met at the JDG2-04711 fair\r\n"
    "END:VCARD\r\n"
)
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:board\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Board meeting\r\nLOCATION:Room 4\\, east wing\r\n"
    "DESCRIPTION:Quarterly figures\r\nATTENDEE;CN=Bob Jones:mailto:bob@example.org\r\n"
    "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:board\r\nDTSTAMP:20260101T000000Z\r\n"
    "RECURRENCE-ID:20260308T100000Z\r\nDTSTART:20260308T120000Z\r\n"
    "DTEND:20260308T130000Z\r\nSUMMARY:Board meeting (moved)\r\nLOCATION:Cafeteria\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
TASK = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:taxes\r\n"
    "DTSTAMP:20260101T000000Z\r\nSUMMARY:File taxes\r\n"
    "DESCRIPTION:Receipts for JDG2-04711\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def homes(roost: Roost, address: str) -> dict[str, Collection]:
    store = roost.store
    account = await store.read(store.directory.account, address)
    found = await store.write(store.groupware.ensure_defaults, account.id)
    return {c.name: c for c in found}


async def wait_items_indexed(roost: Roost, address: str | None = None) -> None:
    store = roost.store
    owner = None
    if address is not None:
        owner = (await store.read(store.directory.account, address)).id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        status = await store.read(store.search.item_status, owner)
        if status.pending == 0:
            return
        assert loop.time() < deadline, f"the items were not indexed: {status}"
        await asyncio.sleep(0.05)


async def titles(
    searcher: ItemSearch, account_id: int, text: str, kinds: list[ItemKind] | None = None
) -> list[str]:
    page = await searcher.search(account_id, text, kinds=kinds)
    return [hit.title for hit in page.hits]


def test_an_items_text_comes_from_its_vcard_or_icalendar() -> None:
    card = item_document("VCARD", "Ann Smith", CONTACT)
    assert card.title == "Ann Smith"
    for part in (
        "Dr. Ann Smith",
        "ann.smith@acme.example",
        "+1-555-0100",
        "Acme Widgets R&D",
        "1 Main Street Springfield 12345 Utopia",
        "JDG2-04711",
    ):
        assert part in card.body, part
    event = item_document("VEVENT", "Board meeting", EVENT)
    assert event.title == "Board meeting\nBoard meeting (moved)"
    for part in (
        "Room 4, east wing",
        "Quarterly figures",
        "Bob Jones <bob@example.org>",
        "Cafeteria",
    ):
        assert part in event.body, part
    assert item_document("NOTE", "Shopping", "milk\nbread").body == "milk\nbread"
    journal = TASK.replace("VTODO", "VJOURNAL")
    assert item_document("VJOURNAL", "", journal).title == "File taxes"
    with pytest.raises(ValueError, match="vCard"):
        item_document("VCARD", "", "BEGIN:VCARD\r\nno end")
    with pytest.raises(ValueError, match="VTODO"):
        item_document("VTODO", "", EVENT)


async def test_items_are_indexed_as_they_change(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        store = roost.store
        gw = Groupware(store, roost.config.dav)
        mine = await homes(roost, ALICE)
        theirs = await homes(roost, BOB)
        alice = (await store.read(store.directory.account, ALICE)).id
        await gw.put(mine["contacts"], "ann.vcf", CONTACT, if_match=None, if_none_match="*")
        await gw.put(mine["calendar"], "board.ics", EVENT, if_match=None, if_none_match="*")
        await gw.put(mine["tasks"], "taxes.ics", TASK, if_match=None, if_none_match="*")
        await store.write(
            store.groupware.put_item,
            mine["notes"].id,
            NewItem("n1", "n1", "NOTE", "Parts list: JDG2-04711, bolts", title="Workshop"),
        )
        await gw.put(theirs["contacts"], "ann.vcf", CONTACT, if_match=None, if_none_match="*")
        # Stored without the DAV rules (an older Roost, a bug): not readable.
        await store.write(
            store.groupware.put_item,
            mine["contacts"].id,
            NewItem("bad.vcf", "bad", "VCARD", "BEGIN:VCARD\r\nFN:JDG2-04711\r\n"),
        )
        await wait_items_indexed(roost)
        status = await store.read(store.search.item_status, alice)
        assert (status.items, status.indexed, status.failed) == (5, 4, 1)

        searcher = ItemSearch(store, roost.config.indexing)
        page = await searcher.search(alice, "jdg2-04711")
        assert {(h.kind, h.title) for h in page.hits} == {
            (ItemKind.CONTACT, "Ann Smith"),
            (ItemKind.TASK, "File taxes"),
            (ItemKind.NOTE, "Workshop"),
        }
        # The failed item is scanned by each search, and cannot be read there either.
        assert (page.total, page.unindexed, page.scanned) == (3, 1, 1)
        contact = next(h for h in page.hits if h.kind is ItemKind.CONTACT)
        assert contact.collection == "contacts" and contact.name == "ann.vcf"
        assert any(s.hit and s.text == "JDG2-04711" for s in contact.snippet)
        assert await titles(searcher, alice, "bob jones") == ["Board meeting"]
        assert await titles(searcher, alice, "cafeteria") == ["Board meeting"]
        assert await titles(searcher, alice, "+1-555") == ["Ann Smith"]
        assert await titles(searcher, alice, "ACME widgets") == ["Ann Smith"]
        assert await titles(searcher, alice, "smith 04711") == ["Ann Smith"]
        assert await titles(searcher, alice, "04711", kinds=[ItemKind.TASK]) == ["File taxes"]
        # A title hit ranks first.
        assert (await titles(searcher, alice, "taxes jdg2"))[0] == "File taxes"
        # Mail-only operators find no item.
        assert await titles(searcher, alice, "from:ann") == []

        # An edit: the old text no longer answers once the indexer has read it,
        # and meanwhile the search scans the edited item.
        edited = CONTACT.replace("JDG2-04711 fair", "KQ7-55 expo")
        await gw.put(mine["contacts"], "ann.vcf", edited, if_match=None, if_none_match=None)
        assert await titles(searcher, alice, "kq7-55") == ["Ann Smith"]
        await wait_items_indexed(roost)
        assert await titles(searcher, alice, "kq7-55") == ["Ann Smith"]
        assert "Ann Smith" not in await titles(searcher, alice, "jdg2-04711")
        # A delete.
        await gw.delete(mine["tasks"], "taxes.ics", if_match=None)
        await wait_items_indexed(roost)
        assert await titles(searcher, alice, "taxes") == []

        # Indexing stopped: new items are scanned, with the same answer.
        await roost.supervisor.stop("indexing", actor="test")
        await gw.put(mine["tasks"], "taxes.ics", TASK, if_match=None, if_none_match="*")
        page = await searcher.search(alice, "file taxes")
        assert [h.title for h in page.hits] == ["File taxes"]
        assert (page.unindexed, page.scanned) == (2, 2)
        await roost.supervisor.start("indexing", actor="test")
        await wait_items_indexed(roost)
        page = await searcher.search(alice, "file taxes")
        assert [h.title for h in page.hits] == ["File taxes"] and page.unindexed == 1

        # A rebuild drops the user's documents (messages and items) and the
        # indexer makes them again.
        dropped = await rebuild_index(store, Actor("test"), ALICE)
        assert dropped.items == 5
        await wait_items_indexed(roost)
        assert await titles(searcher, alice, "workshop") == ["Workshop"]
        bob = (await store.read(store.directory.account, BOB)).id
        assert (await store.read(store.search.item_status, bob)).indexed == 1

        # A deleted collection takes its items' documents along.
        await store.write(store.groupware.delete_collection, mine["notes"].id)
        await wait_items_indexed(roost)
        assert await titles(searcher, alice, "workshop") == []


async def test_the_items_search_api(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        store = roost.store
        gw = Groupware(store, roost.config.dav)
        mine = await homes(roost, ALICE)
        await gw.put(mine["contacts"], "ann.vcf", CONTACT, if_match=None, if_none_match="*")
        await gw.put(mine["calendar"], "board.ics", EVENT, if_match=None, if_none_match="*")
        await wait_items_indexed(roost)
        await roost.directory.add_admin(Actor("test"), "root", "root-password-1")
        _, secret = await roost.directory.add_token(Actor("test"), "root", "ci")
        base = f"http://{roost.web.addresses[0]}"
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
            found = (
                await api.get("/api/v1/search/items", params={"user": ALICE, "q": '"room 4"'})
            ).json()
            assert found["total"] == 1 and found["index"]["complete"] is True
            (hit,) = found["hits"]
            assert (hit["kind"], hit["title"], hit["collection"], hit["name"]) == (
                "event",
                "Board meeting",
                "calendar",
                "board.ics",
            )
            assert hit["starts"] == "2026-03-01T10:00:00+00:00"
            assert {"text": "Room 4", "hit": True} in hit["snippet"]
            only = await api.get(
                "/api/v1/search/items", params={"user": ALICE, "q": "smith", "kind": "event"}
            )
            assert only.json()["total"] == 0
            bad = await api.get(
                "/api/v1/search/items", params={"user": ALICE, "q": "smith", "kind": "memo"}
            )
            assert bad.status_code == 400 and "memo" in bad.json()["error"]
            short = await api.get("/api/v1/search/items", params={"user": ALICE, "q": "ab"})
            assert short.status_code == 400 and "too short" in short.json()["error"]
            status = (await api.get("/api/v1/index", params={"user": ALICE})).json()
            assert status["items"] == {"items": 2, "indexed": 2, "failed": 0, "pending": 0}
            rebuilt = (await api.post("/api/v1/index/rebuild", json={"user": ALICE})).json()
            assert rebuilt["dropped_items"] == 2
        await wait_items_indexed(roost)
