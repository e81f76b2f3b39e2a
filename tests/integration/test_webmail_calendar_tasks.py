"""The webmail's calendar and tasks in-process: create, see in each view, change
one occurrence and all of them, delete, a concurrent CalDAV edit refused by its
ETag, and tasks ticked done (a repeating one moves on)."""

from __future__ import annotations

import re
from pathlib import Path

import icalendar

from roost.control.calendar_view import stored_object
from roost.control.groupware import Groupware
from roost.core.config import DavSettings
from tests.calendar_support import NOW, STANDUP
from tests.webmail_support import USER, page_csrf, sign_in, webmail

EVENT = {**STANDUP, "count": "4", "attendees": "bob@example.net"}


def _event_links(html: str) -> list[str]:
    return [
        m.replace("&amp;", "&") for m in re.findall(r'href="(/mail/calendar/event\?[^"]+)"', html)
    ]


async def test_events_are_made_shown_changed_and_deleted(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        mail.clock.advance((NOW - mail.clock.now()).total_seconds())
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/settings")
        settings = {"csrf": csrf, "display_name": "Ann", "signature": "", "reply_to": ""}
        await mail.client.post("/mail/settings", data={**settings, "time_zone": "Europe/Berlin"})

        refused = await mail.client.post(
            "/mail/calendar/new", data={**EVENT, "csrf": csrf, "end_time": "08:00"}
        )
        assert refused.status_code == 400 and "ends before it starts" in refused.text
        for query in ("date=2026-02-30", "date=0001-01-01", "view=year"):
            bad = await mail.client.get(f"/mail/calendar?{query}")
            assert bad.status_code == 400 and ("not a" in bad.text or "out of range" in bad.text)
        bad = await mail.client.get("/mail/calendar/new?date=2026-03-23&time=7pm")
        assert bad.status_code == 400 and "not a time of day" in bad.text
        made = await mail.client.post("/mail/calendar/new", data={**EVENT, "csrf": csrf})
        assert made.status_code == 303, made.text

        # The week of 30 March crosses into summer time: still 09:00 on the wall.
        week = await mail.client.get("/mail/calendar?view=week&date=2026-03-30")
        assert week.status_code == 200
        assert "09:00–09:30" in week.text and "r37 h2" in week.text
        month = await mail.client.get("/mail/calendar?view=month&date=2026-03-01")
        assert month.text.count("Standup</a>") == 2  # 23 and 30 March (the page ends 5 April)
        april = await mail.client.get("/mail/calendar?view=month&date=2026-04-01")
        links = _event_links(april.text)
        assert len(links) == 3  # 30 Mar, 6 and 13 Apr (COUNT=4); 23 Mar is not on this page
        colours = await mail.client.get("/mail/calendar/colours.css")
        assert ".cal-0 { --cal: #" in colours.text

        occurrence = next(link for link in links if "20260406" in link)
        shown = await mail.client.get(occurrence)
        assert "Monday 06 April 2026, 09:00–09:30" in shown.text
        assert "bob@example.net" in shown.text and "has not answered" in shown.text
        ask = await mail.client.get(occurrence.replace("/event?", "/edit?"))
        assert "This occurrence" in ask.text
        form = await mail.client.get(occurrence.replace("/event?", "/edit?") + "&scope=this")
        etag = re.search(r'name="etag" value="([^"]+)"', form.text)
        rid = re.search(r'name="rid" value="([^"]+)"', form.text)
        assert etag and rid and rid[1] == "20260406T070000Z"
        moved = await mail.client.post(
            "/mail/calendar/edit",
            data={**EVENT, "csrf": csrf, "cal": "calendar", "uid": _uid(occurrence),
                  "etag": etag[1], "rid": rid[1], "start_date": "2026-04-07",
                  "end_date": "2026-04-07", "start_time": "11:00", "end_time": "12:00",
                  "repeat": "none"},
        )  # fmt: skip
        assert moved.status_code == 303, moved.text
        stored = await stored_object(mail.store, USER, "calendar", _uid(occurrence))
        assert stored is not None
        overrides = [c for c in stored.calendar.walk("VEVENT") if "RECURRENCE-ID" in c]
        assert len(overrides) == 1 and str(overrides[0]["SEQUENCE"]) == "1"

        # A stale form (the ETag before that change) is refused, nothing lost.
        stale = await mail.client.post(
            "/mail/calendar/edit",
            data={**EVENT, "csrf": csrf, "cal": "calendar", "uid": _uid(occurrence),
                  "etag": etag[1], "title": "Overwritten"},
        )  # fmt: skip
        assert stale.status_code == 409 and "changed elsewhere" in stale.text

        # A CalDAV client changes it meanwhile: the webmail's form is now stale too.
        page = await mail.client.get(occurrence.replace("/event?", "/edit?") + "&scope=all")
        etag = re.search(r'name="etag" value="([^"]+)"', page.text)
        assert etag
        text = stored.item.data.replace("SUMMARY:Standup", "SUMMARY:Standup (by phone)")
        gw = Groupware(mail.store, DavSettings())
        await gw.put(stored.collection, stored.item.name, text, if_match=None, if_none_match=None)
        clash = await mail.client.post(
            "/mail/calendar/edit",
            data={**EVENT, "csrf": csrf, "cal": "calendar", "uid": _uid(occurrence),
                  "etag": etag[1], "title": "Standup 2"},
        )  # fmt: skip
        assert clash.status_code == 409

        # Delete one occurrence: an EXDATE in the master.
        shown = await mail.client.get(occurrence.replace("20260406", "20260413"))
        etag = re.search(r'name="etag" value="([^"]+)"', shown.text)
        assert etag
        gone = await mail.client.post(
            "/mail/calendar/delete",
            data={"csrf": csrf, "cal": "calendar", "uid": _uid(occurrence), "etag": etag[1],
                  "rid": "20260413T070000Z", "scope": "this", "back": "/mail/calendar"},
        )  # fmt: skip
        assert gone.status_code == 303
        stored = await stored_object(mail.store, USER, "calendar", _uid(occurrence))
        assert (
            stored is not None and "EXDATE;TZID=Europe/Berlin:20260413T090000" in stored.item.data
        )
        april = await mail.client.get("/mail/calendar?view=month&date=2026-04-01")
        assert len(_event_links(april.text)) == 2


def _uid(link: str) -> str:
    found = re.search(r"uid=([^&]+)", link)
    assert found
    return found[1]


async def test_tasks_are_listed_ticked_and_repeat(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        mail.clock.advance((NOW - mail.clock.now()).total_seconds())
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/tasks")
        base = {"csrf": csrf, "due_time": "", "description": "", "list": "tasks",
                "repeat": "none", "count": "", "until": "", "priority": "normal"}  # fmt: skip
        for title, due, priority in (
            ("Later", "2026-04-01", "low"),
            ("Sooner", "2026-03-19", "high"),
            ("Whenever", "", "normal"),
        ):
            made = await mail.client.post(
                "/mail/tasks/new",
                data={**base, "title": title, "due_date": due, "priority": priority},
            )
            assert made.status_code == 303, made.text
        bad = await mail.client.post(
            "/mail/tasks/new", data={**base, "title": "X", "repeat": "weekly", "due_date": ""}
        )
        assert bad.status_code == 400 and "needs a due date" in bad.text
        page = await mail.client.get("/mail/tasks")
        order = re.findall(r'class="task-title"[^>]*>([^<]+)<', page.text)
        assert order == ["Sooner", "Later", "Whenever"]
        assert 'class="overdue"' in page.text

        def form_of(html: str, title: str) -> dict[str, str]:
            row = html[html.index(f">{title}<") - 2500 : html.index(f">{title}<")]
            fields = dict(re.findall(r'name="(list|uid|etag)" value="([^"]*)"', row))
            return {**fields, "csrf": csrf}

        ticked = await mail.client.post(
            "/mail/tasks/done", data={**form_of(page.text, "Sooner"), "done": "yes"}
        )
        assert ticked.status_code == 303
        page = await mail.client.get("/mail/tasks")
        assert ">Sooner<" not in page.text and "Show done tasks (1)" in page.text
        done = await mail.client.get("/mail/tasks?done=show")
        uid = form_of(done.text, "Sooner")["uid"]
        stored = await stored_object(mail.store, USER, "tasks", uid)
        assert stored is not None
        todo = stored.master()
        assert todo is not None and str(todo["STATUS"]) == "COMPLETED" and "COMPLETED" in todo
        assert str(todo["PRIORITY"]) == "1"
        undone = await mail.client.post(
            "/mail/tasks/done", data={**form_of(done.text, "Sooner"), "done": ""}
        )
        assert undone.status_code == 303
        stored = await stored_object(mail.store, USER, "tasks", uid)
        assert stored is not None and "COMPLETED" not in (stored.master() or icalendar.Todo())

        weekly = await mail.client.post(
            "/mail/tasks/new",
            data={**base, "title": "Water plants", "due_date": "2026-03-20", "repeat": "weekly"},
        )
        assert weekly.status_code == 303
        page = await mail.client.get("/mail/tasks")
        moved = await mail.client.post(
            "/mail/tasks/done", data={**form_of(page.text, "Water plants"), "done": "yes"}
        )
        assert "next=2026-03-27" in moved.headers["location"]
        page = await mail.client.get("/mail/tasks")
        assert ">Water plants<" in page.text  # still open, due a week later
