"""The Retrieval role: users' accounts on other servers, what was fetched
from them, and how the last fetch went.

A fetched key is the remote's name for one message: ``(folder,
UIDVALIDITY, UID)`` for IMAP (RFC 9051 §2.3.1.1), the UIDL for POP3
(RFC 1939 §7). The retrieval services write the key in the same unit of
work as the queue entry that carries the message (see `Intake`), so a
crash between the two can neither lose the message nor fetch it twice.

An IMAP key also keeps a fingerprint of the message (a hash of its
Message-ID, INTERNALDATE and size, or of its whole header when it has no
Message-ID): when a folder's
UIDVALIDITY changes, every UID is new, and the fingerprint says which of
the "new" messages were fetched already.

The password is stored as the caller gives it: encrypted (see
`roost.control.retrieval_secrets`); the store never sees it in clear.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.core.errors import NotFound
from roost.store.db import Tx
from roost.store.schema import (
    queue_entries,
    queue_recipients,
    retrieval_accounts,
    retrieval_imap_keys,
    retrieval_pop_keys,
)
from roost.store.types import RecipientState


class RetrievalProtocol(enum.StrEnum):
    IMAP = "imap"
    POP3 = "pop3"


class FolderLayout(enum.StrEnum):
    """Where the messages of remote IMAP folders go (a `folder_map` entry wins)."""

    MERGE = "merge"
    """Every remote folder into the account's one destination folder."""
    MIRROR = "mirror"
    """Remote INBOX into the destination folder; every other remote folder into
    a local folder of the same name (under the destination folder unless that
    is INBOX), made when missing."""


class TlsMode(enum.StrEnum):
    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class NewRetrieval:
    """An external account as a user or an admin describes it."""

    protocol: RetrievalProtocol
    host: str
    port: int
    tls: TlsMode
    username: str
    password_encrypted: str
    folder: str = "INBOX"
    enabled: bool = True
    leave_on_server: bool = False
    remote_folders: tuple[str, ...] = ("INBOX",)
    interval_s: float | None = None
    folder_layout: FolderLayout = FolderLayout.MERGE
    folder_map: tuple[tuple[str, str], ...] = ()
    """IMAP: (remote folder, local folder) pairs that override the layout."""
    mark_seen: bool = False
    """IMAP, with leave_on_server: flag each fetched message \\Seen on the server."""
    delete_after_days: int | None = None
    """With leave_on_server: delete a fetched message from the server this many
    days after it was fetched (POP3)."""
    manual: bool = False
    """Fetched only when asked ("retrieve now"), never on the schedule."""
    apop: bool = False
    """POP3: log in with APOP (RFC 1939 §7), never sending the password."""


@dataclass(frozen=True, slots=True)
class RetrievalStatus:
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_fetched: int = 0
    total_fetched: int = 0
    failures: int = 0
    """Failed attempts in a row (the backoff's exponent); 0 after a success."""
    run_requested_at: datetime | None = None
    """When someone asked to retrieve now; cleared by the service that takes it."""


@dataclass(frozen=True, slots=True)
class Retrieval:
    id: int
    account_id: int
    spec: NewRetrieval
    status: RetrievalStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImapKey:
    folder: str
    uidvalidity: int
    uid: int
    fingerprint: str


class RetrievalStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add(self, tx: Tx, account_id: int, spec: NewRetrieval) -> Retrieval:
        now = self._clock.now()
        result = await tx.execute(
            retrieval_accounts.insert().values(
                account_id=account_id,
                created_at=now,
                last_fetched=0,
                total_fetched=0,
                failures=0,
                **_spec_values(spec),
            )
        )
        rid = result.inserted_primary_key
        assert rid is not None
        return Retrieval(int(rid[0]), account_id, spec, RetrievalStatus(), now)

    async def get(self, tx: Tx, retrieval_id: int) -> Retrieval:
        row = (
            await tx.execute(
                retrieval_accounts.select().where(retrieval_accounts.c.id == retrieval_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no external account {retrieval_id}")
        return _retrieval(row)

    async def accounts(
        self,
        tx: Tx,
        *,
        account_id: int | None = None,
        protocol: RetrievalProtocol | None = None,
        enabled_only: bool = False,
    ) -> list[Retrieval]:
        query = retrieval_accounts.select().order_by(retrieval_accounts.c.id)
        if account_id is not None:
            query = query.where(retrieval_accounts.c.account_id == account_id)
        if protocol is not None:
            query = query.where(retrieval_accounts.c.protocol == protocol.value)
        if enabled_only:
            query = query.where(retrieval_accounts.c.enabled.is_(True))
        return [_retrieval(row) for row in await tx.execute(query)]

    async def update(self, tx: Tx, retrieval_id: int, spec: NewRetrieval) -> None:
        done = await tx.execute(
            retrieval_accounts.update()
            .where(retrieval_accounts.c.id == retrieval_id)
            .values(**_spec_values(spec))
        )
        if done.rowcount != 1:
            raise NotFound(f"no external account {retrieval_id}")

    async def forget_keys(self, tx: Tx, retrieval_id: int) -> None:
        """Forget what was fetched: every message there counts as new."""
        for table in (retrieval_imap_keys, retrieval_pop_keys):
            await tx.execute(table.delete().where(table.c.retrieval_id == retrieval_id))

    async def remove(self, tx: Tx, retrieval_id: int) -> None:
        # The keys go first: SQLite enforces no cascades unless asked to.
        await self.forget_keys(tx, retrieval_id)
        done = await tx.execute(
            retrieval_accounts.delete().where(retrieval_accounts.c.id == retrieval_id)
        )
        if done.rowcount != 1:
            raise NotFound(f"no external account {retrieval_id}")

    async def record_attempt(
        self, tx: Tx, retrieval_id: int, *, fetched: int, error: str | None
    ) -> RetrievalStatus:
        """Note how a fetch went: a success resets the failure count."""
        current = (await self.get(tx, retrieval_id)).status
        now = self._clock.now()
        status = replace(
            current,
            last_attempt_at=now,
            last_fetched=fetched,
            total_fetched=current.total_fetched + fetched,
            last_error=error,
            failures=current.failures + 1 if error else 0,
            last_success_at=current.last_success_at if error else now,
        )
        await tx.execute(
            retrieval_accounts.update()
            .where(retrieval_accounts.c.id == retrieval_id)
            .values(
                last_attempt_at=status.last_attempt_at,
                last_success_at=status.last_success_at,
                last_error=status.last_error,
                last_fetched=status.last_fetched,
                total_fetched=status.total_fetched,
                failures=status.failures,
            )
        )
        return status

    async def request_run(self, tx: Tx, retrieval_id: int) -> None:
        """Ask the service to fetch this account now (it looks every tick)."""
        done = await tx.execute(
            retrieval_accounts.update()
            .where(retrieval_accounts.c.id == retrieval_id)
            .values(run_requested_at=self._clock.now())
        )
        if done.rowcount != 1:
            raise NotFound(f"no external account {retrieval_id}")

    async def take_run_request(self, tx: Tx, retrieval_id: int) -> bool:
        """Clear a request to retrieve now; False if another node took it first."""
        done = await tx.execute(
            retrieval_accounts.update()
            .where(
                retrieval_accounts.c.id == retrieval_id,
                retrieval_accounts.c.run_requested_at.is_not(None),
            )
            .values(run_requested_at=None)
        )
        return done.rowcount == 1

    # --- POP3 keys

    async def add_pop_key(self, tx: Tx, retrieval_id: int, uidl: str) -> None:
        await tx.execute(
            retrieval_pop_keys.insert().values(
                retrieval_id=retrieval_id, uidl=uidl, fetched_at=self._clock.now()
            )
        )

    async def pop_keys(self, tx: Tx, retrieval_id: int) -> set[str]:
        rows = await tx.execute(
            sa.select(retrieval_pop_keys.c.uidl).where(
                retrieval_pop_keys.c.retrieval_id == retrieval_id
            )
        )
        return {str(uidl) for (uidl,) in rows}

    async def pop_keys_fetched_before(
        self, tx: Tx, retrieval_id: int, cutoff: datetime
    ) -> set[str]:
        """The UIDLs fetched before `cutoff` (for delete-after-N-days)."""
        rows = await tx.execute(
            sa.select(retrieval_pop_keys.c.uidl).where(
                retrieval_pop_keys.c.retrieval_id == retrieval_id,
                retrieval_pop_keys.c.fetched_at < cutoff,
            )
        )
        return {str(uidl) for (uidl,) in rows}

    async def forget_pop_keys(self, tx: Tx, retrieval_id: int, keep: set[str]) -> int:
        """Drop the keys of messages no longer on the server (deleted there)."""
        known = await self.pop_keys(tx, retrieval_id)
        gone = sorted(known - keep)
        if gone:
            await tx.execute(
                retrieval_pop_keys.delete().where(
                    retrieval_pop_keys.c.retrieval_id == retrieval_id,
                    retrieval_pop_keys.c.uidl.in_(gone),
                )
            )
        return len(gone)

    # --- IMAP keys

    async def add_imap_key(self, tx: Tx, retrieval_id: int, key: ImapKey) -> None:
        await tx.execute(
            retrieval_imap_keys.insert().values(
                retrieval_id=retrieval_id,
                folder=key.folder,
                uidvalidity=key.uidvalidity,
                uid=key.uid,
                fingerprint=key.fingerprint,
                fetched_at=self._clock.now(),
            )
        )

    async def imap_keys(self, tx: Tx, retrieval_id: int, folder: str) -> list[ImapKey]:
        rows = await tx.execute(
            sa.select(
                retrieval_imap_keys.c.folder,
                retrieval_imap_keys.c.uidvalidity,
                retrieval_imap_keys.c.uid,
                retrieval_imap_keys.c.fingerprint,
            )
            .where(
                retrieval_imap_keys.c.retrieval_id == retrieval_id,
                retrieval_imap_keys.c.folder == folder,
            )
            .order_by(retrieval_imap_keys.c.uidvalidity, retrieval_imap_keys.c.uid)
        )
        return [
            ImapKey(str(r.folder), int(r.uidvalidity), int(r.uid), str(r.fingerprint)) for r in rows
        ]

    async def rekey_imap(
        self,
        tx: Tx,
        retrieval_id: int,
        folder: str,
        uidvalidity: int,
        uids: dict[str, list[int]],
    ) -> None:
        """After a UIDVALIDITY change: keep only the keys whose fingerprint is
        still on the server (`uids` maps a fingerprint to its new UIDs, in
        order). Identical copies pair one for one: two fetched copies keep
        two keys, and a third copy on the server stays new."""
        old = await self.imap_keys(tx, retrieval_id, folder)
        await tx.execute(
            retrieval_imap_keys.delete().where(
                retrieval_imap_keys.c.retrieval_id == retrieval_id,
                retrieval_imap_keys.c.folder == folder,
            )
        )
        free = {fp: list(reversed(found)) for fp, found in uids.items()}
        for key in old:
            waiting = free.get(key.fingerprint)
            if waiting:
                new = ImapKey(folder, uidvalidity, waiting.pop(), key.fingerprint)
                await self.add_imap_key(tx, retrieval_id, new)


async def queued_for(tx: Tx, address: str) -> tuple[int, int]:
    """Octets and count of the messages in the queue still to be delivered to
    local `address`: room in its mailbox that they take once the Spool runs
    (a retrieval run checks the quota against them too, or a stopped or slow
    Spool would let it queue more than the mailbox can take)."""
    waiting = (
        sa.select(queue_recipients.c.entry_id)
        .where(
            queue_recipients.c.address == address,
            queue_recipients.c.state == RecipientState.PENDING.value,
        )
        .distinct()
    )
    row = (
        await tx.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(queue_entries.c.size), 0).label("octets"),
                sa.func.count(queue_entries.c.id).label("messages"),
            ).where(queue_entries.c.id.in_(waiting))
        )
    ).one()
    return int(row.octets), int(row.messages)


def _spec_values(spec: NewRetrieval) -> dict[str, object]:
    return {
        "protocol": spec.protocol.value,
        "host": spec.host,
        "port": spec.port,
        "tls": spec.tls.value,
        "username": spec.username,
        "password_encrypted": spec.password_encrypted,
        "folder": spec.folder,
        "enabled": spec.enabled,
        "leave_on_server": spec.leave_on_server,
        "remote_folders": "\n".join(spec.remote_folders),
        "interval_s": spec.interval_s,
        "folder_layout": spec.folder_layout.value,
        "folder_map": "\n".join(f"{remote}\t{local}" for remote, local in spec.folder_map),
        "mark_seen": spec.mark_seen,
        "delete_after_days": spec.delete_after_days,
        "manual": spec.manual,
        "apop": spec.apop,
    }


def _retrieval(row: sa.Row[tuple[object, ...]]) -> Retrieval:
    m = row._mapping
    spec = NewRetrieval(
        protocol=RetrievalProtocol(str(m["protocol"])),
        host=str(m["host"]),
        port=int(str(m["port"])),
        tls=TlsMode(str(m["tls"])),
        username=str(m["username"]),
        password_encrypted=str(m["password_encrypted"]),
        folder=str(m["folder"]),
        enabled=bool(m["enabled"]),
        leave_on_server=bool(m["leave_on_server"]),
        remote_folders=tuple(f for f in str(m["remote_folders"]).split("\n") if f),
        interval_s=None if m["interval_s"] is None else float(str(m["interval_s"])),
        folder_layout=FolderLayout(str(m["folder_layout"])),
        folder_map=tuple(
            (remote, local)
            for remote, _, local in (
                line.partition("\t") for line in str(m["folder_map"]).split("\n") if line
            )
        ),
        mark_seen=bool(m["mark_seen"]),
        delete_after_days=(
            None if m["delete_after_days"] is None else int(str(m["delete_after_days"]))
        ),
        manual=bool(m["manual"]),
        apop=bool(m["apop"]),
    )
    status = RetrievalStatus(
        last_attempt_at=_ts(m["last_attempt_at"]),
        last_success_at=_ts(m["last_success_at"]),
        last_error=None if m["last_error"] is None else str(m["last_error"]),
        last_fetched=int(str(m["last_fetched"])),
        total_fetched=int(str(m["total_fetched"])),
        failures=int(str(m["failures"])),
        run_requested_at=_ts(m["run_requested_at"]),
    )
    created = _ts(m["created_at"])
    assert created is not None
    return Retrieval(int(str(m["id"])), int(str(m["account_id"])), spec, status, created)


def _ts(value: object) -> datetime | None:
    assert value is None or isinstance(value, datetime)
    return value
