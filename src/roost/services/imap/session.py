"""One IMAP session: drives the protocol core over a connection.

The core (`roost.proto.imap.connection`) frames, parses, keeps the states
and answers what needs no store; this module answers the rest, one command
at a time, by dispatching to a handler module: `login` (LOGIN,
AUTHENTICATE), `mailboxes` (SELECT, CREATE ...), `listing` (LIST, LSUB,
STATUS), `messages` (APPEND, STORE, COPY, MOVE, EXPUNGE), `fetch`,
`search` and `sort` (SORT, THREAD). Handler failures and the store's errors
become tagged responses in `_guarded` only.

IDLE (RFC 2177): while idling, the session waits for the client's DONE and
for a change of its account's selected mailbox at once (the service's
`ChangeWatcher` reads the change feed once for all sessions and wakes only
those concerned); each change is read from the store and told at once
(EXISTS, FETCH FLAGS, EXPUNGE or VANISHED), so sessions on other nodes hear
of it as soon as PostgreSQL's NOTIFY arrives, and sessions on this one as
soon as the writer commits.

COMPRESS=DEFLATE (RFC 4978): after the tagged OK the session reads and
writes through a `roost.net.compress.DeflateConnection`, and tells it to drop
its deflater whenever it waits for the client, so an idle compressed
connection stays small.

Timers: a client silent for `[imap] idle_timeout_s` (IDLE included, RFC
9051 §5.4) gets ``* BYE`` and is disconnected; one that stops reading its
responses is disconnected by the net layer after `[imap] write_timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from roost.core.errors import AlreadyExists, InvalidName, NotFound, QuotaExceeded, RoostError
from roost.net.compress import DeflateConnection, DeflateOptions
from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    NetError,
    SessionEnded,
    ShuttingDown,
)
from roost.net.interfaces import Connection
from roost.proto.imap.commands import Command
from roost.proto.imap.commands.anystate import Noop
from roost.proto.imap.commands.auth import (
    Append,
    Compress,
    Create,
    Delete,
    Examine,
    GetQuota,
    GetQuotaRoot,
    Idle,
    Namespace,
    Rename,
    Select,
    SetQuota,
    Subscribe,
    Unsubscribe,
)
from roost.proto.imap.commands.listing import List, Lsub, Status
from roost.proto.imap.commands.nonauth import Authenticate, Login, StartTls
from roost.proto.imap.commands.selected import (
    Check,
    Close,
    Copy,
    Expunge,
    Fetch,
    Move,
    Search,
    Sort,
    Store,
    Thread,
    UidExpunge,
    Unselect,
)
from roost.proto.imap.connection import ImapServerConnection, Phase
from roost.proto.imap.events import (
    AuthCancelled,
    AuthResponse,
    CommandIssued,
    ConnectionLost,
    Event,
    IdleDone,
    LoggedOut,
    TooManyErrors,
)
from roost.proto.imap.responses import Condition
from roost.proto.imap.session_state import ImapSettings
from roost.services.imap import fetch, listing, mailboxes, messages, search, sort
from roost.services.imap.context import (
    ALREADYEXISTS,
    CANNOT,
    NONEXISTENT,
    NOPERM,
    OVERQUOTA,
    SERVERBUG,
    CommandFailed,
    SessionContext,
    SessionDeps,
)
from roost.services.imap.login import Authentication
from roost.services.imap.selected import InvalidSequence, MailboxGone

log = logging.getLogger(__name__)

READ_OCTETS = 64 * 1024


class ImapSession:
    def __init__(self, deps: SessionDeps, conn: Connection) -> None:
        self._deps = deps
        self._conn = conn
        self._client = conn.peer[0]
        self.core = ImapServerConnection(self._settings(tls=conn.is_tls), tls=conn.is_tls)
        self.ctx = SessionContext(deps, self.core, conn.session_id, self._flush)
        self._auth = Authentication(self.ctx, self._client, conn.request_end)
        self._reading: asyncio.Task[bytes] | None = None
        self._commands = 0
        self._deflate: DeflateConnection | None = None

    def _settings(self, *, tls: bool) -> ImapSettings:
        config = self._deps.config
        return ImapSettings(
            starttls_available=self._deps.tls_context is not None and not tls,
            plaintext_auth_allowed=self._deps.auth.plaintext_allowed(
                tls=False, client=self._client
            ),
            line_octets=config.max_line_bytes,
            append_limit_octets=config.max_append_bytes,
            max_bad_commands=config.max_bad_commands,
        )

    # --- the loop

    async def run(self) -> None:
        core = self.core
        core.greeting()
        try:
            while True:
                event = core.next_event()
                if event is None:
                    waited = (
                        await self._idle_wait()
                        if core.phase is Phase.IDLE
                        else await self._flush_and_read()
                    )
                    if not waited:
                        break
                    continue
                if isinstance(event, ConnectionLost):
                    break
                await self._handle(event)
                if isinstance(event, LoggedOut) or core.closing:
                    await self._flush()
                    break
                await self.ctx.flush_if_full()
        finally:
            self._deps.auth.sessions.close(self._auth.signed_in)
            if self._reading is not None:
                self._reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, NetError):
                    await self._reading
            log.info(
                "%s: IMAP session from %s user=%s tls=%s: %d command(s)",
                self._conn.session_id,
                self._client,
                self.ctx.address or "-",
                "yes" if self._conn.is_tls else "no",
                self._commands,
            )

    async def _flush(self) -> None:
        out = self.core.data_to_send()
        if out:
            self._conn.write(out)
            await self._conn.drain()

    def _read(self) -> asyncio.Task[bytes]:
        if self._reading is None:
            self._reading = asyncio.create_task(
                self._conn.read(
                    READ_OCTETS,
                    timeout_s=self._deps.config.idle_timeout_s,
                    between_commands=self.core.between_commands,
                )
            )
        return self._reading

    async def _take(self, task: asyncio.Task[bytes]) -> bool:
        """The read finished: feed its data, or say goodbye. False ends the session."""
        self._reading = None
        try:
            data = task.result()
        except IdleTimeout:
            self.ctx.count("idle_timeouts")
            self.core.bye("Autologout; idle for too long")
            await self._flush()
            return False
        except SessionEnded as ended:
            self.core.bye(str(ended))
            await self._flush()
            return False
        except ShuttingDown:
            self.core.bye("Server shutting down")
            await self._flush()
            return False
        self.core.receive_data(data)
        return True

    async def _flush_and_read(self) -> bool:
        await self._flush()
        if self.core.closing:
            return False
        self._rest()
        task = self._read()
        await asyncio.wait({task})
        return await self._take(task)

    async def _idle_wait(self) -> bool:
        """IDLE: tell what changed, then wait for the client or the next change
        of this account's selected mailbox (`roost.services.imap.watch`)."""
        ctx = self.ctx
        selected = ctx.selected.id if ctx.selected is not None else None
        with self._deps.watcher.watch(ctx.account_id, selected) as watch:
            await self._refresh(expunges=True)
            await self._flush()
            if self.core.closing:
                return False
            self._rest()
            task = self._read()
            change = asyncio.create_task(watch.wait())
            try:
                done, _ = await asyncio.wait({task, change}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not change.done():
                    change.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await change
        if task in done:
            return await self._take(task)
        return not self.core.closing

    async def _refresh(self, *, expunges: bool) -> None:
        try:
            await messages.refresh(self.ctx, expunges=expunges)
        except MailboxGone:
            self.core.bye("The selected mailbox was deleted")

    # --- events

    async def _handle(self, event: Event) -> None:
        match event:
            case CommandIssued(command=command):
                self._commands += 1
                await self._run(command)
            case AuthResponse(data=data):
                await self._guarded(self._auth.respond(data))
            case AuthCancelled():
                self._auth.cancelled()
            case IdleDone():
                await self._refresh(expunges=True)
                if not self.core.closing:
                    self.core.finish(Condition.OK, "IDLE terminated")
            case TooManyErrors():
                self.ctx.count("too_many_errors")
                log.info("%s: closed after too many BAD commands", self._conn.session_id)
            case _:
                pass

    async def _run(self, command: Command) -> None:
        await self._guarded(self._command(command))

    async def _guarded(self, work: Awaitable[None]) -> None:
        """Run a handler; its failure, or the store's, becomes the tagged answer."""
        core = self.core
        try:
            await work
        except CommandFailed as failed:
            core.finish(failed.condition, failed.text, failed.code)
        except InvalidSequence as exc:
            core.finish(Condition.BAD, str(exc))
        except MailboxGone:
            core.bye("The selected mailbox was deleted")
        except QuotaExceeded:
            core.finish(Condition.NO, "Over quota", OVERQUOTA)
        except NotFound:
            core.finish(Condition.NO, "No such mailbox", NONEXISTENT)
        except AlreadyExists:
            core.finish(Condition.NO, "It exists already", ALREADYEXISTS)
        except InvalidName as exc:
            core.finish(Condition.NO, str(exc), CANNOT)
        except (ConnectionClosed, ShuttingDown):
            raise
        except (RoostError, OSError) as exc:
            log.error("%s: command failed: %s", self._conn.session_id, exc)
            core.finish(Condition.NO, "Internal error; try again", SERVERBUG)

    async def _command(self, command: Command) -> None:
        ctx = self.ctx
        core = self.core
        match command:
            case Login():
                await self._auth.login(command)
            case Authenticate():
                await self._auth.start(command)
            case StartTls():
                await self._starttls()
            case Noop() | Check():
                await messages.refresh(ctx, expunges=True)
                core.finish()
            case Idle():
                core.start_idle()
            case Select() | Examine():
                await mailboxes.select(ctx, command)
            case Create():
                await mailboxes.create(ctx, command)
            case Delete():
                await mailboxes.delete(ctx, command)
            case Rename():
                await mailboxes.rename(ctx, command)
            case Subscribe() | Unsubscribe():
                await mailboxes.subscribe(ctx, command)
            case Namespace():
                mailboxes.namespace(ctx)
            case GetQuotaRoot():
                await mailboxes.get_quota_root(ctx, command)
            case GetQuota():
                await mailboxes.get_quota(ctx, command)
            case SetQuota():
                raise CommandFailed("Quotas are set by the administrator", NOPERM)
            case List():
                await listing.list_mailboxes(ctx, command)
            case Lsub():
                await listing.lsub(ctx, command)
            case Status():
                await listing.status(ctx, command)
            case Append():
                await messages.append(ctx, command)
            case Close():
                await messages.close(ctx, expunge_deleted=True)
            case Unselect():
                await messages.close(ctx, expunge_deleted=False)
            case Expunge() | UidExpunge():
                await messages.expunge(ctx, command)
            case Store():
                await messages.store_flags(ctx, command)
            case Copy() | Move():
                await messages.copy(ctx, command)
            case Fetch():
                await fetch.fetch(ctx, command)
            case Search():
                await search.search(ctx, command)
            case Sort():
                await sort.sort(ctx, command)
            case Thread():
                await sort.thread(ctx, command)
            case Compress():
                await self._start_compression()
            case _:
                raise CommandFailed(f"{command.NAME} is not offered here", condition=Condition.BAD)

    # --- COMPRESS=DEFLATE (RFC 4978)

    async def _start_compression(self) -> None:
        """The OK goes out as it is; everything after it is deflated."""
        config = self._deps.config
        self.core.start_compression()
        await self._flush()
        options = DeflateOptions(
            level=config.compress_level,
            window_bits=config.compress_window_bits,
            mem_level=config.compress_mem_level,
        )
        self._deflate = DeflateConnection(self._conn, options)
        self._conn = self._deflate
        self.ctx.count("compressed")

    def _rest(self) -> None:
        """Waiting for the client: a compressed connection drops its deflater."""
        if self._deflate is not None:
            self._deflate.rest()

    # --- TLS (RFC 9051 §6.2.1)

    async def _starttls(self) -> None:
        context = self._deps.tls_context
        if context is None:
            raise CommandFailed("STARTTLS is not available", condition=Condition.BAD)
        self.core.start_tls()
        await self._flush()
        try:
            await self._conn.start_tls(context)
        except (ConnectionClosed, NetError) as exc:
            log.info("%s: TLS handshake failed: %s", self._conn.session_id, exc)
            raise
        self.core.tls_established(self._settings(tls=True))
