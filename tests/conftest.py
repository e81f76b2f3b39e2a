"""Fixtures shared by every suite: configs, stores on both backends, a clock."""

from __future__ import annotations

import imaplib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from imapclient.imap4 import IMAP4WithTimeout

from roost.core import config as config_mod
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.store.store import Store, open_store

# Property tests check behaviour, not speed: a loaded CI machine must not
# turn a slow example into a failure.
settings.register_profile("roost", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("roost")


def _without_nagle(create: Callable[..., socket.socket]) -> Callable[..., socket.socket]:
    """imaplib sends a literal and the rest of its command line as two small
    writes; with Nagle's algorithm on, the second waits for the server's
    delayed ACK (40 ms on Linux) at every literal, and a test of hundreds of
    SEARCH literals spends most of its time waiting. Mail clients write a
    command whole; the test clients (imaplib, imapclient) get TCP_NODELAY."""

    def create_socket(self: imaplib.IMAP4, timeout: float | None = None) -> socket.socket:
        sock = create(self, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    return create_socket


for _client in (imaplib.IMAP4, IMAP4WithTimeout):
    _client._create_socket = _without_nagle(_client._create_socket)

PG_URL = os.environ.get("ROOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Cheap hashing in tests: argon2's cost is a setting, and the tests are about
# behaviour, not resistance to cracking.
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 64}


def make_config(tmp_path: Path, **sections: dict[str, object]) -> Config:
    raw: dict[str, dict[str, object]] = {"roost": {"data_dir": str(tmp_path / "data")}}
    raw["directory"] = dict(FAST_HASH)
    # No fixed ports in tests: a service a test does not name listens on a free port.
    raw["pop"] = {"listen": ["127.0.0.1:0"], "tls_listen": ["127.0.0.1:0"]}
    raw["imap"] = {"listen": ["127.0.0.1:0"], "tls_listen": ["127.0.0.1:0"]}
    raw["xmpp"] = {"listen": ["127.0.0.1:0"], "tls_listen": ["127.0.0.1:0"]}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_mod.build(raw, source="(test)", base=tmp_path)


async def _pg_available() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def _skip_or_fail(reason: str) -> None:
    message = f"PostgreSQL at {PG_URL} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(message + "; under CI nothing may skip")
    pytest.skip(message)


@asynccontextmanager
async def fresh_pg_schema() -> AsyncIterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    import asyncpg

    problem = await _pg_available()
    if problem:
        _skip_or_fail(problem)
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
        yield name
    finally:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await conn.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store_config(backend: str, tmp_path: Path) -> AsyncIterator[Config]:
    if backend == "postgres":
        async with fresh_pg_schema() as schema:
            yield make_config(tmp_path, store={"url": PG_URL, "schema": schema})
    else:
        yield make_config(tmp_path)


@pytest.fixture
async def store(store_config: Config, clock: ManualClock) -> AsyncIterator[Store]:
    opened = await open_store(store_config, clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    """The embedded store alone, for what only it has (files, one writer)."""
    opened = await open_store(make_config(tmp_path), clock)
    try:
        yield opened
    finally:
        await opened.close()


def require_tool(name: str, package: str) -> str:
    """The path of a peer program; skip (or fail under CI) when it is missing."""
    import shutil

    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message + "; under CI nothing may skip")
        pytest.skip(message)
    return path
