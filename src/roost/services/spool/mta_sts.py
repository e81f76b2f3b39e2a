"""MTA-STS discovery and the policy cache (RFC 8461 §3.3, §5.1).

Theory of operation. Before each delivery to a domain, `MtaStsPolicies.policy`
asks DNS for `_mta-sts.<domain>` TXT (through Roost's resolver). When the
record's `id` is the one of the cached policy, the cached policy applies and
nothing is fetched; when it is new (or nothing is cached, or the cached
policy has outlived its `max_age`), the policy is fetched over HTTPS from
`https://mta-sts.<domain>/.well-known/mta-sts.txt` by `HttpsPolicyFetcher`.
A cached policy that has not expired keeps applying when DNS has no record,
DNS fails or the fetch fails (§3.3, §5.1); without one, the domain is treated
as having no policy. A failed fetch is not repeated for the same id before
`mta_sts_fetch_retry_s` (§3.3 suggests five minutes or more).

The cache is in memory: a restart forgets every policy and learns them again
at the next delivery to each domain (trust on first use, as before).
Policies are not refreshed ahead of their expiry; the next delivery after it
fetches anew.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import dns.exception
import dns.name
import httpx

from roost.control.mailauth.lookup import txt
from roost.core.config import SpoolSettings
from roost.core.errors import ConfigError, RoostError
from roost.net.dns import Lookup, Resolver
from roost.services.spool.mta_sts_policy import Policy, PolicyError, parse_policy, txt_policy_id

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

HTTPS_PORT = 443
WELL_KNOWN_PATH = "/.well-known/mta-sts.txt"
"""RFC 8461 §3.2: the policy's fixed place on the `mta-sts` host."""


class PolicyUnavailable(RoostError):
    """The policy could not be fetched, or what came back is not a policy."""


class PolicyFetcher(Protocol):
    async def fetch(self, domain: str) -> bytes:
        """The body of `domain`'s policy file; raises `PolicyUnavailable`."""
        ...


def verified_context(ca_file: str) -> ssl.SSLContext:
    """A client context that checks chains and host names (RFC 8461 §3.3, §4.2).

    The system's CAs are trusted, and those of `ca_file` (`[spool]
    tls_ca_file`) besides. Host names match subjectAltName DNS names only:
    §4.2 asks for a DNS-ID, so no fallback to the subject's common name.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.hostname_checks_common_name = False
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[spool] tls_ca_file: cannot load {ca_file}: {exc}") from None
    return context


def ascii_domain(domain: str) -> str | None:
    """The domain in A-labels, as DNS and TLS want it; None for an address literal."""
    domain = domain.rstrip(".").lower()
    if not domain or domain.startswith("["):
        return None
    if domain.isascii():
        return domain
    try:
        return dns.name.from_text(domain).to_text(omit_final_dot=True).lower()
    except (dns.exception.DNSException, UnicodeError):
        return None


class HttpsPolicyFetcher:
    """GET of the policy file (§3.3): certificate checked, no redirects, bounded.

    The `mta-sts` host is resolved with Roost's resolver and each of its
    addresses is tried in turn; the request carries the host name in SNI and
    in Host, and the certificate must be valid for that name. Only a 200
    answer of type text/plain counts; a 3xx is not followed. A client is made
    per fetch, so no connection checked for one name serves another.
    """

    def __init__(
        self,
        resolver: Resolver,
        settings: SpoolSettings,
        *,
        port: int = HTTPS_PORT,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self._resolver = resolver
        self._timeout_s = settings.mta_sts_fetch_timeout_s
        self._max_bytes = settings.mta_sts_max_policy_bytes
        self._port = port
        self._context = context or verified_context(settings.tls_ca_file)

    async def fetch(self, domain: str) -> bytes:
        host = f"mta-sts.{domain}"
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._fetch(host)
        except TimeoutError:
            raise PolicyUnavailable(f"{host}: no policy within {self._timeout_s:g} s") from None

    async def _fetch(self, host: str) -> bytes:
        found, addresses = await self._resolver.addresses(host)
        if not addresses:
            raise PolicyUnavailable(f"{host}: {found.detail or 'no address'}")
        trouble = ""
        for address in addresses:
            try:
                return await self._get(host, address)
            except (httpx.HTTPError, OSError, ValueError) as exc:
                # §3.3: a policy that cannot be fetched "for any reason" is none.
                trouble = f"{host} ({address}): {exc or type(exc).__name__}"
                log.info("MTA-STS policy fetch: %s", trouble)
        raise PolicyUnavailable(trouble)

    async def _get(self, host: str, address: str) -> bytes:
        literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        url = f"https://{literal}:{self._port}{WELL_KNOWN_PATH}"
        where = f"https://{host}{WELL_KNOWN_PATH}"
        headers = {
            "Host": host if self._port == HTTPS_PORT else f"{host}:{self._port}",
            "Accept": "text/plain",
            "Accept-Encoding": "identity",  # the size limit counts what is sent
        }
        async with (
            httpx.AsyncClient(
                verify=self._context,
                follow_redirects=False,
                trust_env=False,
                timeout=self._timeout_s,
            ) as client,
            client.stream("GET", url, headers=headers, extensions={"sni_hostname": host}) as answer,
        ):
            if answer.status_code != 200:
                raise PolicyUnavailable(f"{where}: HTTP {answer.status_code}")
            media = answer.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media != "text/plain":
                raise PolicyUnavailable(f"{where}: type {media or 'none'}, not text/plain")
            if answer.headers.get("content-encoding", "identity").lower() != "identity":
                raise PolicyUnavailable(f"{where}: a compressed answer")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise PolicyUnavailable(f"{where}: {declared} bytes, over {self._max_bytes}")
            body = bytearray()
            async for chunk in answer.aiter_raw():
                body += chunk
                if len(body) > self._max_bytes:
                    raise PolicyUnavailable(f"{where}: over {self._max_bytes} bytes")
            return bytes(body)


@dataclass(frozen=True, slots=True)
class _Cached:
    policy_id: str
    policy: Policy
    fetched_at: float

    def fresh(self, now: float) -> bool:
        return now - self.fetched_at < self.policy.max_age_s


class MtaStsPolicies:
    """The policies of destination domains, discovered and cached (§3.3, §5.1)."""

    def __init__(
        self,
        resolver: Resolver,
        settings: SpoolSettings,
        fetcher: PolicyFetcher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver
        self._fetcher = fetcher or HttpsPolicyFetcher(resolver, settings)
        self._clock = clock
        self._retry_s = settings.mta_sts_fetch_retry_s
        self._max_entries = settings.mta_sts_cache_max
        self._cache: dict[str, _Cached] = {}
        self._failed: dict[tuple[str, str], float] = {}
        self._fetching: dict[tuple[str, str], asyncio.Task[_Cached | None]] = {}

    async def policy(self, domain: str) -> Policy | None:
        """The policy that applies to mail for `domain` now, or None.

        A policy in mode `none` is returned as such: it means the domain has
        withdrawn its policy (§5, §8.3), and the caller delivers as without one.
        """
        name = ascii_domain(domain)
        if name is None:
            return None
        now = self._clock()
        cached = self._cache.get(name)
        if cached is not None and not cached.fresh(now):
            del self._cache[name]
            cached = None
        answer = await txt(self._resolver, f"_mta-sts.{name}")
        policy_id = txt_policy_id(answer.texts) if answer.status is Lookup.FOUND else None
        if policy_id is None:
            # §3.1: no usable record does not remove a cached policy.
            return cached.policy if cached is not None else None
        if cached is not None and cached.policy_id == policy_id:
            return cached.policy
        failed_at = self._failed.get((name, policy_id))
        if failed_at is not None and now - failed_at < self._retry_s:
            return cached.policy if cached is not None else None
        fresh = await self._fetch_once(name, policy_id)
        if fresh is not None:
            return fresh.policy
        return cached.policy if cached is not None else None

    async def _fetch_once(self, domain: str, policy_id: str) -> _Cached | None:
        """One fetch per domain and id at a time; concurrent deliveries share it."""
        key = (domain, policy_id)
        task = self._fetching.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(domain, policy_id), name=f"mta-sts-{domain}")
            self._fetching[key] = task
            task.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(self, domain: str, policy_id: str) -> _Cached | None:
        try:
            policy = parse_policy(await self._fetcher.fetch(domain))
        except (PolicyUnavailable, PolicyError) as exc:
            log.warning("MTA-STS policy of %s (id %s) unavailable: %s", domain, policy_id, exc)
            self._remember(self._failed, (domain, policy_id), self._clock())
            return None
        log.info(
            "MTA-STS policy of %s (id %s): mode %s, mx %s, max_age %d s",
            domain,
            policy_id,
            policy.mode.value,
            " ".join(policy.mx) or "-",
            policy.max_age_s,
        )
        self._failed.pop((domain, policy_id), None)
        fresh = _Cached(policy_id, policy, self._clock())
        self._remember(self._cache, domain, fresh)
        return fresh

    def _remember(self, table: dict[K, V], key: K, value: V) -> None:
        """Insert as the newest entry; past the limit, the oldest ones go."""
        table.pop(key, None)
        table[key] = value
        while len(table) > self._max_entries:
            del table[next(iter(table))]
