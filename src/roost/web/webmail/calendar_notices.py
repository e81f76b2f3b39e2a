"""What the calendar pages say after a save or a delete sent mail.

A save redirects (POST, then GET), so what went out travels in the query:
`invited` and `cancelled` (the addresses, at most `NAMED_IN_NOTICE` of each,
and with `invited_n` / `cancelled_n` their full count) and `unsent` (the kind
of refusal, one of `roost.control.itip_messages.REFUSALS`). The page says
it in fixed words: an address that is not one is left out, and a kind it
does not know reads as the general one, so a crafted link can make the page
say nothing but these sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from roost.control.calendar_invites import Mailed
from roost.control.compose_mime import valid_address

__all__ = ["NAMED_IN_NOTICE", "Notice", "mailed_query", "notices"]

NAMED_IN_NOTICE = 10
"""Addresses named in a notice; the rest are counted ("and 3 more")."""
MAX_COUNT = 100_000
UNSENT = {
    "rate": "you have sent as many messages this hour as you may",
    "size": "the invitation is larger than a message may be",
    "recipients": "the event names more people than one message may reach",
    "sender": "the event's organiser is not one of your addresses",
    "invalid": "the event could not be written as an invitation",
}
AGAIN = " Open the event and choose “Send the invitations again” when you may send again."


@dataclass(frozen=True, slots=True)
class Notice:
    text: str
    error: bool = False


def mailed_query(mailed: Mailed) -> dict[str, str]:
    """The query a redirect carries to say what `mailed` sent."""
    query: dict[str, str] = {}
    for name, people in (("invited", mailed.invited), ("cancelled", mailed.cancelled)):
        if people:
            query[name] = ",".join(people[:NAMED_IN_NOTICE])
            query[f"{name}_n"] = str(len(people))
    if mailed.refused:
        query["unsent"] = mailed.refused
    return query


def _people(query: Mapping[str, str], name: str) -> str:
    named = [a for a in query.get(name, "").split(",")[:NAMED_IN_NOTICE] if valid_address(a)]
    if not named:
        return ""
    count_text = query.get(f"{name}_n", "")
    count = int(count_text) if count_text.isdigit() and len(count_text) < 7 else len(named)
    more = min(count, MAX_COUNT) - len(named)
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


def notices(query: Mapping[str, str], done: str) -> list[Notice]:
    """What to say about the mail a save (`done` "saved") or a delete sent."""
    found: list[Notice] = []
    invited = _people(query, "invited")
    if invited:
        found.append(Notice(f"Invitations sent to {invited}."))
    cancelled = _people(query, "cancelled")
    if cancelled:
        found.append(Notice(f"Cancellations sent to {cancelled}."))
    unsent = query.get("unsent", "")
    if unsent:
        why = UNSENT.get(unsent, UNSENT["invalid"])
        if done == "deleted":
            text = f"The event is deleted, but its attendees were not told: {why}."
        else:
            text = f"The event is saved, but the invitations were not sent: {why}." + AGAIN
        found.append(Notice(text, error=True))
    return found
