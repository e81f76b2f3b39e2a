"""The API in process over the store, for the `roost` command while Roost is
not running: the same web application the running server serves, with no
service started. Kept apart from the composition root (`roost.app`) so that
such a command does not import every service.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from roost.control.directory import DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.core.clock import SystemClock
from roost.core.config import Config
from roost.store.store import open_store
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext


@asynccontextmanager
async def local_api(config: Config) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process over the store, for the CLI while Roost is not running."""
    clock = SystemClock()
    store = await open_store(config, clock)
    try:
        passwords = Passwords(config.directory)
        directory = DirectoryAdmin(store, passwords, config.directory)
        supervisor = Supervisor([], store, config.supervisor, clock, config.node)
        token = secrets.token_urlsafe(32)
        intake = Intake(store, config.spool, clock)
        queue = QueueAdmin(store, intake)
        app = create_app(
            WebContext(config, store, supervisor, directory, queue, intake.stats, token)
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("local", 0)),
            base_url="http://roost.local",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield client
    finally:
        await store.close()
