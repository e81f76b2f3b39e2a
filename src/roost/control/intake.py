"""The one way into the queue, for SMTP, the retrieval services and the webmail.

A message is accepted only once its bytes are durable (file and folder
fsynced, or chunks committed) and its queue entry has committed; only then
may the caller acknowledge it (SMTP's 250). The Spool is woken at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from roost.control.mailstats import MailStats
from roost.core.clock import Clock
from roost.core.config import SpoolSettings
from roost.store.db import Tx
from roost.store.settings import JsonValue
from roost.store.store import Store
from roost.store.types import NewRecipient, StagedBlob


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str
    """The reverse path; "" is the null sender."""
    recipients: tuple[NewRecipient, ...]
    source: str
    """Who put it in: `smtp`, `submission`, `imap-retrieval`, `bounce`, ..."""
    envid: str | None = None
    ret: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    """What the Spool keeps with the entry: client address, HELO name, authenticated
    user, TLS, SMTPUTF8, 8BITMIME, REQUIRETLS, a target folder."""


def trace_headers(sender: str, recipient: str, auth_results: str = "") -> bytes:
    """Return-Path and Delivered-To, written at final delivery (RFC 5321 §4.4),
    and the Authentication-Results of the check made at receipt (RFC 8601).
    The Spool writes them; the retrieval services count them against a quota."""
    head = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n"
    return (head + auth_results).encode("utf-8")


InUnit = Callable[[Tx], Awaitable[None]]
"""An extra step that must commit with the queue entry, or not at all (a
retrieval service's fetched key)."""


class Intake:
    def __init__(
        self, store: Store, settings: SpoolSettings, clock: Clock, stats: MailStats | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self.stats = stats or MailStats(clock)
        self.wakeup = asyncio.Event()

    async def accept_file(
        self,
        path: Path,
        envelope: Envelope,
        known: StagedBlob | None = None,
        in_unit: InUnit | None = None,
    ) -> int:
        """Queue a spooled file (moved into the blob store); returns the entry id.

        `known` is the file's hash and size when the caller computed them while
        writing it (SMTP and the retrieval services do), which spares reading it
        again; `in_unit` runs in the enqueue's unit of work."""
        blob = await self._store.blobs.stage_file(path, known)
        return await self._enqueue(blob, envelope, in_unit)

    async def accept_bytes(
        self, data: bytes, envelope: Envelope, in_unit: InUnit | None = None
    ) -> int:
        """Queue a message held in memory; `in_unit` runs in the enqueue's unit of work."""
        blob = await self._store.blobs.stage(data)
        return await self._enqueue(blob, envelope, in_unit)

    async def _enqueue(
        self, blob: StagedBlob, envelope: Envelope, in_unit: InUnit | None = None
    ) -> int:
        delay = self._settings.delivery_delay_s
        not_before = self._clock.now() + timedelta(seconds=delay) if delay else None

        async def unit(tx: Tx) -> int:
            entry_id = await self._store.queue.enqueue(
                tx,
                blob,
                envelope.sender,
                envelope.recipients,
                source=envelope.source,
                envid=envelope.envid,
                ret=envelope.ret,
                details=json.dumps(dict(envelope.details), sort_keys=True),
                not_before=not_before,
            )
            if in_unit is not None:
                await in_unit(tx)
            return entry_id

        entry_id = await self._store.write(unit)
        self.stats.record("received")
        self.wakeup.set()
        return entry_id
