"""Units of work over one database, SQLite or PostgreSQL.

Every write runs as a unit of work: an async function given a `Tx` (the
connection inside a transaction, plus callbacks to run after the commit).

SQLite has one writer connection. Units queued while a commit is in flight are
grouped into the next transaction, each inside its own SAVEPOINT so that one
failing unit rolls back alone; the group then commits once (`synchronous=FULL`)
and every caller learns its own result. Readers use a pool of connections
that see the last commit (WAL), so no session ever meets SQLITE_BUSY from
Roost itself; another process holding the lock (the CLI) is waited for up to
the busy timeout.

Every SQLite statement runs inline on the event loop's thread: a point read or
write takes tens of microseconds, while a hop to a worker thread and back
costs a wake-up on each side (a millisecond or more on a busy two-core
machine, and several per unit). Only the commit, which waits for fsync, goes
to a thread. A reader in WAL mode never waits for the writer.

PostgreSQL gives each unit its own pooled connection and transaction, and
retries a unit that lost a serialisation or deadlock race.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from roost.core.errors import StartupError, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

PG_RETRIES = 5
PG_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected

AnyResult = sa.CursorResult[*tuple[Any, ...]]
"""A result whose rows unpack into as many values as the statement selects."""


@dataclass(slots=True)
class Tx:
    """A connection inside a transaction, and what to do once it commits."""

    conn: AsyncConnection | sa.Connection
    """Async for readers and PostgreSQL; synchronous for the SQLite writer, whose
    statements run inline (microseconds each) instead of crossing to a thread."""
    dialect: str
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    async def execute(self, statement: sa.Executable, params: Any = None) -> AnyResult:
        if isinstance(self.conn, sa.Connection):
            return self.conn.execute(statement, params)
        return await self.conn.execute(statement, params)

    async def scalar(self, statement: sa.Executable, params: Any = None) -> Any:
        if isinstance(self.conn, sa.Connection):
            return self.conn.scalar(statement, params)
        return await self.conn.scalar(statement, params)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the unit that rolls back alone when it raises."""
        if isinstance(self.conn, sa.Connection):
            nested = _Savepoint(self.conn)
            try:
                yield
            except BaseException:
                nested.rollback()
                raise
            nested.commit()
            return
        async_nested = await self.conn.begin_nested()
        try:
            yield
        except BaseException:
            await async_nested.rollback()
            raise
        await async_nested.commit()


Work = Callable[[Tx], Awaitable[T]]

_savepoint_names = itertools.count(1)


class _Savepoint:
    """A SAVEPOINT on a synchronous SQLite connection, straight through the
    driver: SQLAlchemy's `begin_nested` cost about 35 µs each way, and the
    writer takes one per unit of a group and per recipient of a delivery.
    SQLAlchemy's own transaction, around it, is not affected."""

    __slots__ = ("_driver", "_name")

    def __init__(self, conn: sa.Connection) -> None:
        self._driver = conn.connection.driver_connection
        self._name = f"roost_{next(_savepoint_names)}"
        self._run(f"SAVEPOINT {self._name}")

    def commit(self) -> None:
        self._run(f"RELEASE {self._name}")

    def rollback(self) -> None:
        self._run(f"ROLLBACK TO {self._name}")
        self._run(f"RELEASE {self._name}")

    def _run(self, sql: str) -> None:
        assert self._driver is not None
        try:
            self._driver.execute(sql)
        except sqlite3.Error as exc:
            raise OperationalError(sql, None, exc) from exc


class Database(Protocol):
    dialect: str
    schema: str | None

    async def write(self, work: Work[T]) -> T: ...

    async def read(self, work: Work[T]) -> T: ...

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T: ...

    async def close(self) -> None: ...


def _run_callbacks(tx: Tx) -> None:
    for callback in tx._after_commit:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


@dataclass(slots=True)
class _Job:
    work: Work[Any]
    future: asyncio.Future[Any]


class SqliteDatabase:
    """One writer that groups commits, and a pool of readers."""

    dialect = "sqlite"
    schema: str | None = None

    def __init__(self, path: Path, *, readers: int, group_max: int, busy_timeout_s: float) -> None:
        self.path = path
        self._writer = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=sa.pool.StaticPool,
            connect_args={"check_same_thread": False},
        )
        self._readers = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=sa.pool.QueuePool,
            pool_size=readers,
            max_overflow=0,
            connect_args={"check_same_thread": False},
        )
        # The pool never blocks the loop: a unit waits here for a free reader.
        self._free_readers = asyncio.Semaphore(readers)
        # Readers stay checked out between units: a checkout and its return
        # cost more than the point read a unit usually makes.
        self._idle_readers: list[sa.Connection] = []
        busy_ms = int(busy_timeout_s * 1000)
        _configure_sqlite(self._writer, busy_ms, immediate=True)
        _configure_sqlite(self._readers, busy_ms, immediate=False)
        self._conn: sa.Connection | None = None
        self._group_max = group_max
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def write(self, work: Work[T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._writer_loop(), name="sqlite-writer")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(work, future))
        return await future

    async def read(self, work: Work[T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        async with self._free_readers:
            conn = self._idle_readers.pop() if self._idle_readers else self._readers.connect()
            try:
                with conn.begin():
                    return await work(Tx(conn, self.dialect))
            finally:
                if conn.invalidated or self._closed:
                    conn.close()
                else:
                    self._idle_readers.append(conn)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        def run() -> T:
            with self._writer.begin() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            self._conn = self._writer.connect()
        return self._conn

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(StoreError("the store is closed"))
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._writer.dispose()
        while self._idle_readers:
            self._idle_readers.pop().close()
        self._readers.dispose()

    async def _writer_loop(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < self._group_max and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            await self._run_group(jobs)

    async def _run_group(self, jobs: list[_Job]) -> None:
        live = [job for job in jobs if not job.future.cancelled()]
        if len(live) == 1:
            await self._run_alone(live[0])
        elif live:
            await self._run_grouped(live)

    async def _run_alone(self, job: _Job) -> None:
        """A unit alone in its group: its own transaction isolates it, no SAVEPOINT."""
        conn = self._connection()
        tx = Tx(conn, self.dialect)
        transaction = conn.begin()
        try:
            value = await job.work(tx)
        except BaseException as exc:
            transaction.rollback()
            if isinstance(exc, asyncio.CancelledError):
                if not job.future.done():
                    job.future.set_exception(StoreError("the store was closed during a commit"))
                raise
            if not job.future.done():
                job.future.set_exception(
                    exc if isinstance(exc, Exception) else StoreError(str(exc))
                )
            return
        try:
            await _commit(transaction)
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(StoreError(f"commit failed: {exc}"))
            return
        _run_callbacks(tx)
        if not job.future.done():
            job.future.set_result(value)

    async def _run_grouped(self, jobs: list[_Job]) -> None:
        """Several units, one commit: each in a SAVEPOINT so that one failing rolls back alone."""
        results: list[tuple[_Job, Tx, bool, Any]] = []
        conn = self._connection()
        transaction = conn.begin()
        try:
            for job in jobs:
                tx = Tx(conn, self.dialect)
                savepoint = _Savepoint(conn)
                try:
                    value = await job.work(tx)
                except asyncio.CancelledError:
                    savepoint.rollback()
                    raise
                except Exception as exc:
                    savepoint.rollback()
                    results.append((job, tx, False, exc))
                else:
                    savepoint.commit()
                    results.append((job, tx, True, value))
            await _commit(transaction)
        except asyncio.CancelledError:
            if transaction.is_active:
                transaction.rollback()
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(StoreError("the store was closed during a commit"))
            raise
        except Exception as exc:
            if transaction.is_active:
                transaction.rollback()
            log.error("commit of %d units failed: %s", len(jobs), exc)
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(StoreError(f"commit failed: {exc}"))
            return
        for job, tx, ok, value in results:
            if ok:
                _run_callbacks(tx)
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)


async def _commit(transaction: sa.RootTransaction) -> None:
    """The commit waits for fsync: in a thread, so the event loop runs meanwhile.
    A failed commit is rolled back, so the connection is ready for the next unit."""
    try:
        await asyncio.to_thread(transaction.commit)
    except Exception:
        if transaction.is_active:
            with contextlib.suppress(Exception):
                transaction.rollback()
        raise


def _configure_sqlite(engine: sa.Engine, busy_ms: int, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: through `exec_driver_sql` it cost 30 µs a
        # transaction. A failure reads as the statement's would have.
        try:
            conn.connection.driver_connection.execute(begin)
        except sqlite3.Error as exc:
            raise OperationalError(begin, None, exc) from exc


class PostgresDatabase:
    """A pool of connections; each unit of work is one transaction."""

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int, schema: str | None) -> None:
        self.schema = schema or None
        connect_args: dict[str, Any] = {}
        if self.schema:
            connect_args["server_settings"] = {"search_path": self.schema}
        self.url = url
        self._engine = create_async_engine(
            asyncpg_url(url), pool_size=pool_size, max_overflow=0, connect_args=connect_args
        )
        self._closed = False

    async def write(self, work: Work[T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        for attempt in range(PG_RETRIES):
            tx: Tx | None = None
            try:
                async with self._engine.begin() as conn:
                    tx = Tx(conn, self.dialect)
                    value = await work(tx)
            except DBAPIError as exc:
                if _sqlstate(exc) in PG_RETRY_SQLSTATES and attempt + 1 < PG_RETRIES:
                    log.info("retrying a unit of work after %s", _sqlstate(exc))
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                raise
            _run_callbacks(tx)
            return value
        raise AssertionError("unreachable")

    async def read(self, work: Work[T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        async with self._engine.connect() as conn, conn.begin():
            return await work(Tx(conn, self.dialect))

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        self._closed = True
        await self._engine.dispose()


def asyncpg_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise StartupError(f"store url {url!r} is not a postgresql:// URL")
    return "postgresql+asyncpg://" + rest


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )
    return code if isinstance(code, str) else None


def is_operational(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | OSError)
