"""Calendar and Tasks in a real browser against a running Roost: a weekly event
made from the week grid, seen in the month, one occurrence moved ("this
occurrence"), and the override read back by a CalDAV client (the `caldav`
library); a task added and ticked done."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import caldav

from roost.control.directory import Actor
from roost.control.user_settings import UserSettings
from tests.browser_support import Harness, expect
from tests.webmail_support import PASSWORD, USER

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = "/mail/calendar?view=week&date=2026-03-23"


def events_over_caldav(harness: Harness) -> list[Any]:
    client = caldav.DAVClient(
        url=f"{harness.base}/.well-known/caldav", username=USER, password=PASSWORD
    )
    try:
        calendar = client.principal().calendar(cal_id="calendar")
        return [c for e in calendar.events() for c in e.icalendar_instance.walk("VEVENT")]
    finally:
        client.close()


async def test_calendar_and_tasks(roost: Harness, page: Any) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)
    await UserSettings(roost.roost.store, roost.roost.config.vacation).update_profile(
        USER, display_name="Ann", signature="", reply_to="", time_zone="Europe/Berlin"
    )
    await page.goto(roost.base + WEEK)
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await page.wait_for_url("**" + WEEK)

    # A weekly event, made from the week grid's 09:00 slot on Monday 23 March.
    await page.click('a[aria-label="New event on 2026-03-23 at 09:00"]')
    await expect(page.locator("#start_time")).to_have_value("09:00")
    await page.fill("#title", "Standup")
    await page.fill("#end_time", "09:30")
    await page.fill("#location", "Room 1")
    await page.select_option("#repeat", "weekly")
    await page.fill("#count", "4")
    await page.click("#save-event")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    monday = page.locator('.cal-day[data-day="2026-03-23"] a.ev.timed')
    await expect(monday).to_contain_text("09:00–09:30")
    await expect(monday).to_contain_text("Standup")

    # The month shows it on both Mondays of March left (the clocks change between).
    await page.click('.cal-views a:text("Month")')
    await expect(page.locator("table.cal-month a.ev")).to_have_count(2)
    await page.click('td[data-day="2026-03-30"] a.ev')
    await expect(page.locator("#event-when")).to_have_text("Monday 30 March 2026, 09:00–09:30")

    # Move that one occurrence to 11:00.
    await page.click("#edit-this")
    await page.fill("#start_time", "11:00")
    await page.fill("#end_time", "12:00")
    await page.click("#save-event")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    moved = page.locator('.cal-day[data-day="2026-03-30"] a.ev.timed')
    await expect(moved).to_contain_text("11:00–12:00")

    # A CalDAV client sees the series and the override, and the VTIMEZONE is ours.
    components = await asyncio.to_thread(events_over_caldav, roost)
    (master,) = [c for c in components if "RECURRENCE-ID" not in c]
    (override,) = [c for c in components if "RECURRENCE-ID" in c]
    assert str(master["SUMMARY"]) == "Standup" and master["RRULE"]["COUNT"] == [4]
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 30, 9, tzinfo=BERLIN)
    assert override["DTSTART"].dt == datetime(2026, 3, 30, 11, tzinfo=BERLIN)

    # A task, added and ticked done.
    await page.click('a.button:text("Tasks")')
    await page.click("#new-task")
    await page.fill("#title", "Book the room")
    await page.fill("#due_date", "2026-03-27")
    await page.select_option("#priority", "high")
    await page.click("#save-task")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    row = page.locator("tr", has_text="Book the room")
    await expect(row.locator("td.prio-high")).to_have_text("High")
    await row.locator("button.tick").click()
    await expect(page.locator("p.notice")).to_have_text("Done.")
    await expect(page.locator("p.empty")).to_have_text("Nothing left to do.")
    await page.click("#show-done")
    await expect(page.locator("tr.done .task-title")).to_have_text("Book the room")
