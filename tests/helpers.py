"""Test doubles that the product never ships (services that fail on demand),
and small helpers the test support modules share."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus


class TestService:
    """A service whose behaviour the test sets: it fails, crashes or stalls on demand."""

    __test__ = False

    def __init__(self, name: str, title: str) -> None:
        self._name = name
        self._title = title
        self.fail_start: str | None = None
        self.hang_start = False
        self.probe_ok = True
        self.starts = 0
        self.stops = 0
        self.running = False
        self.context: ServiceContext | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def title(self) -> str:
        return self._title

    async def start(self, context: ServiceContext) -> None:
        self.starts += 1
        if self.hang_start:
            await asyncio.Event().wait()
        if self.fail_start:
            raise OSError(self.fail_start)
        self.context = context
        self.running = True

    async def stop(self, grace_s: float) -> None:
        self.stops += 1
        self.running = False

    def status(self) -> ServiceStatus:
        return ServiceStatus(listeners=("127.0.0.1:0",), sessions=1 if self.running else 0)

    async def probe(self) -> ProbeResult:
        return ProbeResult(self.probe_ok, "ok" if self.probe_ok else "probe says no")

    def crash(self) -> None:
        async def worker() -> None:
            raise RuntimeError("worker exploded")

        assert self.context is not None
        self.context.spawn(worker(), "worker")


async def until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait up to a generous bound for something to happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all bound at once, so that none is handed out twice."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            probe = stack.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            ports.append(int(probe.getsockname()[1]))
        return ports
