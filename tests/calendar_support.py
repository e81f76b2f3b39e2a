"""What the calendar tests share: one weekly stand-up as the webmail's event
form posts it, the zone it is planned in, and the moment their clocks show."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
"""The Friday before the stand-up's first day."""
STANDUP = {
    "title": "Standup",
    "start_date": "2026-03-23",
    "start_time": "09:00",
    "end_date": "2026-03-23",
    "end_time": "09:30",
    "location": "Room 1",
    "description": "",
    "calendar": "calendar",
    "repeat": "weekly",
    "count": "",
    "until": "",
    "attendees": "",
}
"""Every Monday at 09:00 in Berlin from 23 March 2026, the week summer time
begins there (on the 29th): the event form's fields, with no limit and no one
invited."""
