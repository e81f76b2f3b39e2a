"""Local delivery: a recipient of one of our domains, into its mailbox.

Each recipient is delivered in one unit of work (or one savepoint of a unit
that delivers a batch) that appends the message to every mailbox it resolves
to and marks the recipient delivered, so a crash and a retry never put a
second copy in a mailbox (DESIGN: delivery into a mailbox is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from roost.control.intake import trace_headers
from roost.core.errors import NotFound, QuotaExceeded
from roost.services.spool.facts import MessageFacts
from roost.services.spool.vacation import VacationReplies
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import (
    NewMessage,
    NewRecipient,
    QueueEntry,
    QueueRecipient,
    RecipientState,
    StagedBlob,
)

log = logging.getLogger(__name__)

INBOX = "INBOX"


@dataclass(frozen=True, slots=True)
class Outcome:
    state: RecipientState
    """DELIVERED or FAILED are final; PENDING is deferred (tried again later)."""
    reply: str
    """The answer in SMTP's words, e.g. `550 5.1.1 no such user here`."""
    forwarded: bool = False
    """The address also forwards elsewhere: new recipients were added to the entry."""
    inbox: tuple[str, ...] = ()
    """The accounts that got the message in their INBOX (the vacation reply's cue)."""


FETCHED_SOURCES = frozenset({"imap-retrieval", "pop-retrieval"})
"""Mail fetched from a user's account elsewhere carries that server's
Delivered-To, often the same address (a user moving to Roost): not a loop here,
and the fetched keys already keep a message from coming twice."""


class _Refused(Exception):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class LocalDelivery:
    def __init__(
        self, store: Store, delimiter: str, vacation: VacationReplies | None = None
    ) -> None:
        self._store = store
        self._delimiter = delimiter
        self._vacation = vacation

    async def after_commit(self, done: Sequence[tuple[QueueEntry, dict[int, Outcome]]]) -> None:
        """What follows committed deliveries: vacation replies (never in the
        delivery's unit, so that they cannot undo it)."""
        if self._vacation is None:
            return
        deliveries = []
        for entry, outcomes in done:
            addresses = {r.id: r.address for r in entry.recipients}
            delivered = [
                (addresses[rid], account)
                for rid, outcome in outcomes.items()
                if rid in addresses
                for account in outcome.inbox
            ]
            if delivered:
                deliveries.append((entry, delivered))
        if deliveries:
            await self._vacation.after_deliveries(deliveries)

    async def is_local(self, address: str) -> bool:
        domain = address.rpartition("@")[2]
        return await self._store.read(self._store.directory.local_domain, domain) is not None

    async def deliver(
        self,
        entry: QueueEntry,
        recipient: QueueRecipient,
        facts: MessageFacts,
        folder: str | None,
        auth_results: str = "",
    ) -> Outcome:
        """Deliver one recipient in a unit of work of its own."""

        async def unit(tx: Tx) -> Outcome:
            return await self.deliver_in(tx, entry, recipient, facts, folder, auth_results)

        outcome = await self._store.write(unit)
        await self.after_commit([(entry, {recipient.id: outcome})])
        return outcome

    async def deliver_in(
        self,
        tx: Tx,
        entry: QueueEntry,
        recipient: QueueRecipient,
        facts: MessageFacts,
        folder: str | None,
        auth_results: str = "",
        *,
        record: bool = True,
    ) -> Outcome:
        """Deliver one recipient inside `tx`, in a savepoint: a refusal or a full
        mailbox undoes this recipient's appends and nothing else. Without
        `record`, the caller records a delivered recipient's result itself (or
        removes the entry in the same unit)."""
        try:
            async with tx.savepoint():
                reply, forwarded, inbox = await self._deliver(
                    tx, entry, recipient, facts, folder, auth_results, record
                )
        except _Refused as refused:
            return Outcome(RecipientState.FAILED, refused.reply)
        except QuotaExceeded as full:
            return Outcome(RecipientState.PENDING, f"452 4.2.2 mailbox full: {full}")
        return Outcome(RecipientState.DELIVERED, reply, forwarded, inbox)

    async def _deliver(
        self,
        tx: Tx,
        entry: QueueEntry,
        recipient: QueueRecipient,
        facts: MessageFacts,
        folder: str | None,
        auth_results: str,
        record: bool,
    ) -> tuple[str, bool, tuple[str, ...]]:
        blob = StagedBlob(entry.blob_hash, entry.size)
        store = self._store
        resolution = await store.directory.resolve(tx, recipient.address, self._delimiter)
        if resolution is None:
            raise _Refused("550 5.1.1 no such recipient here")
        if resolution.loop:
            raise _Refused("554 5.4.6 the aliases of this address form a loop")
        delivered: list[str] = []
        inbox: list[str] = []
        for address in resolution.accounts:
            if address in facts.delivered_to and entry.source not in FETCHED_SOURCES:
                raise _Refused(f"554 5.4.6 mail loop: already delivered to {address}")
            account = await store.directory.find_account(tx, address)
            if account is None or not account.enabled:
                continue
            box = None
            if folder:
                try:
                    box = await store.mail.mailbox(tx, account.id, folder)
                except NotFound:
                    box = None
            if box is None:
                box = await store.mail.mailbox(tx, account.id, INBOX)
            trace = trace_headers(entry.sender, address, auth_results)
            await store.mail.append(tx, box.id, [NewMessage(blob, trace=trace)])
            delivered.append(f"{address} ({box.name})")
            if box.name == INBOX:
                inbox.append(address)
        await store.queue.add_recipients(
            tx,
            entry.id,
            [
                NewRecipient(f, orcpt=recipient.orcpt, notify=recipient.notify)
                for f in resolution.forwards
            ],
        )
        if not delivered and not resolution.forwards:
            raise _Refused("550 5.2.1 mailbox disabled")
        reply = "250 2.0.0 delivered to " + ", ".join(delivered) if delivered else ""
        if resolution.forwards:
            reply = (
                (reply + "; " if reply else "250 2.1.5 ")
                + "forwarded to "
                + ", ".join(resolution.forwards)
            )
        if record:
            await store.queue.set_recipient_result(
                tx, entry.id, recipient.id, RecipientState.DELIVERED, reply
            )
        if delivered:  # IMAP reads the structure of what is in mailboxes
            await store.blobs.set_structure(tx, entry.blob_hash, facts.structure_json)
        return reply, bool(resolution.forwards), tuple(inbox)
