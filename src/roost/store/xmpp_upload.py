"""The XMPP upload role: HTTP file upload (XEP-0363) slots and their files.

A slot is one row, from the slot request to the file's expiry:

- ``open``: given to a client, waiting for its one PUT until
  ``slot_expires_at``;
- ``receiving``: a PUT is streaming the body (claimed atomically, so a
  second PUT to the same slot is refused while the first runs); a PUT
  that fails puts the slot back to ``open`` for a retry within its time;
- ``stored``: the file is in place; it is served until ``expires_at``
  (None: kept until removed by hand), and no PUT may replace it.

The row keeps the SHA-256 of the PUT's secret, never the secret. A user's
quota counts the bytes of its stored files and of its slots still open or
receiving, so that many slots asked for at once cannot pass it.

`UploadFiles` keeps the files themselves under the data folder: each body
is streamed into a temporary file, fsynced, renamed into place and its
folder fsynced (as `roost.store.blobs` does), so a stored row never points
at bytes a crash could lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import xmpp_uploads

STALE_RECEIVING = timedelta(days=1)
"""A slot still ``receiving`` this long after its time ran out was left by a
crash in the middle of a PUT; the pruner takes it then."""
_TMP = "tmp"


class UploadState(enum.StrEnum):
    OPEN = "open"
    RECEIVING = "receiving"
    STORED = "stored"


@dataclass(frozen=True, slots=True)
class UploadSlot:
    slot: str
    owner: str
    filename: str
    size: int
    content_type: str
    secret_hash: str
    state: UploadState
    created_at: datetime
    slot_expires_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UploadUsage:
    files: int
    bytes: int


class XmppUploadStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add_slot(self, tx: Tx, slot: UploadSlot, *, quota: int) -> bool:
        """Add an ``open`` slot, unless the owner's stored and reserved bytes
        with it would pass *quota*; whether it was added."""
        now = self._clock.now()
        reserved = (
            await tx.execute(
                sa.select(sa.func.coalesce(sa.func.sum(xmpp_uploads.c.size), 0)).where(
                    xmpp_uploads.c.owner == slot.owner,
                    sa.or_(
                        xmpp_uploads.c.state != UploadState.OPEN.value,
                        xmpp_uploads.c.slot_expires_at > now,
                    ),
                )
            )
        ).scalar_one()
        if int(reserved) + slot.size > quota:
            return False
        await tx.execute(
            xmpp_uploads.insert().values(
                slot=slot.slot,
                owner=slot.owner,
                filename=slot.filename,
                size=slot.size,
                content_type=slot.content_type,
                secret_hash=slot.secret_hash,
                state=UploadState.OPEN.value,
                created_at=slot.created_at,
                slot_expires_at=slot.slot_expires_at,
                expires_at=None,
            )
        )
        return True

    async def upload_slot(self, tx: Tx, slot: str) -> UploadSlot | None:
        row = (
            await tx.execute(xmpp_uploads.select().where(xmpp_uploads.c.slot == slot))
        ).one_or_none()
        return None if row is None else _slot(row)

    async def claim_slot(self, tx: Tx, slot: str) -> bool:
        """``open`` to ``receiving``, if the slot is open and in time."""
        done = await tx.execute(
            xmpp_uploads.update()
            .where(
                xmpp_uploads.c.slot == slot,
                xmpp_uploads.c.state == UploadState.OPEN.value,
                xmpp_uploads.c.slot_expires_at > self._clock.now(),
            )
            .values(state=UploadState.RECEIVING.value)
        )
        return bool(done.rowcount == 1)

    async def release_slot(self, tx: Tx, slot: str) -> None:
        """A PUT failed: the slot is ``open`` again (for a retry in its time)."""
        await tx.execute(
            xmpp_uploads.update()
            .where(
                xmpp_uploads.c.slot == slot,
                xmpp_uploads.c.state == UploadState.RECEIVING.value,
            )
            .values(state=UploadState.OPEN.value)
        )

    async def mark_stored(self, tx: Tx, slot: str, expires_at: datetime | None) -> bool:
        """``receiving`` to ``stored``, kept until *expires_at*."""
        done = await tx.execute(
            xmpp_uploads.update()
            .where(
                xmpp_uploads.c.slot == slot,
                xmpp_uploads.c.state == UploadState.RECEIVING.value,
            )
            .values(state=UploadState.STORED.value, expires_at=expires_at)
        )
        return bool(done.rowcount == 1)

    async def upload_usage(self, tx: Tx, owner: str | None = None) -> UploadUsage:
        """Stored files and their bytes: one owner's, or everyone's."""
        query = sa.select(
            sa.func.count().label("files"),
            sa.func.coalesce(sa.func.sum(xmpp_uploads.c.size), 0).label("bytes"),
        ).where(xmpp_uploads.c.state == UploadState.STORED.value)
        if owner is not None:
            query = query.where(xmpp_uploads.c.owner == owner)
        row = (await tx.execute(query)).one()._mapping
        return UploadUsage(int(row["files"]), int(row["bytes"]))

    async def expired_uploads(self, tx: Tx, limit: int) -> list[UploadSlot]:
        """Up to *limit* rows due to go: stored files past their expiry, open
        slots past their time, slots a crash left receiving."""
        now = self._clock.now()
        rows = await tx.execute(
            xmpp_uploads.select()
            .where(
                sa.or_(
                    sa.and_(
                        xmpp_uploads.c.state == UploadState.STORED.value,
                        xmpp_uploads.c.expires_at <= now,
                    ),
                    sa.and_(
                        xmpp_uploads.c.state == UploadState.OPEN.value,
                        xmpp_uploads.c.slot_expires_at <= now,
                    ),
                    sa.and_(
                        xmpp_uploads.c.state == UploadState.RECEIVING.value,
                        xmpp_uploads.c.slot_expires_at <= now - STALE_RECEIVING,
                    ),
                )
            )
            .order_by(xmpp_uploads.c.slot)
            .limit(limit)
        )
        return [_slot(row) for row in rows]

    async def delete_uploads(self, tx: Tx, slots: list[str]) -> int:
        if not slots:
            return 0
        done = await tx.execute(xmpp_uploads.delete().where(xmpp_uploads.c.slot.in_(slots)))
        return int(done.rowcount)


def _slot(row: sa.Row[tuple[object, ...]]) -> UploadSlot:
    m = row._mapping
    return UploadSlot(
        slot=m["slot"],
        owner=m["owner"],
        filename=m["filename"],
        size=int(m["size"]),
        content_type=m["content_type"],
        secret_hash=m["secret_hash"],
        state=UploadState(m["state"]),
        created_at=m["created_at"],
        slot_expires_at=m["slot_expires_at"],
        expires_at=m["expires_at"],
    )


class BodyTooLarge(Exception):
    """The body sent more bytes than the slot holds."""


class BodyTooShort(Exception):
    """The body ended before the slot's size."""


class UploadFiles:
    """The uploaded files, one per stored slot, under *root*."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, slot: str) -> Path:
        # Slot ids are URL-safe base64: a two-character folder spreads them.
        return self._root / slot[:2] / slot

    async def receive(self, slot: str, body: AsyncIterator[bytes], size: int) -> None:
        """Stream *body* into the slot's file, durably; exactly *size* bytes.

        Raises:
            BodyTooLarge, BodyTooShort: nothing is kept.
        """
        tmp_folder = self._root / _TMP
        await asyncio.to_thread(tmp_folder.mkdir, parents=True, exist_ok=True)
        tmp = tmp_folder / f"{slot}.{secrets.token_hex(8)}"
        handle = await asyncio.to_thread(open, tmp, "wb")
        try:
            try:
                written = 0
                async for chunk in body:
                    written += len(chunk)
                    if written > size:
                        raise BodyTooLarge
                    if chunk:
                        await asyncio.to_thread(handle.write, chunk)
                if written < size:
                    raise BodyTooShort
                await asyncio.to_thread(_flush_and_sync, handle)
            finally:
                await asyncio.to_thread(handle.close)
            await asyncio.to_thread(self._place, tmp, self.path(slot))
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(tmp.unlink, missing_ok=True)
            raise

    @staticmethod
    def _place(tmp: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    async def remove(self, slot: str) -> None:
        """Delete the slot's file, if any."""
        await asyncio.to_thread(self.path(slot).unlink, missing_ok=True)

    async def head(self, slot: str, count: int) -> bytes:
        """The first *count* bytes of the slot's file (to check its type)."""

        def read() -> bytes:
            with self.path(slot).open("rb") as f:
                return f.read(count)

        return await asyncio.to_thread(read)


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
