"""JSON shape of a service's status."""

from __future__ import annotations

from roost.control.views import when
from roost.store.settings import JsonValue
from roost.supervisor.supervisor import UnitStatus


def unit(status: UnitStatus) -> dict[str, JsonValue]:
    probe = status.last_probe
    return {
        "name": status.name,
        "title": status.title,
        "node": status.node,
        "state": status.state.value,
        "desired": status.desired.value,
        "since": when(status.since),
        "reason": status.reason,
        "next_retry_at": when(status.next_retry_at),
        "failures": status.failures,
        "restarts": status.restarts,
        "listeners": list(status.service.listeners),
        "sessions": status.service.sessions,
        "counters": dict(status.service.counters),
        "detail": status.service.detail,
        "last_error": status.last_error,
        "last_error_at": when(status.last_error_at),
        "last_probe": None
        if probe is None
        else {
            "ok": probe.ok,
            "detail": probe.detail,
            "latency_ms": round(probe.latency_s * 1000, 3),
            "at": when(probe.at),
        },
    }
