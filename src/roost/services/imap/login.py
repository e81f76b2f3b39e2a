"""LOGIN and AUTHENTICATE (RFC 9051 §6.2.2, §6.2.3) through the shared Authenticator.

Passwords are checked by `roost.control.auth.Authenticator`, which also
throttles failures per address and account; SASL runs in
`roost.proto.sasl.SaslExchange` as for SMTP and POP, with SCRAM-SHA-256
and PLAIN offered, and SASL-IR (RFC 4959). SCRAM's server-final message
goes out as a last challenge that the client answers empty (RFC 9051
§6.2.2 has no "additional data with success").

Responses (RFC 5530 codes): a wrong password or an unknown user alike get
NO [AUTHENTICATIONFAILED]; a throttled address NO [UNAVAILABLE]; PLAIN
before TLS where not allowed NO [PRIVACYREQUIRED]; malformed SASL data BAD.
Neither passwords nor SASL data are logged.
"""

from __future__ import annotations

import asyncio
import logging

from roost.control.sessions import Ender, OpenSession
from roost.core.errors import AuthenticationFailed, RoostError, Throttled
from roost.proto.imap.commands.nonauth import Authenticate, Login
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.session_state import PRIVACYREQUIRED
from roost.proto.sasl import (
    Challenge,
    Event,
    Failure,
    FailureReason,
    NeedPassword,
    NeedScramKeys,
    SaslExchange,
    Success,
)
from roost.services.imap.context import UNAVAILABLE, SessionContext

log = logging.getLogger(__name__)

AUTHENTICATIONFAILED = ResponseCode("AUTHENTICATIONFAILED")
_CREDENTIAL_FAILURES = frozenset(
    {FailureReason.BAD_CREDENTIALS, FailureReason.UNKNOWN_USER, FailureReason.AUTHZID_NOT_ALLOWED}
)


class Authentication:
    """One session's sign-in: at most one SASL exchange at a time."""

    def __init__(self, ctx: SessionContext, client: str, end: Ender) -> None:
        self._ctx = ctx
        self._client = client
        self._end = end
        self._exchange: SaslExchange | None = None
        self.signed_in: OpenSession | None = None
        """In the session registry while signed in; the session forgets it at its end."""

    async def _signed_in(self, address: str) -> None:
        ctx = self._ctx
        account = await ctx.store.read(ctx.store.directory.account, address)
        ctx.account_id, ctx.address = account.id, account.address
        self.signed_in = ctx.deps.auth.sessions.open("imap", account.address, self._end)
        ctx.count("logins")
        log.info("%s: %s signed in from %s", ctx.session_id, account.address, self._client)
        ctx.core.authenticated()

    def _failed(self, user: str) -> None:
        ctx = self._ctx
        ctx.count("auth_failures")
        ctx.core.finish(Condition.NO, "Authentication failed", AUTHENTICATIONFAILED)
        log.info("%s: authentication failed for %s from %s", ctx.session_id, user, self._client)

    async def login(self, command: Login) -> None:
        auth = self._ctx.deps.auth
        try:
            account = await auth.authenticate(
                command.username, command.password, client=self._client
            )
        except Throttled:
            self._ctx.count("auth_throttled")
            self._ctx.core.finish(Condition.NO, "Too many failed sign-ins; try later", UNAVAILABLE)
            return
        except AuthenticationFailed:
            self._failed(command.username)
            return
        await self._signed_in(account.address)

    async def start(self, command: Authenticate) -> None:
        ctx = self._ctx
        core = ctx.core
        if command.mechanism not in core.settings.mechanisms:
            core.finish(Condition.NO, f"{command.mechanism[:32]} is not offered here")
            return
        verdict = ctx.deps.auth.throttle.check(self._client, "")
        if verdict.locked_for_s > 0:
            ctx.count("auth_throttled")
            core.finish(Condition.NO, "Too many failed sign-ins; try later", UNAVAILABLE)
            return
        exchange, event = SaslExchange.start(
            command.mechanism,
            command.initial_response,
            config=ctx.deps.sasl,
            tls=core.tls,
            allow_plaintext=core.settings.plaintext_auth_allowed,
        )
        self._exchange = exchange
        await self._step(event)

    async def respond(self, data: bytes) -> None:
        if self._exchange is None:
            self._ctx.core.finish(Condition.BAD, "No authentication in progress")
            return
        await self._step(self._exchange.receive_response(data))

    def cancelled(self) -> None:
        self._exchange = None

    async def _step(self, event: Event) -> None:
        exchange = self._exchange
        assert exchange is not None
        auth = self._ctx.deps.auth
        user = ""
        counted = False  # Authenticator.authenticate counts its own failures
        while True:
            match event:
                case Challenge(data=data):
                    self._ctx.core.auth_challenge(data)
                    return
                case NeedPassword(authcid=authcid, password=password):
                    user, counted = authcid, True
                    try:
                        await auth.authenticate(authcid, password, client=self._client)
                        event = exchange.password_result(True)
                    except Throttled:
                        self._exchange = None
                        self._ctx.core.finish(
                            Condition.NO, "Too many failed sign-ins; try later", UNAVAILABLE
                        )
                        return
                    except AuthenticationFailed:
                        event = exchange.password_result(False)
                case NeedScramKeys(algorithm=algorithm, authcid=authcid):
                    user = authcid
                    verdict = auth.throttle.check(self._client, authcid.strip().lower())
                    if verdict.delay_s:
                        await asyncio.sleep(verdict.delay_s)
                    try:
                        found = await auth.scram_credentials(authcid, algorithm)
                    except (RoostError, OSError):
                        event = exchange.service_failed()
                        continue
                    event = exchange.scram_keys(None if found is None else found[1])
                case Success(authcid=authcid):
                    self._exchange = None
                    address = await auth.account_for(authcid)
                    if address is None:
                        self._failed(authcid)
                        return
                    auth.throttle.succeeded(self._client, address)
                    await self._signed_in(address)
                    return
                case Failure(reason=reason):
                    self._exchange = None
                    self._fail(reason, user, counted=counted)
                    return

    def _fail(self, reason: FailureReason, user: str, *, counted: bool) -> None:
        core = self._ctx.core
        if reason in _CREDENTIAL_FAILURES:
            if not counted:
                self._ctx.deps.auth.throttle.failed(self._client, user.strip().lower())
            self._failed(user)
            return
        match reason:
            case FailureReason.ENCRYPTION_REQUIRED:
                core.finish(Condition.NO, "This mechanism needs TLS first", PRIVACYREQUIRED)
            case FailureReason.TEMPORARY:
                core.finish(Condition.NO, "Try again later", UNAVAILABLE)
            case FailureReason.MECHANISM_UNKNOWN:
                core.finish(Condition.NO, "Unknown mechanism")
            case FailureReason.CANCELLED:
                core.finish(Condition.BAD, "AUTHENTICATE cancelled")
            case _:
                core.finish(Condition.BAD, "Malformed authentication data")
