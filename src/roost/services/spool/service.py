"""The Spool service: claims due queue entries and delivers them.

Theory of operation. One loop claims due entries (with a lease, so a crashed
worker's entries come back) and starts a delivery task for each, up to
`workers` at once; new mail wakes the loop at once through the intake. A
delivery reads the message's facts once, then tries every pending recipient:
local recipients are delivered into mailboxes (each in its own unit of work,
marked delivered in that unit); a recipient that fails with a 4xx answer is
deferred by the retry schedule and failed once `give_up_after_s` has passed;
5xx answers fail it at once. When no recipient is pending, the entry leaves
the queue. While the service is stopped, the intake keeps queueing and
nothing is delivered.

Mail for local mailboxes only, the bulk of a small organisation's traffic,
takes a shorter road: up to `local_batch_max` such entries are parsed in
memory and delivered in one unit of work, each recipient in a savepoint of
its own, and an entry that is then done (every recipient delivered, no
notice owed) leaves the queue in the same commit. Anything else (a
refusal, a full mailbox, a forward, a success notice) finishes as a single
attempt does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections import Counter
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime

from roost.control.intake import Intake
from roost.control.mailauth import DkimSigner
from roost.control.mailauth.headers import from_domain, split_message
from roost.core.clock import Clock
from roost.core.config import SpoolSettings, VacationSettings
from roost.core.errors import NotFound
from roost.net.dns import Resolver
from roost.proto.dsn import NoticeKind
from roost.services.spool.facts import facts_of, read_facts
from roost.services.spool.local import LocalDelivery, Outcome
from roost.services.spool.mta_sts import MtaStsPolicies
from roost.services.spool.notices import Notices, Report, notice_envelope, wants
from roost.services.spool.remote import RemoteDelivery
from roost.services.spool.schedule import delay_notice_due, next_attempt
from roost.services.spool.vacation import SOURCE as VACATION_SOURCE
from roost.services.spool.vacation import VacationReplies
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import QueueEntry, QueueRecipient, RecipientState, StagedBlob
from roost.supervisor.service import ProbeResult, ServiceContext, ServiceStatus

log = logging.getLogger(__name__)

SIGNED_SOURCES = frozenset({"submission", "notice", VACATION_SOURCE})


@dataclass(frozen=True, slots=True)
class AttemptResult:
    delivered: int
    failed: int
    deferred: int


class SpoolService:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        settings: SpoolSettings,
        delimiter: str,
        resolver: Resolver,
        clock: Clock,
        node: str,
        signer: DkimSigner | None = None,
        mta_sts: MtaStsPolicies | None = None,
        vacation: VacationSettings | None = None,
    ) -> None:
        self._store = store
        self._intake = intake
        self._settings = settings
        self._clock = clock
        hostname = settings.helo_name or node
        self.vacation = VacationReplies(
            store, intake, vacation or VacationSettings(), clock, hostname, delimiter
        )
        self._local = LocalDelivery(store, delimiter, self.vacation)
        self._remote = RemoteDelivery(
            resolver, settings, settings.helo_name or node, mta_sts=mta_sts
        )
        self._signer = signer
        self._notices = Notices(settings.helo_name or node, settings.return_full_max_bytes)
        self._worker = f"{node}/{socket.gethostname()}/spool"
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._last_tick = 0.0
        self.counters: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return "spool"

    @property
    def title(self) -> str:
        return "Spool"

    async def start(self, context: ServiceContext) -> None:
        self._stopping = asyncio.Event()
        self._last_tick = self._clock.monotonic()
        # This node's worker id is the same after a restart: what it held
        # before is held by nobody now.
        released = await self._store.write(self._store.queue.release_claims, self._worker)
        if released:
            log.info("took back %d entries claimed before a restart", released)
        context.spawn(self._loop(), "spool-loop")

    async def stop(self, grace_s: float) -> None:
        self._stopping.set()
        self._intake.wakeup.set()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._remote.close()

    def status(self) -> ServiceStatus:
        return ServiceStatus(
            sessions=len(self._inflight),
            counters=tuple(sorted(self.counters.items())),
            detail=f"{len(self._inflight)} deliveries in progress",
        )

    async def probe(self) -> ProbeResult:
        idle_s = self._clock.monotonic() - self._last_tick
        if idle_s > 3 * self._settings.poll_interval_s + 5:
            return ProbeResult(False, f"the delivery loop has not run for {idle_s:.0f} s")
        now = self._clock.now()
        oldest = await self._store.read(self._store.queue.oldest_due, now)
        waited = 0.0 if oldest is None else (now - oldest).total_seconds()
        if waited > self._settings.probe_overdue_s:
            return ProbeResult(False, f"the oldest due message has waited {waited:.0f} s")
        return ProbeResult(True, "delivering")

    # --- the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._last_tick = self._clock.monotonic()
            self._intake.wakeup.clear()
            free = self._settings.workers - len(self._inflight)
            claimed: list[QueueEntry] = []
            limit = max(free, self._settings.local_batch_max)
            if free > 0:
                claimed = await self._store.write(
                    self._store.queue.claim_due, self._worker, self._settings.lease_s, limit
                )
                batch, single = await self._partition(claimed)
                if batch:
                    self._spawn(self._deliver_batch(batch), f"deliver-batch-{batch[0].id}")
                for entry in single[:free]:
                    self._spawn(self._deliver(entry), f"deliver-{entry.id}")
                if single[free:]:  # no worker free for these: back to the queue, still due
                    await self._store.write(
                        self._store.queue.release_claims,
                        self._worker,
                        [e.id for e in single[free:]],
                    )
            # A full claim may have left due entries behind: claim again at once.
            # A partial one took all there were; new mail sets the wakeup.
            if len(claimed) == limit and len(self._inflight) < self._settings.workers:
                continue
            wakeup = asyncio.ensure_future(self._intake.wakeup.wait())
            await asyncio.wait(
                {wakeup, *self._inflight},
                timeout=self._settings.poll_interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            wakeup.cancel()

    def _spawn(self, work: Coroutine[None, None, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _partition(
        self, entries: list[QueueEntry]
    ) -> tuple[list[QueueEntry], list[QueueEntry]]:
        """Split claimed entries into those the local batch takes and the rest."""
        if self._settings.local_batch_max <= 1:
            return [], entries
        batch: list[QueueEntry] = []
        single: list[QueueEntry] = []
        for entry in entries:
            pending = [r for r in entry.recipients if r.state is RecipientState.PENDING]
            small = entry.size <= self._settings.local_batch_max_bytes
            if small and pending and all([await self._local.is_local(r.address) for r in pending]):
                batch.append(entry)
            else:
                single.append(entry)
        return batch, single

    async def _deliver(self, entry: QueueEntry) -> None:
        await self._guarded(entry, self.attempt(entry))

    async def _guarded(self, entry: QueueEntry, attempt: Awaitable[AttemptResult]) -> None:
        try:
            result = await attempt
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery of entry %d failed; it will be retried", entry.id)
            retry = next_attempt(
                self._settings, entry.attempts + 1, entry.received_at, self._clock.now()
            )
            await self._store.write(self._store.queue.release, entry.id, retry or self._clock.now())
            return
        self._log_result(entry, result)

    @staticmethod
    def _log_result(entry: QueueEntry, result: AttemptResult) -> None:
        log.info(
            "entry %d from <%s>: %d delivered, %d failed, %d deferred",
            entry.id,
            entry.sender,
            result.delivered,
            result.failed,
            result.deferred,
        )

    async def _deliver_batch(self, entries: list[QueueEntry]) -> None:
        """Deliver small, local-only entries together: one read of their bytes, one unit."""
        try:
            messages = await self._store.blobs.read_many([e.blob_hash for e in entries])
        except NotFound:
            for entry in entries:  # the single road says which one and fails it
                await self._deliver(entry)
            return
        facts = [facts_of(message) for message in messages]

        async def unit(tx: Tx) -> list[tuple[QueueEntry, dict[int, Outcome], bool]]:
            done_list = []
            for entry, entry_facts in zip(entries, facts, strict=True):
                folder, auth_results = _delivery_options(entry)
                outcomes: dict[int, Outcome] = {}
                for recipient in entry.recipients:
                    if recipient.state is RecipientState.PENDING:
                        outcomes[recipient.id] = await self._local.deliver_in(
                            tx, entry, recipient, entry_facts, folder, auth_results, record=False
                        )
                done = all(
                    o.state is RecipientState.DELIVERED and not o.forwarded
                    for o in outcomes.values()
                ) and not any(
                    wants(NoticeKind.SUCCESS, entry, r)
                    for r in entry.recipients
                    if r.id in outcomes
                )
                if done:
                    await self._store.queue.remove(tx, entry.id)
                else:  # what was delivered is recorded with the delivery
                    for rid, outcome in outcomes.items():
                        if outcome.state is RecipientState.DELIVERED:
                            await self._store.queue.set_recipient_result(
                                tx, entry.id, rid, RecipientState.DELIVERED, outcome.reply
                            )
                done_list.append((entry, outcomes, done))
            return done_list

        try:
            results = await self._store.write(unit)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a batch of %d entries failed; delivering them one by one", len(entries))
            for entry in entries:
                await self._deliver(entry)
            return
        stats = self._intake.stats
        await self._local.after_commit([(entry, outcomes) for entry, outcomes, _ in results])
        for entry, outcomes, done in results:
            if not done:
                delivered = {
                    rid for rid, o in outcomes.items() if o.state is RecipientState.DELIVERED
                }
                await self._guarded(entry, self._finish(entry, outcomes, delivered))
                continue
            self.counters["delivered"] += len(outcomes)
            self.counters["completed"] += 1
            stats.record("delivered", len(outcomes))
            self._log_result(entry, AttemptResult(len(outcomes), 0, 0))

    async def attempt(self, entry: QueueEntry) -> AttemptResult:
        """One delivery attempt of every pending recipient of an entry."""
        details = json.loads(entry.details or "{}")
        folder, auth_results = _delivery_options(entry)
        pending = [r for r in entry.recipients if r.state is RecipientState.PENDING]
        outcomes: dict[int, Outcome] = {}
        recorded: set[int] = set()
        if pending:
            facts = await read_facts(self._store, entry.blob_hash)
            remote: dict[str, list[QueueRecipient]] = {}
            for recipient in pending:
                if await self._local.is_local(recipient.address):
                    outcome = await self._local.deliver(
                        entry, recipient, facts, folder, auth_results
                    )
                    outcomes[recipient.id] = outcome
                    if outcome.state is RecipientState.DELIVERED:
                        recorded.add(recipient.id)
                else:
                    domain = recipient.address.rpartition("@")[2].lower()
                    remote.setdefault(domain, []).append(recipient)
            if remote:
                message = await self._store.blobs.read(entry.blob_hash)
                message = await self._signed(entry, message)
                for domain, recipients in remote.items():
                    outcomes.update(
                        await self._remote.deliver(
                            entry,
                            domain,
                            recipients,
                            message,
                            smtputf8=bool(details.get("smtputf8")),
                            eight_bit=details.get("body") == "8BITMIME",
                            requiretls=bool(details.get("requiretls")),
                        )
                    )
        return await self._finish(entry, outcomes, recorded)

    async def _signed(self, entry: QueueEntry, message: bytes) -> bytes:
        """DKIM-sign our users' mail and our notices on the way out (RFC 6376)."""
        if self._signer is None or entry.source not in SIGNED_SOURCES:
            return message
        domain = from_domain(split_message(message)[0]).domain
        if not domain:
            return message
        fields = await asyncio.to_thread(self._signer.sign, message, domain)
        return fields + message

    async def _finish(
        self, entry: QueueEntry, outcomes: dict[int, Outcome], recorded: set[int]
    ) -> AttemptResult:
        now = self._clock.now()
        deferred = {rid: o for rid, o in outcomes.items() if o.state is RecipientState.PENDING}
        retry = next_attempt(self._settings, entry.attempts + 1, entry.received_at, now)
        final_failures = {rid: o for rid, o in outcomes.items() if o.state is RecipientState.FAILED}
        if deferred and retry is None:
            for rid, outcome in deferred.items():
                final_failures[rid] = Outcome(
                    RecipientState.FAILED, _expired(outcome.reply, self._settings.give_up_after_s)
                )
            deferred = {}

        notices = await self._notices_for(entry, outcomes, final_failures, deferred, retry, now)
        details = json.loads(entry.details or "{}")
        for kind, ids in notices.marks.items():
            details[f"notified_{kind}"] = sorted(set(details.get(f"notified_{kind}", [])) | ids)

        async def unit(tx: Tx) -> bool:
            to_record = {
                rid: o
                for rid, o in outcomes.items()
                if o.state is RecipientState.DELIVERED and rid not in recorded
            }
            for rid, outcome in {**to_record, **final_failures, **deferred}.items():
                await self._store.queue.set_recipient_result(
                    tx, entry.id, rid, outcome.state, outcome.reply
                )
            sender, recipients = notice_envelope(entry)
            for blob in notices.blobs:
                await self._store.queue.enqueue(tx, blob, sender, recipients, source="notice")
            current = await self._store.queue.entry(tx, entry.id)
            pending = [r for r in current.recipients if r.state is RecipientState.PENDING]
            if pending:
                # Recipients found on the way (an alias forwarding elsewhere)
                # have not been tried yet: at once, not after a retry wait.
                untried = any(r.attempts == 0 and r.id not in outcomes for r in pending)
                when = now if untried else retry or now
                await self._store.queue.release(tx, entry.id, when, details=json.dumps(details))
                return False
            await self._store.queue.remove(tx, entry.id)
            return True

        finished = await self._store.write(unit)
        delivered = sum(1 for o in outcomes.values() if o.state is RecipientState.DELIVERED)
        self.counters["delivered"] += delivered
        self.counters["failed"] += len(final_failures)
        self.counters["deferred"] += len(deferred)
        stats = self._intake.stats
        stats.record("delivered", delivered)
        stats.record("failed", len(final_failures))
        stats.record("deferred", len(deferred))
        if finished:
            self.counters["completed"] += 1
        if notices.blobs:
            self.counters["notices"] += len(notices.blobs)
            self._intake.wakeup.set()
        return AttemptResult(delivered, len(final_failures), len(deferred))

    async def _notices_for(
        self,
        entry: QueueEntry,
        outcomes: dict[int, Outcome],
        final_failures: dict[int, Outcome],
        deferred: dict[int, Outcome],
        retry: datetime | None,
        now: datetime,
    ) -> _Planned:
        """Compose and stage the notices this attempt owes the sender."""
        details = json.loads(entry.details or "{}")
        done = {
            kind: set(details.get(f"notified_{kind}", []))
            for kind in ("failure", "delay", "success")
        }
        by_id = {r.id: r for r in entry.recipients}
        failed = {
            r.id: Report(
                r, final_failures[r.id].reply if r.id in final_failures else r.last_reply or ""
            )
            for r in entry.recipients
            if (
                r.id in final_failures
                or (r.state is RecipientState.FAILED and r.id not in outcomes)
            )
            and r.id not in done["failure"]
        }
        succeeded = {
            rid: Report(
                by_id[rid], o.reply, remote=not o.reply.startswith("250 2.0.0 delivered to")
            )
            for rid, o in outcomes.items()
            if o.state is RecipientState.DELIVERED and rid in by_id and rid not in done["success"]
        }
        delayed: dict[int, Report] = {}
        if (
            deferred
            and not done["delay"]
            and delay_notice_due(self._settings, entry.received_at, now)
        ):
            delayed = {
                rid: Report(by_id[rid], o.reply) for rid, o in deferred.items() if rid in by_id
            }
        planned = _Planned()
        wanted = [
            (NoticeKind.FAILURE, failed),
            (NoticeKind.DELAY, delayed),
            (NoticeKind.SUCCESS, succeeded),
        ]
        original: bytes | None = None
        header_end = 0
        for kind, reports in wanted:
            if not reports:
                continue
            planned.marks[kind.value] = set(reports)
            chosen = [r for r in reports.values() if wants(kind, entry, r.recipient)]
            if not chosen:
                continue
            if original is None:
                original = await self._store.blobs.read(entry.blob_hash)
                header_end = _header_end(original)
            data = self._notices.compose(kind, entry, chosen, original, header_end, now, retry)
            if data is not None:
                planned.blobs.append(await self._store.blobs.stage(data))
        return planned


def _delivery_options(entry: QueueEntry) -> tuple[str | None, str]:
    """The folder to file into (None: INBOX) and the Authentication-Results to add."""
    details = json.loads(entry.details or "{}")
    folder = details.get("folder") if isinstance(details.get("folder"), str) else None
    if folder is None and details.get("auth_mark"):
        folder = "Junk"  # failed SPF or DMARC quarantine: filed, not refused
    auth_results = details.get("auth_results")
    return folder, auth_results if isinstance(auth_results, str) else ""


def _expired(reply: str, give_up_s: float) -> str:
    code = "5" + reply[1:3] if reply[:1] == "4" else reply[:3]
    enhanced = reply[4:].split(" ", 1)[0] if reply[4:5].isdigit() else "4.4.7"
    enhanced = "5" + enhanced[1:]
    return f"{code} {enhanced} gave up after {give_up_s / 86400:g} days; last answer: {reply}"


@dataclass(slots=True)
class _Planned:
    blobs: list[StagedBlob] = field(default_factory=list)
    marks: dict[str, set[int]] = field(default_factory=dict)


def _header_end(message: bytes) -> int:
    end = message.find(b"\r\n\r\n")
    return len(message) if end < 0 else end + 4
