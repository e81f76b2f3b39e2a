"""Prometheus metrics, read from the supervisor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from roost.supervisor.service import ServiceState
from roost.supervisor.supervisor import Supervisor


class _SupervisorCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "roost_service_state", "1 for the state each service is in", labels=["service", "state"]
        )
        up = GaugeMetricFamily(
            "roost_service_up", "1 when the service is running", labels=["service"]
        )
        sessions = GaugeMetricFamily(
            "roost_service_sessions", "Active sessions", labels=["service"]
        )
        restarts = GaugeMetricFamily(
            "roost_service_restarts", "Restarts by the supervisor since start", labels=["service"]
        )
        probe = GaugeMetricFamily(
            "roost_service_probe_seconds", "Latency of the last health probe", labels=["service"]
        )
        counters = GaugeMetricFamily(
            "roost_service_counter", "Counters each service reports", labels=["service", "counter"]
        )
        for status in self._supervisor.statuses():
            for candidate in ServiceState:
                state.add_metric([status.name, candidate.value], float(status.state is candidate))
            up.add_metric([status.name], float(status.state is ServiceState.RUNNING))
            sessions.add_metric([status.name], status.service.sessions)
            restarts.add_metric([status.name], status.restarts)
            if status.last_probe is not None:
                probe.add_metric([status.name], status.last_probe.latency_s)
            for name, value in status.service.counters:
                counters.add_metric([status.name, name], value)
        yield from (state, up, sessions, restarts, probe, counters)


def render_metrics(supervisor: Supervisor) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(_SupervisorCollector(supervisor))
    return generate_latest(registry), CONTENT_TYPE_LATEST
