"""The store: every role over one database, and how to open it.

`open_store` picks the backend from the configuration (SQLite and files in
the data folder by default, PostgreSQL when `store.url` names one), runs the
migrations, and returns a `Store` whose roles share one database, so one unit
of work can span roles:

    await store.write(lambda tx: store.mail.append(tx, box.id, [message]))
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.exc import SQLAlchemyError

from roost.core.clock import Clock, SystemClock
from roost.core.config import Config
from roost.core.errors import StartupError, StoreError
from roost.store.admin_access import AdminAccessStore
from roost.store.blobs import BlobStore, DatabaseBlobs, FileBlobs
from roost.store.changes import ChangeFeed
from roost.store.chat_tokens import ChatTokenStore
from roost.store.db import Database, PostgresDatabase, SqliteDatabase, Tx
from roost.store.directory import DirectoryStore
from roost.store.groupware import GroupwareStore
from roost.store.interfaces import (
    AdminAccessRole,
    ChangeFeedRole,
    ChatTokensRole,
    DirectoryRole,
    EventsRole,
    GroupwareRole,
    MaildropLockRole,
    MailListRole,
    MailRole,
    QueueRole,
    RetrievalRole,
    SearchRole,
    SettingsRole,
    UserSettingsRole,
    WebmailSessionsRole,
    XmppMucRole,
    XmppRole,
    XmppUploadRole,
)
from roost.store.mail import MailStore
from roost.store.mail_list import MailListStore
from roost.store.maildrop_locks import MaildropLockStore
from roost.store.queue import QueueStore
from roost.store.retrieval import RetrievalStore
from roost.store.search import SearchStore
from roost.store.settings import EventLog, SettingsStore
from roost.store.types import Listed, MessageInfo
from roost.store.user_settings import UserSettingsStore
from roost.store.webmail_sessions import WebmailSessionStore
from roost.store.xmpp import XmppStore
from roost.store.xmpp_muc import XmppMucStore
from roost.store.xmpp_upload import XmppUploadStore

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

SQLITE_FILE = "roost.sqlite3"
BLOB_FOLDER = "blobs"
MIGRATION_LOCK_KEY = 0x726F6F7374  # "roost"


def _failed(exc: SQLAlchemyError) -> StoreError:
    """A database failure as the roles' callers know it: a `StoreError`, so that
    no service or face has to know the driver."""
    return StoreError(
        f"the database failed: {type(exc).__name__}: {exc.args[0] if exc.args else exc}"
    )


class Store:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock, node: str) -> None:
        self.db = db
        self.clock = clock
        self.blobs = blobs
        feed = ChangeFeed(db, clock)
        self.changes: ChangeFeedRole = feed
        self.directory: DirectoryRole = DirectoryStore(clock)
        self.admin_access: AdminAccessRole = AdminAccessStore(clock)
        self.mail: MailRole = MailStore(blobs, feed, clock)
        self.maildrop_locks: MaildropLockRole = MaildropLockStore(clock)
        self.queue: QueueRole = QueueStore(blobs, clock)
        self.retrieval: RetrievalRole = RetrievalStore(clock)
        self.search: SearchRole = SearchStore(clock)
        self.settings: SettingsRole = SettingsStore(clock)
        self.events: EventsRole = EventLog(clock, node)
        self.xmpp: XmppRole = XmppStore(clock)
        self.muc: XmppMucRole = XmppMucStore(clock)
        self.uploads: XmppUploadRole = XmppUploadStore(clock)
        self.webmail_sessions: WebmailSessionsRole = WebmailSessionStore(clock)
        self.chat_tokens: ChatTokensRole = ChatTokenStore(clock)
        self.mail_list: MailListRole = MailListStore()
        self.groupware: GroupwareRole = GroupwareStore(clock)
        self.user_settings: UserSettingsRole = UserSettingsStore(clock)
        self._feed = feed
        self._listener: Any = None

    @property
    def backend(self) -> str:
        return self.db.dialect

    async def write(
        self, fn: Callable[Concatenate[Tx, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(tx, ...)` as one unit of work and commit it."""
        try:
            return await self.db.write(lambda tx: fn(tx, *args, **kwargs))
        except SQLAlchemyError as exc:
            raise _failed(exc) from exc

    async def read(
        self, fn: Callable[Concatenate[Tx, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(tx, ...)` on a snapshot of the last commit."""
        try:
            return await self.db.read(lambda tx: fn(tx, *args, **kwargs))
        except SQLAlchemyError as exc:
            raise _failed(exc) from exc

    async def message_chunks(self, message: MessageInfo | Listed) -> AsyncIterator[bytes]:
        """The message as IMAP and POP serve it: its trace headers, then the blob."""
        if message.trace:
            yield message.trace
        with self.blobs.pin(message.blob_hash):
            async for chunk in self.blobs.chunks(message.blob_hash):
                yield chunk

    async def message_bytes(self, message: MessageInfo | Listed) -> bytes:
        return b"".join([chunk async for chunk in self.message_chunks(message)])

    async def listen_for_changes(self, url: str) -> None:
        """PostgreSQL: wake this node's followers when another node commits a change."""
        import asyncpg

        conn = await asyncpg.connect(_plain_pg_url(url))

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            if payload.isdigit():
                self._feed.notify(int(payload))

        await conn.add_listener(self._feed.channel, on_notify)
        self._listener = conn

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self.db.close()
        close = getattr(self.blobs, "close", None)
        if close is not None:
            close()


def _plain_pg_url(url: str) -> str:
    _scheme, _, rest = url.partition("://")
    return "postgresql://" + rest


async def open_store(config: Config, clock: Clock | None = None) -> Store:
    """Open (and create or upgrade) the store the configuration names."""
    clock = clock or SystemClock()
    settings = config.store
    if settings.url:
        db: Database = PostgresDatabase(
            settings.url, pool_size=settings.pool_size, schema=settings.schema
        )
        blobs: BlobStore = DatabaseBlobs(db, clock, settings.blob_gc_grace_s)
    else:
        data = prepare_data_dir(config.data_dir)
        db = SqliteDatabase(
            data / SQLITE_FILE,
            readers=settings.sqlite_readers,
            group_max=settings.commit_group_max,
            busy_timeout_s=settings.busy_timeout_s,
        )
        blobs = FileBlobs(data / BLOB_FOLDER, db, clock, settings.blob_gc_grace_s)
    try:
        await migrate(db)
        store = Store(db, blobs, clock, config.node)
        await store._feed.load()
        if settings.url:
            await store.listen_for_changes(settings.url)
    except StartupError:
        await db.close()
        raise
    except (TimeoutError, OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        await db.close()
        raise StartupError(f"cannot open the store {_describe(config)}: {_reason(exc)}") from None
    except Exception as exc:
        await db.close()
        if type(exc).__module__.startswith("asyncpg"):
            raise StartupError(
                f"cannot open the store {_describe(config)}: {_reason(exc)}"
            ) from None
        raise
    return store


def _describe(config: Config) -> str:
    if config.store.url:
        scheme, _, rest = config.store.url.partition("://")
        return f"at {scheme}://{rest.rpartition('@')[2]}"
    return f"in {config.data_dir}"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def prepare_data_dir(path: Path) -> Path:
    """Create the data folder if needed and check that Roost can write there."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise StartupError(f"cannot create the data folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StartupError(f"the data folder {path} is not writable by this user")
    return path


async def migrate(db: Database) -> None:
    """Bring the schema to the newest migration (run at every start)."""

    def upgrade(conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        config = AlembicConfig()
        config.set_main_option("script_location", "roost.store:migrations")
        config.attributes["connection"] = conn
        config.attributes["schema"] = db.schema
        command.upgrade(config, "head")

    await db.run_sync(upgrade)
