"""Checking inbound mail: SPF, DKIM and DMARC in one call, one header out.

The SMTP service calls `MailAuthenticator.check_message` once the message
is complete (after the final dot, before the 250) for mail from other
servers, and prepends `AuthVerdict.header`. SPF may be checked earlier, at
MAIL FROM, and handed in; the DKIM key and DMARC policy look-ups run at the
same time as each other.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from roost.control.mailauth.dkim_verify import TOO_LARGE, DkimReport, skipped, verify_dkim
from roost.control.mailauth.dmarc import DmarcResult, PolicyLookup, evaluate, find_policy
from roost.control.mailauth.headers import (
    from_domain,
    split_message,
    strip_authentication_results,
)
from roost.control.mailauth.results import authentication_results, check_authserv_id
from roost.control.mailauth.spf_check import SPF_LOOKUP_TIME_S, SpfResult, check_spf
from roost.net.dns import Resolver

DKIM_VERIFY_MAX_BYTES = 10 * 1024 * 1024
SPF_THREADS = 16
"""SPF checks at once: each holds a thread while pyspf waits for DNS."""
HEADER_SCAN_OCTETS = 256 * 1024
"""How much of a message too large to verify is read to find its header block."""


@dataclass(frozen=True, slots=True)
class MailAuthSettings:
    authserv_id: str
    """Our name in Authentication-Results (RFC 8601 §2.5): the MX host name."""
    dkim_verify_max_bytes: int = DKIM_VERIFY_MAX_BYTES
    spf_lookup_time_s: float = SPF_LOOKUP_TIME_S


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    spf: SpfResult
    dkim: DkimReport
    dmarc: DmarcResult
    header: bytes
    """The Authentication-Results field to prepend, folded, CRLF-terminated."""


def _sample() -> int:
    return secrets.randbelow(100)


class MailAuthenticator:
    def __init__(
        self,
        resolver: Resolver,
        settings: MailAuthSettings,
        *,
        sample: Callable[[], int] = _sample,
    ) -> None:
        self._resolver = resolver
        self._settings = settings
        self._authserv_id = check_authserv_id(settings.authserv_id)
        self._sample = sample
        self._spf_threads = ThreadPoolExecutor(SPF_THREADS, thread_name_prefix="roost-spf")

    def close(self) -> None:
        """Let the SPF threads end (checks under way finish on their own)."""
        self._spf_threads.shutdown(wait=False, cancel_futures=True)

    @property
    def authserv_id(self) -> str:
        return self._authserv_id

    def strip_forged(self, header_block: bytes) -> bytes:
        """The header block without Authentication-Results fields claiming our id
        (RFC 8601 §5); call it on the header block as it arrives."""
        return strip_authentication_results(header_block, self._authserv_id)

    async def check_spf(self, *, client_ip: str, helo: str, mail_from: str) -> SpfResult:
        return await check_spf(
            self._resolver,
            client_ip=client_ip,
            helo=helo,
            mail_from=mail_from,
            receiver=self._authserv_id,
            lookup_time_s=self._settings.spf_lookup_time_s,
            executor=self._spf_threads,
        )

    async def check_message(
        self,
        source: bytes | Path,
        *,
        client_ip: str,
        helo: str,
        mail_from: str,
        spf: SpfResult | None = None,
    ) -> AuthVerdict:
        """SPF, DKIM and DMARC for one message, and the header that reports them.

        `source` is the message (bytes, or the spool file it was written to).
        A message over `dkim_verify_max_bytes` is not read whole: its DKIM
        result is `none` with the reason "message too large to verify".
        Raises OSError when the file cannot be read.
        """
        header_block, whole = await _read(source, self._settings.dkim_verify_max_bytes)
        author = from_domain(header_block)

        async def spf_result() -> SpfResult:
            if spf is not None:
                return spf
            return await self.check_spf(client_ip=client_ip, helo=helo, mail_from=mail_from)

        async def dkim_report() -> DkimReport:
            if whole is None:
                return skipped(header_block, TOO_LARGE)
            return await verify_dkim(self._resolver, whole)

        async def policy() -> PolicyLookup | None:
            if author.domain is None:
                return None
            return await find_policy(self._resolver, author.domain)

        spf_done, dkim_done, lookup = await asyncio.gather(spf_result(), dkim_report(), policy())
        dmarc = evaluate(author, lookup, spf_done, dkim_done, self._sample())
        header = authentication_results(self._authserv_id, spf_done, dkim_done, dmarc)
        return AuthVerdict(spf_done, dkim_done, dmarc, header)


async def _read(source: bytes | Path, max_bytes: int) -> tuple[bytes, bytes | None]:
    """(header block, whole message or None when it is over `max_bytes`)."""
    if isinstance(source, bytes):
        header_block, _ = split_message(source)
        return header_block, source if len(source) <= max_bytes else None
    return await asyncio.to_thread(_read_file, source, max_bytes)


def _read_file(path: Path, max_bytes: int) -> tuple[bytes, bytes | None]:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        if size <= max_bytes:
            data = handle.read()
            return split_message(data)[0], data
        head = handle.read(HEADER_SCAN_OCTETS)
    header_block, _ = split_message(head)
    if header_block == head:  # no end of the header block in sight: complete lines only
        header_block = head[: head.rfind(b"\n") + 1]
    return header_block, None
