"""Remote delivery: recipients of other domains, by MX, over SMTP (aiosmtplib).

For one entry, the pending recipients of one domain travel in one SMTP
transaction. Every MX host is tried in preference order (A/AAAA of the
domain only when it publishes no MX, RFC 5321 §5.1) before the recipients
are deferred. STARTTLS is used whenever offered, without checking the
certificate (opportunistic, RFC 3207 §4.1); a failed STARTTLS is retried in
plaintext. 5xx answers fail recipients at once; 4xx and connection trouble
defer them. A message is sent at least once: a crash between the remote 250
and our commit may send it once more.
"""

from __future__ import annotations

import asyncio
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
from roost.store.types import QueueEntry, QueueRecipient, RecipientState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Hop:
    domain: str
    host: str
    address: str


class _Pool:
    """Idle connections to other servers, reused for the next message to them."""

    def __init__(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self._idle: dict[tuple[str, str], list[tuple[aiosmtplib.SMTP, float]]] = {}

    def take(self, hop: _Hop, now: float) -> aiosmtplib.SMTP | None:
        waiting = self._idle.get((hop.host, hop.address), [])
        while waiting:
            client, since = waiting.pop()
            if now - since <= self._idle_s and client.is_connected:
                return client
            client.close()
        return None

    def give(self, hop: _Hop, client: aiosmtplib.SMTP, now: float) -> None:
        if self._idle_s <= 0:
            client.close()
            return
        self._idle.setdefault((hop.host, hop.address), []).append((client, now))
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
    """Every recipient of the transaction gets this answer."""

    def __init__(self, reply: str, permanent: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent


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
    ) -> None:
        self._resolver = resolver
        self._settings = settings
        self._helo = helo_name
        self._tls = _opportunistic_context()
        self._clock = clock
        self._pool = _Pool(settings.connection_reuse_s)
        self._per_domain: dict[str, asyncio.Semaphore] = {}

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
        if requiretls:
            # RFC 8689 §4.2: only over TLS validated by MTA-STS or DANE, which
            # this version cannot validate yet; so the message goes back.
            reply = (
                "550 5.7.30 REQUIRETLS: no TLS path validated by MTA-STS or DANE to "
                f"{domain} (Roost does not validate them yet)"
            )
            return {r.id: Outcome(RecipientState.FAILED, reply) for r in recipients}
        try:
            hops = await self._route(domain)
        except _AllFail as failure:
            state = RecipientState.FAILED if failure.permanent else RecipientState.PENDING
            return {r.id: Outcome(state, failure.reply) for r in recipients}
        last = "451 4.4.1 no server of the domain could be reached"
        for hop in hops:
            try:
                return await self._transaction(
                    hop, entry, recipients, message, smtputf8=smtputf8, eight_bit=eight_bit
                )
            except _AllFail as failure:
                if failure.permanent:
                    return {r.id: Outcome(RecipientState.FAILED, failure.reply) for r in recipients}
                last = failure.reply
                log.info("entry %d: %s (%s) deferred: %s", entry.id, hop.host, hop.address, last)
        return {r.id: Outcome(RecipientState.PENDING, last) for r in recipients}

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
        entry: QueueEntry,
        recipients: Sequence[QueueRecipient],
        message: bytes,
        *,
        smtputf8: bool,
        eight_bit: bool,
    ) -> dict[int, Outcome]:
        async with self._limit(hop.domain):
            client = self._pool.take(hop, self._clock())
            if client is not None:
                try:
                    await client.rset()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
                    client = None
            if client is None:
                client = await self._connect(hop, use_starttls=True)
            if client is None:
                client = await self._connect(hop, use_starttls=False)
            if client is None:
                raise _AllFail(f"451 4.4.1 cannot connect to {hop.host} ({hop.address})", False)
            reusable = False
            try:
                outcomes = await self._send(
                    client, hop, entry, recipients, message, smtputf8, eight_bit
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
                    self._pool.give(hop, client, self._clock())
                else:
                    await _quit(client)

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

    async def _connect(self, hop: _Hop, *, use_starttls: bool) -> aiosmtplib.SMTP | None:
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
            if use_starttls and client.supports_extension("starttls"):
                await client.starttls(tls_context=self._tls, server_hostname=hop.host)
                await client.ehlo()
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            log.info("%s (%s): %s", hop.host, hop.address, exc)
            client.close()
            return None
        return client

    async def _send(
        self,
        client: aiosmtplib.SMTP,
        hop: _Hop,
        entry: QueueEntry,
        recipients: Sequence[QueueRecipient],
        message: bytes,
        smtputf8: bool,
        eight_bit: bool,
    ) -> dict[int, Outcome]:
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
