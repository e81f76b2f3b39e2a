"""POP Retrieval: mail fetched from other POP3 servers (RFC 1939).

poplib is a blocking client, so every exchange with the server runs in a
thread, one call at a time, with the socket's timeout bounding each; the
rest (the store, the queue) stays on the event loop.

One run: log in (over implicit TLS, STLS per RFC 2595, or plain to
loopback), ask UIDL and LIST, then for each message whose UIDL was never
fetched: check its size (a message over `max_message_bytes` is skipped and
left on the server, with an error on the account, so it is not retried
forever), RETR it, and queue it with its UIDL in the same unit of work.
Only after that commit is the message marked for deletion (DELE), and the
deletions take effect at QUIT (RFC 1939 §6). A message fetched before but
still on the server (its DELE lost with a dropped connection) is deleted
then, not fetched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import poplib
import ssl
from dataclasses import dataclass

from roost.control.intake import Intake
from roost.core.clock import Clock
from roost.core.config import RetrievalSettings
from roost.services.retrieval.common import FetchError, FetchOutcome, Job, enqueue, received_line
from roost.store.db import Tx
from roost.store.retrieval import TlsMode
from roost.store.store import Store

SOURCE = "pop-retrieval"


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
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._store = store
        self._intake = intake
        self._settings = settings
        self._clock = clock
        self._node = node
        self._tls = tls_context or ssl.create_default_context()
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
            raise FetchError(f"the server refused: {reply}") from None
        finally:
            with contextlib.suppress(OSError, poplib.error_proto, EOFError):
                await asyncio.to_thread(client.quit)
            with contextlib.suppress(OSError):
                client.close()

    def _connect(self, job: Job) -> poplib.POP3:
        spec = job.account.spec
        timeout = self._settings.timeout_s
        client: poplib.POP3
        if spec.tls is TlsMode.IMPLICIT:
            client = poplib.POP3_SSL(spec.host, spec.port, timeout=timeout, context=self._tls)
        else:
            client = poplib.POP3(spec.host, spec.port, timeout=timeout)
        try:
            if spec.tls is TlsMode.STARTTLS:
                client.stls(self._tls)
            try:
                client.user(spec.username)
                client.pass_(job.password)
            except poplib.error_proto as exc:
                raise FetchError(f"authentication failed: {_reply(exc)}") from None
        except BaseException:
            client.close()
            raise
        return client

    async def _transfer(self, client: poplib.POP3, job: Job) -> FetchOutcome:
        rid = job.account.id
        remote = await asyncio.to_thread(_listing, client)
        on_server = {m.uidl for m in remote}
        known = await self._store.read(self._store.retrieval.pop_keys, rid)
        leave = job.account.spec.leave_on_server
        fetched = 0
        skipped: list[str] = []
        for message in remote:
            if message.uidl in known:
                if not leave:
                    await asyncio.to_thread(client.dele, message.number)
                continue
            if fetched >= self._settings.max_messages_per_run:
                break
            if message.size > self._settings.max_message_bytes:
                skipped.append(message.uidl)
                continue
            _resp, lines, _octets = await asyncio.to_thread(client.retr, message.number)
            data = received_line(job, "POP3", self._node, self._clock.now()) + b"".join(
                line + b"\r\n" for line in lines
            )

            async def key(tx: Tx, uidl: str = message.uidl) -> None:
                await self._store.retrieval.add_pop_key(tx, rid, uidl)

            await enqueue(self._intake, job, SOURCE, data, key)
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
        return FetchOutcome(fetched, problem)


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
