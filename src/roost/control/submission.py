"""The submission policy: what an authenticated user may send.

One module for every way a user sends mail (authenticated SMTP now, the
webmail later): which envelope senders are theirs, how many recipients and
messages they may send, and the header fields a submission server adds when
the client left them out (RFC 6409 §8.2 Message-ID, §8.3 Date).
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from dataclasses import dataclass
from email.utils import format_datetime

from roost.core.clock import Clock
from roost.core.config import Config
from roost.store.store import Store

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SubmissionLimits:
    restrict_sender: bool
    max_recipients: int
    messages_per_hour: int
    """0 means no limit."""


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reply: str = ""


class SubmissionPolicy:
    def __init__(
        self, store: Store, limits: SubmissionLimits, delimiter: str, clock: Clock
    ) -> None:
        self._store = store
        self._limits = limits
        self._delimiter = delimiter
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    @classmethod
    def of(cls, config: Config, store: Store, clock: Clock) -> SubmissionPolicy:
        """The policy of `[smtp]`; the composition root builds one for SMTP
        submission and the webmail alike (one hourly count per user)."""
        smtp = config.smtp
        limits = SubmissionLimits(smtp.restrict_sender, smtp.max_recipients, smtp.messages_per_hour)
        return cls(store, limits, config.directory.recipient_delimiter, clock)

    async def allowed_senders(self, account: str) -> frozenset[str]:
        aliases = await self._store.read(self._store.directory.aliases_of, account)
        return frozenset([account, *aliases])

    async def check_sender(self, account: str, sender: str) -> Verdict:
        """May `account` use `sender` as its envelope sender?"""
        if not self._limits.restrict_sender:
            return Verdict(True)
        if sender == "":
            return Verdict(False, "553 5.7.1 the null sender is for bounces only")
        wanted = sender.lower()
        local, _, domain = wanted.rpartition("@")
        if self._delimiter and self._delimiter in local:
            base = f"{local.split(self._delimiter, 1)[0]}@{domain}"
        else:
            base = wanted
        allowed = await self.allowed_senders(account)
        if wanted in allowed or base in allowed:
            return Verdict(True)
        return Verdict(False, f"553 5.7.1 {account} may not send as <{sender}>")

    def check_recipient_count(self, count: int) -> Verdict:
        if count > self._limits.max_recipients:
            return Verdict(False, "452 4.5.3 too many recipients for one message")
        return Verdict(True)

    def check_rate(self, account: str) -> Verdict:
        """Count one message; refuse past the hourly limit (a sliding window)."""
        limit = self._limits.messages_per_hour
        if not limit:
            return Verdict(True)
        now = self._clock.monotonic()
        window = self._sent.setdefault(account, deque())
        while window and window[0] < now - 3600:
            window.popleft()
        if len(window) >= limit:
            return Verdict(
                False, f"450 4.7.1 {account} has sent {limit} messages this hour; try later"
            )
        window.append(now)
        return Verdict(True)


def missing_fields(header: bytes, domain: str, clock: Clock) -> bytes:
    """The Date and Message-ID fields to put before a submitted message that lacks them."""
    present = {m.group(1).lower() for m in _FIELD_NAME.finditer(header)}
    extra = b""
    if b"date" not in present:
        extra += f"Date: {format_datetime(clock.now())}\r\n".encode()
    if b"message-id" not in present:
        extra += f"Message-ID: <{secrets.token_hex(16)}@{domain}>\r\n".encode()
    return extra
