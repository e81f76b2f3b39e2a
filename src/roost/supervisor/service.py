"""The interface every one of the eight services implements.

- `start` returns only when the service is ready (sockets bound, workers
  running); it raises with a one-line reason when it cannot start.
- `stop` stops accepting new work, lets what is in progress finish within
  the grace time, then closes. It never disturbs another service.
- `status` is a cheap snapshot; `probe` is an active health check, which the
  supervisor bounds with a timeout.

A service runs its background work through `ServiceContext.spawn`: a task
that dies with an exception is a crash of the service, which the supervisor
sees and handles (state `failed`, then restart with backoff). So is a worker
that something other than the supervisor cancelled.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol


class ServiceState(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What a service says about itself, cheaply, at any moment."""

    listeners: tuple[str, ...] = ()
    sessions: int = 0
    counters: tuple[tuple[str, int], ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    detail: str


class ServiceContext:
    """Handed to a service at start: how it reports trouble and runs workers."""

    def __init__(self, on_crash: Callable[[str], None]) -> None:
        self._on_crash = on_crash
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a worker; if it raises, the service has crashed."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._closed:
            return
        if task.cancelled():
            # Only the supervisor cancels workers (after `cancel_workers`): a worker
            # cancelled by anything else is gone, and the service with it.
            self.crashed(f"{task.get_name()} was cancelled")
            return
        exc = task.exception()
        if exc is not None:
            self.crashed(f"{task.get_name()} failed: {describe(exc)}")

    def crashed(self, reason: str) -> None:
        if not self._closed:
            self._on_crash(reason)

    async def cancel_workers(self) -> None:
        """Cancel what is still running (the supervisor calls it after stop)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def describe(exc: BaseException) -> str:
    """One line that names the cause, for the Services page and the log."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Service(Protocol):
    @property
    def name(self) -> str:
        """The CLI name, e.g. `imap-retrieval`."""
        ...

    @property
    def title(self) -> str:
        """The display name, e.g. `IMAP Retrieval`."""
        ...

    async def start(self, context: ServiceContext) -> None: ...

    async def stop(self, grace_s: float) -> None: ...

    def status(self) -> ServiceStatus: ...

    async def probe(self) -> ProbeResult: ...
