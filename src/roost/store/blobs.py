"""Blobs: message bytes, content-addressed by SHA-256 and reference-counted.

A blob is *staged* before the unit of work that references it: its bytes are
durable first (a file written, fsynced, renamed and its folder fsynced; or
chunks committed in PostgreSQL), then the unit references it, so a commit
never points at bytes that a crash could lose. A staged blob that nothing
references yet, or one whose last reference went away, is collected only
after a grace time, and never while a session has it pinned.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from roost.core.clock import Clock
from roost.core.errors import NotFound, StoreError
from roost.store.db import Database, Tx
from roost.store.schema import blob_chunks, blobs
from roost.store.types import StagedBlob

READ_CHUNK_BYTES = 256 * 1024
PG_CHUNK_BYTES = 1024 * 1024
IO_THREADS = 16
FOLDER_CHARS = 1

P = ParamSpec("P")
R = TypeVar("R")


class BlobStore(Protocol):
    async def stage(self, data: bytes) -> StagedBlob: ...

    async def stage_many(self, items: Sequence[bytes]) -> list[StagedBlob]:
        """Stage several blobs at once: their durable writes overlap."""
        ...

    async def stage_file(self, path: Path, known: StagedBlob | None = None) -> StagedBlob:
        """Take a written file into the store; `known`: its hash and size, if the
        caller has them (else the file is read to compute them)."""
        ...

    async def ref(self, tx: Tx, blob: StagedBlob, count: int = 1) -> None: ...

    async def ref_many(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        """Add references to staged blobs, in one statement where the backend can."""
        ...

    async def unref(self, tx: Tx, hash: str, count: int = 1) -> None: ...

    async def unref_many(self, tx: Tx, counts: Mapping[str, int]) -> None: ...

    async def set_structure(self, tx: Tx, hash: str, structure: str) -> None:
        """Keep the parsed MIME structure (proto/mime, as JSON) with the blob."""
        ...

    async def structure(self, tx: Tx, hash: str) -> str | None: ...

    def chunks(self, hash: str) -> AsyncIterator[bytes]: ...

    async def read(self, hash: str) -> bytes: ...

    async def read_many(self, hashes: Sequence[str]) -> list[bytes]:
        """Several small blobs at once (one trip to the disk thread for files)."""
        ...

    def pin(self, hash: str) -> AbstractContextManager[None]: ...

    async def collect(self) -> int: ...


class _Pins:
    """In-process pins: hashes in use by a session or just staged."""

    def __init__(self, clock: Clock, grace_s: float) -> None:
        self._sessions: Counter[str] = Counter()
        self._staged: dict[str, float] = {}
        self._clock = clock
        self._grace_s = grace_s

    @contextmanager
    def session(self, hash: str) -> Iterator[None]:
        self._sessions[hash] += 1
        try:
            yield
        finally:
            self._sessions[hash] -= 1
            if self._sessions[hash] <= 0:
                del self._sessions[hash]

    def staged(self, hash: str) -> None:
        self._staged[hash] = self._clock.monotonic()

    def pinned(self, hash: str) -> bool:
        if self._sessions.get(hash):
            return True
        at = self._staged.get(hash)
        if at is None:
            return False
        if self._clock.monotonic() - at < self._grace_s:
            return True
        del self._staged[hash]
        return False


# Built once: the statements every delivery runs are executed, not rebuilt
# (building one costs more than SQLite takes to run it).
_UPSERT = sqlite_insert(blobs)
_ADD_UPSERT = _UPSERT.on_conflict_do_update(
    index_elements=[blobs.c.hash],
    set_={"refs": blobs.c.refs + _UPSERT.excluded.refs, "unreferenced_at": None},
)
_REFS: sa.BindParameter[int] = sa.bindparam("b_refs", type_=sa.BigInteger)
_REMOVE_REFS = (
    blobs.update()
    .where(blobs.c.hash == sa.bindparam("b_hash"))
    .values(
        refs=blobs.c.refs - _REFS,
        unreferenced_at=sa.case(
            (blobs.c.refs - _REFS <= 0, sa.bindparam("b_now", type_=blobs.c.unreferenced_at.type)),
            else_=None,
        ),
    )
)
_SET_STRUCTURE = (
    blobs.update()
    .where(blobs.c.hash == sa.bindparam("b_hash"), blobs.c.structure.is_(None))
    .values(structure=sa.bindparam("b_structure"))
)


class _RefCounts:
    """Reference counting in the `blobs` table, shared by both layouts."""

    def __init__(self, db: Database, clock: Clock, grace_s: float) -> None:
        self._db = db
        self._clock = clock
        self.grace_s = grace_s
        self.pins = _Pins(clock, grace_s)

    async def add_upsert(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        """Embedded store: the row may not exist yet (file blobs have none until referenced)."""
        await tx.execute(
            _ADD_UPSERT,
            [
                {"hash": b.hash, "size": b.size, "refs": n, "unreferenced_at": None}
                for b, n in counts.items()
            ],
        )

    async def add_existing(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        """PostgreSQL: the row and its chunks were committed when the blob was staged."""
        await tx.execute(
            blobs.update()
            .where(blobs.c.hash == sa.bindparam("b_hash"))
            .values(refs=blobs.c.refs + sa.bindparam("b_refs"), unreferenced_at=None),
            [{"b_hash": b.hash, "b_refs": n} for b, n in counts.items()],
        )
        found = await tx.scalar(
            sa.select(sa.func.count()).where(blobs.c.hash.in_([b.hash for b in counts]))
        )
        if found != len(counts):
            raise StoreError("a staged blob vanished before it was referenced")

    async def remove(self, tx: Tx, counts: Mapping[str, int]) -> None:
        now = self._clock.now()
        await tx.execute(
            _REMOVE_REFS, [{"b_hash": h, "b_refs": n, "b_now": now} for h, n in counts.items()]
        )

    async def read(self, work: Callable[[Tx], Awaitable[R]]) -> R:
        return await self._db.read(work)

    async def set_structure(self, tx: Tx, hash: str, structure: str) -> None:
        """Keep the structure once: the same bytes always parse the same."""
        await tx.execute(_SET_STRUCTURE, {"b_hash": hash, "b_structure": structure})

    async def structure(self, tx: Tx, hash: str) -> str | None:
        value = await tx.scalar(sa.select(blobs.c.structure).where(blobs.c.hash == hash))
        return None if value is None else str(value)

    async def collectable(self) -> list[str]:
        cutoff = self._clock.now() - timedelta(seconds=self.grace_s)

        async def find(tx: Tx) -> list[str]:
            rows = await tx.execute(
                sa.select(blobs.c.hash).where(blobs.c.refs <= 0, blobs.c.unreferenced_at <= cutoff)
            )
            return [h for (h,) in rows if not self.pins.pinned(h)]

        return await self._db.read(find)

    async def delete_rows(self, hashes: list[str]) -> list[str]:
        async def delete(tx: Tx) -> list[str]:
            gone = []
            for hash in hashes:
                result = await tx.execute(
                    blobs.delete().where(blobs.c.hash == hash, blobs.c.refs <= 0)
                )
                if result.rowcount:
                    gone.append(hash)
            return gone

        return await self._db.write(delete)


class _Counted:
    """What both layouts share: references, structure and pins in the `blobs` table."""

    _refs: _RefCounts

    async def ref_many(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        raise NotImplementedError

    async def ref(self, tx: Tx, blob: StagedBlob, count: int = 1) -> None:
        await self.ref_many(tx, {blob: count})

    async def unref(self, tx: Tx, hash: str, count: int = 1) -> None:
        await self._refs.remove(tx, {hash: count})

    async def unref_many(self, tx: Tx, counts: Mapping[str, int]) -> None:
        await self._refs.remove(tx, counts)

    async def set_structure(self, tx: Tx, hash: str, structure: str) -> None:
        await self._refs.set_structure(tx, hash, structure)

    async def structure(self, tx: Tx, hash: str) -> str | None:
        return await self._refs.structure(tx, hash)

    @contextmanager
    def pin(self, hash: str) -> Iterator[None]:
        with self._refs.pins.session(hash):
            yield


class FileBlobs(_Counted):
    """Blobs as files under `<data>/blobs/ab/abcdef...` (the embedded default)."""

    def __init__(self, root: Path, db: Database, clock: Clock, grace_s: float) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._refs = _RefCounts(db, clock, grace_s)
        self._clock = clock
        self._io = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="blob-io")
        self._lock = asyncio.Lock()

    def path(self, hash: str) -> Path:
        # 16 folders, not 256: a batch of new blobs then needs at most 16 folder
        # fsyncs (the durable rename), and ext4's hashed directories stay fast.
        return self.root / hash[:FOLDER_CHARS] / hash

    async def stage(self, data: bytes) -> StagedBlob:
        return (await self.stage_many([data]))[0]

    async def stage_many(self, items: Sequence[bytes]) -> list[StagedBlob]:
        staged = [StagedBlob(hashlib.sha256(data).hexdigest(), len(data)) for data in items]
        async with self._lock:
            for blob in staged:
                self._refs.pins.staged(blob.hash)
        # Write and fsync every new file in parallel, then rename them and
        # fsync each folder once.
        written = await asyncio.gather(
            *(self._run(self._write_tmp, b.hash, d) for b, d in zip(staged, items, strict=True))
        )
        moves = [(tmp, self.path(b.hash)) for b, tmp in zip(staged, written, strict=True) if tmp]
        if moves:
            await self._install(moves)
        return staged

    async def stage_file(self, path: Path, known: StagedBlob | None = None) -> StagedBlob:
        blob = known or StagedBlob(*await self._run(_hash_file, path))
        async with self._lock:
            self._refs.pins.staged(blob.hash)

        # One trip to a disk thread: fsync the file, rename it into place,
        # fsync its folder (each trip costs a wake-up on both sides).
        def adopt() -> None:
            tmp = self._adopt_file(blob.hash, path)
            if tmp is not None:
                for folder in _rename_all([(tmp, self.path(blob.hash))]):
                    _fsync_dir(folder)

        await self._run(adopt)
        return blob

    async def ref_many(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        await self._refs.add_upsert(tx, counts)

    async def chunks(self, hash: str) -> AsyncIterator[bytes]:
        def open_and_read() -> tuple[BinaryIO, bytes]:
            handle = self.path(hash).open("rb")
            return handle, handle.read(READ_CHUNK_BYTES)

        try:
            handle, chunk = await self._run(open_and_read)
        except FileNotFoundError:
            raise NotFound(f"blob {hash} is missing") from None
        loop = asyncio.get_running_loop()
        ahead: asyncio.Future[bytes] | None = None
        try:
            # A short read is the end of a regular file: no trip to learn it.
            # Otherwise the next chunk is read while the caller uses this one.
            while chunk:
                if len(chunk) == READ_CHUNK_BYTES:
                    ahead = loop.run_in_executor(self._io, handle.read, READ_CHUNK_BYTES)
                yield chunk
                if ahead is None:
                    break
                chunk, ahead = await ahead, None
        finally:
            try:
                if ahead is not None:  # the caller stopped early: let the read end first
                    with contextlib.suppress(OSError, ValueError):
                        await asyncio.shield(ahead)
            finally:
                handle.close()

    async def read(self, hash: str) -> bytes:
        return (await self.read_many([hash]))[0]

    async def read_many(self, hashes: Sequence[str]) -> list[bytes]:
        def read_all() -> list[bytes]:
            found: list[bytes] = []
            for hash in hashes:
                try:
                    found.append(self.path(hash).read_bytes())
                except FileNotFoundError:
                    raise NotFound(f"blob {hash} is missing") from None
            return found

        return await self._run(read_all)

    async def collect(self) -> int:
        """Delete unreferenced blobs past the grace time, and orphan files."""
        async with self._lock:
            hashes = await self._refs.collectable()
            gone = await self._refs.delete_rows(hashes) if hashes else []
            for hash in gone:
                self.path(hash).unlink(missing_ok=True)
            orphans = await self._orphans()
            for hash in orphans:
                self.path(hash).unlink(missing_ok=True)
        return len(gone) + len(orphans)

    async def _orphans(self) -> list[str]:
        """Old files without a row: a crash came between staging and the commit."""
        old = await self._run(self._old_files)
        if not old:
            return []

        async def known(tx: Tx) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(old), 500):
                rows = await tx.execute(
                    sa.select(blobs.c.hash).where(blobs.c.hash.in_(old[start : start + 500]))
                )
                found.update(h for (h,) in rows)
            return found

        with_rows = await self._refs.read(known)
        return [h for h in old if h not in with_rows and not self._refs.pins.pinned(h)]

    def close(self) -> None:
        self._io.shutdown(wait=True)

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))

    def _write_tmp(self, hash: str, data: bytes) -> Path | None:
        """A durable temporary file with the bytes, or None when the blob exists."""
        final = self.path(hash)
        if final.exists():
            _touch(final)
            return None
        tmp = self._tmp / f"{hash}.{os.getpid()}.{time.monotonic_ns()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    async def _install(self, moves: list[tuple[Path, Path]]) -> None:
        folders = await self._run(_rename_all, moves)
        await asyncio.gather(*(self._run(_fsync_dir, folder) for folder in folders))

    def _adopt_file(self, hash: str, path: Path) -> Path | None:
        """Make a spooled file durable in place, or drop it when the blob exists."""
        if self.path(hash).exists():
            _touch(self.path(hash))
            path.unlink(missing_ok=True)
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def _old_files(self) -> list[str]:
        cutoff = time.time() - self._refs.grace_s
        old: list[str] = []
        for entry in self._tmp.iterdir():
            if entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
        for folder in self.root.iterdir():
            if len(folder.name) != FOLDER_CHARS or not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.stat().st_mtime < cutoff:
                    old.append(entry.name)
        return old


def _rename_all(moves: list[tuple[Path, Path]]) -> set[Path]:
    """Rename durable temporary files into place; the folders to fsync."""
    folders: set[Path] = set()
    for tmp, final in moves:
        folder = final.parent
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(folder.parent)
        os.replace(tmp, final)
        folders.add(folder)
    return folders


def _touch(path: Path) -> None:
    with suppress(FileNotFoundError):
        os.utime(path)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class DatabaseBlobs(_Counted):
    """Blobs as 1 MiB chunks in PostgreSQL (the scale-out layout)."""

    def __init__(self, db: Database, clock: Clock, grace_s: float) -> None:
        self._db = db
        self._clock = clock
        self._refs = _RefCounts(db, clock, grace_s)

    async def stage(self, data: bytes) -> StagedBlob:
        return (await self.stage_many([data]))[0]

    async def stage_many(self, items: Sequence[bytes]) -> list[StagedBlob]:
        staged = [StagedBlob(hashlib.sha256(data).hexdigest(), len(data)) for data in items]

        async def chunks_of(data: bytes) -> AsyncIterator[bytes]:
            for start in range(0, len(data), PG_CHUNK_BYTES):
                yield data[start : start + PG_CHUNK_BYTES]

        await self._store([(b, chunks_of(d)) for b, d in zip(staged, items, strict=True)])
        return staged

    async def stage_file(self, path: Path, known: StagedBlob | None = None) -> StagedBlob:
        if known is None:
            hash, size = await asyncio.to_thread(_hash_file, path)
        else:
            hash, size = known.hash, known.size
        staged = StagedBlob(hash, size)

        async def chunks_of_file() -> AsyncIterator[bytes]:
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                while piece := await asyncio.to_thread(handle.read, PG_CHUNK_BYTES):
                    yield piece
            finally:
                handle.close()

        await self._store([(staged, chunks_of_file())])
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return staged

    async def _store(self, items: list[tuple[StagedBlob, AsyncIterator[bytes]]]) -> None:
        """Rows and chunks in one transaction of their own, before any reference."""
        for staged, _ in items:
            self._refs.pins.staged(staged.hash)
        now = self._clock.now()

        async def store(tx: Tx) -> None:
            for staged, pieces in items:
                existing = await tx.scalar(
                    sa.select(blobs.c.hash).where(blobs.c.hash == staged.hash).with_for_update()
                )
                if existing is not None:
                    await tx.execute(
                        blobs.update()
                        .where(blobs.c.hash == staged.hash, blobs.c.refs <= 0)
                        .values(unreferenced_at=now)
                    )
                    continue
                await tx.execute(
                    blobs.insert().values(
                        hash=staged.hash, size=staged.size, refs=0, unreferenced_at=now
                    )
                )
                seq = 0
                async for piece in pieces:
                    await tx.execute(
                        blob_chunks.insert().values(hash=staged.hash, seq=seq, data=piece)
                    )
                    seq += 1

        await self._db.write(store)

    async def ref_many(self, tx: Tx, counts: Mapping[StagedBlob, int]) -> None:
        await self._refs.add_existing(tx, counts)

    async def chunks(self, hash: str) -> AsyncIterator[bytes]:
        seq = 0
        while True:

            async def get(tx: Tx, seq: int = seq) -> bytes | None:
                value = await tx.scalar(
                    sa.select(blob_chunks.c.data).where(
                        blob_chunks.c.hash == hash, blob_chunks.c.seq == seq
                    )
                )
                return bytes(value) if value is not None else None

            piece = await self._db.read(get)
            if piece is None:
                if seq == 0 and not await self._exists(hash):
                    raise NotFound(f"blob {hash} is missing")
                return
            yield piece
            seq += 1

    async def _exists(self, hash: str) -> bool:
        async def exists(tx: Tx) -> bool:
            return await tx.scalar(sa.select(blobs.c.hash).where(blobs.c.hash == hash)) is not None

        return await self._db.read(exists)

    async def read(self, hash: str) -> bytes:
        return b"".join([piece async for piece in self.chunks(hash)])

    async def read_many(self, hashes: Sequence[str]) -> list[bytes]:
        return [await self.read(hash) for hash in hashes]

    async def collect(self) -> int:
        hashes = await self._refs.collectable()
        return len(await self._refs.delete_rows(hashes)) if hashes else 0

    def close(self) -> None:
        pass
