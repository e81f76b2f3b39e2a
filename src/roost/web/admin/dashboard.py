"""The dashboard (`/admin`): traffic, the spool, sessions, the host, warnings, a plot.

`/admin` renders the page; `/admin/dashboard/data` gives the same figures as
JSON, which the page's script asks for every `[admin] dashboard_refresh_s`
and puts into the page with `textContent` (and the plot's points). Every
figure is text ready to show, built once here for both.

The plot of messages per minute over the last hour is an SVG drawn here
(no script, no third-party library): one polyline per kind, scaled to the
busiest minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.admin_warnings import AdminWarning, WarningSource, collect
from roost.control.host_stats import HostSample, HostStats, human_bytes
from roost.control.mailstats import HOUR_MINUTES
from roost.store.settings import JsonValue
from roost.store.types import QueueState
from roost.web.admin import service_info
from roost.web.admin.console import AdminRequest, Console

SESSION_SERVICES = (("smtp", "SMTP"), ("imap", "IMAP"), ("pop", "POP"), ("xmpp", "XMPP"))
PLOT_KINDS = ("received", "delivered")
PLOT_WIDTH = 600
PLOT_HEIGHT = 120


@dataclass(frozen=True, slots=True)
class Plot:
    lines: dict[str, str]
    """Each kind's polyline points, in the SVG's own units."""
    peak: int
    totals: dict[str, int]

    def json(self) -> dict[str, JsonValue]:
        return {
            "lines": dict[str, JsonValue](self.lines),
            "peak": self.peak,
            "totals": dict[str, JsonValue](self.totals),
        }


def plot(series: dict[str, list[int]]) -> Plot:
    """Polylines for the per-minute counts: x from 0 (an hour ago) to PLOT_WIDTH (now)."""
    peak = max((max(values, default=0) for values in series.values()), default=0)
    scale = PLOT_HEIGHT / peak if peak else 0.0
    lines = {}
    for kind, values in series.items():
        step = PLOT_WIDTH / max(len(values) - 1, 1)
        lines[kind] = " ".join(
            f"{i * step:.1f},{PLOT_HEIGHT - v * scale:.1f}" for i, v in enumerate(values)
        )
    return Plot(lines, peak, {kind: sum(values) for kind, values in series.items()})


def figures(console: Console, sample: HostSample, queue: dict[QueueState, int]) -> dict[str, str]:
    """Every number on the page as text, keyed by its `data-dash` name."""
    web = console.web
    found: dict[str, str] = {}
    for kind, window in web.stats.snapshot().items():
        found[f"{kind}_5m"] = f"{window.last_5_minutes:,}"
        found[f"{kind}_24h"] = f"{window.last_24_hours:,}"
        found[f"{kind}_start"] = f"{window.since_start:,}"
    for state in QueueState:
        found[f"spool_{state.value}"] = f"{queue.get(state, 0):,}"
    found["spool_total"] = f"{sum(queue.values()):,}"
    sessions = {s.name: s.service.sessions for s in web.supervisor.statuses()}
    for name, _title in SESSION_SERVICES:
        found[f"sessions_{name}"] = (
            f"{sessions[name]:,}" if name in sessions else "not running here"
        )
    found["cpu"] = f"{sample.cpu_percent:.1f} % of one core"
    found["cpu_time"] = f"{sample.cpu_seconds:,.1f} s of CPU since start"
    if sample.memory_bytes is None:
        found["memory"] = "unknown"
    else:
        found["memory"] = human_bytes(sample.memory_bytes) + (
            " (peak)" if sample.memory_is_peak else ""
        )
    percent = sample.disk_free_percent
    if sample.disk_free_bytes is None or sample.disk_total_bytes is None or percent is None:
        found["disk"] = "unknown"
    else:
        found["disk"] = (
            f"{human_bytes(sample.disk_free_bytes)} of {human_bytes(sample.disk_total_bytes)} "
            f"({percent:.1f} %)"
        )
    found["database"] = human_bytes(sample.database_bytes)
    found["backend"] = "PostgreSQL" if web.store.backend == "postgresql" else "SQLite"
    return found


@dataclass(frozen=True, slots=True)
class StripItem:
    name: str
    title: str
    state: str
    symbol: str
    off: bool
    """Not in the state the admin chose."""

    def json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "title": self.title,
            "state": self.state,
            "symbol": self.symbol,
            "off": self.off,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    fields: dict[str, str]
    plot: Plot
    warnings: list[AdminWarning]
    strip: list[StripItem]

    def json(self) -> dict[str, JsonValue]:
        return {
            "fields": dict[str, JsonValue](self.fields),
            "plot": self.plot.json(),
            "warnings": [
                {"level": w.level.value, "text": w.text, "link": w.link} for w in self.warnings
            ],
            "strip": [item.json() for item in self.strip],
        }


def dashboard_routes(console: Console, sources: Sequence[WarningSource] = ()) -> list[BaseRoute]:
    """The dashboard; `sources` add warnings to those of the host (disk, database)."""
    web = console.web
    store = web.store
    host = HostStats(store, web.config.data_dir, console.settings)
    warning_sources: list[WarningSource] = [host.warnings, *sources]

    async def snapshot() -> Snapshot:
        sample = await host.sample()
        queue = await store.read(store.queue.count)
        series = {kind: web.stats.per_minute(kind, HOUR_MINUTES) for kind in PLOT_KINDS}
        statuses = sorted(web.supervisor.statuses(), key=lambda s: s.title.lower())
        strip = [
            StripItem(
                s.name,
                s.title,
                s.state.value,
                service_info.STATE_SYMBOLS[s.state],
                service_info.off_desired(s),
            )
            for s in statuses
        ]
        return Snapshot(
            figures(console, sample, queue), plot(series), await collect(warning_sources), strip
        )

    async def page_view(page: AdminRequest) -> Response:
        found = await snapshot()
        return console.render(
            page.request,
            "dashboard.html",
            {
                "fields": found.fields,
                "plot": found.plot,
                "warnings": found.warnings,
                "strip": found.strip,
                "sessions": SESSION_SERVICES,
                "plot_width": PLOT_WIDTH,
                "plot_height": PLOT_HEIGHT,
                "data_refresh_ms": int(console.settings.dashboard_refresh_s * 1000),
            },
            session=page.session,
        )

    async def data_view(page: AdminRequest) -> Response:
        return JSONResponse((await snapshot()).json())

    return [
        Route("/admin", console.page(page_view), methods=["GET"]),
        Route("/admin/", console.page(page_view), methods=["GET"]),
        Route("/admin/dashboard/data", console.page(data_view), methods=["GET"]),
    ]
