"""POP Retrieval: mail fetched from other POP3 servers (RFC 1939).

poplib is a blocking client, so every exchange with the server runs in a
thread, one call at a time, with the socket's timeout bounding each; the
rest (the store, the queue) stays on the event loop.

One run: log in (over implicit TLS, STLS per RFC 2595, or plain to
loopback; with USER/PASS, or APOP when the account asks for it), ask
UIDL and LIST, then for each message whose UIDL was never fetched: check
its size (a message over `max_message_bytes`, or one the owner's quota
has no room for, see `QuotaRoom`, is skipped and left on the server, with
an error on the account, so it is not retried forever), RETR it, and
queue it with its UIDL in the same unit of work.
Only after that commit is the message marked for deletion (DELE), and the
deletions take effect at QUIT (RFC 1939 §6). A message fetched before but
still on the server (its DELE lost with a dropped connection) is deleted
then, not fetched again. With `leave_on_server` and `delete_after_days`, a
message fetched that many days ago is deleted then.

RETR is read line by line into a file (poplib's own `retr` would hold the
whole message in memory), and a message longer than its LIST size allowed
for ends the fetch rather than fill the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import poplib
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from roost.control.intake import Intake
from roost.core.clock import Clock
from roost.core.config import RetrievalSettings
from roost.services.retrieval.common import (
    FetchError,
    FetchOutcome,
    Job,
    MessageFile,
    Staging,
    TlsTrust,
    enqueue_file,
    problems,
    quota_room,
    received_line,
)
from roost.store.db import Tx
from roost.store.retrieval import TlsMode
from roost.store.store import Store

SOURCE = "pop-retrieval"
APOP_TIMESTAMP = re.compile(rb"\+OK.[^<]*(<.*>)")
"""What poplib looks for in the greeting (RFC 1939 §7: the timestamp)."""


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    number: int
    uidl: str
    size: int


class PopFetcher:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        settings: RetrievalSettings,
        clock: Clock,
        node: str,
        data_dir: Path,
        tls: TlsTrust,
    ) -> None:
        self._store = store
        self._intake = intake
        self._settings = settings
        self._clock = clock
        self._node = node
        self._tls = tls
        self.staging = Staging(data_dir, SOURCE)
        # poplib refuses lines over 2,048 octets (a module-wide limit); mail
        # has longer ones.
        limit = max(poplib._MAXLINE, settings.pop_line_bytes)  # type: ignore[attr-defined]
        poplib._MAXLINE = limit  # type: ignore[attr-defined]

    async def fetch(self, job: Job) -> FetchOutcome:
        client = await asyncio.to_thread(self._connect, job)
        try:
            return await self._transfer(client, job)
        except poplib.error_proto as exc:
            reply = _reply(exc)
            if reply in ("-ERR EOF", "EOF"):  # poplib's word for a hang-up
                raise FetchError("the server closed the connection") from None
            if reply == "line too long":
                raise FetchError(
                    "the server sent a line longer than [retrieval] pop_line_bytes"
                ) from None
            raise FetchError(f"the server refused: {reply}") from None
        finally:
            with contextlib.suppress(OSError, poplib.error_proto, EOFError):
                await asyncio.to_thread(client.quit)
            with contextlib.suppress(OSError):
                client.close()

    def _connect(self, job: Job) -> poplib.POP3:
        spec = job.account.spec
        timeout = self._settings.timeout_s
        tls = self._tls.context()
        client: poplib.POP3
        if spec.tls is TlsMode.IMPLICIT:
            client = poplib.POP3_SSL(spec.host, spec.port, timeout=timeout, context=tls)
        else:
            client = poplib.POP3(spec.host, spec.port, timeout=timeout)
        try:
            if spec.tls is TlsMode.STARTTLS:
                try:
                    client.stls(tls)
                except poplib.error_proto as exc:
                    raise FetchError(f"the server refused STLS: {_reply(exc)}") from None
            try:
                if spec.apop:
                    _apop(client, spec.username, job.password)
                else:
                    client.user(spec.username)
                    client.pass_(job.password)
            except poplib.error_proto as exc:
                raise FetchError(f"authentication failed: {_reply(exc)}") from None
        except BaseException:
            # After a failed TLS handshake the socket is gone: closing it
            # again must not hide why.
            with contextlib.suppress(OSError):
                client.close()
            raise
        return client

    async def _transfer(self, client: poplib.POP3, job: Job) -> FetchOutcome:
        rid = job.account.id
        remote = await asyncio.to_thread(_listing, client)
        on_server = {m.uidl for m in remote}
        known = await self._store.read(self._store.retrieval.pop_keys, rid)
        spec = job.account.spec
        leave = spec.leave_on_server
        expired: set[str] = set()
        if leave and spec.delete_after_days is not None:
            cutoff = self._clock.now() - timedelta(days=spec.delete_after_days)
            expired = await self._store.read(
                self._store.retrieval.pop_keys_fetched_before, rid, cutoff
            )
        fetched = 0
        skipped: list[str] = []
        room = await quota_room(self._store, job)
        for message in remote:
            if message.uidl in known:
                if not leave or message.uidl in expired:
                    await asyncio.to_thread(client.dele, message.number)
                continue
            if fetched >= self._settings.max_messages_per_run:
                break
            if message.size > self._settings.max_message_bytes:
                skipped.append(message.uidl)
                continue
            trace = received_line(job, "POP3", self._node, self._clock.now())
            if not room.admits(message.size, len(trace)):
                continue
            await self._one(client, job, message, trace)
            fetched += 1
            if not leave:
                await asyncio.to_thread(client.dele, message.number)
        # Keys of messages gone from the server can go: a UIDL is not reused
        # while the message exists (RFC 1939 §7).
        await self._store.write(self._store.retrieval.forget_pop_keys, rid, on_server)
        problem = None
        if skipped:
            problem = (
                f"{len(skipped)} message(s) over the size limit of "
                f"{self._settings.max_message_bytes} bytes left on the server"
            )
        return FetchOutcome(fetched, problems(problem, room.problem()))

    async def _one(
        self, client: poplib.POP3, job: Job, message: RemoteMessage, trace: bytes
    ) -> None:
        rid = job.account.id
        # LIST counts CRLF line ends; a message stored with bare LF grows.
        limit = len(trace) + self._settings.max_message_bytes + message.size
        file = await asyncio.to_thread(self.staging.new, limit)
        try:
            file.write(trace)
            await asyncio.to_thread(_retr, client, message.number, file)

            async def key(tx: Tx) -> None:
                await self._store.retrieval.add_pop_key(tx, rid, message.uidl)

            await enqueue_file(self._intake, job, SOURCE, file, job.account.spec.folder, key)
        except BaseException:
            await asyncio.to_thread(file.discard)
            raise


def _retr(client: poplib.POP3, number: int, sink: MessageFile) -> None:
    """RETR into `sink`, a line at a time, undoing the dot-stuffing (RFC 1939 §3)."""
    client._putcmd(f"RETR {number}")  # type: ignore[attr-defined]
    client._getresp()  # type: ignore[attr-defined]  # raises error_proto on -ERR
    while True:
        line, _octets = client._getline()  # type: ignore[attr-defined]
        if line == b".":
            return
        if line.startswith(b".."):
            line = line[1:]
        sink.write(line + b"\r\n")


def _apop(client: poplib.POP3, username: str, password: str) -> None:
    """APOP (RFC 1939 §7): the MD5 of the greeting's timestamp and the
    password goes over the wire, never the password."""
    if APOP_TIMESTAMP.match(client.getwelcome()) is None:
        raise FetchError(
            "the server does not offer APOP (its greeting carries no timestamp); "
            "turn APOP off for this account"
        )
    client.apop(username, password)


def _listing(client: poplib.POP3) -> list[RemoteMessage]:
    """The server's messages with their UIDL and size, in order."""
    try:
        _resp, uidl_lines, _ = client.uidl()
    except poplib.error_proto as exc:
        raise FetchError(f"the server does not offer UIDL: {_reply(exc)}") from None
    _resp, list_lines, _ = client.list()
    sizes: dict[int, int] = {}
    for line in list_lines:
        number, _, size = line.decode("ascii", "replace").partition(" ")
        with contextlib.suppress(ValueError):
            sizes[int(number)] = int(size.split()[0])
    messages = []
    for line in uidl_lines:
        number, _, uidl = line.decode("ascii", "replace").partition(" ")
        uidl = uidl.strip()
        if not number.isdigit() or not uidl or len(uidl) > 70:
            raise FetchError("the server sent a malformed UIDL listing")
        messages.append(RemoteMessage(int(number), uidl, sizes.get(int(number), 0)))
    return messages


def _reply(exc: poplib.error_proto) -> str:
    value = exc.args[0] if exc.args else b""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip()[:200]
