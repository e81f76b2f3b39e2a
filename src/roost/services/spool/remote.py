"""Remote delivery: recipients of other domains, by MX, over SMTP (aiosmtplib).

For one entry, the pending recipients of one domain travel in one SMTP
transaction. Every MX host is tried in preference order (A/AAAA of the
domain only when it publishes no MX, RFC 5321 §5.1) before the recipients
are deferred. Without an MTA-STS policy, STARTTLS is used whenever offered,
without checking the certificate (opportunistic, RFC 3207 §4.1); a failed
STARTTLS is retried in plaintext. 5xx answers fail recipients at once; 4xx
and connection trouble defer them. A message is sent at least once: a crash
between the remote 250 and our commit may send it once more.

MTA-STS (RFC 8461 §5), the domain's policy looked up by `mta_sts.py` after its
MX hosts:
- `enforce`: only MX hosts that match the policy's `mx` patterns are tried,
  each only over STARTTLS with a certificate valid for the MX host name; no
  plaintext fallback. A host that fails is skipped; when none is left, the
  recipients are deferred with a 4.7.x answer naming MTA-STS (§5: such
  failures are transient), and the retry schedule ends in the usual bounce.
- `testing`: delivery goes on as without a policy; what would have failed is
  logged (TLS reporting, RFC 8460, is not built).
- `none`, or no policy: opportunistic, as above.

REQUIRETLS (RFC 8689 §4.2.1) mail travels only over a TLS session validated
by MTA-STS (an `enforce` policy) to a host that offers REQUIRETLS, with
REQUIRETLS on MAIL FROM; when no host of the domain qualifies, it is returned
with 5.7.30. DANE (RFC 7672) is not built: a domain that protects its MX
hosts by DANE alone gets no REQUIRETLS mail from Roost.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiosmtplib

from roost.core.config import SpoolSettings
from roost.net.dns import Lookup, Resolver
from roost.proto.dsn import xtext_encode
from roost.services.spool.local import Outcome
from roost.services.spool.mta_sts import MtaStsPolicies, verified_context
from roost.services.spool.mta_sts_policy import Mode, Policy
from roost.store.types import QueueEntry, QueueRecipient, RecipientState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Hop:
    domain: str
    host: str
    address: str


class _Tls(enum.Enum):
    """How one hop is spoken to, by the MTA-STS policy of its domain."""

    OPPORTUNISTIC = "opportunistic"  # STARTTLS if offered, unchecked; plaintext after a failure
    TESTING = "testing"  # checked STARTTLS first; a failure is logged, then opportunistic
    ENFORCE = "enforce"  # checked STARTTLS or nothing


class _Pool:
    """Idle connections to other servers, reused for the next message to them.

    A connection whose TLS was checked for its host name is kept apart: only
    such a one may carry mail that a policy in `enforce` mode protects.
    """

    def __init__(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self._idle: dict[tuple[str, str, bool], list[tuple[aiosmtplib.SMTP, float]]] = {}

    def take(
        self, hop: _Hop, now: float, *, verified_only: bool
    ) -> tuple[aiosmtplib.SMTP, bool] | None:
        for verified in (True,) if verified_only else (False, True):
            waiting = self._idle.get((hop.host, hop.address, verified), [])
            while waiting:
                client, since = waiting.pop()
                if now - since <= self._idle_s and client.is_connected:
                    return client, verified
                client.close()
        return None

    def give(self, hop: _Hop, client: aiosmtplib.SMTP, verified: bool, now: float) -> None:
        if self._idle_s <= 0:
            client.close()
            return
        self._idle.setdefault((hop.host, hop.address, verified), []).append((client, now))
        asyncio.get_running_loop().call_later(self._idle_s + 0.1, self._sweep, now + self._idle_s)

    def _sweep(self, deadline: float) -> None:
        """Close connections idle since before `deadline` (nobody reused them)."""
        for key, waiting in list(self._idle.items()):
            keep = []
            for client, since in waiting:
                if since + self._idle_s <= deadline:
                    client.close()
                else:
                    keep.append((client, since))
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def drain(self) -> list[aiosmtplib.SMTP]:
        clients = [client for waiting in self._idle.values() for client, _ in waiting]
        self._idle.clear()
        return clients


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


class _AllFail(Exception):
    """Every recipient of the transaction gets this answer.

    `security`: the hop failed what MTA-STS or REQUIRETLS asks (no STARTTLS,
    a certificate not valid for it, no REQUIRETLS), not the network.
    """

    def __init__(self, reply: str, permanent: bool, *, security: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent
        self.security = security


class _Failure(enum.Enum):
    CONNECT = "connect"
    NO_STARTTLS = "no STARTTLS"
    TLS = "TLS"


class _NoSession(Exception):
    """No SMTP session of the kind asked for could be opened with a hop."""

    def __init__(self, kind: _Failure, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _reply(code: int, message: str) -> str:
    text = " ".join(message.split())
    return f"{code} {text}"


def _opportunistic_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class RemoteDelivery:
    def __init__(
        self,
        resolver: Resolver,
        settings: SpoolSettings,
        helo_name: str,
        clock: Callable[[], float] = time.monotonic,
        *,
        mta_sts: MtaStsPolicies | None = None,
    ) -> None:
        self._resolver = resolver
        self._settings = settings
        self._helo = helo_name
        self._tls = _opportunistic_context()
        self._verified = verified_context(settings.tls_ca_file)
        self._clock = clock
        self._pool = _Pool(settings.connection_reuse_s)
        self._per_domain: dict[str, asyncio.Semaphore] = {}
        self._mta_sts: MtaStsPolicies | None = None
        if settings.mta_sts:
            self._mta_sts = mta_sts or MtaStsPolicies(resolver, settings)

    async def deliver(
        self,
        entry: QueueEntry,
        domain: str,
        recipients: Sequence[QueueRecipient],
        message: bytes,
        *,
        smtputf8: bool,
        eight_bit: bool,
        requiretls: bool = False,
    ) -> dict[int, Outcome]:
        def every(state: RecipientState, reply: str) -> dict[int, Outcome]:
            return {r.id: Outcome(state, reply) for r in recipients}

        try:
            hops = await self._route(domain)
        except _AllFail as failure:
            state = RecipientState.FAILED if failure.permanent else RecipientState.PENDING
            return every(state, failure.reply)
        policy = await self._mta_sts.policy(domain) if self._mta_sts is not None else None
        enforce = policy is not None and policy.mode is Mode.ENFORCE
        if requiretls and not enforce:
            # RFC 8689 §4.2.1: only over TLS validated by MTA-STS or DANE; DANE
            # is not built, so without an enforced policy the message goes back.
            why = (
                "the domain publishes no policy in enforce mode"
                if self._mta_sts is not None
                else "MTA-STS is off in [spool] mta_sts"
            )
            return every(
                RecipientState.FAILED,
                f"550 5.7.30 REQUIRETLS: no TLS path to {domain} validated by MTA-STS "
                f"({why}; Roost does not validate DANE)",
            )
        plan = self._plan(entry, domain, hops, policy)
        if not plan:  # only under enforce: the policy names none of the MX hosts
            if requiretls:
                return every(
                    RecipientState.FAILED,
                    f"550 5.7.30 REQUIRETLS: no MX host of {domain} matches its MTA-STS policy",
                )
            return every(
                RecipientState.PENDING,
                f"451 4.7.0 MTA-STS: no MX host of {domain} matches its policy (enforce)",
            )
        last = "451 4.4.1 no server of the domain could be reached"
        security_only = True
        for hop, tls in plan:
            try:
                return await self._transaction(
                    hop,
                    tls,
                    entry,
                    recipients,
                    message,
                    smtputf8=smtputf8,
                    eight_bit=eight_bit,
                    requiretls=requiretls,
                )
            except _AllFail as failure:
                if failure.permanent:
                    return every(RecipientState.FAILED, failure.reply)
                last = failure.reply
                security_only = security_only and failure.security
                log.info("entry %d: %s (%s) deferred: %s", entry.id, hop.host, hop.address, last)
        if requiretls and security_only:
            # RFC 8689 §4.2.1: every MX host tried, none qualified: returned.
            return every(
                RecipientState.FAILED,
                f"550 5.7.30 REQUIRETLS: no MX host of {domain} offered TLS validated by "
                f"MTA-STS with REQUIRETLS (last: {last})",
            )
        return every(RecipientState.PENDING, last)

    def _plan(
        self, entry: QueueEntry, domain: str, hops: list[_Hop], policy: Policy | None
    ) -> list[tuple[_Hop, _Tls]]:
        """The hops to try and how, by the policy (RFC 8461 §4.1, §5)."""
        if policy is None or policy.mode is Mode.NONE:
            return [(hop, _Tls.OPPORTUNISTIC) for hop in hops]
        plan: list[tuple[_Hop, _Tls]] = []
        unlisted: set[str] = set()
        for hop in hops:
            if policy.allows(hop.host):
                plan.append((hop, _Tls.ENFORCE if policy.mode is Mode.ENFORCE else _Tls.TESTING))
                continue
            if hop.host not in unlisted:
                unlisted.add(hop.host)
                log.warning(
                    "entry %d: MTA-STS policy of %s (%s) does not list the MX host %s%s",
                    entry.id,
                    domain,
                    policy.mode.value,
                    hop.host,
                    ": skipped" if policy.mode is Mode.ENFORCE else "; delivering without it",
                )
            if policy.mode is Mode.TESTING:
                plan.append((hop, _Tls.OPPORTUNISTIC))
        return plan

    async def _route(self, domain: str) -> list[_Hop]:
        answer, mx = await self._resolver.mx(domain)
        if answer.status is Lookup.NO_DOMAIN:
            raise _AllFail(f"550 5.1.2 the domain {domain} does not exist", permanent=True)
        if answer.status is Lookup.TEMPORARY:
            raise _AllFail(f"451 4.4.3 DNS lookup of {domain} failed: {answer.detail}", False)
        if len(mx) == 1 and mx[0].host in ("", "."):
            raise _AllFail(f"556 5.1.10 {domain} accepts no mail (null MX, RFC 7505)", True)
        hosts = [h.host for h in mx] if mx else [domain]
        hops: list[_Hop] = []
        temporary = ""
        for host in hosts:
            found, addresses = await self._resolver.addresses(host)
            if found.status is Lookup.TEMPORARY:
                temporary = found.detail
            hops.extend(_Hop(domain, host, address) for address in addresses)
        if not hops:
            if temporary:
                raise _AllFail(f"451 4.4.3 DNS lookup failed: {temporary}", permanent=False)
            raise _AllFail(f"550 5.1.2 no address for the mail servers of {domain}", True)
        return hops

    async def _transaction(
        self,
        hop: _Hop,
        tls: _Tls,
        entry: QueueEntry,
        recipients: Sequence[QueueRecipient],
        message: bytes,
        *,
        smtputf8: bool,
        eight_bit: bool,
        requiretls: bool,
    ) -> dict[int, Outcome]:
        async with self._limit(hop.domain):
            session = self._pool.take(hop, self._clock(), verified_only=tls is _Tls.ENFORCE)
            if session is not None:
                try:
                    await session[0].rset()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    session[0].close()
                    session = None
            if session is None:
                session = await self._open(hop, tls, entry)
            client, verified = session
            reusable = False
            try:
                outcomes = await self._send(
                    client, hop, entry, recipients, message, smtputf8, eight_bit, requiretls
                )
                reusable = True
                return outcomes
            except aiosmtplib.SMTPResponseException as exc:
                permanent = 500 <= exc.code < 600
                raise _AllFail(_reply(exc.code, exc.message), permanent=permanent) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise _AllFail(f"451 4.4.2 connection to {hop.host} lost: {exc}", False) from None
            finally:
                if reusable:
                    self._pool.give(hop, client, verified, self._clock())
                else:
                    await _quit(client)

    async def _open(self, hop: _Hop, tls: _Tls, entry: QueueEntry) -> tuple[aiosmtplib.SMTP, bool]:
        """A new session with `hop`, and whether its TLS was checked for the host name."""
        unreachable = _AllFail(f"451 4.4.1 cannot connect to {hop.host} ({hop.address})", False)
        if tls is not _Tls.OPPORTUNISTIC:
            try:
                return await self._connect(hop, self._verified, required=True), True
            except _NoSession as failure:
                if failure.kind is _Failure.CONNECT:
                    raise unreachable from None
                if tls is _Tls.ENFORCE:
                    code = "4.7.4" if failure.kind is _Failure.NO_STARTTLS else "4.7.5"
                    raise _AllFail(
                        f"451 {code} MTA-STS policy of {hop.domain} (enforce): {hop.host} "
                        f"{failure.detail}",
                        False,
                        security=True,
                    ) from None
                log.warning(
                    "entry %d: MTA-STS policy of %s (testing) would refuse %s (%s): %s; "
                    "delivering without it",
                    entry.id,
                    hop.domain,
                    hop.host,
                    hop.address,
                    failure.detail,
                )
        try:
            return await self._connect(hop, self._tls, required=False), False
        except _NoSession as failure:
            if failure.kind is _Failure.CONNECT:
                raise unreachable from None
        try:  # a failed STARTTLS is retried in plaintext (opportunistic TLS)
            return await self._connect(hop, None, required=False), False
        except _NoSession:
            raise unreachable from None

    def _limit(self, domain: str) -> asyncio.Semaphore:
        semaphore = self._per_domain.get(domain)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self._settings.max_connections_per_domain)
            self._per_domain[domain] = semaphore
        return semaphore

    async def close(self) -> None:
        """Quit every idle connection (the Spool is stopping)."""
        for client in self._pool.drain():
            await _quit(client)

    async def _connect(
        self, hop: _Hop, context: ssl.SSLContext | None, *, required: bool
    ) -> aiosmtplib.SMTP:
        """Connect and EHLO, then STARTTLS with `context` unless it is None.

        Without `required`, a host that offers no STARTTLS is spoken to in
        plaintext; with it, that is a failure.
        """
        client = aiosmtplib.SMTP(
            hostname=hop.address,
            port=self._settings.remote_port,
            local_hostname=self._helo,
            timeout=self._settings.command_timeout_s,
            start_tls=False,
            validate_certs=False,
        )
        try:
            await client.connect(timeout=self._settings.connect_timeout_s)
            await client.ehlo()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.info("%s (%s): %s", hop.host, hop.address, exc)
            client.close()
            raise _NoSession(_Failure.CONNECT, str(exc)) from None
        if context is None:
            return client
        if not client.supports_extension("starttls"):
            if not required:
                return client
            await _quit(client)
            raise _NoSession(_Failure.NO_STARTTLS, "offers no STARTTLS")
        try:
            await client.starttls(tls_context=context, server_hostname=hop.host)
            await client.ehlo()
        except ssl.SSLCertVerificationError as exc:
            detail = f"has no valid certificate ({exc.verify_message})"
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            detail = f"failed STARTTLS ({exc or type(exc).__name__})"
        else:
            return client
        log.info("%s (%s): %s", hop.host, hop.address, detail)
        client.close()
        raise _NoSession(_Failure.TLS, detail)

    async def _send(
        self,
        client: aiosmtplib.SMTP,
        hop: _Hop,
        entry: QueueEntry,
        recipients: Sequence[QueueRecipient],
        message: bytes,
        smtputf8: bool,
        eight_bit: bool,
        requiretls: bool,
    ) -> dict[int, Outcome]:
        if requiretls and not client.supports_extension("requiretls"):
            raise _AllFail(
                f"550 5.7.30 REQUIRETLS: {hop.host} does not offer REQUIRETLS", False, security=True
            )
        if smtputf8 and not client.supports_extension("smtputf8"):
            raise _AllFail(
                f"550 5.6.7 {hop.host} does not accept internationalised mail (SMTPUTF8)", True
            )
        if eight_bit and not client.supports_extension("8bitmime"):
            raise _AllFail(f"554 5.6.3 {hop.host} does not accept 8-bit mail (8BITMIME)", True)
        dsn = client.supports_extension("dsn")
        options = [f"SIZE={len(message)}"] if client.supports_extension("size") else []
        if eight_bit:
            options.append("BODY=8BITMIME")
        if smtputf8:
            options.append("SMTPUTF8")
        if requiretls:
            options.append("REQUIRETLS")  # RFC 8689 §4.2.1: the next hop keeps the promise
        if dsn and entry.ret:
            options.append(f"RET={entry.ret}")
        if dsn and entry.envid:
            options.append(f"ENVID={xtext_encode(entry.envid)}")
        encoding = "utf-8" if smtputf8 else "ascii"
        await client.mail(entry.sender, options=options, encoding=encoding)
        outcomes: dict[int, Outcome] = {}
        accepted: list[QueueRecipient] = []
        for recipient in recipients:
            rcpt_options = []
            if dsn and recipient.notify:
                rcpt_options.append(f"NOTIFY={recipient.notify}")
            if dsn and recipient.orcpt:
                rcpt_options.append(f"ORCPT={recipient.orcpt}")
            try:
                await client.rcpt(recipient.address, options=rcpt_options, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as refused:
                state = RecipientState.FAILED if refused.code >= 500 else RecipientState.PENDING
                outcomes[recipient.id] = Outcome(state, _reply(refused.code, refused.message))
            else:
                accepted.append(recipient)
        if not accepted:
            await client.rset()
            return outcomes
        response = await client.data(message)
        reply = f"{_reply(response.code, response.message)} (from {hop.host})"
        for recipient in accepted:
            outcomes[recipient.id] = Outcome(RecipientState.DELIVERED, reply)
        return outcomes
