"""One SMTP session: drives the protocol core over a connection.

The core (proto/smtp) parses and answers what needs no outside knowledge;
this module answers the rest from the directory, the submission policy and
the queue. Message data streams into a spool file as it arrives and enters
the queue through the intake; the 250 goes out only once the intake says the
bytes are durable and the entry committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from roost.control.auth import Authenticator
from roost.control.intake import Envelope, Intake
from roost.control.mailauth import MailAuthenticator
from roost.control.mailauth.policy import AuthPolicy, Mark, Reject, decide
from roost.control.sessions import OpenSession
from roost.control.submission import SubmissionPolicy, missing_fields
from roost.core.clock import Clock
from roost.core.config import SmtpSettings as SmtpConfig
from roost.core.errors import AuthenticationFailed, RoostError, Throttled
from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    NetError,
    SessionEnded,
    ShuttingDown,
)
from roost.net.interfaces import Connection
from roost.proto.dsn import format_orcpt
from roost.proto.sasl import (
    Challenge,
    Failure,
    FailureReason,
    NeedPassword,
    NeedScramKeys,
    SaslConfig,
    SaslExchange,
    Success,
    offered_mechanisms,
)
from roost.proto.smtp import replies
from roost.proto.smtp.connection import SmtpServerConnection
from roost.proto.smtp.events import (
    AuthCancelled,
    AuthRequested,
    AuthResponse,
    ConnectionLost,
    DataChunk,
    DataEnd,
    DataRequested,
    Hello,
    MailFrom,
    MailParams,
    MessageRefused,
    Quit,
    RcptTo,
    Reset,
    SessionAborted,
    StartTlsRequested,
    Vrfy,
)
from roost.proto.smtp.replies import Reply
from roost.proto.smtp.settings import SmtpSettings
from roost.services.smtp.policy import ListenerKind, RelayPolicy, ascii_text
from roost.services.smtp.received import ReceivedFacts, received_field
from roost.store.settings import JsonValue
from roost.store.types import NewRecipient, StagedBlob

log = logging.getLogger(__name__)

READ_OCTETS = 64 * 1024
HEADER_SCAN_OCTETS = 256 * 1024
SMTP_MECHANISMS = ("SCRAM-SHA-256", "PLAIN", "LOGIN")


@dataclass
class _Transaction:
    sender: str
    params: MailParams
    recipients: list[NewRecipient] = field(default_factory=list)
    path: Path | None = None
    handle: IO[bytes] | None = None
    header: bytearray = field(default_factory=bytearray)
    in_header: bool = True
    received_fields: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    """SHA-256 of what is written to the spool file: the blob's name, known
    when the data ends without reading the file again."""
    size: int = 0

    def write(self, data: bytes) -> None:
        assert self.handle is not None
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)


@dataclass(frozen=True, slots=True)
class SessionDeps:
    config: SmtpConfig
    hostname: str
    intake: Intake
    auth: Authenticator
    submission: SubmissionPolicy
    relay: RelayPolicy
    sasl: SaslConfig
    spool_dir: Path
    tls_context: ssl.SSLContext | None
    clock: Clock
    counters: dict[str, int]
    mailauth: MailAuthenticator | None
    """None when inbound checks are off."""
    auth_policy: AuthPolicy


class SmtpSession:
    def __init__(self, deps: SessionDeps, kind: ListenerKind, conn: Connection) -> None:
        self._deps = deps
        self._kind = kind
        self._conn = conn
        self._client = conn.peer[0]
        self._user: str | None = None
        self._signed_in: OpenSession | None = None
        self._helo = ""
        self._txn: _Transaction | None = None
        self._exchange: SaslExchange | None = None
        self._messages = 0
        self.core = SmtpServerConnection(self._settings(tls=conn.is_tls))

    # --- settings for the core, by listener and TLS state

    def _settings(self, *, tls: bool) -> SmtpSettings:
        config = self._deps.config
        submission = self._kind is not ListenerKind.MX
        plaintext_ok = self._deps.auth.plaintext_allowed(tls=tls, client=self._client)
        mechanisms: tuple[str, ...] = ()
        if submission:
            offered = offered_mechanisms(tls=tls, allow_plaintext=plaintext_ok)
            mechanisms = tuple(m for m in SMTP_MECHANISMS if m in offered)
        return SmtpSettings(
            hostname=self._deps.hostname,
            max_message_octets=config.max_message_bytes,
            max_recipients=config.max_recipients,
            max_data_line_octets=config.max_data_line_bytes,
            max_errors=config.max_errors,
            starttls_available=self._deps.tls_context is not None and not tls,
            auth_mechanisms=mechanisms,
            auth_required=submission,
            tls_required_for_auth=not plaintext_ok,
            requiretls=tls,
            vrfy_enabled=False,
        )

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
                if isinstance(event, ConnectionLost):
                    break
                if isinstance(event, SessionAborted):
                    await self._flush()  # the closing 421
                    break
                await self._handle(event)
                if isinstance(event, Quit):
                    await self._flush()
                    break
        finally:
            self._deps.auth.sessions.close(self._signed_in)
            self._drop_transaction()
            log.info(
                "%s: %s session from %s helo=%s user=%s tls=%s: %d message(s)",
                self._conn.session_id,
                self._kind.value,
                self._client,
                self._helo or "-",
                self._user or "-",
                "yes" if self._conn.is_tls else "no",
                self._messages,
            )

    async def _flush(self) -> None:
        out = self.core.data_to_send()
        if out:
            self._conn.write(out)
            await self._conn.drain()

    async def _flush_and_read(self) -> bool:
        await self._flush()
        if self.core.closing:
            return False
        try:
            data = await self._conn.read(
                READ_OCTETS,
                timeout_s=self._deps.config.idle_timeout_s,
                between_commands=self._txn is None or self._txn.handle is None,
            )
        except IdleTimeout:
            self.core.timeout()
            await self._flush()
            return False
        except SessionEnded as ended:
            self.core.end(str(ended))
            await self._flush()
            return False
        except ShuttingDown:
            self.core.shutdown()
            await self._flush()
            return False
        self.core.receive_data(data)
        return True

    async def _handle(self, event: object) -> None:
        core = self.core
        match event:
            case Hello(name=name):
                self._helo = name
                self._drop_transaction()
                core.accept()
            case MailFrom():
                await self._mail_from(event)
            case RcptTo():
                await self._rcpt_to(event)
            case DataRequested():
                await self._data_requested()
            case DataChunk(data=data):
                self._write_chunk(data)
            case DataEnd():
                await self._data_end()
            case MessageRefused():
                self._drop_transaction()
            case Reset():
                self._drop_transaction()
            case StartTlsRequested():
                await self._starttls()
            case AuthRequested(mechanism=mechanism, initial_response=initial):
                await self._auth_start(mechanism, initial)
            case AuthResponse(data=data):
                await self._auth_continue(data)
            case AuthCancelled():
                self._exchange = None
            case Vrfy():
                core.accept()
            case _:
                pass

    def _checks_inbound(self) -> bool:
        """SPF, DKIM and DMARC for MX mail from strangers (not users, not trusted networks)."""
        return (
            self._deps.mailauth is not None
            and self._kind is ListenerKind.MX
            and self._user is None
            and not self._deps.relay.trusted(self._client)
        )

    # --- the envelope

    async def _mail_from(self, event: MailFrom) -> None:
        core = self.core
        if self._messages >= self._deps.config.max_messages_per_connection:
            core.reject(Reply(421, "4.7.0", "Too many messages on one connection; reconnect"))
            return
        if self._user is not None:
            verdict = await self._deps.submission.check_sender(self._user, event.address)
            if not verdict.ok:
                core.reject(_reply_of(verdict.reply))
                return
        self._txn = _Transaction(event.address, event.params)
        core.accept()

    async def _rcpt_to(self, event: RcptTo) -> None:
        core = self.core
        assert self._txn is not None
        address = event.address
        if "@" not in address:  # RCPT TO:<Postmaster> (RFC 5321 §4.1.1.3)
            address = f"postmaster@{self._deps.hostname}"
        may_relay = self._user is not None or self._deps.relay.trusted(self._client)
        check = await self._deps.relay.check_recipient(address, may_relay=may_relay)
        if check.reply is not None:
            core.reject(check.reply)
            return
        notify = ",".join(sorted(n.value for n in event.params.notify)) or None
        orcpt = None
        if event.params.orcpt is not None:
            smtputf8 = self._txn.params.smtputf8
            orcpt = format_orcpt(
                event.params.orcpt.addr_type, event.params.orcpt.address, smtputf8=smtputf8
            )
        self._txn.recipients.append(NewRecipient(address, orcpt=orcpt, notify=notify))
        core.accept()

    # --- the message

    async def _data_requested(self) -> None:
        assert self._txn is not None
        if self._user is not None:
            verdict = self._deps.submission.check_rate(self._user)
            if not verdict.ok:
                self.core.reject(_reply_of(verdict.reply))
                return
        spool = self._deps.spool_dir
        path = spool / f"{secrets.token_hex(12)}.eml"
        # A create and a buffered write land in the page cache: microseconds,
        # cheaper inline than a hop to a thread. The fsync comes at the end.
        self._txn.path, self._txn.handle = path, _create(path)
        tls = self._conn.tls
        facts = ReceivedFacts(
            helo=self._helo,
            client_address=self._client,
            hostname=self._deps.hostname,
            session_id=self._conn.session_id,
            tls=f"{tls.version} {tls.cipher}" if tls else None,
            authenticated=self._user is not None,
            smtputf8=self._txn.params.smtputf8,
            recipient=self._txn.recipients[0].address if len(self._txn.recipients) == 1 else None,
            at=self._deps.clock.now(),
        )
        self._txn.write(received_field(facts))
        self.core.accept()

    def _write_chunk(self, data: bytes) -> None:
        txn = self._txn
        if txn is None or txn.handle is None:
            return
        if txn.in_header:
            txn.header += data
            end = txn.header.find(b"\r\n\r\n")
            if end < 0 and len(txn.header) < HEADER_SCAN_OCTETS:
                return
            cut = end + 2 if end >= 0 else len(txn.header)
            head = bytes(txn.header[:cut])
            txn.received_fields = sum(
                1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:"
            )
            if self._kind is not ListenerKind.MX:
                txn.write(missing_fields(head, self._deps.hostname, self._deps.clock))
            rest = bytes(txn.header[cut:])
            if self._checks_inbound():
                assert self._deps.mailauth is not None
                head = self._deps.mailauth.strip_forged(head)
            txn.write(head + rest)
            txn.header.clear()
            txn.in_header = False
            return
        txn.write(data)

    async def _data_end(self) -> None:
        core = self.core
        txn = self._txn
        assert txn is not None and txn.handle is not None and txn.path is not None
        if txn.in_header:  # a message that is all header
            txn.in_header = False
            head = bytes(txn.header)
            if self._kind is not ListenerKind.MX:
                txn.write(missing_fields(head, self._deps.hostname, self._deps.clock))
            if self._checks_inbound():
                assert self._deps.mailauth is not None
                head = self._deps.mailauth.strip_forged(head)
            txn.write(head)
            txn.received_fields = sum(
                1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:"
            )
        if txn.received_fields >= self._deps.config.max_received_headers:
            self._drop_transaction()
            core.reject(Reply(554, "5.4.6", "Too many Received fields: a mail loop"))
            return
        handle, path = txn.handle, txn.path
        txn.handle = None
        txn.path = None
        handle.close()
        blob = StagedBlob(txn.digest.hexdigest(), txn.size)
        params = txn.params
        details: dict[str, JsonValue] = {
            "client": self._client,
            "helo": self._helo,
            "tls": self._conn.is_tls,
            "listener": self._kind.value,
        }
        if self._user:
            details["user"] = self._user
        if params.smtputf8:
            details["smtputf8"] = True
        body = params.body
        if body is not None:
            details["body"] = str(body)
        if params.requiretls:
            details["requiretls"] = True
        if self._checks_inbound():
            assert self._deps.mailauth is not None
            try:
                verdict = await self._deps.mailauth.check_message(
                    path, client_ip=self._client, helo=self._helo, mail_from=txn.sender
                )
            except OSError as exc:
                log.error("%s: cannot check the message: %s", self._conn.session_id, exc)
                await asyncio.to_thread(path.unlink, missing_ok=True)
                self._txn = None
                core.reject(Reply(451, "4.3.0", "Local error while checking the message"))
                return
            decision = decide(verdict, self._deps.auth_policy)
            if isinstance(decision, Reject):
                await asyncio.to_thread(path.unlink, missing_ok=True)
                self._txn = None
                self._deps.counters["auth_rejected"] = (
                    self._deps.counters.get("auth_rejected", 0) + 1
                )
                core.reject(_reply_of(decision.reply))
                return
            details["auth_results"] = verdict.header.decode("utf-8", "replace")
            if isinstance(decision, Mark):
                details["auth_mark"] = decision.reason
        ret = params.ret
        envelope = Envelope(
            sender=txn.sender,
            recipients=tuple(txn.recipients),
            source="submission" if self._user else "smtp",
            envid=params.envid,
            ret=str(ret) if ret is not None else None,
            details=details,
        )
        try:
            entry_id = await self._deps.intake.accept_file(path, envelope, blob)
        except (RoostError, OSError) as exc:
            log.error("%s: cannot queue a message: %s", self._conn.session_id, exc)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            self._txn = None
            core.reject(Reply(451, "4.3.0", "Local error while storing the message; try again"))
            return
        self._txn = None
        self._messages += 1
        self._deps.counters["accepted"] = self._deps.counters.get("accepted", 0) + 1
        log.info(
            "%s: queued %d from <%s> for %d recipient(s)",
            self._conn.session_id,
            entry_id,
            envelope.sender,
            len(envelope.recipients),
        )
        core.accept(Reply(250, "2.0.0", f"Ok: queued as {entry_id}"))

    def _drop_transaction(self) -> None:
        txn = self._txn
        self._txn = None
        if txn is not None and txn.handle is not None:
            txn.handle.close()
        if txn is not None and txn.path is not None:
            txn.path.unlink(missing_ok=True)

    # --- TLS

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
        self._user = None
        self._helo = ""
        self.core.tls_established(self._settings(tls=True))

    # --- AUTH (RFC 4954), with the shared SASL exchanges and throttling

    async def _auth_start(self, mechanism: str, initial: bytes | None) -> None:
        tls = self._conn.is_tls
        verdict = self._deps.auth.throttle.check(self._client, "")
        if verdict.locked_for_s > 0:
            self.core.auth_failed(Reply(454, "4.7.0", "Too many failed sign-ins; try later"))
            return
        exchange, event = SaslExchange.start(
            mechanism,
            initial,
            config=self._deps.sasl,
            tls=tls,
            allow_plaintext=self._deps.auth.plaintext_allowed(tls=tls, client=self._client),
        )
        self._exchange = exchange
        await self._auth_step(event)

    async def _auth_continue(self, data: bytes) -> None:
        if self._exchange is None:
            self.core.auth_failed()
            return
        await self._auth_step(self._exchange.receive_response(data))

    async def _auth_step(self, event: object) -> None:
        exchange = self._exchange
        assert exchange is not None
        while True:
            match event:
                case Challenge(data=data):
                    self.core.auth_challenge(data)
                    return
                case NeedPassword(authcid=authcid, password=password):
                    try:
                        await self._deps.auth.authenticate(authcid, password, client=self._client)
                        event = exchange.password_result(True)
                    except Throttled:
                        self._exchange = None
                        self.core.auth_failed(
                            Reply(454, "4.7.0", "Too many failed sign-ins; try later")
                        )
                        return
                    except AuthenticationFailed:
                        event = exchange.password_result(False)
                case NeedScramKeys(algorithm=algorithm, authcid=authcid):
                    found = await self._deps.auth.scram_credentials(authcid, algorithm)
                    event = exchange.scram_keys(None if found is None else found[1])
                case Success(authcid=authcid):
                    self._exchange = None
                    account = await self._deps.auth.account_for(authcid)
                    if account is None:
                        self.core.auth_failed()
                        return
                    self._deps.auth.throttle.succeeded(self._client, account)
                    self._user = account
                    self._signed_in = self._deps.auth.sessions.open(
                        "smtp", account, self._conn.request_end
                    )
                    self.core.auth_succeeded()
                    return
                case Failure(reason=reason):
                    self._exchange = None
                    self.core.auth_failed(self._auth_reply(reason))
                    return
                case _:
                    self._exchange = None
                    self.core.auth_failed()
                    return

    def _auth_reply(self, reason: FailureReason) -> Reply:
        self._deps.counters["auth_failures"] = self._deps.counters.get("auth_failures", 0) + 1
        match reason:
            case (
                FailureReason.BAD_CREDENTIALS
                | FailureReason.UNKNOWN_USER
                | FailureReason.AUTHZID_NOT_ALLOWED
            ):
                self._deps.auth.throttle.failed(self._client, "")
                return replies.AUTH_FAILED
            case FailureReason.ENCRYPTION_REQUIRED:
                return replies.AUTH_NEEDS_TLS
            case FailureReason.TEMPORARY:
                return replies.AUTH_TEMPORARY_FAILURE
            case FailureReason.RESPONSE_TOO_LONG:
                return replies.AUTH_LINE_TOO_LONG
            case FailureReason.MECHANISM_UNKNOWN:
                return replies.AUTH_MECHANISM_UNKNOWN
            case FailureReason.CANCELLED:
                return replies.AUTH_CANCELLED
            case _:
                return Reply(501, "5.5.2", "Malformed authentication data")


def _create(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb", buffering=256 * 1024)


def _reply_of(text: str) -> Reply:
    """A policy verdict ("553 5.7.1 ...") as a Reply."""
    code, enhanced, rest = [*text.split(" ", 2), "", ""][:3]
    return Reply(int(code), enhanced or None, ascii_text(rest or "Refused"))
