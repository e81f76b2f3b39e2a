"""Rooms in the store: what a restart keeps (XEP-0045 §10.1 persistent rooms).

A configured room is written with its configuration, subject and
affiliations; at start the persistent ones come back (their history
seeded from the room archive when the archive is on) and the rows of
temporary rooms left by a crash are removed. A room that goes away
(destroyed, or temporary and empty) takes its rows and archive with it.
"""

from __future__ import annotations

import logging

from roost.proto.xmpp import Jid, JidMalformed
from roost.services.xmpp.muc import config as room_config
from roost.services.xmpp.muc.history import HistoryEntry
from roost.services.xmpp.muc.roles import Affiliation
from roost.services.xmpp.muc.room import Room
from roost.services.xmpp.roster import from_text
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.xmpp import ArchiveQuery
from roost.store.xmpp_muc import StoredRoom

log = logging.getLogger(__name__)


class RoomKeeper:
    def __init__(self, store: Store, default: room_config.RoomConfig, *, archive: bool) -> None:
        self._store = store
        self._default = default
        self._archive = archive

    async def load(self) -> list[Room]:
        """The persistent rooms; the rows of any other are removed."""
        muc = self._store.muc

        async def read(tx: Tx) -> list[Room]:
            rooms = []
            for stored in await muc.rooms(tx):
                config = room_config.from_json(stored.config, self._default)
                if not config.persistent:
                    await muc.delete_room(tx, stored.jid)
                    continue
                try:
                    jid = Jid.parse(stored.jid)
                    creator = Jid.parse(stored.creator) if stored.creator else None
                except JidMalformed:
                    log.error("a stored room has a JID XMPP cannot name: %r", stored.jid)
                    continue
                affiliations: dict[Jid, Affiliation] = {}
                reasons: dict[Jid, str] = {}
                for row in await muc.affiliations(tx, stored.jid):
                    try:
                        who = Jid.parse(row.jid)
                        affiliations[who] = Affiliation(row.affiliation)
                    except (JidMalformed, ValueError):
                        continue
                    reasons[who] = row.reason
                history = await self._history(tx, stored.jid, config.history_length)
                room = Room(
                    jid,
                    config,
                    creator=creator,
                    affiliations=affiliations,
                    subject=stored.subject,
                    subject_by=stored.subject_by,
                    history=history,
                )
                room.reasons = reasons
                rooms.append(room)
            return rooms

        return await self._store.write(read)

    async def _history(self, tx: Tx, room: str, length: int) -> list[HistoryEntry]:
        if not self._archive or length == 0:
            return []
        page = await self._store.xmpp.archive_page(tx, room, ArchiveQuery(limit=length, last=True))
        entries = []
        for message in [] if page is None else page.messages:
            stanza = from_text(message.stanza)
            if stanza is not None:
                entries.append(HistoryEntry(message.at, stanza))
        return entries

    async def save(self, room: Room) -> None:
        """Write the room and make its stored affiliations what it has."""
        muc = self._store.muc
        jid = str(room.jid)
        stored = StoredRoom(
            jid=jid,
            config=room_config.to_json(room.config),
            subject=room.subject,
            subject_by=room.subject_by,
            creator="" if room.creator is None else str(room.creator),
        )

        async def write(tx: Tx) -> None:
            await muc.put_room(tx, stored)
            had = {a.jid: a for a in await muc.affiliations(tx, jid)}
            has = {str(j): (a.value, room.reasons.get(j, "")) for j, a in room.affiliations.items()}
            for who in had.keys() - has.keys():
                await muc.set_affiliation(tx, jid, who, None)
            for who, (affiliation, reason) in has.items():
                old = had.get(who)
                if old is None or (old.affiliation, old.reason) != (affiliation, reason):
                    await muc.set_affiliation(tx, jid, who, affiliation, reason)

        await self._store.write(write)

    async def subject(self, room: Room) -> None:
        await self._store.write(
            self._store.muc.set_subject, str(room.jid), room.subject, room.subject_by
        )

    async def forget(self, room: Room) -> None:
        await self._store.write(self._store.muc.delete_room, str(room.jid))

    async def archive(self, room: Room, stanza_id: str, nick: str, text: str) -> None:
        await self._store.write(
            self._store.xmpp.archive, str(room.jid), stanza_id, str(room.occupant_jid(nick)), text
        )
