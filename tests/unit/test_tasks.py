"""control/tasks: the list in order, done and not done, and repeating tasks that
move on to their next occurrence when ticked (COUNT counting down, EXDATEs
skipped, the last one done for good), stale forms refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from roost.control import calendar_forms as forms
from roost.control import calendar_ical as ical
from roost.control.calendar_forms import CalendarConflict, CalendarRefused
from roost.control.calendar_view import Calendars, stored_object
from roost.control.groupware import Groupware
from roost.control.tasks import Tasks, advance, due_text, next_occurrence
from roost.core.clock import ManualClock
from roost.core.config import DavSettings
from roost.store.store import Store
from tests.contract.test_groupware_store import make_account

USER = "ann@example.org"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
BASE = {"due_date": "", "due_time": "", "priority": "normal", "list": "tasks", "repeat": "none"}


@pytest.fixture
async def tasks(sqlite_store: Store, clock: ManualClock) -> Tasks:
    await make_account(sqlite_store, USER)
    clock.advance((NOW - clock.now()).total_seconds())
    calendars = Calendars(
        sqlite_store, Groupware(sqlite_store, DavSettings()), clock, max_shown=2000
    )
    return Tasks(calendars, sqlite_store, clock, max_listed=100)


async def add(tasks: Tasks, title: str, **fields: str) -> tuple[str, str]:
    form = forms.parse_task_form({**BASE, "title": title, **fields}, BERLIN)
    saved = await tasks.create(USER, form, BERLIN)
    return saved.item.uid, saved.item.etag


async def todo_of(store: Store, uid: str) -> icalendar.Component:
    found = await stored_object(store, USER, "tasks", uid)
    assert found is not None
    master = found.master()
    assert master is not None
    return master


def repeating(rule: str, *extra: str) -> icalendar.Component:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:t\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260320\r\n"
        f"DUE;VALUE=DATE:20260321\r\nRRULE:{rule}\r\n"
        + "".join(line + "\r\n" for line in extra)
        + "END:VTODO\r\nEND:VCALENDAR\r\n"
    )
    todo = ical.master_of(icalendar.Calendar.from_ical(text), "VTODO")
    assert todo is not None
    return todo


async def test_the_list_is_in_order_and_ticks_done_and_back(
    tasks: Tasks, sqlite_store: Store
) -> None:
    await add(tasks, "Later", due_date="2026-04-01", priority="low")
    soon, etag = await add(tasks, "Sooner", due_date="2026-03-19", priority="high")
    await add(tasks, "Same day, a time", due_date="2026-04-01", due_time="09:00")
    await add(tasks, "Whenever")
    listed = await tasks.tasks(USER, BERLIN, show_done=False)
    assert [t.title for t in listed.tasks] == ["Sooner", "Same day, a time", "Later", "Whenever"]
    assert [t.overdue for t in listed.tasks] == [True, False, False, False]

    marked = await tasks.mark(USER, "tasks", soon, etag, done=True)
    assert marked.next_due is None
    todo = await todo_of(sqlite_store, soon)
    assert str(todo["STATUS"]) == "COMPLETED" and todo["COMPLETED"].dt == NOW
    listed = await tasks.tasks(USER, BERLIN, show_done=False)
    assert "Sooner" not in [t.title for t in listed.tasks] and listed.done_count == 1
    shown = await tasks.tasks(USER, BERLIN, show_done=True)
    assert shown.tasks[-1].title == "Sooner" and shown.tasks[-1].done
    assert not shown.tasks[-1].overdue  # a done task is not late

    with pytest.raises(CalendarConflict):
        await tasks.mark(USER, "tasks", soon, etag, done=False)  # the ETag before the tick
    await tasks.mark(USER, "tasks", soon, marked.saved.item.etag, done=False)
    todo = await todo_of(sqlite_store, soon)
    assert str(todo["STATUS"]) == "NEEDS-ACTION" and "COMPLETED" not in todo


async def test_a_repeating_task_moves_on_and_its_last_one_is_done(
    tasks: Tasks, sqlite_store: Store
) -> None:
    uid, etag = await add(
        tasks, "Water plants", due_date="2026-03-27", due_time="18:00", repeat="weekly", count="3"
    )
    dues = []
    for _ in range(2):
        marked = await tasks.mark(USER, "tasks", uid, etag, done=True)
        etag = marked.saved.item.etag
        dues.append(marked.next_due)
        todo = await todo_of(sqlite_store, uid)
        assert not ical.is_done(todo)
    # 18:00 on the wall clock, before and after the change to summer time.
    assert dues == [
        datetime(2026, 4, 3, 18, tzinfo=BERLIN),
        datetime(2026, 4, 10, 18, tzinfo=BERLIN),
    ]
    assert todo["RRULE"]["COUNT"] == [1]
    last = await tasks.mark(USER, "tasks", uid, etag, done=True)
    assert last.next_due is None
    todo = await todo_of(sqlite_store, uid)
    assert ical.is_done(todo) and todo["DUE"].dt == datetime(2026, 4, 10, 18, tzinfo=BERLIN)
    assert int(todo["SEQUENCE"]) == 3  # each move is a new due date


def test_advancing_skips_exdates_and_counts_them() -> None:
    todo = repeating("FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20260321,20260322")
    assert next_occurrence(todo) == (date(2026, 3, 23), 3)
    assert advance(todo, NOW) == date(2026, 3, 24)  # DUE keeps its day after DTSTART
    assert todo["DTSTART"].dt == date(2026, 3, 23) and todo["RRULE"]["COUNT"] == [2]


def test_a_rule_that_has_ended_leaves_nothing_to_move_to() -> None:
    assert next_occurrence(repeating("FREQ=WEEKLY;UNTIL=20260326")) is None
    assert next_occurrence(repeating("FREQ=WEEKLY;COUNT=1")) is None
    assert next_occurrence(repeating("FREQ=MONTHLY")) == (date(2026, 4, 20), 1)


async def test_a_tick_keeps_what_another_client_wrote(tasks: Tasks, sqlite_store: Store) -> None:
    uid, etag = await add(tasks, "Report", due_date="2026-03-25")
    found = await stored_object(sqlite_store, USER, "tasks", uid)
    assert found is not None
    text = found.item.data.replace(
        "END:VTODO",
        "X-APPLE-SORT-ORDER:42\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\n"
        "DESCRIPTION:Report\r\nEND:VALARM\r\nEND:VTODO",
    )
    written = await Groupware(sqlite_store, DavSettings()).put(
        found.collection, found.item.name, text, if_match=f'"{etag}"', if_none_match=None
    )
    marked = await tasks.mark(USER, "tasks", uid, written.item.etag, done=True)
    assert "X-APPLE-SORT-ORDER:42" in marked.saved.item.data
    assert "TRIGGER:-PT1H" in marked.saved.item.data


async def test_tasks_refuse_what_is_not_there(tasks: Tasks) -> None:
    form = forms.parse_task_form({**BASE, "title": "X", "list": "shopping"}, BERLIN)
    with pytest.raises(CalendarRefused, match="no task list 'shopping'"):
        await tasks.create(USER, form, BERLIN)
    with pytest.raises(CalendarRefused, match="no such task"):
        await tasks.mark(USER, "tasks", "nope", "x", done=True)


def test_due_dates_read_as_words() -> None:
    today = date(2026, 3, 20)
    assert due_text(date(2026, 3, 20), today) == "Today"
    assert due_text(datetime(2026, 3, 21, 9, tzinfo=BERLIN), today) == "Tomorrow 09:00"
    assert due_text(date(2026, 4, 1), today) == "Wed 01 Apr 2026"
    assert due_text(None, today) == ""
