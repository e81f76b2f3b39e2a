"""The dashboard's warnings: what an administrator should look at, from any source.

A source is an async callable that returns warnings (possibly none); the
dashboard asks each of them on every view and shows them in order. Sources
so far: the data folder's free space and the database size
(`roost.control.host_stats`). A source that fails becomes a warning saying
so instead of breaking the page.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


class Level(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class AdminWarning:
    level: Level
    text: str
    link: str = ""
    """A console page where the administrator can act on it (empty for none)."""


WarningSource = Callable[[], Awaitable[Sequence[AdminWarning]]]


async def collect(sources: Sequence[WarningSource]) -> list[AdminWarning]:
    """Every source's warnings, in the sources' order, the most severe first."""
    found: list[AdminWarning] = []
    for source in sources:
        try:
            found.extend(await source())
        except Exception as exc:  # one broken source must not hide the others
            log.exception("a dashboard warning source failed")
            name = getattr(source, "__qualname__", repr(source))
            found.append(AdminWarning(Level.WARNING, f"Could not check {name}: {exc}"))
    order = {Level.CRITICAL: 0, Level.WARNING: 1, Level.INFO: 2}
    return sorted(found, key=lambda w: order[w.level])
