"""Benchmark: the admin console's Services, Dashboard and Spool pages, server-side.

Workload: a Roost with every service of the build running (real listeners on
127.0.0.1, ports chosen by the OS) and 10,000 events in its log. The page
and its live-update JSON are asked for in-process through the ASGI app
(server-side time only: no sockets, no browser), signed in as an admin,
`--requests` times each after a warm-up; then the page once over a real
socket for comparison. Prints median, 95th percentile and worst, and the
target (the issue: under 100 ms with 10,000 events).

Then 50,000 queue entries (two recipients each, a tenth deferred, a
twentieth held) go into the queue while the Spool service is stopped, and
the dashboard (target: under 100 ms) and the Spool page (target: under
200 ms) are timed the same way: the first and the last page, the "Waiting to
deliver" tab, a sender filter and a recipient-domain filter.

    .venv/bin/python bench/web.py [--events 10000] [--requests 200] [--queue 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from roost.app import start
from roost.control.admin_access import AdminAccess
from roost.control.directory import Actor
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.control.throttle import Throttle
from roost.core import config as config_mod
from roost.store.db import Tx
from roost.store.types import NewEvent, NewRecipient, QueueState
from roost.web.app import create_app
from roost.web.context import WebContext

TARGET_MS = 100.0
DASHBOARD_TARGET_MS = 100.0
SPOOL_TARGET_MS = 200.0
DISTINCT_MESSAGES = 100
PASSWORD = "bench-password-1"
ANY = ["127.0.0.1:0"]


def bench_config(folder: Path) -> config_mod.Config:
    raw = {
        "roost": {"data_dir": str(folder / "data"), "node_name": "bench"},
        "directory": {"argon2_time_cost": 1, "argon2_memory_kib": 64},
        "web": {"listen": ANY, "tls_listen": []},
        "smtp": {"mx_listen": ANY, "submission_listen": ANY, "submissions_listen": ANY},
        "pop": {"listen": ANY, "tls_listen": ANY},
        "imap": {"listen": ANY, "tls_listen": ANY},
        "log": {"level": "warning"},
    }
    return config_mod.build(raw, source="(bench)", base=folder)


async def add_events(store: object, count: int) -> None:
    from roost.store.store import Store

    assert isinstance(store, Store)
    names = ["smtp", "spool", "pop", "imap"]

    async def batch(tx: Tx, start_at: int) -> None:
        for n in range(start_at, min(start_at + 1000, count)):
            await store.events.add(
                tx,
                NewEvent(
                    object=f"service:{names[n % 4]}" if n % 3 else f"user:u{n}@example.org",
                    action="state" if n % 3 else "password",
                    actor="admin:bench" if n % 2 else "cli:root",
                    old_state="running" if n % 3 else None,
                    new_state="stopped" if n % 3 else None,
                    source_address="127.0.0.1",
                    reason="bench",
                ),
            )

    for first in range(0, count, 1000):
        await store.write(batch, first)


async def add_queue(store: object, count: int) -> int:
    """`count` entries (a few distinct messages: the blobs are shared); returns the last id."""
    from roost.store.queue import queue_entries
    from roost.store.store import Store

    assert isinstance(store, Store)
    blobs = await store.blobs.stage_many(
        [
            f"From: s{n}@example.net\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()
            for n in range(DISTINCT_MESSAGES)
        ]
    )
    last = 0

    async def batch(tx: Tx, start_at: int) -> int:
        entry_id = 0
        for n in range(start_at, min(start_at + 1000, count)):
            entry_id = await store.queue.enqueue(
                tx,
                blobs[n % DISTINCT_MESSAGES],
                f"sender{n % 500}@example{n % 7}.net",
                [NewRecipient(f"u{n}@dest{n % 50}.example"), NewRecipient(f"v{n}@example.org")],
                source="smtp",
            )
            if n % 20 == 0:
                await tx.execute(
                    queue_entries.update()
                    .where(queue_entries.c.id == entry_id)
                    .values(state=QueueState.HELD.value)
                )
            elif n % 10 == 0:
                await tx.execute(
                    queue_entries.update()
                    .where(queue_entries.c.id == entry_id)
                    .values(state=QueueState.DEFERRED.value)
                )
        return entry_id

    for first in range(0, count, 1000):
        last = await store.write(batch, first)
    return last


def summary(label: str, samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    return (
        f"{label:<38} median {statistics.median(ordered):7.2f} ms   "
        f"p95 {p95:7.2f} ms   worst {ordered[-1]:7.2f} ms   (n={len(ordered)})"
    )


async def timed(client: httpx.AsyncClient, path: str, count: int, **kwargs: object) -> list[float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        answer = await client.get(path, **kwargs)  # type: ignore[arg-type]
        samples.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.status_code
    return samples


async def sign_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/admin/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    answer = await client.post(
        "/admin/sign-in", data={"csrf": csrf[1], "name": "bench", "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text


async def main(events: int, requests: int, queue: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = bench_config(Path(folder))
        with contextlib.redirect_stdout(io.StringIO()):
            roost = await start(config)
        try:
            store = roost.store
            await roost.directory.add_admin(Actor("bench"), "bench", PASSWORD)
            await add_events(store, events)
            intake = Intake(store, config.spool, store.clock)
            access = AdminAccess(
                store,
                Passwords(config.directory),
                roost.directory,
                config.admin,
                Throttle(config.auth, store.clock),
                store.clock,
            )
            app = create_app(
                WebContext(
                    config,
                    store,
                    roost.supervisor,
                    roost.directory,
                    QueueAdmin(store, intake),
                    intake.stats,
                    "bench-token",
                    access,
                )
            )
            services = ", ".join(s.title for s in roost.supervisor.statuses())
            print(f"Services page: {services} running; {events:,} events in the log")
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await sign_in(client)
                await timed(client, "/admin/services", 20)
                page = await timed(client, "/admin/services", requests)
                status = await timed(
                    client,
                    "/admin/services/status",
                    requests,
                    headers={"Accept": "application/json"},
                )
                listing = await timed(client, "/admin/events?actor=admin", requests // 4)
            base = f"http://{roost.web.addresses[0]}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                await sign_in(client)
                wire = await timed(client, "/admin/services", requests // 4)
            print(summary("GET /admin/services (in-process)", page))
            print(summary("GET /admin/services/status (JSON)", status))
            print(summary("GET /admin/events?actor=admin", listing))
            print(summary("GET /admin/services over loopback", wire))
            verdict = "met" if statistics.median(page) < TARGET_MS else "NOT met"
            print(f"target: Services page under {TARGET_MS:g} ms server-side: {verdict}")

            await roost.supervisor.stop("spool", "cli:bench")
            last = await add_queue(store, queue)
            print(f"\nDashboard and Spool: {queue:,} queue entries, Spool stopped")
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await sign_in(client)
                await timed(client, "/admin", 10)
                dashboard = await timed(client, "/admin", requests // 2)
                data = await timed(
                    client,
                    "/admin/dashboard/data",
                    requests // 2,
                    headers={"Accept": "application/json"},
                )
                await timed(client, "/admin/spool", 5)
                spool = {
                    "GET /admin/spool (first page)": await timed(
                        client, "/admin/spool", requests // 4
                    ),
                    "GET /admin/spool (last page)": await timed(
                        client, f"/admin/spool?before={last + 1}", requests // 4
                    ),
                    "GET /admin/spool?tab=waiting": await timed(
                        client, "/admin/spool?tab=waiting&after=25000", requests // 4
                    ),
                    "GET /admin/spool?sender=sender42@": await timed(
                        client, "/admin/spool?sender=sender42@", requests // 4
                    ),
                    "GET /admin/spool?domain=dest7.example": await timed(
                        client, "/admin/spool?domain=dest7.example", requests // 4
                    ),
                }
                view = await timed(client, f"/admin/spool/{last}", requests // 4)
            print(summary("GET /admin (dashboard)", dashboard))
            print(summary("GET /admin/dashboard/data (JSON)", data))
            for label, samples in spool.items():
                print(summary(label, samples))
            print(summary("GET /admin/spool/ID (view)", view))
            verdict = "met" if statistics.median(dashboard) < DASHBOARD_TARGET_MS else "NOT met"
            print(f"target: dashboard under {DASHBOARD_TARGET_MS:g} ms server-side: {verdict}")
            worst = max(statistics.median(samples) for samples in spool.values())
            verdict = "met" if worst < SPOOL_TARGET_MS else "NOT met"
            print(
                f"target: Spool page under {SPOOL_TARGET_MS:g} ms server-side with "
                f"{queue:,} entries (slowest view's median {worst:.1f} ms): {verdict}"
            )
        finally:
            await roost.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--queue", type=int, default=50_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.requests, arguments.queue))
