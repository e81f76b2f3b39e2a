"""What a mail user sets for themselves: profile, time zone and vacation reply,
and the record of vacation replies sent.

A user who never saved a setting has no row and gets the defaults. The
vacation log keeps, per user and sender, when the last reply went out; a
reply is claimed with one statement that either inserts the sender or moves
an old enough time forward (`claim_reply`), so two deliveries at once on
any backend reply once (RFC 3834 §2: at most once per period). The policy
(validation, the period's default) lives in `roost.control.user_settings`
and `roost.services.spool.vacation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import accounts, user_settings, vacation_replies

_ADDRESSES_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class StoredSettings:
    """A user's settings as the store keeps them (every field, checked by the caller)."""

    display_name: str = ""
    signature: str = ""
    reply_to: str = ""
    time_zone: str = ""
    """An IANA name; empty means UTC."""
    vacation_enabled: bool = False
    vacation_start: date | None = None
    vacation_end: date | None = None
    vacation_subject: str = ""
    """Empty means "Auto: " and the original subject."""
    vacation_text: str = ""
    vacation_period_days: int | None = None
    """None means the configured default."""
    conversation_view: bool = False
    """The webmail lists a folder by conversation rather than by message."""


@dataclass(frozen=True, slots=True)
class ActiveVacation:
    """A user whose vacation reply is switched on, found by address at delivery."""

    account_id: int
    address: str
    account_display_name: str
    settings: StoredSettings


def _stored(row: sa.Row[Any]) -> StoredSettings:
    return StoredSettings(
        display_name=str(row.display_name),
        signature=str(row.signature),
        reply_to=str(row.reply_to),
        time_zone=str(row.time_zone),
        vacation_enabled=bool(row.vacation_enabled),
        vacation_start=row.vacation_start,
        vacation_end=row.vacation_end,
        vacation_subject=str(row.vacation_subject),
        vacation_text=str(row.vacation_text),
        vacation_period_days=None
        if row.vacation_period_days is None
        else int(row.vacation_period_days),
        conversation_view=bool(row.conversation_view),
    )


def _values(settings: StoredSettings) -> dict[str, object]:
    return {
        "display_name": settings.display_name,
        "signature": settings.signature,
        "reply_to": settings.reply_to,
        "time_zone": settings.time_zone,
        "vacation_enabled": settings.vacation_enabled,
        "vacation_start": settings.vacation_start,
        "vacation_end": settings.vacation_end,
        "vacation_subject": settings.vacation_subject,
        "vacation_text": settings.vacation_text,
        "vacation_period_days": settings.vacation_period_days,
        "conversation_view": settings.conversation_view,
    }


class UserSettingsStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def get(self, tx: Tx, account_id: int) -> StoredSettings | None:
        row = (
            await tx.execute(
                sa.select(user_settings).where(user_settings.c.account_id == account_id)
            )
        ).one_or_none()
        return None if row is None else _stored(row)

    async def put(self, tx: Tx, account_id: int, settings: StoredSettings) -> None:
        values = {**_values(settings), "updated_at": self._clock.now()}
        done = await tx.execute(
            user_settings.update().where(user_settings.c.account_id == account_id).values(values)
        )
        if not done.rowcount:
            await tx.execute(user_settings.insert().values(account_id=account_id, **values))

    async def active_vacations(self, tx: Tx, addresses: Sequence[str]) -> list[ActiveVacation]:
        """The accounts among `addresses` (lower case) whose vacation is switched on."""
        found: list[ActiveVacation] = []
        wanted = sorted(set(addresses))
        for start in range(0, len(wanted), _ADDRESSES_PER_QUERY):
            rows = await tx.execute(
                sa.select(user_settings, accounts.c.address, accounts.c.display_name.label("adn"))
                .join(accounts, accounts.c.id == user_settings.c.account_id)
                .where(
                    user_settings.c.vacation_enabled.is_(True),
                    accounts.c.address.in_(wanted[start : start + _ADDRESSES_PER_QUERY]),
                )
            )
            found += [
                ActiveVacation(int(r.account_id), str(r.address), str(r.adn), _stored(r))
                for r in rows
            ]
        return found

    async def claim_reply(self, tx: Tx, account_id: int, sender: str, period: timedelta) -> bool:
        """Note a reply to `sender` now, unless one went out less than `period` ago;
        True when this caller may send it."""
        now = self._clock.now()
        values = {"account_id": account_id, "sender": sender, "last_sent_at": now}
        insert = (
            postgresql.insert(vacation_replies)
            if tx.dialect == "postgresql"
            else sqlite.insert(vacation_replies)
        )
        done = await tx.execute(insert.values(**values).on_conflict_do_nothing())
        if done.rowcount == 1:
            return True
        moved = await tx.execute(
            vacation_replies.update()
            .where(
                vacation_replies.c.account_id == account_id,
                vacation_replies.c.sender == sender,
                vacation_replies.c.last_sent_at <= now - period,
            )
            .values(last_sent_at=now)
        )
        return bool(moved.rowcount)

    async def last_reply(self, tx: Tx, account_id: int, sender: str) -> datetime | None:
        found = await tx.execute(
            sa.select(vacation_replies.c.last_sent_at).where(
                vacation_replies.c.account_id == account_id,
                vacation_replies.c.sender == sender,
            )
        )
        value = found.scalar_one_or_none()
        return value if isinstance(value, datetime) else None

    async def forget_replies(self, tx: Tx, account_id: int) -> int:
        """Forget whom the vacation replied to (a new vacation tells everyone again)."""
        done = await tx.execute(
            vacation_replies.delete().where(vacation_replies.c.account_id == account_id)
        )
        return int(done.rowcount or 0)
