"""Webmail sign-in state: server-side sessions of mail users.

The same shape as the admin console's sessions (`roost.store.admin_access`)
in a table of their own, so that a webmail cookie never names an admin
session and the reverse. A row is keyed by the SHA-256 of the random id in
the browser's cookie; it carries its CSRF token, its creation and last-use
times, and a stamp of the account's password hash at sign-in: a session
whose stamp no longer matches (the password changed, on this node or
another, before or after a restart) is over. The policy that applies the
times lives in `roost.control.webmail_access`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import accounts, webmail_image_senders, webmail_sessions

_IDS_PER_QUERY = 500
"""Ids asked about in one IN list (SQLite allows 32766 parameters; PostgreSQL more)."""


@dataclass(frozen=True, slots=True)
class WebmailSession:
    id_hash: str
    account_id: int
    address: str
    display_name: str
    enabled: bool
    """The account's state now (a disabled account's sessions are over)."""
    password_current: bool
    """False once the account's password changed after this session's sign-in."""
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    source_address: str | None


_COLUMNS = (
    webmail_sessions.c.id_hash,
    webmail_sessions.c.account_id,
    accounts.c.address,
    accounts.c.display_name,
    accounts.c.enabled,
    accounts.c.password_hash,
    webmail_sessions.c.password_stamp,
    webmail_sessions.c.csrf_token,
    webmail_sessions.c.created_at,
    webmail_sessions.c.last_seen_at,
    webmail_sessions.c.source_address,
)


def password_stamp(password_hash: str) -> str:
    """What a session keeps of the password hash it was opened under: enough to
    see that it changed, not the hash itself."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _session(row: sa.Row[Any]) -> WebmailSession:
    return WebmailSession(
        id_hash=str(row.id_hash),
        account_id=int(row.account_id),
        address=str(row.address),
        display_name=str(row.display_name),
        enabled=bool(row.enabled),
        password_current=password_stamp(str(row.password_hash)) == row.password_stamp,
        csrf_token=str(row.csrf_token),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        source_address=None if row.source_address is None else str(row.source_address),
    )


class WebmailSessionStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add_session(
        self,
        tx: Tx,
        id_hash: str,
        account_id: int,
        stamp: str,
        csrf_token: str,
        source_address: str | None,
    ) -> None:
        now = self._clock.now()
        await tx.execute(
            webmail_sessions.insert().values(
                id_hash=id_hash,
                account_id=account_id,
                password_stamp=stamp,
                csrf_token=csrf_token,
                created_at=now,
                last_seen_at=now,
                source_address=None if source_address is None else source_address[:64],
            )
        )

    async def session(self, tx: Tx, id_hash: str) -> WebmailSession | None:
        row = (
            await tx.execute(
                sa.select(*_COLUMNS)
                .join(accounts, accounts.c.id == webmail_sessions.c.account_id)
                .where(webmail_sessions.c.id_hash == id_hash)
            )
        ).one_or_none()
        return None if row is None else _session(row)

    async def sessions_of(self, tx: Tx, account_id: int) -> list[WebmailSession]:
        """An account's sessions, oldest first."""
        rows = await tx.execute(
            sa.select(*_COLUMNS)
            .join(accounts, accounts.c.id == webmail_sessions.c.account_id)
            .where(webmail_sessions.c.account_id == account_id)
            .order_by(webmail_sessions.c.created_at, webmail_sessions.c.id_hash)
        )
        return [_session(r) for r in rows]

    async def touch_session(self, tx: Tx, id_hash: str) -> None:
        await tx.execute(
            webmail_sessions.update()
            .where(webmail_sessions.c.id_hash == id_hash)
            .values(last_seen_at=self._clock.now())
        )

    async def remove_session(self, tx: Tx, id_hash: str) -> bool:
        done = await tx.execute(
            webmail_sessions.delete().where(webmail_sessions.c.id_hash == id_hash)
        )
        return bool(done.rowcount)

    async def remove_sessions(self, tx: Tx, account_id: int) -> int:
        """End every webmail session of an account."""
        done = await tx.execute(
            webmail_sessions.delete().where(webmail_sessions.c.account_id == account_id)
        )
        return int(done.rowcount)

    async def live_ids(self, tx: Tx, id_hashes: list[str]) -> set[str]:
        """Which of these sessions still exist."""
        found: set[str] = set()
        for start in range(0, len(id_hashes), _IDS_PER_QUERY):
            rows = await tx.execute(
                sa.select(webmail_sessions.c.id_hash).where(
                    webmail_sessions.c.id_hash.in_(id_hashes[start : start + _IDS_PER_QUERY])
                )
            )
            found.update(str(r.id_hash) for r in rows)
        return found

    async def remove_expired_sessions(
        self, tx: Tx, *, idle_before: datetime, created_before: datetime
    ) -> int:
        done = await tx.execute(
            webmail_sessions.delete().where(
                sa.or_(
                    webmail_sessions.c.last_seen_at < idle_before,
                    webmail_sessions.c.created_at < created_before,
                )
            )
        )
        return int(done.rowcount)

    # --- per-user settings: the senders whose remote images load at once

    async def image_senders(self, tx: Tx, account_id: int, senders: Sequence[str]) -> set[str]:
        """Which of these (lower-cased) sender addresses the user lets show images."""
        wanted = [s for s in senders if s]
        if not wanted:
            return set()
        rows = await tx.execute(
            sa.select(webmail_image_senders.c.sender).where(
                webmail_image_senders.c.account_id == account_id,
                webmail_image_senders.c.sender.in_(wanted[:_IDS_PER_QUERY]),
            )
        )
        return {str(r.sender) for r in rows}

    async def allow_images(self, tx: Tx, account_id: int, sender: str) -> None:
        exists = await self.image_senders(tx, account_id, [sender])
        if not exists:
            await tx.execute(
                webmail_image_senders.insert().values(
                    account_id=account_id, sender=sender, created_at=self._clock.now()
                )
            )

    async def forbid_images(self, tx: Tx, account_id: int, sender: str) -> bool:
        done = await tx.execute(
            webmail_image_senders.delete().where(
                webmail_image_senders.c.account_id == account_id,
                webmail_image_senders.c.sender == sender,
            )
        )
        return bool(done.rowcount)

    async def image_sender_count(self, tx: Tx, account_id: int) -> int:
        found = await tx.execute(
            sa.select(sa.func.count()).where(webmail_image_senders.c.account_id == account_id)
        )
        return int(found.scalar_one())
