"""What both retrieval services share: the error in words, the way a fetched
message enters the queue, and the Fetcher each protocol implements.

A fetched message goes through the Spool as a local delivery into the
account's folder, so quota, filing, indexing and notices apply as to any
mail. It carries a `Received` line (RFC 5321 §4.4) that names the external
account it came from. Its envelope has the null sender and NOTIFY=NEVER
(RFC 3461 §4.1): whatever happens to it here, the original sender, who
already had it delivered once, never hears from us.

A message is never held whole in memory: it is written, part by part as it
arrives, to a file in the data folder (`spool/retrieval/`, emptied when the
service starts, since a file there belongs to a fetch that a crash ended),
hashed on the way, and that file becomes the queue entry's blob.

A message is fetched only when it fits the owner's quota (`QuotaRoom`):
its size as the server announces it (IMAP RFC822.SIZE, POP3 LIST), with
the trace fields it gains here and at delivery, against the quota left
after what the mailbox holds and what the queue still has to deliver to
it. One that does not fit is not fetched at all: it stays on the server
untouched (neither deleted nor marked seen), the account shows why, and a
later run looks at its size again, fetching it once there is room. Without
this check the Spool would defer it ("452 4.2.2 mailbox full") until its
retry schedule ended, and then fail it with nobody told.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import secrets
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from roost.control.intake import Envelope, Intake, trace_headers
from roost.core.errors import RoostError
from roost.store.db import Tx
from roost.store.retrieval import Retrieval, queued_for
from roost.store.store import Store
from roost.store.types import NewRecipient, StagedBlob

STAGING_FOLDER = Path("spool") / "retrieval"


class FetchError(Exception):
    """A fetch that ended early; the message is what the account shows."""


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    fetched: int
    """Messages committed to the queue in this run."""
    problem: str | None = None
    """A trouble that did not stop the run (a message over the size limit)."""


@dataclass(slots=True)
class Progress:
    committed: int = 0
    """Messages queued so far: what a run that fails midway still counts."""


@dataclass(frozen=True, slots=True)
class Job:
    """One fetch: the external account, its owner's address and its password."""

    account: Retrieval
    owner: str
    password: str
    progress: Progress = field(default_factory=Progress)


class Fetcher(Protocol):
    staging: Staging

    async def fetch(self, job: Job) -> FetchOutcome: ...


class TlsTrust:
    """The TLS client context for remote servers: the system's authorities,
    plus `[retrieval] ca_file` when set. Names are checked (RFC 6125)."""

    def __init__(self, ca_file: str) -> None:
        self._ca_file = ca_file
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context()
            if self._ca_file:
                try:
                    context.load_verify_locations(cafile=self._ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise RoostError(
                        f"[retrieval] ca_file: cannot load {self._ca_file}: {exc}"
                    ) from exc
            self._context = context
        return self._context


def in_words(exc: BaseException) -> str:
    """The cause of a failed fetch as the account's status shows it."""
    match exc:
        case FetchError():
            return str(exc)
        case ssl.SSLCertVerificationError():
            detail = getattr(exc, "verify_message", None) or "verification failed"
            return f"certificate not trusted: {detail}"
        case ssl.SSLError():
            return f"TLS failed: {getattr(exc, 'reason', None) or exc}"
        case TimeoutError() | socket.timeout():
            return "timeout"
        case ConnectionRefusedError():
            return "host unreachable: connection refused"
        case socket.gaierror():
            return "host unreachable: the name does not resolve"
        case ConnectionError() | EOFError():
            return "the server closed the connection"
        case OSError():
            return f"host unreachable: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def received_line(job: Job, protocol: str, node: str, at: datetime) -> bytes:
    """The trace field naming the external account the message came from."""
    spec = job.account.spec
    line = (
        f"Received: from {spec.host} by {node} with {protocol} "
        f"(retrieval {job.account.id}: {spec.username} at {spec.host}:{spec.port}) "
        f"for <{job.owner}>; {email.utils.format_datetime(at)}\r\n"
    )
    return line.encode("utf-8", "replace")


class MessageFile:
    """One fetched message on its way to the queue: written, hashed and
    counted as its parts arrive (in the fetch's thread)."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.path = folder / f"{secrets.token_hex(12)}.eml"
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        self._handle: BinaryIO | None = self.path.open("xb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise FetchError(
                f"the server sent more than the size limit of {self._limit} bytes "
                "for one message (more than it announced)"
            )
        self._hash.update(data)
        assert self._handle is not None
        self._handle.write(data)

    def close(self) -> StagedBlob:
        assert self._handle is not None
        self._handle.close()
        self._handle = None
        return StagedBlob(self._hash.hexdigest(), self.size)

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.path.unlink(missing_ok=True)


class Staging:
    """The folder fetched messages are written into before the queue takes them."""

    def __init__(self, data_dir: Path, source: str) -> None:
        self.folder = data_dir / STAGING_FOLDER / source

    def prepare(self) -> None:
        """Make the folder, and drop what a crash left in it (never queued)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.folder.glob("*.eml"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)

    def new(self, limit: int) -> MessageFile:
        self.folder.mkdir(parents=True, exist_ok=True)
        return MessageFile(self.folder, limit)


def envelope_for(job: Job, source: str, folder: str) -> Envelope:
    return Envelope(
        "",
        (NewRecipient(job.owner, notify="NEVER"),),
        source=source,
        details={"folder": folder, "retrieval": job.account.id},
    )


async def enqueue_file(
    intake: Intake,
    job: Job,
    source: str,
    message: MessageFile,
    folder: str,
    in_unit: Callable[[Tx], Awaitable[None]],
) -> int:
    """Queue one fetched message from its file into local `folder`; `in_unit`
    (its fetched key) commits with the queue entry."""
    known = message.close()
    envelope = envelope_for(job, source, folder)
    entry_id = await intake.accept_file(message.path, envelope, known, in_unit)
    job.progress.committed += 1
    return entry_id


@dataclass(slots=True)
class QuotaRoom:
    """What the owner's mailbox can still take in this run (0: no limit).

    `used_*` start at what the mailbox holds plus what the queue still has
    to deliver to it, and grow with each message this run admits."""

    quota_bytes: int
    used_bytes: int
    quota_messages: int
    used_messages: int
    overhead: int
    """Octets each message gains on its way in (the trace fields of delivery)."""
    skipped: list[int] = field(default_factory=list)
    """The announced sizes of the messages that did not fit."""
    reason: str = ""
    """The quota as it stood at the first message that did not fit."""

    def admits(self, size: int, trace: int) -> bool:
        """Whether a message of `size` announced octets, gaining `trace` octets
        here, fits; it takes its room if so, and is noted as skipped if not."""
        charged = size + trace + self.overhead
        over = []
        if self.quota_bytes and self.used_bytes + charged > self.quota_bytes:
            over.append(f"{self.used_bytes}/{self.quota_bytes} bytes")
        if self.quota_messages and self.used_messages + 1 > self.quota_messages:
            over.append(f"{self.used_messages}/{self.quota_messages} messages")
        if over:
            self.skipped.append(size)
            self.reason = self.reason or ", ".join(over)
            return False
        self.used_bytes += charged
        self.used_messages += 1
        return True

    def problem(self) -> str | None:
        """The skipped messages in words, for the account's status."""
        if not self.skipped:
            return None
        why = f"the mailbox is over its quota ({self.reason})"
        if len(self.skipped) == 1:
            return (
                f"message of {self.skipped[0]} bytes skipped: {why}; "
                "it stays on the server until there is room"
            )
        low, high = min(self.skipped), max(self.skipped)
        sizes = f"{low} bytes" if low == high else f"{low} to {high} bytes"
        return (
            f"{len(self.skipped)} messages of {sizes} skipped: {why}; "
            "they stay on the server until there is room"
        )


async def quota_room(store: Store, job: Job) -> QuotaRoom:
    """The owner's quota and what counts against it now."""
    # What local delivery prepends (the null sender): charged beyond the message.
    overhead = len(trace_headers("", job.owner))

    async def work(tx: Tx) -> QuotaRoom:
        account = await store.directory.account_by_id(tx, job.account.account_id)
        queued_bytes, queued_count = await queued_for(tx, account.address)
        return QuotaRoom(
            account.quota_bytes,
            account.used_bytes + queued_bytes + queued_count * overhead,
            account.quota_messages,
            account.used_messages + queued_count,
            overhead,
        )

    return await store.read(work)


def problems(*texts: str | None) -> str | None:
    """The troubles of one run that did not stop it, in one line."""
    found = [t for t in texts if t]
    return "; ".join(found) if found else None
