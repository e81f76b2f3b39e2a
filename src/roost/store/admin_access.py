"""Admin console sign-in state: server-side sessions and two-step codes (TOTP).

A session is a row keyed by the SHA-256 of the random id in the browser's
cookie, so the table alone never lets anyone in. Each row carries its CSRF
token, its creation time (for the absolute timeout) and the last time it was
used (for the idle timeout); the policy that applies them lives in
`roost.control.admin_access`, which asks with the times already computed.

A two-step secret is kept per admin with the last time step accepted, and
`use_totp_step` moves that step forward only if the new one is later: of two
sign-ins racing with one code, one wins (RFC 6238 §5.2: a code is good once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import admin_sessions, admin_totp, admins


@dataclass(frozen=True, slots=True)
class AdminSession:
    id_hash: str
    admin_id: int
    admin: str
    must_change_password: bool
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    source_address: str | None


@dataclass(frozen=True, slots=True)
class AdminTotp:
    admin_id: int
    secret: str
    """Base32, as an authenticator app takes it."""
    enabled: bool
    """False between enrolment and the first good code."""
    last_step: int


_SESSION_COLUMNS = (
    admin_sessions.c.id_hash,
    admin_sessions.c.admin_id,
    admins.c.name,
    admins.c.must_change_password,
    admin_sessions.c.csrf_token,
    admin_sessions.c.created_at,
    admin_sessions.c.last_seen_at,
    admin_sessions.c.source_address,
)


def _session(row: sa.Row[Any]) -> AdminSession:
    return AdminSession(
        id_hash=str(row.id_hash),
        admin_id=int(row.admin_id),
        admin=str(row.name),
        must_change_password=bool(row.must_change_password),
        csrf_token=str(row.csrf_token),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        source_address=None if row.source_address is None else str(row.source_address),
    )


class AdminAccessStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    # --- sessions

    async def add_session(
        self, tx: Tx, id_hash: str, admin_id: int, csrf_token: str, source_address: str | None
    ) -> None:
        now = self._clock.now()
        await tx.execute(
            admin_sessions.insert().values(
                id_hash=id_hash,
                admin_id=admin_id,
                csrf_token=csrf_token,
                created_at=now,
                last_seen_at=now,
                source_address=None if source_address is None else source_address[:64],
            )
        )

    async def session(self, tx: Tx, id_hash: str) -> AdminSession | None:
        """The session and its admin's name and password state, if it exists."""
        row = (
            await tx.execute(
                sa.select(*_SESSION_COLUMNS)
                .join(admins, admins.c.id == admin_sessions.c.admin_id)
                .where(admin_sessions.c.id_hash == id_hash)
            )
        ).one_or_none()
        return None if row is None else _session(row)

    async def sessions_of(self, tx: Tx, admin_id: int) -> list[AdminSession]:
        """An admin's sessions, oldest first."""
        rows = await tx.execute(
            sa.select(*_SESSION_COLUMNS)
            .join(admins, admins.c.id == admin_sessions.c.admin_id)
            .where(admin_sessions.c.admin_id == admin_id)
            .order_by(admin_sessions.c.created_at, admin_sessions.c.id_hash)
        )
        return [_session(r) for r in rows]

    async def touch_session(self, tx: Tx, id_hash: str) -> None:
        await tx.execute(
            admin_sessions.update()
            .where(admin_sessions.c.id_hash == id_hash)
            .values(last_seen_at=self._clock.now())
        )

    async def remove_session(self, tx: Tx, id_hash: str) -> bool:
        done = await tx.execute(admin_sessions.delete().where(admin_sessions.c.id_hash == id_hash))
        return bool(done.rowcount)

    async def remove_sessions(self, tx: Tx, admin_id: int, *, keep: str | None = None) -> int:
        """End every session of an admin (but `keep`, a session's id hash)."""
        query = admin_sessions.delete().where(admin_sessions.c.admin_id == admin_id)
        if keep is not None:
            query = query.where(admin_sessions.c.id_hash != keep)
        done = await tx.execute(query)
        return int(done.rowcount)

    async def remove_expired_sessions(
        self, tx: Tx, *, idle_before: datetime, created_before: datetime
    ) -> int:
        done = await tx.execute(
            admin_sessions.delete().where(
                sa.or_(
                    admin_sessions.c.last_seen_at < idle_before,
                    admin_sessions.c.created_at < created_before,
                )
            )
        )
        return int(done.rowcount)

    # --- two-step codes

    async def totp(self, tx: Tx, admin_id: int) -> AdminTotp | None:
        row = (
            await tx.execute(sa.select(admin_totp).where(admin_totp.c.admin_id == admin_id))
        ).one_or_none()
        if row is None:
            return None
        return AdminTotp(row.admin_id, row.secret, bool(row.enabled), int(row.last_step))

    async def set_totp(self, tx: Tx, admin_id: int, secret: str, *, enabled: bool) -> None:
        """Start (or restart) enrolment with a new secret, or confirm it."""
        values = {"secret": secret, "enabled": enabled}
        done = await tx.execute(
            admin_totp.update().where(admin_totp.c.admin_id == admin_id).values(**values)
        )
        if not done.rowcount:
            await tx.execute(
                admin_totp.insert().values(
                    admin_id=admin_id, last_step=0, created_at=self._clock.now(), **values
                )
            )

    async def use_totp_step(self, tx: Tx, admin_id: int, step: int) -> bool:
        """Record `step` as used; False when it (or a later one) was used already."""
        done = await tx.execute(
            admin_totp.update()
            .where(admin_totp.c.admin_id == admin_id, admin_totp.c.last_step < step)
            .values(last_step=step)
        )
        return done.rowcount == 1

    async def remove_totp(self, tx: Tx, admin_id: int) -> bool:
        done = await tx.execute(admin_totp.delete().where(admin_totp.c.admin_id == admin_id))
        return bool(done.rowcount)
