"""Reading small messages ahead of a POP3 client that RETRs in order.

Fetching clients (fetchmail, getmail, mail programs) download a maildrop
message by message, in order, and wait for each before asking for the
next. Reading each small message alone costs a trip to the blob store's
disk thread per message, and the client waits for it. So small messages
are read in batches of consecutive ones (one trip for the batch), and
the next batch is read in the background while the client works through
the first half of this one. Each message of a batch is also encoded as
RETR sends it (trace fields and blob, dot-stuffed, ended:
`roost.proto.pop3.encode_message`) in a worker thread, so that a RETR
only writes it.

Memory stays bounded whatever the messages: a batch holds small messages
only (up to `SMALL_MESSAGE_OCTETS` each) and at most half the budget, so
the batch being served and the one being read stay within it. Larger
messages are streamed in the blob store's chunks, not read here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from roost.core.errors import RoostError
from roost.proto.pop3 import EncodedMessage, encode_message
from roost.store.blobs import BlobStore
from roost.store.types import Listed

log = logging.getLogger(__name__)

SMALL_MESSAGE_OCTETS = 64 * 1024
"""Messages up to this size (blob octets) are read whole, ahead of time."""

MAX_BATCH_MESSAGES = 64


class ReadAhead:
    """Small messages, read and encoded in batches ahead of the client."""

    def __init__(self, blobs: BlobStore, messages: Sequence[Listed], budget: int) -> None:
        self._blobs = blobs
        self._messages = messages
        self._batch_octets = budget // 2
        self._cached: dict[int, EncodedMessage] = {}
        self._next: asyncio.Task[dict[int, EncodedMessage]] | None = None
        self._batch_len = 0

    def _blob_octets(self, number: int) -> int:
        message = self._messages[number - 1]
        return message.size - len(message.trace)

    def small(self, number: int) -> bool:
        """Whether message ``number`` is read whole here (else: stream it)."""
        octets = self._blob_octets(number)
        return octets <= SMALL_MESSAGE_OCTETS and octets <= self._batch_octets

    async def message(self, number: int) -> EncodedMessage:
        """Small message ``number`` as RETR sends it. Raises `NotFound` or
        `OSError` when it cannot be read."""
        found = self._cached.pop(number, None)
        if found is None and self._next is not None:
            await self._collect()
            found = self._cached.pop(number, None)
        if found is None:
            self._cached.clear()
            plan = self._plan(number)
            try:
                self._cached = await self._read(plan)
            except (RoostError, OSError):
                if len(plan) == 1:
                    raise
                # Another message of the batch may be the unreadable one.
                self._cached = await self._read([number])
            self._batch_len = len(plan)
            found = self._cached.pop(number)
        if self._next is None and len(self._cached) <= self._batch_len // 2:
            after = max(self._cached, default=number) + 1
            plan = self._plan(after) if after <= len(self._messages) else []
            if plan:
                self._next = asyncio.create_task(self._read(plan), name="pop-read-ahead")
        return found

    async def close(self) -> None:
        """Drop what was read and stop a read in progress."""
        self._cached.clear()
        task, self._next = self._next, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _plan(self, first: int) -> list[int]:
        """Consecutive small messages from ``first``, within a batch's budget."""
        budget = self._batch_octets
        plan: list[int] = []
        last = min(first + MAX_BATCH_MESSAGES, len(self._messages) + 1)
        for number in range(first, last):
            octets = self._blob_octets(number)
            if octets > SMALL_MESSAGE_OCTETS or octets > budget:
                break
            budget -= octets
            plan.append(number)
        return plan

    async def _read(self, plan: list[int]) -> dict[int, EncodedMessage]:
        listed = [self._messages[n - 1] for n in plan]
        blobs = await self._blobs.read_many([m.blob_hash for m in listed])

        def encode() -> list[EncodedMessage]:
            return [encode_message(m.trace, blob) for m, blob in zip(listed, blobs, strict=True)]

        return dict(zip(plan, await asyncio.to_thread(encode), strict=True))

    async def _collect(self) -> None:
        """Take in the batch read in the background; a failed one is dropped
        (the message asked for is then read on its own)."""
        task, self._next = self._next, None
        assert task is not None
        with contextlib.suppress(RoostError, OSError):
            batch = await task
            self._cached.update(batch)
            self._batch_len = len(batch)
