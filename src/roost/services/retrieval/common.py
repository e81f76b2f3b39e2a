"""What both retrieval services share: the error in words, the way a fetched
message enters the queue, and the Fetcher each protocol implements.

A fetched message goes through the Spool as a local delivery into the
account's folder, so quota, filing, indexing and notices apply as to any
mail. It carries a `Received` line (RFC 5321 §4.4) that names the external
account it came from. Its envelope has the null sender and NOTIFY=NEVER
(RFC 3461 §4.1): whatever happens to it here, the original sender, who
already had it delivered once, never hears from us.
"""

from __future__ import annotations

import email.utils
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from roost.control.intake import Envelope, Intake
from roost.store.db import Tx
from roost.store.retrieval import Retrieval
from roost.store.types import NewRecipient


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
    async def fetch(self, job: Job) -> FetchOutcome: ...


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


async def enqueue(
    intake: Intake,
    job: Job,
    source: str,
    message: bytes,
    in_unit: Callable[[Tx], Awaitable[None]],
) -> int:
    """Queue one fetched message; `in_unit` (its fetched key) commits with it."""
    envelope = Envelope(
        "",
        (NewRecipient(job.owner, notify="NEVER"),),
        source=source,
        details={"folder": job.account.spec.folder, "retrieval": job.account.id},
    )
    entry_id = await intake.accept_bytes(message, envelope, in_unit)
    job.progress.committed += 1
    return entry_id
