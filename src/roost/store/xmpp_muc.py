"""The XMPP multi-user chat role: what outlives a restart of a room.

- Persistent rooms (XEP-0045 §10.1): the room's bare JID, its
  configuration as JSON (the service reads and writes it), its subject
  and who set it (a nickname), the account that created it and when.
- Affiliations (§5.2): per room, a bare JID (or a domain) with ``owner``,
  ``admin``, ``member`` or ``outcast`` and the reason given; ``none`` is
  the absence of a row.

Temporary rooms and occupants (roles, nicknames) live in memory only. The
room archive (XEP-0313 at the room JID) lives in the XMPP role's archive
under the room's bare JID as owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import xmpp_archive, xmpp_muc_affiliations, xmpp_muc_rooms


@dataclass(frozen=True, slots=True)
class StoredRoom:
    jid: str
    config: str
    """JSON, as the service wrote it."""
    subject: str = ""
    subject_by: str = ""
    creator: str = ""
    created_at: datetime | None = None
    """Set by the store when the room is first kept."""


@dataclass(frozen=True, slots=True)
class StoredAffiliation:
    jid: str
    affiliation: str
    reason: str = ""


class XmppMucStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def rooms(self, tx: Tx) -> list[StoredRoom]:
        rows = await tx.execute(xmpp_muc_rooms.select().order_by(xmpp_muc_rooms.c.jid))
        return [_room(row) for row in rows]

    async def room(self, tx: Tx, jid: str) -> StoredRoom | None:
        row = (
            await tx.execute(xmpp_muc_rooms.select().where(xmpp_muc_rooms.c.jid == jid))
        ).one_or_none()
        return None if row is None else _room(row)

    async def put_room(self, tx: Tx, room: StoredRoom) -> None:
        """Create or replace the room's row (its creation time stays)."""
        values = {
            "config": room.config,
            "subject": room.subject,
            "subject_by": room.subject_by,
            "creator": room.creator,
        }
        done = await tx.execute(
            xmpp_muc_rooms.update().where(xmpp_muc_rooms.c.jid == room.jid).values(**values)
        )
        if done.rowcount == 0:
            created = room.created_at or self._clock.now()
            await tx.execute(
                xmpp_muc_rooms.insert().values(jid=room.jid, created_at=created, **values)
            )

    async def set_subject(self, tx: Tx, jid: str, subject: str, by: str) -> bool:
        """False if the room is not kept."""
        done = await tx.execute(
            xmpp_muc_rooms.update()
            .where(xmpp_muc_rooms.c.jid == jid)
            .values(subject=subject, subject_by=by)
        )
        return bool(done.rowcount)

    async def delete_room(self, tx: Tx, jid: str) -> bool:
        """The room, its affiliations and its archive; False if it was not kept."""
        await tx.execute(xmpp_muc_affiliations.delete().where(xmpp_muc_affiliations.c.room == jid))
        await tx.execute(xmpp_archive.delete().where(xmpp_archive.c.owner == jid))
        done = await tx.execute(xmpp_muc_rooms.delete().where(xmpp_muc_rooms.c.jid == jid))
        return bool(done.rowcount)

    async def affiliations(self, tx: Tx, room: str) -> list[StoredAffiliation]:
        rows = await tx.execute(
            xmpp_muc_affiliations.select()
            .where(xmpp_muc_affiliations.c.room == room)
            .order_by(xmpp_muc_affiliations.c.jid)
        )
        return [StoredAffiliation(row.jid, row.affiliation, row.reason) for row in rows]

    async def set_affiliation(
        self, tx: Tx, room: str, jid: str, affiliation: str | None, reason: str = ""
    ) -> None:
        """Set (or with None remove) one affiliation."""
        table = xmpp_muc_affiliations
        where = (table.c.room == room, table.c.jid == jid)
        if affiliation is None:
            await tx.execute(table.delete().where(*where))
            return
        done = await tx.execute(
            table.update().where(*where).values(affiliation=affiliation, reason=reason)
        )
        if done.rowcount == 0:
            await tx.execute(
                table.insert().values(room=room, jid=jid, affiliation=affiliation, reason=reason)
            )

    async def rooms_created_by(self, tx: Tx, creator: str) -> int:
        return int(
            (
                await tx.execute(
                    sa.select(sa.func.count())
                    .select_from(xmpp_muc_rooms)
                    .where(xmpp_muc_rooms.c.creator == creator)
                )
            ).scalar_one()
        )


def _room(row: sa.Row[tuple[object, ...]]) -> StoredRoom:
    return StoredRoom(
        jid=str(row.jid),
        config=str(row.config),
        subject=str(row.subject),
        subject_by=str(row.subject_by),
        creator=str(row.creator),
        created_at=row.created_at,
    )
