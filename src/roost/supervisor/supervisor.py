"""The supervisor: runs the services, keeps them up, and tells what happened.

Theory of operation. Each service has a *unit*: its current state, the state
the administrator wants (kept in the store, so a stopped service stays
stopped across restarts of Roost), the last error and probe, and a task for
the next retry. Operations on one unit are serialised by its lock; units
never wait on each other, so stopping one service never disturbs another.

- A start that fails or times out leaves the unit `failed` with the reason,
  and a retry is scheduled: `backoff_initial_s` doubled at each failure up to
  `backoff_max_s`, then at that delay for as long as it takes. No
  administrator is needed for a service to come back once the cause is gone.
- A crash (a worker of the service died) is handled the same way.
- Running units are probed every `probe_interval_s`; after `probe_failures`
  consecutive failures the service is restarted.
- Every change of state is written to the event log with its actor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roost.core.clock import Clock
from roost.core.config import SupervisorSettings
from roost.core.errors import UnknownService
from roost.store.store import Store
from roost.store.types import NewEvent
from roost.supervisor.service import (
    ProbeResult,
    Service,
    ServiceContext,
    ServiceState,
    ServiceStatus,
    describe,
)

log = logging.getLogger(__name__)

SUPERVISOR_ACTOR = "supervisor"
DESIRED_KEY = "service.{}.desired"


@dataclass(frozen=True, slots=True)
class LastProbe:
    ok: bool
    detail: str
    latency_s: float
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """Everything the Services page shows for one service."""

    name: str
    title: str
    node: str
    state: ServiceState
    desired: ServiceState
    since: datetime
    reason: str
    next_retry_at: datetime | None
    failures: int
    restarts: int
    last_probe: LastProbe | None
    service: ServiceStatus
    last_error: str = ""
    """The last failure, kept after the service came back (`reason` is cleared)."""
    last_error_at: datetime | None = None


@dataclass(slots=True)
class _Unit:
    service: Service
    state: ServiceState
    since: datetime
    desired: ServiceState = ServiceState.RUNNING
    reason: str = ""
    failures: int = 0
    restarts: int = 0
    probe_failures: int = 0
    next_retry_at: datetime | None = None
    last_probe: LastProbe | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    context: ServiceContext | None = None
    retry_task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Supervisor:
    def __init__(
        self,
        services: Sequence[Service],
        store: Store,
        settings: SupervisorSettings,
        clock: Clock,
        node: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self.node = node
        now = clock.now()
        self._units = {s.name: _Unit(s, ServiceState.STOPPED, now) for s in services}
        self._probe_task: asyncio.Task[None] | None = None
        self._closing = False

    # --- lookups

    def names(self) -> list[str]:
        return list(self._units)

    def resolve(self, name: str) -> str:
        """A service's CLI name from any spelling (`IMAP-Retrieval`, `imap retrieval`)."""
        wanted = name.strip().lower().replace(" ", "-").replace("_", "-")
        for unit_name, unit in self._units.items():
            if wanted in (unit_name, unit.service.title.lower().replace(" ", "-")):
                return unit_name
        known = ", ".join(self._units) or "none"
        raise UnknownService(f"no service named {name!r} (services: {known})")

    def status(self, name: str) -> UnitStatus:
        unit = self._units[self.resolve(name)]
        try:
            service_status = unit.service.status()
        except Exception as exc:
            service_status = ServiceStatus(detail=f"status unavailable: {describe(exc)}")
        return UnitStatus(
            name=unit.service.name,
            title=unit.service.title,
            node=self.node,
            state=unit.state,
            desired=unit.desired,
            since=unit.since,
            reason=unit.reason,
            next_retry_at=unit.next_retry_at,
            failures=unit.failures,
            restarts=unit.restarts,
            last_probe=unit.last_probe,
            service=service_status,
            last_error=unit.last_error,
            last_error_at=unit.last_error_at,
        )

    def statuses(self) -> list[UnitStatus]:
        return [self.status(name) for name in self._units]

    # --- life cycle of the whole

    async def boot(self) -> None:
        """Start every service the administrator wants running, in order."""
        stored = await self._store.read(self._store.settings.get_prefix, "service.")
        for name, unit in self._units.items():
            desired = stored.get(DESIRED_KEY.format(name), ServiceState.RUNNING.value)
            unit.desired = (
                ServiceState(desired) if desired in ("running", "stopped") else ServiceState.RUNNING
            )
        for unit in self._units.values():
            if unit.desired is ServiceState.RUNNING:
                async with unit.lock:
                    await self._start(unit, SUPERVISOR_ACTOR, "boot")
        self._probe_task = asyncio.create_task(self._probe_loop(), name="supervisor-probes")

    async def shutdown(self) -> None:
        """Stop everything (leaving the wanted states as they are)."""
        self._closing = True
        if self._probe_task is not None:
            self._probe_task.cancel()
            await asyncio.gather(self._probe_task, return_exceptions=True)
        for unit in reversed(list(self._units.values())):
            self._cancel_retry(unit)
            async with unit.lock:
                if unit.state in (ServiceState.RUNNING, ServiceState.FAILED, ServiceState.STARTING):
                    await self._stop(unit, SUPERVISOR_ACTOR, "shutdown")

    # --- operations an administrator asks for

    async def start(self, name: str, actor: str, source: str | None = None) -> UnitStatus:
        unit = self._units[self.resolve(name)]
        await self._set_desired(unit, ServiceState.RUNNING)
        async with unit.lock:
            self._cancel_retry(unit)
            if unit.state is not ServiceState.RUNNING:
                unit.failures = 0
                await self._start(unit, actor, "requested", source)
        return self.status(name)

    async def stop(self, name: str, actor: str, source: str | None = None) -> UnitStatus:
        unit = self._units[self.resolve(name)]
        await self._set_desired(unit, ServiceState.STOPPED)
        async with unit.lock:
            self._cancel_retry(unit)
            if unit.state is not ServiceState.STOPPED:
                await self._stop(unit, actor, "requested", source)
        return self.status(name)

    async def restart(self, name: str, actor: str, source: str | None = None) -> UnitStatus:
        unit = self._units[self.resolve(name)]
        await self._set_desired(unit, ServiceState.RUNNING)
        async with unit.lock:
            self._cancel_retry(unit)
            if unit.state is not ServiceState.STOPPED:
                await self._stop(unit, actor, "restart requested", source)
            unit.failures = 0
            await self._start(unit, actor, "restart requested", source)
        return self.status(name)

    async def _set_desired(self, unit: _Unit, desired: ServiceState) -> None:
        unit.desired = desired
        await self._store.write(
            self._store.settings.set, DESIRED_KEY.format(unit.service.name), desired.value
        )

    # --- transitions (called with the unit's lock held)

    async def _start(self, unit: _Unit, actor: str, why: str, source: str | None = None) -> None:
        await self._transition(unit, ServiceState.STARTING, actor, why, source)
        context = ServiceContext(lambda reason: self._crashed(unit, context, reason))
        unit.context = context
        try:
            await asyncio.wait_for(unit.service.start(context), self._settings.start_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = (
                f"not ready after {self._settings.start_timeout_s:g} s"
                if isinstance(exc, TimeoutError)
                else describe(exc)
            )
            await self._clean_up(unit)
            await self._fail(unit, f"failed to start: {reason}")
            return
        unit.reason = ""
        unit.probe_failures = 0
        unit.next_retry_at = None
        await self._transition(unit, ServiceState.RUNNING, actor, why, source)
        unit.failures = 0

    async def _stop(self, unit: _Unit, actor: str, why: str, source: str | None = None) -> None:
        if unit.state is ServiceState.RUNNING or unit.state is ServiceState.STARTING:
            await self._transition(unit, ServiceState.STOPPING, actor, why, source)
            grace = self._settings.stop_grace_s
            try:
                await asyncio.wait_for(unit.service.stop(grace), grace + 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("service %s did not stop cleanly: %s", unit.service.name, describe(exc))
        await self._clean_up(unit)
        unit.next_retry_at = None
        unit.reason = ""
        await self._transition(unit, ServiceState.STOPPED, actor, why, source)

    async def _clean_up(self, unit: _Unit) -> None:
        if unit.context is not None:
            await unit.context.cancel_workers()
            unit.context = None

    async def _fail(self, unit: _Unit, reason: str) -> None:
        unit.failures += 1
        unit.reason = reason
        unit.last_error = reason
        unit.last_error_at = self._clock.now()
        delay = min(
            self._settings.backoff_initial_s * 2 ** min(unit.failures - 1, 30),
            self._settings.backoff_max_s,
        )
        unit.next_retry_at = self._clock.now() + timedelta(seconds=delay)
        await self._transition(
            unit, ServiceState.FAILED, SUPERVISOR_ACTOR, f"{reason}; next try in {delay:g} s"
        )
        if not self._closing and unit.desired is ServiceState.RUNNING:
            unit.retry_task = asyncio.create_task(
                self._retry(unit, delay), name=f"retry-{unit.service.name}"
            )

    async def _retry(self, unit: _Unit, delay: float) -> None:
        await asyncio.sleep(delay)
        async with unit.lock:
            unit.retry_task = None
            if unit.state is ServiceState.FAILED and unit.desired is ServiceState.RUNNING:
                unit.restarts += 1
                await self._start(unit, SUPERVISOR_ACTOR, f"retry after failure {unit.failures}")

    def _cancel_retry(self, unit: _Unit) -> None:
        if unit.retry_task is not None and unit.retry_task is not asyncio.current_task():
            unit.retry_task.cancel()
        unit.retry_task = None

    def _crashed(self, unit: _Unit, context: ServiceContext, reason: str) -> None:
        asyncio.get_running_loop().create_task(self._handle_crash(unit, context, reason))

    async def _handle_crash(self, unit: _Unit, context: ServiceContext, reason: str) -> None:
        async with unit.lock:
            if unit.context is not context or unit.state is not ServiceState.RUNNING:
                return
            log.error("service %s crashed: %s", unit.service.name, reason)
            try:
                await asyncio.wait_for(unit.service.stop(0), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("stopping crashed %s: %s", unit.service.name, describe(exc))
            await self._clean_up(unit)
            await self._fail(unit, f"crashed: {reason}")

    async def _transition(
        self, unit: _Unit, state: ServiceState, actor: str, why: str, source: str | None = None
    ) -> None:
        old = unit.state
        unit.state = state
        unit.since = self._clock.now()
        log.info("service %s: %s -> %s (%s; by %s)", unit.service.name, old, state, why, actor)
        event = NewEvent(
            object=f"service:{unit.service.name}",
            action="state",
            actor=actor,
            old_state=old.value,
            new_state=state.value,
            source_address=source,
            reason=why,
        )
        try:
            await self._store.write(self._store.events.add, event)
        except Exception as exc:
            log.error("cannot record the event for %s: %s", unit.service.name, describe(exc))

    # --- probes

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.probe_interval_s)
            await asyncio.gather(
                *(
                    self.probe(unit.service.name)
                    for unit in self._units.values()
                    if unit.state is ServiceState.RUNNING
                ),
                return_exceptions=True,
            )

    async def probe(self, name: str) -> LastProbe | None:
        """Probe one running service now; restart it after repeated failures."""
        unit = self._units[self.resolve(name)]
        if unit.state is not ServiceState.RUNNING:
            return None
        started = self._clock.monotonic()
        try:
            result = await asyncio.wait_for(unit.service.probe(), self._settings.probe_timeout_s)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            result = ProbeResult(False, f"no answer within {self._settings.probe_timeout_s:g} s")
        except Exception as exc:
            result = ProbeResult(False, describe(exc))
        probe = LastProbe(
            result.ok, result.detail, self._clock.monotonic() - started, self._clock.now()
        )
        unit.last_probe = probe
        if result.ok:
            unit.probe_failures = 0
            return probe
        unit.probe_failures += 1
        log.warning("probe of %s failed (%d): %s", name, unit.probe_failures, result.detail)
        if unit.probe_failures >= self._settings.probe_failures:
            async with unit.lock:
                if (
                    unit.state is ServiceState.RUNNING
                    and unit.probe_failures >= self._settings.probe_failures
                ):
                    why = f"probe failed {unit.probe_failures} times: {result.detail}"
                    await self._stop(unit, SUPERVISOR_ACTOR, why)
                    unit.restarts += 1
                    await self._start(unit, SUPERVISOR_ACTOR, why)
        return probe
