"""CalDAV with the `caldav` library (PyPI): the same scenario against Radicale
first (to prove the test) and then against Roost on a free loopback port:
discover, make a calendar and a task list, create events and tasks, a
time-range query over a recurring event, sync both ways, edit and see it,
and an edit from a stale copy refused by its ETag (412)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import caldav
import httpx

from tests.dav_support import DavServer, radicale_dav, roost_dav

WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:weekly-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260302T090000
DTEND;TZID=Europe/Berlin:20260302T100000
RRULE:FREQ=WEEKLY
SUMMARY:Standup
END:VEVENT
END:VCALENDAR
"""

ONCE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:once-1
DTSTAMP:20260101T000000Z
DTSTART:20260601T120000Z
DTEND:20260601T130000Z
SUMMARY:Lunch
END:VEVENT
END:VCALENDAR
"""

TASK = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VTODO
UID:task-1
DTSTAMP:20260101T000000Z
DUE:20260310T120000Z
SUMMARY:File taxes
END:VTODO
END:VCALENDAR
"""


def scenario(server: DavServer) -> None:
    client = caldav.DAVClient(url=server.url, username=server.user, password=server.password)
    other = caldav.DAVClient(url=server.url, username=server.user, password=server.password)
    try:
        _scenario(server, client, other)
    finally:
        client.close()
        other.close()


def _scenario(server: DavServer, client: caldav.DAVClient, other: caldav.DAVClient) -> None:
    principal = client.principal()
    calendar = principal.make_calendar(name="Work", cal_id="work")
    tasks = principal.make_calendar(
        name="Todo", cal_id="todo", supported_calendar_component_set=["VTODO"]
    )
    assert "work" in [str(c.url).rstrip("/").rsplit("/", 1)[-1] for c in principal.calendars()]
    calendar.save_event(WEEKLY)
    calendar.save_event(ONCE)
    tasks.save_todo(TASK)

    # A time-range query: the weekly event's third week, expanded; the lunch is not in it.
    found = calendar.search(
        start=datetime(2026, 3, 16), end=datetime(2026, 3, 17), event=True, expand=True
    )
    assert len(found) == 1
    event = found[0].icalendar_component
    assert str(event["SUMMARY"]) == "Standup"
    assert event["DTSTART"].dt.day == 16
    assert "RRULE" not in event
    # 1 June 2026 is a Monday: the standup and the lunch.
    june = calendar.search(start=datetime(2026, 6, 1), end=datetime(2026, 6, 2), event=True)
    assert sorted(str(e.icalendar_component["SUMMARY"]) for e in june) == ["Lunch", "Standup"]
    # A Sunday has neither.
    assert calendar.search(start=datetime(2026, 5, 31), end=datetime(2026, 6, 1), event=True) == []
    assert [str(t.icalendar_component["SUMMARY"]) for t in tasks.todos()] == ["File taxes"]

    # Sync: a first sync gives everything and a token; an edit made by another
    # client shows up in the next sync, and so does a delete.
    first = calendar.objects_by_sync_token(load_objects=True)
    assert sorted(str(o.icalendar_component["UID"]) for o in first) == ["once-1", "weekly-1"]
    theirs = other.principal().calendar(cal_id="work")
    lunch = theirs.event_by_uid("once-1")
    lunch.icalendar_component["SUMMARY"] = "Long lunch"
    lunch.save()
    changed = calendar.objects_by_sync_token(sync_token=first.sync_token, load_objects=True)
    assert [str(o.icalendar_component["SUMMARY"]) for o in changed] == ["Long lunch"]
    # ... and back: our edit is seen by the other client.
    mine = calendar.event_by_uid("weekly-1")
    stale_etag = _etag(server, str(mine.url))
    mine.icalendar_component["SUMMARY"] = "Daily standup"
    mine.save()
    assert str(theirs.event_by_uid("weekly-1").icalendar_component["SUMMARY"]) == "Daily standup"

    # A conflicting edit (a copy read before our save) is refused by its ETag.
    refused = httpx.put(
        str(mine.url),
        content=WEEKLY.replace("Standup", "Overwritten"),
        headers={"If-Match": stale_etag, "Content-Type": "text/calendar"},
        auth=(server.user, server.password),
    )
    assert refused.status_code == 412
    assert str(calendar.event_by_uid("weekly-1").icalendar_component["SUMMARY"]) == "Daily standup"

    lunch.delete()
    # Since the last token: our edit of the standup, and the lunch deleted.
    later = calendar.objects_by_sync_token(sync_token=changed.sync_token, load_objects=False)
    names = sorted(str(o.url).rsplit("/", 1)[-1] for o in later)
    assert names == sorted([str(mine.url).rsplit("/", 1)[-1], str(lunch.url).rsplit("/", 1)[-1]])
    assert len(calendar.objects_by_sync_token(sync_token=later.sync_token, load_objects=False)) == 0


def _etag(server: DavServer, url: str) -> str:
    got = httpx.get(url, auth=(server.user, server.password))
    assert got.status_code == 200
    return got.headers["etag"]


def test_scenario_against_radicale(tmp_path: Path) -> None:
    with radicale_dav(tmp_path) as server:
        scenario(server)


async def test_scenario_against_roost(tmp_path: Path) -> None:
    async with roost_dav(tmp_path) as server:
        await asyncio.to_thread(scenario, server)
