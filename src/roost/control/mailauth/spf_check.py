"""SPF (RFC 7208): pyspf's evaluator in a thread, asking Roost's resolver.

pyspf resolves names itself, through the deprecated module-level
`dns.resolver.query` on dnspython's process-wide default resolver (with the
search list of /etc/resolv.conf). Instead, `_SpfQuery` overrides the one
method every pyspf look-up goes through, `query.dns`, and sends each
question to the event loop, where `roost.net.dns.Resolver` (the configured
nameservers and timeout) answers it. Nothing global is changed, so checks
with different resolvers can run side by side.

The whole evaluation is bounded by `lookup_time_s` (RFC 7208 §4.6.4 asks
for at least 20 s); past it the result is `temperror`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Literal, cast

import spf

from roost.control.mailauth.lookup import txt_strings
from roost.net.dns import Answer, Lookup, Resolver

log = logging.getLogger(__name__)

SpfCode = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
SPF_CODES: frozenset[str] = frozenset(
    ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
)
SPF_LOOKUP_TIME_S = 20.0
MAX_EXPLANATION_CHARS = 200
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: SpfCode
    explanation: str
    """pyspf's words, or the domain's own `exp=` text (sanitised: it is the
    sender's text and may end up in an SMTP reply)."""
    identity: Literal["mailfrom", "helo"]
    """Which identity was checked: MAIL FROM, or HELO for the null sender
    (RFC 7208 §2.4)."""
    domain: str
    sender: str
    """The address checked; `postmaster@<helo>` for the null sender."""


class _ThreadLookup:
    """DNS for a worker thread: each question runs on the event loop."""

    def __init__(self, resolver: Resolver, loop: asyncio.AbstractEventLoop, budget_s: float):
        self._resolver = resolver
        self._loop = loop
        self._deadline = time.monotonic() + budget_s

    def __call__(self, name: str, rdtype: str) -> Answer:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise spf.TempError("DNS: the SPF lookup time is used up")
        future = asyncio.run_coroutine_threadsafe(self._resolver.query(name, rdtype), self._loop)
        try:
            return future.result(remaining)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise spf.TempError(f"DNS: {rdtype} {name}: no answer in time") from None


class _SpfQuery(spf.query):  # type: ignore[misc]  # pyspf is untyped
    """pyspf's query, its DNS answered through `_ThreadLookup`."""

    def __init__(self, lookup: _ThreadLookup, *, i: str, s: str, h: str, receiver: str) -> None:
        super().__init__(i=i, s=s, h=h, receiver=receiver or None)
        self._lookup = lookup

    def dns(
        self,
        name: str,
        qtype: str,
        cnames: object = None,
        ignore_void: bool = False,
    ) -> list[object]:
        """pyspf's `query.dns`: cached answers, void look-ups counted (RFC 7208
        §4.6.4). CNAME chains are followed by the resolver itself."""
        if not name:
            raise spf.PermError("empty domain name")
        name = str(name).rstrip(".").lower()
        if not all(0 < len(label) < 64 for label in name.split(".")):
            return []
        key = (name, qtype)
        result: list[object] | None = self.cache.get(key)
        if result is None:
            result = self._ask(name, qtype)
            self.cache[key] = result
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def _ask(self, name: str, qtype: str) -> list[object]:
        answer = self._lookup(name, qtype)
        if answer.status is Lookup.TEMPORARY:
            raise spf.TempError(f"DNS {answer.detail}")
        if answer.status is not Lookup.FOUND:
            return []
        out: list[object] = []
        for record in answer.records:
            match qtype:
                case "TXT" | "SPF":
                    out.append(txt_strings(record))
                case "MX":
                    preference, _, host = record.partition(" ")
                    out.append((int(preference), host.rstrip(".")))
                case "PTR":
                    out.append(record.rstrip("."))
                case _:
                    out.append(record)
        return out


def _clean(text: str) -> str:
    return _UNPRINTABLE.sub(" ", text).strip()[:MAX_EXPLANATION_CHARS]


def _evaluate(
    lookup: _ThreadLookup, client_ip: str, helo: str, mail_from: str, receiver: str
) -> SpfResult:
    identity: Literal["mailfrom", "helo"] = "mailfrom" if mail_from else "helo"
    try:
        query = _SpfQuery(lookup, i=client_ip, s=mail_from, h=helo, receiver=receiver)
        result, _code, explanation = query.check()
    except Exception:
        # pyspf parses hostile DNS data; a crash inside it must not lose the mail.
        log.exception("SPF: evaluation failed for %s from %s", mail_from or helo, client_ip)
        domain = (mail_from.rpartition("@")[2] if mail_from else helo).lower()
        return SpfResult("temperror", "SPF evaluation failed", identity, domain, mail_from)
    code = cast(SpfCode, result if result in SPF_CODES else "permerror")
    return SpfResult(code, _clean(str(explanation)), identity, str(query.o).lower(), str(query.s))


async def check_spf(
    resolver: Resolver,
    *,
    client_ip: str,
    helo: str,
    mail_from: str,
    receiver: str = "",
    lookup_time_s: float = SPF_LOOKUP_TIME_S,
    executor: Executor | None = None,
) -> SpfResult:
    """Check whether `client_ip` may send for `mail_from` (or HELO when it is null).

    `receiver` is our host name, for the `%{r}` macro (RFC 7208 §7.2). The
    evaluation holds a thread while it waits for DNS: pass an `executor` of
    its own so that slow domains cannot use up the loop's default one.
    """
    loop = asyncio.get_running_loop()
    lookup = _ThreadLookup(resolver, loop, lookup_time_s)
    return await loop.run_in_executor(
        executor, _evaluate, lookup, client_ip, helo, mail_from, receiver
    )
