"""What the dashboard shows about the process and its host: CPU, memory, disk, database.

CPU is this process's share of one core between two looks (user and system
time over wall time; the first look measures since the process started).
Memory is the resident set from `/proc/self/statm` on Linux, else the peak
that `getrusage` reports. Disk is the file system of the data folder. The
database size comes from the store (`roost.store.usage`).
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from roost.control.admin_warnings import AdminWarning, Level
from roost.core.config import AdminSettings
from roost.store.store import Store
from roost.store.usage import database_bytes

STATM = Path("/proc/self/statm")
MIN_CPU_INTERVAL_S = 0.5
"""Looks closer together than this reuse the previous figure (too noisy)."""


@dataclass(frozen=True, slots=True)
class HostSample:
    cpu_percent: float
    """Of one core, since the previous look."""
    cpu_seconds: float
    """User and system time since the process started."""
    memory_bytes: int | None
    memory_is_peak: bool
    disk_free_bytes: int | None
    disk_total_bytes: int | None
    database_bytes: int

    @property
    def disk_free_percent(self) -> float | None:
        if self.disk_free_bytes is None or not self.disk_total_bytes:
            return None
        return 100.0 * self.disk_free_bytes / self.disk_total_bytes


def memory() -> tuple[int | None, bool]:
    """(bytes, is_peak): the resident set now, or the peak where /proc is missing."""
    try:
        resident_pages = int(STATM.read_text().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE"), False
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return (peak if sys.platform == "darwin" else peak * 1024), True


class HostStats:
    def __init__(self, store: Store, data_dir: Path, settings: AdminSettings) -> None:
        self._store = store
        self._data_dir = data_dir
        self._settings = settings
        self._last_wall = time.monotonic() - _process_age_s()
        self._last_cpu = 0.0
        self._last_percent = 0.0

    def cpu(self) -> tuple[float, float]:
        """(percent of one core since the previous look, CPU seconds in all)."""
        wall, used = time.monotonic(), time.process_time()
        interval = wall - self._last_wall
        if interval >= MIN_CPU_INTERVAL_S:
            self._last_percent = max(0.0, 100.0 * (used - self._last_cpu) / interval)
            self._last_wall, self._last_cpu = wall, used
        return self._last_percent, used

    def disk(self) -> tuple[int | None, int | None]:
        try:
            usage = shutil.disk_usage(self._data_dir)
        except OSError:
            return None, None
        return usage.free, usage.total

    async def sample(self) -> HostSample:
        percent, seconds = self.cpu()
        resident, is_peak = memory()
        free, total = self.disk()
        size = await self._store.read(database_bytes)
        return HostSample(percent, seconds, resident, is_peak, free, total, size)

    async def warnings(self) -> list[AdminWarning]:
        """Low free space in the data folder, and a database past its size setting."""
        found = []
        free, total = self.disk()
        limit = self._settings.disk_free_warning_percent
        if free is None or total is None:
            found.append(
                AdminWarning(
                    Level.WARNING, f"The free space of the data folder {self._data_dir} is unknown."
                )
            )
        elif total and 100.0 * free / total < limit:
            level = Level.CRITICAL if free < total / 100 else Level.WARNING
            found.append(
                AdminWarning(
                    level,
                    f"The data folder {self._data_dir} has {human_bytes(free)} free "
                    f"({100.0 * free / total:.1f} %), under the {limit:g} % of "
                    "[admin] disk_free_warning_percent.",
                )
            )
        size = await self._store.read(database_bytes)
        most = self._settings.database_size_warning_bytes
        if most and size > most:
            found.append(
                AdminWarning(
                    Level.WARNING,
                    f"The database takes {human_bytes(size)}, more than the "
                    f"{human_bytes(most)} of [admin] database_size_warning_bytes.",
                )
            )
        return found


def human_bytes(n: float) -> str:
    """`512 B`, `3.4 KiB`, `12.0 MiB`, `1.5 GiB`."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _process_age_s() -> float:
    """Seconds since this process started (Linux); 0 where unknown."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rpartition(")")[2].split()[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, boot_uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0
