"""The supervisor with test services that start, fail, crash and fail probes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.core.clock import SystemClock
from roost.core.config import Config
from roost.core.errors import UnknownService
from roost.store.store import Store
from roost.supervisor.service import ServiceState
from roost.supervisor.supervisor import Supervisor
from tests.conftest import make_config
from tests.helpers import TestService, until

FAST = {
    "probe_interval_s": 0.05,
    "probe_timeout_s": 0.2,
    "probe_failures": 2,
    "start_timeout_s": 1.0,
    "stop_grace_s": 0.2,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, supervisor=FAST)


@pytest.fixture
async def running(
    sqlite_store: Store, config: Config
) -> AsyncIterator[tuple[Supervisor, TestService, TestService]]:
    a, b = TestService("alpha", "Alpha"), TestService("beta-two", "Beta Two")
    sup = Supervisor([a, b], sqlite_store, config.supervisor, SystemClock(), "node1")
    await sup.boot()
    yield sup, a, b
    await sup.shutdown()


async def test_boot_starts_all_and_stop_touches_only_one(running) -> None:  # type: ignore[no-untyped-def]
    sup, a, b = running
    assert [s.state for s in sup.statuses()] == [ServiceState.RUNNING, ServiceState.RUNNING]
    await sup.stop("ALPHA", "cli:test")
    assert sup.status("alpha").state is ServiceState.STOPPED and not a.running
    assert sup.status("beta-two").state is ServiceState.RUNNING and b.stops == 0
    await sup.start("Beta Two", "cli:test")  # titles work as names too
    await sup.restart("beta_two", "cli:test")
    assert b.starts == 2 and b.stops == 1
    with pytest.raises(UnknownService, match="services: alpha, beta-two"):
        sup.resolve("gamma")


async def test_desired_state_survives_a_restart_of_roost(
    sqlite_store: Store, config: Config
) -> None:
    a = TestService("alpha", "Alpha")
    sup = Supervisor([a], sqlite_store, config.supervisor, SystemClock(), "n")
    await sup.boot()
    await sup.stop("alpha", "admin:root")
    await sup.shutdown()
    again = TestService("alpha", "Alpha")
    sup2 = Supervisor([again], sqlite_store, config.supervisor, SystemClock(), "n")
    await sup2.boot()
    assert sup2.status("alpha").state is ServiceState.STOPPED and again.starts == 0
    await sup2.shutdown()


async def test_failed_start_is_retried_with_backoff_until_it_works(
    sqlite_store: Store, config: Config
) -> None:
    a = TestService("alpha", "Alpha")
    a.fail_start = "Address already in use: 127.0.0.1:25"
    sup = Supervisor([a], sqlite_store, config.supervisor, SystemClock(), "n")
    await sup.boot()
    status = sup.status("alpha")
    assert status.state is ServiceState.FAILED
    assert "Address already in use" in status.reason and status.next_retry_at is not None
    await until(lambda: a.starts >= 3)
    assert sup.status("alpha").failures >= 2
    a.fail_start = None
    await until(lambda: sup.status("alpha").state is ServiceState.RUNNING)
    assert sup.status("alpha").reason == ""
    await sup.shutdown()


async def test_start_that_hangs_times_out(sqlite_store: Store, config: Config) -> None:
    a = TestService("alpha", "Alpha")
    a.hang_start = True
    sup = Supervisor([a], sqlite_store, config.supervisor, SystemClock(), "n")
    await sup.boot()
    assert sup.status("alpha").state is ServiceState.FAILED
    assert "not ready after" in sup.status("alpha").reason
    await sup.stop("alpha", "test")
    assert sup.status("alpha").state is ServiceState.STOPPED
    await sup.shutdown()


async def test_crash_is_isolated_and_restarted(running) -> None:  # type: ignore[no-untyped-def]
    sup, a, b = running
    a.crash()
    await until(lambda: sup.status("alpha").state is not ServiceState.RUNNING)
    assert sup.status("beta-two").state is ServiceState.RUNNING
    await until(lambda: sup.status("alpha").state is ServiceState.RUNNING)
    assert a.starts == 2 and sup.status("alpha").restarts == 1
    assert b.starts == 1


async def test_failing_probe_restarts_the_service(running) -> None:  # type: ignore[no-untyped-def]
    sup, a, _ = running
    a.probe_ok = False
    await until(lambda: a.starts >= 2)
    a.probe_ok = True
    await until(lambda: sup.status("alpha").state is ServiceState.RUNNING)
    last = sup.status("alpha").last_probe
    assert last is not None and last.latency_s >= 0


async def test_every_state_change_is_an_event(running, sqlite_store: Store) -> None:  # type: ignore[no-untyped-def]
    sup, _, _ = running
    await sup.stop("alpha", "admin:root (token ci)", "127.0.0.1")
    events = await sqlite_store.read(sqlite_store.events.list, object="service:alpha")
    assert [(e.old_state, e.new_state) for e in events[:2]] == [
        ("stopping", "stopped"),
        ("running", "stopping"),
    ]
    assert events[0].actor == "admin:root (token ci)" and events[0].source_address == "127.0.0.1"
    assert events[-1].actor == "supervisor" and events[-1].new_state == "starting"
