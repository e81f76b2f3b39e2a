"""The XMPP role: what the chat service keeps for each account.

- Roster items (RFC 6121 §2) with their subscription state (§3 and
  Appendix A): ``subscription`` none/to/from/both, ``ask`` (pending out),
  ``pending_in`` and ``approved`` (pre-approval, §3.4). An item with
  ``listed`` False is not in the roster the user sees: it only holds a
  pending inbound request or nothing at all (§3.1.3 forbids adding the
  requester to the contact's roster).
- The roster version (XEP-0237 style, RFC 6121 §2.6): one counter per
  owner, raised by every change to a listed item.
- Offline messages (XEP-0160), in arrival order, as serialized XML.
- Per-user XML documents: the vCard (XEP-0054) and private storage
  (XEP-0049), each under a key the service chooses.
- The block list (XEP-0191): JIDs as the user wrote them (prepared).
- The message archive (XEP-0313): each message an owner sent or received,
  under the stanza id (XEP-0359) the server gave it, with the bare JID of
  the other party; pages by row order (XEP-0059), pruned by age.
- Personal eventing (XEP-0163 PEP): each owner's nodes with their access
  model and item limit, and the items published to them (payload XML under
  the item id, newest last); publishing an item id again replaces it.

Owners are bare JIDs (an account's address, lower-cased by the directory).
The store holds XML as text and never parses it; the service does.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import (
    xmpp_archive,
    xmpp_blocks,
    xmpp_offline,
    xmpp_pep_items,
    xmpp_pep_nodes,
    xmpp_roster,
    xmpp_roster_versions,
    xmpp_user_xml,
)

# Built once: every archived chat message runs it.
_ARCHIVE_INSERT = xmpp_archive.insert().values(
    owner=sa.bindparam("b_owner"),
    stanza_id=sa.bindparam("b_stanza_id"),
    with_jid=sa.bindparam("b_with_jid"),
    at=sa.bindparam("b_at"),
    stanza=sa.bindparam("b_stanza"),
)


class Subscription(enum.StrEnum):
    """The ``subscription`` attribute of a roster item (RFC 6121 §2.1.2.5)."""

    NONE = "none"
    TO = "to"
    FROM = "from"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class RosterItem:
    contact: str
    name: str | None = None
    groups: tuple[str, ...] = ()
    subscription: Subscription = Subscription.NONE
    ask: bool = False
    """A subscription request sent and not yet answered (pending out)."""
    pending_in: bool = False
    """The contact asked to subscribe and the user has not answered."""
    approved: bool = False
    """The user pre-approved the contact's subscription (§3.4)."""
    listed: bool = True
    """In the roster the user sees; False for an item that only holds state."""


@dataclass(frozen=True, slots=True)
class Roster:
    version: int
    items: tuple[RosterItem, ...]


@dataclass(frozen=True, slots=True)
class OfflineMessage:
    id: int
    stanza: str
    stored_at: datetime


_GROUP_SEPARATOR = "\n"
"""Groups are joined with a newline, which a prepared group name cannot hold
(the service refuses control characters in names)."""


class XmppStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    # --- roster

    async def roster(self, tx: Tx, owner: str) -> Roster:
        """The listed items and the version they have."""
        rows = await tx.execute(
            xmpp_roster.select()
            .where(xmpp_roster.c.owner == owner, xmpp_roster.c.listed.is_(True))
            .order_by(xmpp_roster.c.contact)
        )
        return Roster(await self.roster_version(tx, owner), tuple(_item(row) for row in rows))

    async def roster_version(self, tx: Tx, owner: str) -> int:
        version = (
            await tx.execute(
                sa.select(xmpp_roster_versions.c.version).where(
                    xmpp_roster_versions.c.owner == owner
                )
            )
        ).scalar_one_or_none()
        return int(version or 0)

    async def roster_item(self, tx: Tx, owner: str, contact: str) -> RosterItem | None:
        """The item, listed or not."""
        row = (
            await tx.execute(
                xmpp_roster.select().where(
                    xmpp_roster.c.owner == owner, xmpp_roster.c.contact == contact
                )
            )
        ).one_or_none()
        return None if row is None else _item(row)

    async def items_of(self, tx: Tx, owner: str) -> list[RosterItem]:
        """Every item, listed or not (pending requests included)."""
        rows = await tx.execute(
            xmpp_roster.select().where(xmpp_roster.c.owner == owner).order_by(xmpp_roster.c.contact)
        )
        return [_item(row) for row in rows]

    async def put_roster_item(self, tx: Tx, owner: str, item: RosterItem) -> int:
        """Create or replace the item; the roster version after it."""
        before = await self.roster_item(tx, owner, item.contact)
        values = {
            "name": item.name,
            "groups": _GROUP_SEPARATOR.join(item.groups),
            "subscription": item.subscription.value,
            "ask": item.ask,
            "pending_in": item.pending_in,
            "approved": item.approved,
            "listed": item.listed,
        }
        if before is None:
            await tx.execute(
                xmpp_roster.insert().values(owner=owner, contact=item.contact, **values)
            )
        else:
            await tx.execute(
                xmpp_roster.update()
                .where(xmpp_roster.c.owner == owner, xmpp_roster.c.contact == item.contact)
                .values(**values)
            )
        if item.listed or (before is not None and before.listed):
            return await self._bump(tx, owner)
        return await self.roster_version(tx, owner)

    async def remove_roster_item(self, tx: Tx, owner: str, contact: str) -> int | None:
        """Delete the item; the new version, or None if there was none."""
        before = await self.roster_item(tx, owner, contact)
        if before is None:
            return None
        await tx.execute(
            xmpp_roster.delete().where(
                xmpp_roster.c.owner == owner, xmpp_roster.c.contact == contact
            )
        )
        if before.listed:
            return await self._bump(tx, owner)
        return await self.roster_version(tx, owner)

    async def _bump(self, tx: Tx, owner: str) -> int:
        version = await self.roster_version(tx, owner) + 1
        done = await tx.execute(
            xmpp_roster_versions.update()
            .where(xmpp_roster_versions.c.owner == owner)
            .values(version=version)
        )
        if done.rowcount == 0:
            await tx.execute(xmpp_roster_versions.insert().values(owner=owner, version=version))
        return version

    # --- offline messages

    async def store_offline(self, tx: Tx, owner: str, stanza: str, *, limit: int) -> bool:
        """Keep a message for later; False (nothing stored) when the owner
        already has ``limit`` waiting."""
        if await self.offline_count(tx, owner) >= limit:
            return False
        await tx.execute(
            xmpp_offline.insert().values(owner=owner, stanza=stanza, stored_at=self._clock.now())
        )
        return True

    async def offline_count(self, tx: Tx, owner: str | None = None) -> int:
        """Messages waiting for ``owner``, or for everyone."""
        query = sa.select(sa.func.count()).select_from(xmpp_offline)
        if owner is not None:
            query = query.where(xmpp_offline.c.owner == owner)
        return int((await tx.execute(query)).scalar_one())

    async def take_offline(self, tx: Tx, owner: str) -> list[OfflineMessage]:
        """The owner's waiting messages, oldest first, removed from the store."""
        rows = list(
            await tx.execute(
                xmpp_offline.select()
                .where(xmpp_offline.c.owner == owner)
                .order_by(xmpp_offline.c.id)
            )
        )
        if rows:
            await tx.execute(
                xmpp_offline.delete().where(
                    xmpp_offline.c.owner == owner,
                    xmpp_offline.c.id <= max(row.id for row in rows),
                )
            )
        return [OfflineMessage(int(row.id), row.stanza, row.stored_at) for row in rows]

    # --- per-user XML (vCard, private storage)

    async def user_xml(self, tx: Tx, owner: str, key: str) -> str | None:
        return (
            await tx.execute(
                sa.select(xmpp_user_xml.c.xml).where(
                    xmpp_user_xml.c.owner == owner, xmpp_user_xml.c.key == key
                )
            )
        ).scalar_one_or_none()

    async def put_user_xml(self, tx: Tx, owner: str, key: str, xml: str) -> None:
        now = self._clock.now()
        done = await tx.execute(
            xmpp_user_xml.update()
            .where(xmpp_user_xml.c.owner == owner, xmpp_user_xml.c.key == key)
            .values(xml=xml, updated_at=now)
        )
        if done.rowcount == 0:
            await tx.execute(
                xmpp_user_xml.insert().values(owner=owner, key=key, xml=xml, updated_at=now)
            )

    # --- block list

    async def blocked(self, tx: Tx, owner: str) -> list[str]:
        rows = await tx.execute(
            sa.select(xmpp_blocks.c.jid)
            .where(xmpp_blocks.c.owner == owner)
            .order_by(xmpp_blocks.c.jid)
        )
        return [str(jid) for jid in rows.scalars()]

    async def block(self, tx: Tx, owner: str, jids: list[str]) -> list[str]:
        """Add ``jids``; those that were not on the list before."""
        present = set(await self.blocked(tx, owner))
        added = sorted(set(jids) - present)
        if added:
            await tx.execute(xmpp_blocks.insert(), [{"owner": owner, "jid": j} for j in added])
        return added

    async def unblock(self, tx: Tx, owner: str, jids: list[str] | None) -> list[str]:
        """Remove ``jids``, or every entry if None; those that were removed."""
        present = set(await self.blocked(tx, owner))
        gone = sorted(present if jids is None else present & set(jids))
        if gone:
            await tx.execute(
                xmpp_blocks.delete().where(
                    xmpp_blocks.c.owner == owner, xmpp_blocks.c.jid.in_(gone)
                )
            )
        return gone

    # --- accounts

    async def remove_owner(self, tx: Tx, owner: str) -> None:
        """Everything kept for an account that is being removed. Other users'
        roster items naming it stay, as they would for any contact."""
        for table in (
            xmpp_roster,
            xmpp_roster_versions,
            xmpp_offline,
            xmpp_user_xml,
            xmpp_blocks,
            xmpp_archive,
            xmpp_pep_nodes,
            xmpp_pep_items,
        ):
            await tx.execute(table.delete().where(table.c.owner == owner))

    # --- personal eventing (PEP)

    async def pep_node(self, tx: Tx, owner: str, node: str) -> PepNode | None:
        row = (
            await tx.execute(
                xmpp_pep_nodes.select().where(
                    xmpp_pep_nodes.c.owner == owner, xmpp_pep_nodes.c.node == node
                )
            )
        ).one_or_none()
        return None if row is None else _node(row)

    async def pep_nodes(self, tx: Tx, owner: str) -> list[PepNode]:
        rows = await tx.execute(
            xmpp_pep_nodes.select()
            .where(xmpp_pep_nodes.c.owner == owner)
            .order_by(xmpp_pep_nodes.c.node)
        )
        return [_node(r) for r in rows]

    async def put_pep_node(self, tx: Tx, owner: str, node: PepNode) -> None:
        """Create the node or change its configuration; items beyond a lower
        ``max_items`` go, oldest first."""
        values = {
            "access_model": node.access_model,
            "max_items": node.max_items,
            "send_last": node.send_last,
        }
        done = await tx.execute(
            xmpp_pep_nodes.update()
            .where(xmpp_pep_nodes.c.owner == owner, xmpp_pep_nodes.c.node == node.node)
            .values(**values)
        )
        if done.rowcount == 0:
            await tx.execute(xmpp_pep_nodes.insert().values(owner=owner, node=node.node, **values))
        await self._trim_pep(tx, owner, node.node, node.max_items)

    async def delete_pep_node(self, tx: Tx, owner: str, node: str) -> bool:
        """Remove the node and its items; False if there was none."""
        await tx.execute(
            xmpp_pep_items.delete().where(
                xmpp_pep_items.c.owner == owner, xmpp_pep_items.c.node == node
            )
        )
        done = await tx.execute(
            xmpp_pep_nodes.delete().where(
                xmpp_pep_nodes.c.owner == owner, xmpp_pep_nodes.c.node == node
            )
        )
        return bool(done.rowcount)

    async def publish_pep_item(
        self, tx: Tx, owner: str, node: str, item_id: str, payload: str, *, max_items: int
    ) -> None:
        """Keep the item as the node's newest (replacing one of the same id),
        then keep only the newest ``max_items``. The node must exist."""
        await tx.execute(
            xmpp_pep_items.delete().where(
                xmpp_pep_items.c.owner == owner,
                xmpp_pep_items.c.node == node,
                xmpp_pep_items.c.item_id == item_id,
            )
        )
        await tx.execute(
            xmpp_pep_items.insert().values(
                owner=owner,
                node=node,
                item_id=item_id,
                payload=payload,
                published_at=self._clock.now(),
            )
        )
        await self._trim_pep(tx, owner, node, max_items)

    async def _trim_pep(self, tx: Tx, owner: str, node: str, max_items: int) -> None:
        table = xmpp_pep_items
        mine = (table.c.owner == owner, table.c.node == node)
        # The oldest of the newest ``max_items`` (at least one is always kept).
        cutoff = await tx.scalar(
            sa.select(table.c.id)
            .where(*mine)
            .order_by(table.c.id.desc())
            .offset(max(max_items, 1) - 1)
            .limit(1)
        )
        if cutoff is not None:
            await tx.execute(table.delete().where(*mine, table.c.id < cutoff))

    async def pep_items(
        self,
        tx: Tx,
        owner: str,
        node: str,
        *,
        ids: tuple[str, ...] = (),
        newest: int | None = None,
    ) -> list[PepItem]:
        """The node's items, oldest first: those named by ``ids`` (if any),
        or the newest ``newest`` (all if None)."""
        table = xmpp_pep_items
        query = sa.select(table).where(table.c.owner == owner, table.c.node == node)
        if ids:
            query = query.where(table.c.item_id.in_(ids))
        query = query.order_by(table.c.id.desc())
        if newest is not None:
            query = query.limit(newest)
        rows = list(await tx.execute(query))
        rows.reverse()
        return [PepItem(r.item_id, r.payload, r.published_at) for r in rows]

    async def retract_pep_item(self, tx: Tx, owner: str, node: str, item_id: str) -> bool:
        done = await tx.execute(
            xmpp_pep_items.delete().where(
                xmpp_pep_items.c.owner == owner,
                xmpp_pep_items.c.node == node,
                xmpp_pep_items.c.item_id == item_id,
            )
        )
        return bool(done.rowcount)

    # --- message archive

    async def archive(self, tx: Tx, owner: str, stanza_id: str, with_jid: str, stanza: str) -> None:
        await self.archive_many(
            tx, [ArchiveEntry(owner, stanza_id, with_jid, self._clock.now(), stanza)]
        )

    async def archive_many(self, tx: Tx, entries: Sequence[ArchiveEntry]) -> None:
        """Archive messages in the order given (their ids follow it)."""
        if entries:
            await tx.execute(
                _ARCHIVE_INSERT,
                [
                    {
                        "b_owner": e.owner,
                        "b_stanza_id": e.stanza_id,
                        "b_with_jid": e.with_jid,
                        "b_at": e.at,
                        "b_stanza": e.stanza,
                    }
                    for e in entries
                ],
            )

    async def archive_page(self, tx: Tx, owner: str, query: ArchiveQuery) -> ArchivePage | None:
        """One page of *owner*'s archive; None if ``after`` or ``before``
        names a message that is not in it (XEP-0313 §4.3.1: item-not-found)."""
        table = xmpp_archive
        where: list[sa.ColumnElement[bool]] = [table.c.owner == owner]
        if query.with_jid is not None:
            where.append(table.c.with_jid == query.with_jid)
        if query.start is not None:
            where.append(table.c.at >= query.start)
        if query.end is not None:
            where.append(table.c.at <= query.end)
        count = (
            await tx.execute(sa.select(sa.func.count()).select_from(table).where(*where))
        ).scalar_one()
        paged = list(where)
        for stanza_id, op in ((query.after, ">"), (query.before, "<")):
            if stanza_id is None:
                continue
            row_id = (
                await tx.execute(
                    sa.select(table.c.id).where(
                        table.c.owner == owner, table.c.stanza_id == stanza_id
                    )
                )
            ).scalar_one_or_none()
            if row_id is None:
                return None
            paged.append(table.c.id > row_id if op == ">" else table.c.id < row_id)
        backwards = query.before is not None or query.last
        order = table.c.id.desc() if backwards else table.c.id
        rows = list(
            await tx.execute(sa.select(table).where(*paged).order_by(order).limit(query.limit + 1))
        )
        complete = len(rows) <= query.limit
        rows = rows[: query.limit]
        if backwards:
            rows.reverse()
        first_index = None
        if rows:
            first_index = (
                await tx.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(*where, table.c.id < rows[0].id)
                )
            ).scalar_one()
        messages = [ArchivedMessage(r.stanza_id, r.with_jid, r.at, r.stanza) for r in rows]
        return ArchivePage(messages, complete, int(count), first_index)

    async def prune_archive(self, tx: Tx, older_than: datetime) -> int:
        """Remove archived messages kept since before *older_than*; how many."""
        done = await tx.execute(xmpp_archive.delete().where(xmpp_archive.c.at < older_than))
        return int(done.rowcount or 0)


@dataclass(frozen=True, slots=True)
class ArchiveQuery:
    """What a MAM query asks (XEP-0313 §4.1 fields, XEP-0059 paging)."""

    limit: int
    with_jid: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    after: str | None = None
    before: str | None = None
    last: bool = False
    """The last page (XEP-0059 §2.5: an empty ``<before/>``)."""


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One message to archive: *owner*'s copy, exchanged with *with_jid*."""

    owner: str
    stanza_id: str
    with_jid: str
    at: datetime
    stanza: str


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    stanza_id: str
    with_jid: str
    at: datetime
    stanza: str


@dataclass(frozen=True, slots=True)
class ArchivePage:
    messages: list[ArchivedMessage]
    complete: bool
    """No further message in the direction of paging (XEP-0313 §4.3.3)."""
    count: int
    """Messages that match the query's filter, on every page."""
    first_index: int | None
    """Position of the page's first message among them (XEP-0059 §2.6)."""


@dataclass(frozen=True, slots=True)
class PepNode:
    """A PEP node and its configuration (XEP-0060 §16.4 names)."""

    node: str
    access_model: str
    """``presence``, ``open`` or ``whitelist`` (only the owner)."""
    max_items: int
    send_last: bool = True
    """Send the newest item to a session that comes to want it (XEP-0163 §4.3.2)."""


@dataclass(frozen=True, slots=True)
class PepItem:
    item_id: str
    payload: str
    """The item's payload element as XML (empty for an item without one)."""
    published_at: datetime


def _node(row: sa.Row[tuple[object, ...]]) -> PepNode:
    return PepNode(row.node, row.access_model, int(row.max_items), bool(row.send_last))


def _item(row: sa.Row[tuple[object, ...]]) -> RosterItem:
    groups = str(row.groups or "")
    return RosterItem(
        contact=row.contact,
        name=row.name,
        groups=tuple(groups.split(_GROUP_SEPARATOR)) if groups else (),
        subscription=Subscription(row.subscription),
        ask=bool(row.ask),
        pending_in=bool(row.pending_in),
        approved=bool(row.approved),
        listed=bool(row.listed),
    )
