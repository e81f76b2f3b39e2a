"""One POP3 session: drives the protocol core over a connection.

The core (`roost.proto.pop3`) parses, keeps the states and answers what
needs no outside knowledge, including STAT, LIST, UIDL, DELE and RSET from
the listing it is handed at login. This module answers the rest: password
checks and SCRAM keys through the shared `Authenticator` (and its
throttling), the maildrop lock and listing (`OpenMaildrop`), RETR and TOP
streamed from the store chunk by chunk, and the UPDATE state.

Timers (RFC 1939 §3): a client silent for `[pop] idle_timeout_s` is
disconnected without a reply and without committing anything. While it
waits, the session wakes up to renew its maildrop lock.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from roost.control.auth import Authenticator
from roost.control.sessions import OpenSession
from roost.core.clock import Clock
from roost.core.config import PopSettings
from roost.core.errors import AuthenticationFailed, NotFound, RoostError, Throttled
from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    NetError,
    SessionEnded,
    ShuttingDown,
)
from roost.net.interfaces import Connection
from roost.proto.pop3 import (
    Authenticated,
    AuthFailed,
    ConnectionLost,
    Event,
    PasswordLogin,
    Pop3ServerConnection,
    Pop3Settings,
    Quit,
    Retrieve,
    ScramKeysRequested,
    SessionAborted,
    StartTlsRequested,
    Update,
    replies,
)
from roost.proto.sasl import FailureReason, SaslConfig
from roost.services.pop.maildrop import LockPolicy, LoginTooSoon, MaildropBusy, OpenMaildrop
from roost.store.store import Store
from roost.store.types import Listed

log = logging.getLogger(__name__)

READ_OCTETS = 64 * 1024

SHUTTING_DOWN = replies.err("Server shutting down", replies.ResponseCode.SYS_TEMP)

# SASL failures that count against the client in the throttle.
_CREDENTIAL_FAILURES = frozenset(
    {FailureReason.BAD_CREDENTIALS, FailureReason.UNKNOWN_USER, FailureReason.AUTHZID_NOT_ALLOWED}
)


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every session of the service shares."""

    config: PopSettings
    store: Store
    auth: Authenticator
    sasl: SaslConfig
    tls_context: ssl.SSLContext | None
    node: str
    clock: Clock
    counters: dict[str, int]


class PopSession:
    def __init__(self, deps: SessionDeps, conn: Connection) -> None:
        self._deps = deps
        self._conn = conn
        self._client = conn.peer[0]
        self._holder = f"{deps.node}/{conn.session_id}"
        self._policy = LockPolicy(
            deps.config.lock_ttl_s, deps.config.login_delay_s, deps.config.read_ahead_bytes
        )
        self._drop: OpenMaildrop | None = None
        self._user: str | None = None
        self._signed_in: OpenSession | None = None
        self._retrieved = 0
        self._deleted = 0
        self.core = Pop3ServerConnection(
            self._settings(tls=conn.is_tls), sasl=deps.sasl, tls=conn.is_tls
        )

    def _settings(self, *, tls: bool) -> Pop3Settings:
        config = self._deps.config
        return Pop3Settings(
            login_delay_s=config.login_delay_s,
            max_errors=config.max_errors,
            plaintext_auth_allowed=self._deps.auth.plaintext_allowed(
                tls=False, client=self._client
            ),
            tls_available=self._deps.tls_context is not None and not tls,
            user_pass=config.user_pass,
        )

    def _count(self, name: str, by: int = 1) -> None:
        counters = self._deps.counters
        counters[name] = counters.get(name, 0) + by

    # --- the loop

    async def run(self) -> None:
        core = self.core
        core.greeting()
        try:
            while True:
                event = core.next_event()
                if event is None:
                    if not await self._flush_and_read():
                        break
                    continue
                await self._handle(event)
                if isinstance(event, Quit | SessionAborted | ConnectionLost) or core.closing:
                    await self._flush()
                    break
        finally:
            self._deps.auth.sessions.close(self._signed_in)
            if self._drop is not None:
                await self._drop.release()  # a session that did not reach UPDATE commits nothing
                self._drop = None
            log.info(
                "%s: POP3 session from %s user=%s tls=%s: %d retrieved, %d deleted",
                self._conn.session_id,
                self._client,
                self._user or "-",
                "yes" if self._conn.is_tls else "no",
                self._retrieved,
                self._deleted,
            )

    async def _flush(self) -> None:
        out = self.core.data_to_send()
        if out:
            self._conn.write(out)
            await self._conn.drain()

    async def _flush_and_read(self) -> bool:
        """Send what the core queued, then wait for the client's next bytes.

        False when the session is over: the core closed, the client stayed
        silent past the idle timeout, or the server is stopping.
        """
        await self._flush()
        if self.core.closing:
            return False
        clock = self._deps.clock
        deadline = clock.monotonic() + self._deps.config.idle_timeout_s
        while True:
            wait = deadline - clock.monotonic()
            if self._drop is not None:
                # A busy client renews the lock as a silent one does.
                await self._drop.renew_if_due()
                wait = min(wait, self._drop.renew_in_s())
            try:
                data = await self._conn.read(
                    READ_OCTETS, timeout_s=max(wait, 0.0), between_commands=True
                )
            except IdleTimeout:
                if clock.monotonic() >= deadline:
                    # RFC 1939 §3: the autologout timer closes the connection
                    # without a reply and without entering the UPDATE state.
                    self._count("idle_timeouts")
                    log.info("%s: idle timeout", self._conn.session_id)
                    return False
                continue
            except SessionEnded as ended:
                # Like a dropped connection: the deletions of this session are not committed.
                self._conn.write(replies.err(str(ended), replies.ResponseCode.AUTH).to_bytes())
                await self._conn.drain()
                return False
            except ShuttingDown:
                self._conn.write(SHUTTING_DOWN.to_bytes())
                await self._conn.drain()
                return False
            self.core.receive_data(data)
            return True

    async def _handle(self, event: Event) -> None:
        match event:
            case PasswordLogin(user=user, password=password):
                await self._password_login(user, password)
            case ScramKeysRequested():
                await self._scram_keys(event)
            case Authenticated(user=user):
                await self._authenticated(user)
            case AuthFailed(reason=reason, user=user):
                self._auth_failed(reason, user)
            case StartTlsRequested():
                await self._starttls()
            case Retrieve():
                await self._retrieve(event)
            case Update():
                await self._update(event)
            case _:
                pass

    # --- authentication (RFC 1939 §7, RFC 5034) and the maildrop

    async def _password_login(self, user: str, password: str) -> None:
        try:
            account = await self._deps.auth.authenticate(user, password, client=self._client)
        except Throttled:
            self._count("auth_throttled")
            self.core.reject(replies.TOO_MANY_FAILURES)
            return
        except AuthenticationFailed:
            self._count("auth_failures")
            self.core.reject(replies.AUTH_FAILED)
            return
        except (RoostError, OSError) as exc:
            log.error("%s: cannot check a password: %s", self._conn.session_id, exc)
            self.core.reject(replies.AUTH_TEMPORARY_FAILURE)
            return
        await self._open(account.address)

    async def _scram_keys(self, event: ScramKeysRequested) -> None:
        auth = self._deps.auth
        verdict = auth.throttle.check(self._client, event.user.strip().lower())
        if verdict.locked_for_s > 0:
            self._count("auth_throttled")
            self.core.reject(replies.TOO_MANY_FAILURES)
            return
        if verdict.delay_s:
            await asyncio.sleep(verdict.delay_s)
        try:
            found = await auth.scram_credentials(event.user, event.algorithm)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot read SCRAM keys: %s", self._conn.session_id, exc)
            self.core.reject(replies.AUTH_TEMPORARY_FAILURE)
            return
        self.core.scram_keys(None if found is None else found[1])

    async def _authenticated(self, user: str) -> None:
        try:
            address = await self._deps.auth.account_for(user)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot look up an account: %s", self._conn.session_id, exc)
            self.core.reject(replies.AUTH_TEMPORARY_FAILURE)
            return
        if address is None:
            self._count("auth_failures")
            self.core.reject(replies.AUTH_FAILED)
            return
        self._deps.auth.throttle.succeeded(self._client, address)
        await self._open(address)

    def _auth_failed(self, reason: FailureReason, user: str | None) -> None:
        if reason in _CREDENTIAL_FAILURES:
            self._count("auth_failures")
            self._deps.auth.throttle.failed(self._client, (user or "").strip().lower())
            log.info(
                "%s: authentication failed for %s from %s",
                self._conn.session_id,
                user or "-",
                self._client,
            )

    async def _open(self, address: str) -> None:
        deps = self._deps
        try:
            drop = await OpenMaildrop.open(
                deps.store, deps.clock, self._policy, self._holder, address
            )
        except MaildropBusy:
            self._count("in_use")
            self.core.reject(replies.IN_USE)
            return
        except LoginTooSoon:
            self._count("login_delayed")
            self.core.reject(replies.LOGIN_DELAY)
            return
        except NotFound as exc:
            log.error("%s: no maildrop for %s: %s", self._conn.session_id, address, exc)
            self.core.reject(replies.MAILDROP_BROKEN)
            return
        except (RoostError, OSError) as exc:
            log.error("%s: cannot open the maildrop: %s", self._conn.session_id, exc)
            self.core.reject(replies.MAILDROP_UNAVAILABLE)
            return
        self._drop = drop
        self._user = address
        self._signed_in = deps.auth.sessions.open("pop", address, self._conn.request_end)
        self._count("logins")
        self.core.login_accepted(drop.maildrop)

    # --- TLS (RFC 2595 §4)

    async def _starttls(self) -> None:
        context = self._deps.tls_context
        if context is None:
            self.core.reject(replies.TLS_NOT_AVAILABLE)
            return
        self.core.accept()
        await self._flush()
        try:
            await self._conn.start_tls(context)
        except (ConnectionClosed, NetError) as exc:
            log.info("%s: TLS handshake failed: %s", self._conn.session_id, exc)
            raise
        self.core.tls_established(self._settings(tls=True))

    # --- RETR and TOP (RFC 1939 §5, §7)

    async def _retrieve(self, event: Retrieve) -> None:
        drop = self._drop
        assert drop is not None
        message = drop.message(event.number)
        try:
            # TOP cuts the message as it goes: it streams, whatever the size.
            whole = None if event.top_lines is not None else await drop.small_message(event.number)
        except (RoostError, OSError) as exc:
            self._unavailable(message, exc)
            return
        if whole is not None:
            self.core.send_message(whole)
        elif not await self._stream(message):
            return
        if event.top_lines is None:
            self._retrieved += 1
            self._count("retrieved")
            self._count("retrieved_octets", event.size_octets)

    async def _stream(self, message: Listed) -> bool:
        """Send a large message chunk by chunk as the store reads it; False
        when it could not be read at all (then the core has the -ERR)."""
        core = self.core
        drop = self._drop
        assert drop is not None
        chunks = self._deps.store.message_chunks(message)
        # A TOP that stops early must still close the blob it was reading.
        assert isinstance(chunks, AsyncGenerator)
        async with aclosing(chunks):
            try:
                first = await _first_blob_chunks(chunks, message)
            except (RoostError, OSError) as exc:
                self._unavailable(message, exc)
                return False
            core.begin_message()
            more = True
            for chunk in first:
                more = core.message_data(chunk)
                if not more:
                    break
            await self._flush()
            if more:
                # Once the +OK is out, a failure can only end the connection.
                async for chunk in chunks:
                    if not core.message_data(chunk):
                        break
                    await self._flush()
                    await drop.renew_if_due()
            core.end_message()
        return True

    def _unavailable(self, message: Listed, exc: Exception) -> None:
        log.error("%s: cannot read message uid %d: %s", self._conn.session_id, message.uid, exc)
        self.core.reject(replies.MESSAGE_UNAVAILABLE)

    # --- the UPDATE state (RFC 1939 §6)

    async def _update(self, event: Update) -> None:
        drop = self._drop
        assert drop is not None
        try:
            removed = await drop.commit([d.number for d in event.deleted])
        except (RoostError, OSError) as exc:
            log.error("%s: cannot remove deleted messages: %s", self._conn.session_id, exc)
            self.core.reject(replies.NOT_ALL_DELETED)
            return
        self._drop = None
        self._deleted += len(removed)
        self._count("deleted", len(removed))
        self.core.accept()


async def _first_blob_chunks(chunks: AsyncIterator[bytes], message: Listed) -> list[bytes]:
    """Read the trace and the first chunk of the blob, so that a missing blob
    is found before the ``+OK`` (and answered ``-ERR [SYS/TEMP]``)."""
    taken: list[bytes] = []
    octets = 0
    async for chunk in chunks:
        taken.append(chunk)
        octets += len(chunk)
        if octets > len(message.trace):
            break
    return taken
