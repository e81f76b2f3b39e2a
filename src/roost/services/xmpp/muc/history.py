"""Discussion history sent on entering a room (XEP-0045 §7.2.15).

The room keeps its last messages (the room's ``historylength``); an
entering occupant may ask for less with ``<history maxstanzas maxchars
seconds since/>`` (§7.2.15): each given limit applies, and the newest
messages are the ones kept. ``maxchars`` counts the characters of each
message as the room would send it (XML of the stanza without the
delay). Each message goes with a ``<delay/>`` (XEP-0203) from the room.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from roost.proto.xmpp import Element, serialize

MUC = "http://jabber.org/protocol/muc"
DELAY = "urn:xmpp:delay"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    stanza: Element
    """The groupchat message as the room broadcast it, without ``to``."""


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    maxstanzas: int | None = None
    maxchars: int | None = None
    seconds: int | None = None
    since: datetime | None = None


def parse_request(join: Element | None) -> HistoryRequest:
    """The ``<history/>`` of a join's ``<x xmlns=muc/>``; values that are
    not numbers or dates are ignored (as Prosody and ejabberd do)."""
    history = None if join is None else join.find("history", MUC)
    if history is None:
        return HistoryRequest()
    since = None
    text = history.get("since")
    if text:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        since = parsed if parsed is not None and parsed.tzinfo is not None else None
    return HistoryRequest(
        maxstanzas=_count(history.get("maxstanzas")),
        maxchars=_count(history.get("maxchars")),
        seconds=_count(history.get("seconds")),
        since=since,
    )


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


class History:
    """The last ``length`` messages of a room."""

    def __init__(self, length: int, entries: Iterable[HistoryEntry] = ()) -> None:
        self._entries: deque[HistoryEntry] = deque(entries, maxlen=max(length, 0) or 1)
        self._length = length
        if length == 0:
            self._entries.clear()

    @property
    def length(self) -> int:
        return self._length

    def resize(self, length: int) -> None:
        kept = list(self._entries)[-length:] if length else []
        self._entries = deque(kept, maxlen=max(length, 0) or 1)
        self._length = length

    def add(self, entry: HistoryEntry) -> None:
        if self._length:
            self._entries.append(entry)

    def __iter__(self) -> Iterator[HistoryEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, request: HistoryRequest, now: datetime) -> list[HistoryEntry]:
        """The newest entries that satisfy every limit of ``request``."""
        chosen: list[HistoryEntry] = []
        chars = 0
        oldest = None if request.seconds is None else now - timedelta(seconds=request.seconds)
        for entry in reversed(self._entries):
            if request.maxstanzas is not None and len(chosen) >= request.maxstanzas:
                break
            if oldest is not None and entry.at < oldest:
                break
            if request.since is not None and entry.at <= request.since:
                break
            if request.maxchars is not None:
                chars += len(serialize(entry.stanza))
                if chars > request.maxchars:
                    break
            chosen.append(entry)
        chosen.reverse()
        return chosen


def delayed(entry: HistoryEntry, room: str, to: str) -> Element:
    """The entry as sent to an entering occupant (§7.2.15, XEP-0203)."""
    stamp = entry.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    delay = Element.of("delay", DELAY, {"from": room, "stamp": stamp})
    message = entry.stanza.with_attribute("to", to)
    return message.with_children([*message.children, delay])
