"""IMAP Retrieval: mail fetched from folders on other IMAP servers (RFC 9051).

imapclient is a blocking client, so every exchange with the server runs in
a thread, one command at a time, with the socket's timeout bounding each.

A message is known by (folder, UIDVALIDITY, UID) (RFC 9051 §2.3.1.1). One
run visits each configured remote folder: SELECT (EXAMINE when messages
stay on the server), and if the folder's UIDVALIDITY differs from the one
its keys were recorded under, every UID has changed: the keys are carried
over by fingerprint — a hash of (Message-ID, INTERNALDATE, size), never of
the Message-ID alone, which senders reuse; for a message without a
Message-ID, a hash of its whole header and size — so the messages fetched
before are not fetched again (identical copies are matched one for one).
Then each UID without a key is fetched (its size checked first, against
`max_message_bytes` and the owner's quota — one that does not fit stays
on the server, unread and unflagged, see `QuotaRoom`; a large
one in parts with `BODY.PEEK[]<offset.length>`, RFC 9051 §6.4.5, so no
single response is huge) and queued with its key in the same unit of work.
Only after that commit is it flagged \\Deleted; the folder is expunged
at the end of the run (UID EXPUNGE, RFC 4315, when the server has it, so
a user's own \\Deleted marks elsewhere are spared).
With `leave_on_server` and `mark_seen`, the folder is SELECTed instead and
each message is flagged \\Seen right after its commit.

Where a remote folder's messages go: `folder_map` names the local folder of
a remote one; otherwise the `folder_layout` says (merge: all into the
account's folder; mirror: remote INBOX there, every other folder into a
local folder of its name). A local folder that does not exist is made.

Hostile servers: every literal imaplib reads is checked against what was
asked for before it is read (a server announcing a 2 GB literal ends the
fetch, it is not read), lines are bounded by imaplib's own 1 MB limit, and
what imapclient cannot parse ends the fetch with "malformed response".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import imaplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import imapclient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError, ProtocolError  # type: ignore[import-untyped]

from roost.control.intake import Intake
from roost.core.clock import Clock
from roost.core.config import RetrievalSettings
from roost.core.errors import AlreadyExists
from roost.services.retrieval.common import (
    FetchError,
    FetchOutcome,
    Job,
    MessageFile,
    QuotaRoom,
    Staging,
    TlsTrust,
    enqueue_file,
    problems,
    quota_room,
    received_line,
)
from roost.store.db import Tx
from roost.store.mail import DELIMITER
from roost.store.retrieval import FolderLayout, ImapKey, NewRetrieval, TlsMode
from roost.store.store import Store

SOURCE = "imap-retrieval"
META_BATCH = 200
"""UIDs whose sizes and fingerprints are asked for in one FETCH."""
META_ITEMS = [b"INTERNALDATE", b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
HEADER_ITEM = b"BODY.PEEK[HEADER]"
"""Asked for only for messages without a Message-ID (their fingerprint)."""
ALL_FOLDERS = "*"
INBOX = "INBOX"
LITERAL_SLACK_OCTETS = 65_536
"""What a literal may hold beyond the part asked for: the header fields of
the metadata fetch are small, and no answer here is larger than a part."""


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

    async def fetch(self, job: Job) -> FetchOutcome:
        try:
            return await self._fetch(job)
        except (imaplib.IMAP4.abort, EOFError) as exc:
            text = _text(exc)
            if "EOF" in text:
                raise FetchError("the server closed the connection") from None
            raise FetchError(f"the server broke the protocol: {text}") from None
        except ProtocolError as exc:  # imapclient's, a kind of IMAP4.error
            raise FetchError(f"the server sent a malformed response: {_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise FetchError(f"the server refused: {_text(exc)}") from None
        except OSError:
            raise  # TLS and socket errors (some are ValueErrors too): in words upstream
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise FetchError(f"the server sent a malformed response: {_text(exc)}") from None

    async def _fetch(self, job: Job) -> FetchOutcome:
        client = await asyncio.to_thread(connect, job, self._settings, self._tls.context())
        try:
            spec = job.account.spec
            listed = await asyncio.to_thread(_list_folders, client)
            wanted = list(spec.remote_folders)
            if ALL_FOLDERS in wanted:
                folders = [f for f in listed if f.selectable]
                names = [f.name for f in folders]
            else:
                names = wanted
            delimiters = {f.name: f.delimiter for f in listed}
            fetched, skipped = 0, 0
            room = await quota_room(self._store, job)
            for name in names:
                local = local_folder(spec, name, delimiters.get(name))
                await self._ensure_local(job, local)
                done, too_big = await self._folder(client, job, name, local, fetched, room)
                fetched += done
                skipped += too_big
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.logout)
            with contextlib.suppress(Exception):
                client.shutdown()
        problem = None
        if skipped:
            problem = (
                f"{skipped} message(s) over the size limit of "
                f"{self._settings.max_message_bytes} bytes left on the server"
            )
        return FetchOutcome(fetched, problems(problem, room.problem()))

    async def _ensure_local(self, job: Job, name: str) -> None:
        if name.upper() == INBOX:
            return
        store, account_id = self._store, job.account.account_id

        async def work(tx: Tx) -> None:
            parts = name.split(DELIMITER)
            for depth in range(1, len(parts) + 1):
                with contextlib.suppress(AlreadyExists):
                    await store.mail.create_mailbox(tx, account_id, DELIMITER.join(parts[:depth]))

        await store.write(work)

    async def _folder(
        self,
        client: imapclient.IMAPClient,
        job: Job,
        folder: str,
        local: str,
        fetched_before: int,
        quota: QuotaRoom,
    ) -> tuple[int, int]:
        rid = job.account.id
        spec = job.account.spec
        leave = spec.leave_on_server
        readonly = leave and not spec.mark_seen
        selected = await asyncio.to_thread(client.select_folder, folder, readonly)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        uids: list[int] = sorted(await asyncio.to_thread(client.search, ["ALL"]))
        keys = await self._store.read(self._store.retrieval.imap_keys, rid, folder)
        if keys and all(k.uidvalidity != uidvalidity for k in keys):
            remote = await asyncio.to_thread(_metadata, client, uids)
            by_fingerprint: dict[str, list[int]] = {}
            for m in remote:
                by_fingerprint.setdefault(m.fingerprint, []).append(m.uid)
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
                trace = received_line(job, "IMAP", self._node, self._clock.now())
                if not quota.admits(message.size, len(trace)):
                    continue
                await self._one(client, job, folder, local, uidvalidity, message, trace)
                fetched += 1
                to_delete.append(message.uid)
        if not leave and to_delete:
            await asyncio.to_thread(_delete, client, to_delete)
        return fetched, skipped

    async def _one(
        self,
        client: imapclient.IMAPClient,
        job: Job,
        folder: str,
        local: str,
        uidvalidity: int,
        message: RemoteMessage,
        trace: bytes,
    ) -> None:
        rid = job.account.id
        limit = self._settings.max_message_bytes + len(trace)
        file = await asyncio.to_thread(self.staging.new, limit)
        try:
            file.write(trace)
            await asyncio.to_thread(_body, client, message, self._settings.imap_part_bytes, file)
            key = ImapKey(folder, uidvalidity, message.uid, message.fingerprint)

            async def record(tx: Tx) -> None:
                await self._store.retrieval.add_imap_key(tx, rid, key)

            await enqueue_file(self._intake, job, SOURCE, file, local, record)
        except BaseException:
            await asyncio.to_thread(file.discard)
            raise
        if job.account.spec.leave_on_server and job.account.spec.mark_seen:
            await asyncio.to_thread(client.add_flags, [message.uid], [imapclient.SEEN], True)


def connect(job: Job, settings: RetrievalSettings, tls: ssl.SSLContext) -> imapclient.IMAPClient:
    """Connect, secure and log in (in a thread); the errors in words."""
    spec = job.account.spec
    client = imapclient.IMAPClient(
        spec.host,
        port=spec.port,
        ssl=spec.tls is TlsMode.IMPLICIT,
        ssl_context=tls,
        timeout=settings.timeout_s,
    )
    try:
        guard_literals(client, settings.imap_part_bytes + LITERAL_SLACK_OCTETS)
        if spec.tls is TlsMode.STARTTLS:
            if not client.has_capability("STARTTLS"):
                raise FetchError("the server does not offer STARTTLS")
            client.starttls(tls)
        try:
            client.login(spec.username, job.password)
        except LoginError as exc:
            raise FetchError(f"authentication failed: {_text(exc)}") from None
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def guard_literals(client: imapclient.IMAPClient, limit: int) -> None:
    """Refuse a literal over `limit` octets before reading it.

    imaplib reads every literal whole, with the size the server announced
    (`{n}`): a hostile or broken server could announce gigabytes."""
    imap = client._imap
    read: Callable[[int], bytes] = imap.read

    def bounded(size: int) -> bytes:
        if size > limit:
            raise FetchError(
                f"the server announced a literal of {size} octets, more than the {limit} asked for"
            )
        return read(size)

    imap.read = bounded


def local_folder(spec: NewRetrieval, remote: str, delimiter: str | None) -> str:
    """The local folder the messages of remote folder `remote` go into."""
    for name, local in spec.folder_map:
        if name == remote:
            return local
    if spec.folder_layout is FolderLayout.MERGE or remote.upper() == INBOX:
        return spec.folder
    parts = remote.split(delimiter) if delimiter else [remote]
    name = DELIMITER.join(p for p in parts if p) or remote
    return name if spec.folder.upper() == INBOX else f"{spec.folder}{DELIMITER}{name}"


def _list_folders(client: imapclient.IMAPClient) -> list[_Listed]:
    listed = []
    for flags, delimiter, name in client.list_folders():
        sep = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
        selectable = b"\\Noselect" not in flags and b"\\NonExistent" not in flags
        listed.append(_Listed(str(name), sep, selectable))
    return listed


@dataclass(frozen=True, slots=True)
class _Listed:
    name: str
    delimiter: str | None
    selectable: bool


def _metadata(client: imapclient.IMAPClient, uids: Sequence[int]) -> list[RemoteMessage]:
    if not uids:
        return []
    answer = client.fetch(list(uids), META_ITEMS)
    found: list[tuple[int, int, bytes, datetime | None]] = []
    for uid in uids:
        items = answer.get(uid)
        if items is None:
            continue  # expunged meanwhile
        size = int(items.get(b"RFC822.SIZE", 0))
        header = next((v for k, v in items.items() if k.startswith(b"BODY[HEADER")), b"")
        found.append((uid, size, header or b"", items.get(b"INTERNALDATE")))
    # Without a Message-ID, (INTERNALDATE, size) alone would name many
    # messages alike: those are known by a hash of their whole header.
    anonymous = [uid for uid, _, header, _ in found if not _message_id(header)]
    headers: dict[int, bytes] = {}
    if anonymous:
        for uid, items in client.fetch(anonymous, [HEADER_ITEM]).items():
            value = items.get(b"BODY[HEADER]")
            if isinstance(value, bytes):
                headers[uid] = value
    return [
        RemoteMessage(
            uid,
            size,
            fingerprint(header, when, size)
            if _message_id(header) or uid not in headers
            else header_fingerprint(headers[uid], size),
        )
        for uid, size, header, when in found
    ]


def _message_id(field: bytes) -> bytes:
    """The Message-ID in a `Message-ID:` header field as fetched ("" if none)."""
    _, _, value = field.partition(b":")
    return b"".join(value.split()).lower()


def fingerprint(message_id_field: bytes, internal_date: datetime | None, size: int) -> str:
    """What identifies a message with a Message-ID across a UIDVALIDITY change:
    the Message-ID with INTERNALDATE and size (never the Message-ID alone,
    which senders reuse)."""
    message_id = b"".join(message_id_field.split()).lower()
    when = internal_date.isoformat() if internal_date is not None else ""
    text = b"\0".join([message_id, when.encode(), str(size).encode()])
    return hashlib.sha256(text).hexdigest()


def header_fingerprint(header: bytes, size: int) -> str:
    """What identifies a message without a Message-ID: its whole header (its
    Received lines and Date make it unique in practice) and its size."""
    return hashlib.sha256(b"header\0" + header + b"\0" + str(size).encode()).hexdigest()


def _body(
    client: imapclient.IMAPClient, message: RemoteMessage, part_bytes: int, sink: MessageFile
) -> None:
    """Write the message into `sink`, whole or in parts of `part_bytes`."""
    if message.size <= part_bytes:
        items = client.fetch([message.uid], [b"BODY.PEEK[]"]).get(message.uid, {})
        data = items.get(b"BODY[]")
        if not isinstance(data, bytes):
            raise FetchError(f"the server sent no body for UID {message.uid}")
        sink.write(data)
        return
    offset = 0
    while offset < message.size:
        item = f"BODY.PEEK[]<{offset}.{part_bytes}>".encode()
        items = client.fetch([message.uid], [item]).get(message.uid, {})
        part = items.get(f"BODY[]<{offset}>".encode())
        del items
        if not isinstance(part, bytes) or not part:
            break
        if len(part) > part_bytes:
            raise FetchError(f"UID {message.uid}: the server sent more than the part asked for")
        sink.write(part)
        offset += len(part)
    if offset != message.size:
        raise FetchError(f"UID {message.uid}: the server sent {offset} of {message.size} octets")


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
