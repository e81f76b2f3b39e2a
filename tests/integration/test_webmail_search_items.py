"""The webmail's search page finds the user's contacts, events, tasks and notes
beside the messages (issue 16 point 4): the first few above the messages, all
of them a page at a time with `what=items`, each linking to its own page."""

from __future__ import annotations

import re
from pathlib import Path

from roost.control.groupware import Groupware
from roost.control.notes import Notes
from roost.store.groupware import ADDRESSBOOK, CALENDAR
from tests.integration.test_webmail_search import Searching, mail, searching

_ITEMS = re.compile(
    r'<li class="result item-result" data-kind="(\w+)">.*?'
    r'(?:<a class="result-subject" href="([^"]*)">|<span class="result-subject">)([^<]*)<',
    re.S,
)

CARD = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:walrus-card\r\nFN:Wanda Walrusson\r\n"
    "EMAIL:wanda@example.net\r\nNOTE:met at the walrus conference\r\nEND:VCARD\r\n"
)
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:walrus-event\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T090000Z\r\n"
    "DTEND:20261201T100000Z\r\nSUMMARY:Walrus review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
TASK = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\n"
    "UID:walrus-task\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Feed the walrus\r\n"
    "END:VTODO\r\nEND:VCALENDAR\r\n"
)


async def items_of(s: Searching, **params: str) -> list[tuple[str, str, str]]:
    answer = await s.search("walrus", **params)
    assert answer.status_code == 200, answer.text
    return sorted(_ITEMS.findall(answer.text))


async def put_items(s: Searching) -> str:
    """One item of each kind holding "walrus"; the note's name."""
    store = s.store
    dav = Groupware(store, s.config.dav)
    await store.write(store.groupware.ensure_defaults, s.account_id)
    book = await store.read(store.groupware.collection, s.account_id, ADDRESSBOOK, "contacts")
    calendar = await store.read(store.groupware.collection, s.account_id, CALENDAR, "calendar")
    tasks = await store.read(store.groupware.collection, s.account_id, CALENDAR, "tasks")
    assert book and calendar and tasks
    await dav.put(book, "wanda.vcf", CARD, if_match=None, if_none_match="*")
    await dav.put(calendar, "review.ics", EVENT, if_match=None, if_none_match="*")
    await dav.put(tasks, "feed.ics", TASK, if_match=None, if_none_match="*")
    notes = Notes(store, s.config.webmail, s.config.dav)
    note = await notes.save(
        s.account_id, "notes", None, title="Walrus facts", text="tusks", colour=""
    )
    return note.name


async def test_items_come_first_then_all_of_them_on_their_own_page(tmp_path: Path) -> None:
    async with searching(tmp_path, webmail={"search_items_shown": 2, "search_page_size": 5}) as s:
        await s.deliver(mail("Ann <ann@example.net>", "walrus sighting", "a walrus"))
        note = await put_items(s)
        await s.indexed()

        first = await s.search("walrus")
        assert first.status_code == 200, first.text
        assert "walrus sighting" in first.text  # the message is still found
        assert len(_ITEMS.findall(first.text)) == 2  # search_items_shown
        assert "All 4 contacts, events, tasks and notes" in first.text

        listed = await items_of(s, what="items")
        assert len(listed) == 4
        assert await items_of(s, what="items", page="2") == []  # past the last page
        found = {kind: (url, title) for kind, url, title in listed}
        assert found["contact"] == (
            "/mail/contacts/c/contacts/wanda.vcf",
            "Wanda Walrusson",
        )
        assert found["event"] == (
            "/mail/calendar/event?cal=calendar&amp;uid=walrus-event",
            "Walrus review",
        )
        assert found["task"] == (
            "/mail/tasks/edit?list=tasks&amp;uid=walrus-task",
            "Feed the walrus",
        )
        assert found["note"] == (f"/mail/notes/n/notes/{note}", "Walrus facts")
        for _, url, _ in listed:
            opened = await s.client.get(url.replace("&amp;", "&"))
            assert opened.status_code == 200, (url, opened.text[:300])

        # A mail-only operator narrows the search to mail: no item is listed.
        narrowed = await s.search("walrus from:ann")
        assert narrowed.status_code == 200
        assert not _ITEMS.findall(narrowed.text)
        assert (await s.search("walrus", what="nonsense")).status_code == 400
