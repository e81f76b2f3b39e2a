"""The service both retrieval services are: a scheduler over external accounts.

Theory of operation. One loop wakes every `TICK_S` (and when a fetch
ends), reads the enabled accounts of its protocol, and starts a
fetch for each one that is due, up to `[retrieval] max_concurrent` at
once. An account is due `interval_s` (its own or the global one) after its
last attempt, moved by a random jitter; after failures it waits twice as
long each time, up to `backoff_max_s`. "Retrieve now" (API, CLI) is a mark
on the account in the store, which the loop takes at its next tick: it
reaches the service on whichever node runs it, and waits while the service
is stopped. Each fetch runs as its own task with its own timeouts, so a
failing or slow account never holds up the others; how it went (messages
fetched, the error in words) goes to the account's status in the store.
The schedule itself lives in memory: after a restart every account is due
at once (within the jitter). A manual account is never due by the clock:
only "retrieve now" fetches it (and it holds no IDLE connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter, deque
from dataclasses import dataclass

from roost.control.intake import Intake
from roost.control.retrieval import PasswordCipher, seal_context
from roost.core.clock import Clock
from roost.core.config import Config, RetrievalSettings
from roost.services.retrieval.common import (
    Fetcher,
    FetchOutcome,
    Job,
    Progress,
    TlsTrust,
    in_words,
)
from roost.services.retrieval.idle import IdleWatchers
from roost.services.retrieval.imap import ImapFetcher
from roost.services.retrieval.pop import PopFetcher
from roost.store.db import Tx
from roost.store.retrieval import Retrieval, RetrievalProtocol
from roost.store.store import Store
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

TICK_S = 1.0
ERROR_WINDOW_S = 3600.0


@dataclass(frozen=True, slots=True)
class ServiceNames:
    name: str
    title: str
    protocol: RetrievalProtocol


IMAP_NAMES = ServiceNames("imap-retrieval", "IMAP Retrieval", RetrievalProtocol.IMAP)
POP_NAMES = ServiceNames("pop-retrieval", "POP Retrieval", RetrievalProtocol.POP3)


def retrieval_services(
    config: Config, store: Store, intake: Intake, clock: Clock
) -> list[RetrievalService]:
    """Both retrieval services, as the composition root builds them."""
    cipher = PasswordCipher(config.data_dir)
    settings = config.retrieval
    trust = TlsTrust(settings.ca_file)
    imap = ImapFetcher(store, intake, settings, clock, config.node, config.data_dir, trust)
    pop = PopFetcher(store, intake, settings, clock, config.node, config.data_dir, trust)
    return [
        RetrievalService(IMAP_NAMES, imap, store, cipher, settings, clock, trust, idle=True),
        RetrievalService(POP_NAMES, pop, store, cipher, settings, clock, trust),
    ]


class RetrievalService:
    def __init__(
        self,
        names: ServiceNames,
        fetcher: Fetcher,
        store: Store,
        cipher: PasswordCipher,
        settings: RetrievalSettings,
        clock: Clock,
        trust: TlsTrust,
        *,
        idle: bool = False,
    ) -> None:
        self._names = names
        self._trust = trust
        self._idle = IdleWatchers(settings, trust, self._news) if idle else None
        self._fetcher = fetcher
        self._store = store
        self._cipher = cipher
        self._settings = settings
        self._clock = clock
        self._due: dict[int, float] = {}
        self._asked: set[int] = set()
        """Accounts someone asked to fetch now, until their fetch starts."""
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._errors: deque[float] = deque()
        self._accounts = 0
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._last_tick = 0.0
        self._random = random.Random()  # noqa: S311 - jitter, not a secret
        self.counters: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self._names.name

    @property
    def title(self) -> str:
        return self._names.title

    async def start(self, context: ServiceContext) -> None:
        self._trust.context()  # a bad [retrieval] ca_file fails the start, in words
        await asyncio.to_thread(self._fetcher.staging.prepare)
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._due.clear()
        self._last_tick = self._clock.monotonic()
        context.spawn(self._loop(), f"{self.name}-loop")

    async def stop(self, grace_s: float) -> None:
        self._stopping.set()
        self._wakeup.set()
        tasks = set(self._inflight.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._idle is not None:
            await self._idle.stop()

    def status(self) -> ServiceStatus:
        self._trim_errors()
        return ServiceStatus(
            sessions=len(self._inflight),
            counters=(
                *sorted(self.counters.items()),
                ("accounts", self._accounts),
                ("fetches_in_flight", len(self._inflight)),
                ("errors_last_hour", len(self._errors)),
                *((("idle_connections", self._idle.held),) if self._idle is not None else ()),
            ),
            detail=f"{self._accounts} accounts, {len(self._inflight)} fetches in progress, "
            f"{len(self._errors)} errors in the last hour",
        )

    async def probe(self) -> ProbeResult:
        idle_s = self._clock.monotonic() - self._last_tick
        if idle_s > 3 * TICK_S + 5:
            return ProbeResult(False, f"the scheduler has not run for {idle_s:.0f} s")
        return ProbeResult(True, f"{self._accounts} accounts scheduled")

    async def run_once(self, retrieval_id: int) -> FetchOutcome:
        """Fetch one account now and wait for it, whether the loop runs or not."""
        account = await self._store.read(self._store.retrieval.get, retrieval_id)
        return await self._fetch(account)

    # --- the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._last_tick = self._clock.monotonic()
            self._wakeup.clear()
            accounts = await self._store.read(
                self._store.retrieval.accounts, protocol=self._names.protocol, enabled_only=True
            )
            self._accounts = len(accounts)
            now = self._clock.monotonic()
            known = {a.id for a in accounts}
            for rid in set(self._due) - known:
                del self._due[rid]
            for account in accounts:
                due = self._due.get(account.id)
                # New, or turned manual or scheduled by an edit since.
                if due is None or (
                    (due == math.inf) != account.spec.manual and account.id not in self._asked
                ):
                    self._due[account.id] = self._next(account, now + self._jitter())
                if account.status.run_requested_at is not None and await self._store.write(
                    self._store.retrieval.take_run_request, account.id
                ):
                    self._due[account.id] = now
                    self._asked.add(account.id)
                free = self._settings.max_concurrent - len(self._inflight)
                if free <= 0:
                    break
                if account.id not in self._inflight and self._due[account.id] <= now:
                    self._start(account)
            if self._idle is not None and self._settings.idle_max_connections > 0:
                await self._idle.sync([a for a in accounts if not a.spec.manual], self._job)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), TICK_S)

    def _news(self, retrieval_id: int) -> None:
        """A held IDLE heard of new mail: fetch that account at once."""
        if not self._stopping.is_set():
            self._due[retrieval_id] = self._clock.monotonic()
            self._wakeup.set()
            self.counters["idle_wakeups"] += 1

    async def _job(self, account: Retrieval, progress: Progress | None = None) -> Job:
        owner = await self._store.read(self._owner, account.account_id)
        password = self._cipher.open(account.spec.password_encrypted, seal_context(account.spec))
        return Job(account, owner, password, progress or Progress())

    def _start(self, account: Retrieval) -> None:
        self._asked.discard(account.id)
        task = asyncio.create_task(self._run(account), name=f"{self.name}-{account.id}")
        self._inflight[account.id] = task
        task.add_done_callback(lambda _t: self._inflight.pop(account.id, None))

    async def _run(self, account: Retrieval) -> None:
        try:
            await self._fetch(account)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: account %d: the fetch failed unexpectedly", self.name, account.id)
        self._wakeup.set()

    async def _fetch(self, account: Retrieval) -> FetchOutcome:
        error: str | None = None
        outcome = FetchOutcome(0)
        progress = Progress()
        try:
            outcome = await self._fetcher.fetch(await self._job(account, progress))
            error = outcome.problem
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = in_words(exc)
            outcome = FetchOutcome(progress.committed)
        status = await self._store.write(
            self._store.retrieval.record_attempt, account.id, fetched=outcome.fetched, error=error
        )
        self.counters["fetched"] += outcome.fetched
        self.counters["runs"] += 1
        if error:
            self.counters["errors"] += 1
            self._errors.append(self._clock.monotonic())
            log.warning("%s: account %d: %s", self.name, account.id, error)
        interval = account.spec.interval_s or self._settings.interval_s
        # A skipped oversized message is a problem to show, not a reason to back off.
        failures = status.failures if outcome.problem is None else 0
        delay = min(interval * 2 ** min(failures, 32), max(interval, self._settings.backoff_max_s))
        self._due[account.id] = self._next(
            account, self._clock.monotonic() + delay + self._jitter()
        )
        return FetchOutcome(outcome.fetched, error)

    @staticmethod
    def _next(account: Retrieval, when: float) -> float:
        """When the schedule fetches the account next: never, for a manual one
        (only "retrieve now" does)."""
        return math.inf if account.spec.manual else when

    async def _owner(self, tx: Tx, account_id: int) -> str:
        return (await self._store.directory.account_by_id(tx, account_id)).address

    def _jitter(self) -> float:
        return self._random.uniform(0, self._settings.jitter_s)

    def _trim_errors(self) -> None:
        horizon = self._clock.monotonic() - ERROR_WINDOW_S
        while self._errors and self._errors[0] < horizon:
            self._errors.popleft()
