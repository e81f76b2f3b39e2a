"""IMAP Retrieval: mail fetched from folders on other IMAP servers (RFC 9051).

imapclient is a blocking client, so every exchange with the server runs in
a thread, one command at a time, with the socket's timeout bounding each.

A message is known by (folder, UIDVALIDITY, UID) (RFC 9051 §2.3.1.1). One
run visits each configured remote folder: SELECT (EXAMINE when messages
stay on the server), and if the folder's UIDVALIDITY differs from the one
its keys were recorded under, every UID has changed: the keys are carried
over by fingerprint — a hash of (Message-ID, INTERNALDATE, size), never of
the Message-ID alone, which senders reuse — so the messages fetched before
are not fetched again. Then each UID without a key is fetched (its size
checked first; a large one in parts with `BODY.PEEK[]<offset.length>`,
RFC 9051 §6.4.5, so no single response is huge) and queued with its key in
the same unit of work. Only after that commit is it flagged \\Deleted;
the folder is expunged at the end of the run (UID EXPUNGE, RFC 4315, when
the server has it, so a user's own \\Deleted marks elsewhere are spared).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import imapclient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from roost.control.intake import Intake
from roost.core.clock import Clock
from roost.core.config import RetrievalSettings
from roost.services.retrieval.common import FetchError, FetchOutcome, Job, enqueue, received_line
from roost.store.db import Tx
from roost.store.retrieval import ImapKey, TlsMode
from roost.store.store import Store

SOURCE = "imap-retrieval"
META_BATCH = 200
"""UIDs whose sizes and fingerprints are asked for in one FETCH."""
META_ITEMS = [b"INTERNALDATE", b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
ALL_FOLDERS = "*"


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    uid: int
    size: int
    fingerprint: str


class ImapFetcher:
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

    async def fetch(self, job: Job) -> FetchOutcome:
        client = await asyncio.to_thread(self._connect, job)
        try:
            folders = list(job.account.spec.remote_folders)
            if ALL_FOLDERS in folders:
                folders = await asyncio.to_thread(_all_folders, client)
            fetched, skipped = 0, 0
            for folder in folders:
                done, too_big = await self._folder(client, job, folder, fetched)
                fetched += done
                skipped += too_big
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.logout)
        problem = None
        if skipped:
            problem = (
                f"{skipped} message(s) over the size limit of "
                f"{self._settings.max_message_bytes} bytes left on the server"
            )
        return FetchOutcome(fetched, problem)

    def _connect(self, job: Job) -> imapclient.IMAPClient:
        spec = job.account.spec
        client = imapclient.IMAPClient(
            spec.host,
            port=spec.port,
            ssl=spec.tls is TlsMode.IMPLICIT,
            ssl_context=self._tls,
            timeout=self._settings.timeout_s,
        )
        try:
            if spec.tls is TlsMode.STARTTLS:
                client.starttls(self._tls)
            try:
                client.login(spec.username, job.password)
            except LoginError as exc:
                raise FetchError(f"authentication failed: {_text(exc)}") from None
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    async def _folder(
        self, client: imapclient.IMAPClient, job: Job, folder: str, fetched_before: int
    ) -> tuple[int, int]:
        rid = job.account.id
        leave = job.account.spec.leave_on_server
        selected = await asyncio.to_thread(client.select_folder, folder, leave)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        uids: list[int] = sorted(await asyncio.to_thread(client.search, ["ALL"]))
        keys = await self._store.read(self._store.retrieval.imap_keys, rid, folder)
        if keys and all(k.uidvalidity != uidvalidity for k in keys):
            remote = await asyncio.to_thread(_metadata, client, uids)
            by_fingerprint = {m.fingerprint: m.uid for m in remote}
            await self._store.write(
                self._store.retrieval.rekey_imap, rid, folder, uidvalidity, by_fingerprint
            )
            keys = await self._store.read(self._store.retrieval.imap_keys, rid, folder)
        known = {k.uid for k in keys if k.uidvalidity == uidvalidity}
        room = max(0, self._settings.max_messages_per_run - fetched_before)
        new = [uid for uid in uids if uid not in known][:room]
        to_delete = [uid for uid in uids if uid in known]
        fetched, skipped = 0, 0
        for start in range(0, len(new), META_BATCH):
            for message in await asyncio.to_thread(
                _metadata, client, new[start : start + META_BATCH]
            ):
                if message.size > self._settings.max_message_bytes:
                    skipped += 1
                    continue
                data = await asyncio.to_thread(
                    _body, client, message, self._settings.imap_part_bytes
                )
                key = ImapKey(folder, uidvalidity, message.uid, message.fingerprint)

                async def record(tx: Tx, key: ImapKey = key) -> None:
                    await self._store.retrieval.add_imap_key(tx, rid, key)

                trace = received_line(job, "IMAP", self._node, self._clock.now())
                await enqueue(self._intake, job, SOURCE, trace + data, record)
                fetched += 1
                to_delete.append(message.uid)
        if not leave and to_delete:
            await asyncio.to_thread(_delete, client, to_delete)
        return fetched, skipped


def _all_folders(client: imapclient.IMAPClient) -> list[str]:
    names = []
    for flags, _delimiter, name in client.list_folders():
        if b"\\Noselect" not in flags and b"\\NonExistent" not in flags:
            names.append(str(name))
    return names


def _metadata(client: imapclient.IMAPClient, uids: Sequence[int]) -> list[RemoteMessage]:
    if not uids:
        return []
    answer = client.fetch(list(uids), META_ITEMS)
    messages = []
    for uid in uids:
        items = answer.get(uid)
        if items is None:
            continue  # expunged meanwhile
        size = int(items.get(b"RFC822.SIZE", 0))
        header = next((v for k, v in items.items() if k.startswith(b"BODY[HEADER")), b"")
        messages.append(
            RemoteMessage(uid, size, fingerprint(header, items.get(b"INTERNALDATE"), size))
        )
    return messages


def fingerprint(message_id_field: bytes, internal_date: datetime | None, size: int) -> str:
    """What identifies a message across a UIDVALIDITY change."""
    message_id = b"".join(message_id_field.split()).lower()
    when = internal_date.isoformat() if internal_date is not None else ""
    text = b"\0".join([message_id, when.encode(), str(size).encode()])
    return hashlib.sha256(text).hexdigest()


def _body(client: imapclient.IMAPClient, message: RemoteMessage, part_bytes: int) -> bytes:
    if message.size <= part_bytes:
        items = client.fetch([message.uid], [b"BODY.PEEK[]"]).get(message.uid, {})
        data = items.get(b"BODY[]")
        if not isinstance(data, bytes):
            raise FetchError(f"the server sent no body for UID {message.uid}")
        return data
    parts = []
    offset = 0
    while offset < message.size:
        item = f"BODY.PEEK[]<{offset}.{part_bytes}>".encode()
        items = client.fetch([message.uid], [item]).get(message.uid, {})
        part = items.get(f"BODY[]<{offset}>".encode())
        if not isinstance(part, bytes) or not part:
            break
        parts.append(part)
        offset += len(part)
    if offset != message.size:
        raise FetchError(f"UID {message.uid}: the server sent {offset} of {message.size} octets")
    return b"".join(parts)


def _delete(client: imapclient.IMAPClient, uids: list[int]) -> None:
    client.add_flags(uids, [imapclient.DELETED])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip()[:200]
