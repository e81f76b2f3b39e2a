"""What the Services page says about each service: one row's words, and what an action does.

A `ServiceRow` is built from the supervisor's `UnitStatus` and holds text
ready to show, so the page and its live updates (the same rows as JSON, put
into the page by `admin.js` with `textContent`) say exactly the same thing.
`effect` is the sentence a confirmation names before anything happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from roost.core.config import Config
from roost.store.settings import JsonValue
from roost.supervisor.service import ServiceState
from roost.supervisor.supervisor import UnitStatus

ACTIONS = ("start", "stop", "restart")

DESCRIPTIONS = {
    "smtp": "Receives mail: inbound from other servers (MX), and submission by users with AUTH.",
    "spool": "Queues every message and delivers it: local mailboxes, other servers, retries.",
    "imap": "Mailbox access for mail clients over IMAP4rev2 and IMAP4rev1.",
    "pop": "Mailbox download for mail clients over POP3.",
    "imap-retrieval": "Fetches users' mail from their accounts on other IMAP servers.",
    "pop-retrieval": "Fetches users' mail from their accounts on other POP3 servers.",
    "indexing": "Full-text index of messages, contacts and calendars for search.",
    "xmpp": "Chat: XMPP clients and the web chat.",
}

_WHEN_STOPPED = {
    "smtp": "inbound mail and submission refused",
    "spool": "nothing is delivered; new mail waits in the queue",
    "imap": "mailbox access over IMAP refused",
    "pop": "mailbox download over POP3 refused",
    "imap-retrieval": "no mail is fetched from other IMAP servers",
    "pop-retrieval": "no mail is fetched from other POP3 servers",
    "indexing": "search falls back to scanning, and says so",
    "xmpp": "chat is unavailable",
}

_WHEN_STARTED = {
    "smtp": "accepts inbound mail and submission again",
    "spool": "delivers the queue again",
    "imap": "serves mailboxes over IMAP again",
    "pop": "serves mailboxes over POP3 again",
    "imap-retrieval": "fetches from other IMAP servers again",
    "pop-retrieval": "fetches from other POP3 servers again",
    "indexing": "indexes new mail again",
    "xmpp": "serves chat again",
}

_WORK = {
    "spool": ("delivery in progress", "deliveries in progress"),
    "imap-retrieval": ("fetch in progress", "fetches in progress"),
    "pop-retrieval": ("fetch in progress", "fetches in progress"),
    "indexing": ("job", "jobs"),
}

_SECURITY = {
    "smtp": ("STARTTLS", "STARTTLS", "TLS"),
    "imap": ("STARTTLS", "TLS"),
    "pop": ("STLS", "TLS"),
}

STATE_SYMBOLS = {
    ServiceState.RUNNING: "●",
    ServiceState.STOPPED: "■",
    ServiceState.STARTING: "▲",
    ServiceState.STOPPING: "▼",
    ServiceState.FAILED: "✖",
}


@dataclass(frozen=True, slots=True)
class ServiceRow:
    name: str
    title: str
    description: str
    state: str
    symbol: str
    desired: str
    off_desired: bool
    """Not in the state the admin chose (and not on its way there)."""
    state_note: str
    since: str
    uptime: str
    listeners: tuple[str, ...]
    sessions: int
    handled: str
    probe: str
    probe_state: str
    """`ok`, `fail` or `none`, for the probe cell's look."""
    restarts: int
    last_error: str
    effects: dict[str, str]

    def json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "title": self.title,
            "state": self.state,
            "symbol": self.symbol,
            "desired": self.desired,
            "off_desired": self.off_desired,
            "state_note": self.state_note,
            "since": self.since,
            "uptime": self.uptime,
            "listeners": list[JsonValue](self.listeners),
            "sessions": self.sessions,
            "handled": self.handled,
            "probe": self.probe,
            "probe_state": self.probe_state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "effects": dict[str, JsonValue](self.effects),
        }


def clock_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def off_desired(status: UnitStatus) -> bool:
    """True when the admin should know: not in the chosen state nor moving towards it."""
    if status.state is status.desired:
        return False
    moving = {
        ServiceState.RUNNING: ServiceState.STARTING,
        ServiceState.STOPPED: ServiceState.STOPPING,
    }
    return status.state is not moving.get(status.desired)


def listeners(status: UnitStatus) -> tuple[str, ...]:
    """Each bound address with the security it offers, when the service says which."""
    found = status.service.listeners
    kinds = _SECURITY.get(status.name)
    if kinds is None:
        return tuple(found)
    return tuple(_annotate(found, kinds))


def _annotate(found: tuple[str, ...], kinds: tuple[str, ...]) -> list[str]:
    # One bound address per configured listener in the services' own order
    # (the development and production defaults); otherwise addresses alone.
    if len(found) != len(kinds):
        return list(found)
    return [f"{address} ({kind})" for address, kind in zip(found, kinds, strict=True)]


def _count(n: int, words: tuple[str, str]) -> str:
    return f"{n} {words[0] if n == 1 else words[1]}"


def effects(status: UnitStatus, config: Config) -> dict[str, str]:
    """The sentence a confirmation shows for each action on this service."""
    title, name = status.title, status.name
    grace = config.supervisor.stop_grace_s
    work = _count(status.service.sessions, _WORK.get(name, ("session", "sessions")))
    stopped = _WHEN_STOPPED.get(name, "its work stops")
    started = _WHEN_STARTED.get(name, "it runs again")
    ending = f"{work} closed after up to {grace:g} s"
    result = {
        "start": f"{title}: {started}",
        "stop": f"{title}: {stopped}; {ending}",
        "restart": f"{title}: {ending}, then it starts again ({stopped} meanwhile)",
    }
    if status.state is ServiceState.RUNNING:
        result["start"] = f"{title}: already running; nothing changes"
    elif status.state is ServiceState.STOPPED:
        result["stop"] = f"{title}: already stopped; nothing changes"
        result["restart"] = f"{title}: {started}"
    return result


def row(status: UnitStatus, config: Config, now: datetime) -> ServiceRow:
    state = status.state
    note = ""
    if state is ServiceState.FAILED:
        note = status.reason
        if status.next_retry_at is not None:
            note += (
                f" Next try at {clock_time(status.next_retry_at)} (attempt {status.failures + 1})."
            )
    elif state is not status.desired:
        note = f"wanted: {status.desired.value}"
    probe = status.last_probe
    if probe is None:
        probe_text, probe_state = "not probed yet", "none"
    else:
        verdict = "ok" if probe.ok else "FAILED"
        detail = f": {probe.detail}" if probe.detail and not probe.ok else ""
        probe_text = f"{verdict} in {probe.latency_s * 1000:.1f} ms at {probe.at:%H:%M:%S}{detail}"
        probe_state = "ok" if probe.ok else "fail"
    handled = ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in status.service.counters
    )
    last_error = ""
    if status.last_error:
        last_error = f"{status.last_error} ({clock_time(status.last_error_at)})"
    return ServiceRow(
        name=status.name,
        title=status.title,
        description=DESCRIPTIONS.get(status.name, status.service.detail),
        state=state.value,
        symbol=STATE_SYMBOLS[state],
        desired=status.desired.value,
        off_desired=off_desired(status),
        state_note=note,
        since=clock_time(status.since),
        uptime=duration((now - status.since).total_seconds())
        if state is ServiceState.RUNNING
        else "",
        listeners=listeners(status),
        sessions=status.service.sessions,
        handled=handled or "none yet",
        probe=probe_text,
        probe_state=probe_state,
        restarts=status.restarts,
        last_error=last_error,
        effects=effects(status, config),
    )


def banner(statuses: list[UnitStatus]) -> list[str]:
    """One line per service that is not in the state the admin chose."""
    lines = []
    for s in statuses:
        if off_desired(s):
            why = f": {s.reason}" if s.reason else ""
            lines.append(f"{s.title} is {s.state.value} (wanted {s.desired.value}){why}")
    return lines
