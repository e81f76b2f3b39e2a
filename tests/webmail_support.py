"""The webmail in-process for tests/integration: the app over a real store, a manual
clock, one mail user (and one admin), and httpx clients that keep cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.control.webmail_access import WebmailAccess
from roost.core.clock import ManualClock
from roost.store.store import Store, open_store
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from tests import web_support
from tests.conftest import PG_URL, fresh_pg_schema, make_config
from tests.web_support import app_client, base_url, csrf_of

USER = "ann@example.test"
PASSWORD = "ann-password-1"
ADMIN_PASSWORD = "root-password-1"
MAIL_COOKIE = "roost_mail"


@dataclass
class Mail:
    client: httpx.AsyncClient
    store: Store
    clock: ManualClock
    directory: DirectoryAdmin
    auth: Authenticator
    access: WebmailAccess
    base: str

    def browser(self) -> httpx.AsyncClient:
        """Another browser: its own cookies, the same app."""
        return httpx.AsyncClient(transport=self.client._transport, base_url=self.base)


async def sign_in(
    client: httpx.AsyncClient, address: str = USER, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/mail/sign-in")
    return await client.post(
        "/mail/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "address": address,
            "password": password,
            "next": "/mail",
        },
    )


async def page_csrf(client: httpx.AsyncClient, path: str = "/mail") -> str:
    return await web_support.page_csrf(client, path)


@asynccontextmanager
async def webmail(
    tmp_path: Path, *, backend: str = "sqlite", https: bool = False, **sections: dict[str, object]
) -> AsyncIterator[Mail]:
    """The webmail over a fresh store: SQLite, or a fresh PostgreSQL schema."""
    if backend == "postgres":
        async with fresh_pg_schema() as schema:
            sections = {**sections, "store": {"url": PG_URL, "schema": schema}}
            async with _webmail(tmp_path, https=https, **sections) as mail:
                yield mail
    else:
        async with _webmail(tmp_path, https=https, **sections) as mail:
            yield mail


@asynccontextmanager
async def _webmail(
    tmp_path: Path, *, https: bool = False, **sections: dict[str, object]
) -> AsyncIterator[Mail]:
    clock = ManualClock()
    config = make_config(tmp_path, **sections)
    store = await open_store(config, clock)
    supervisor = Supervisor([], store, config.supervisor, clock, "node1")
    try:
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await directory.add_admin(Actor("test"), "root", ADMIN_PASSWORD)
        await directory.add_domain(Actor("test"), "example.test")
        await directory.add_user(Actor("test"), USER, PASSWORD, quota_mb=10)
        await supervisor.boot()
        intake = Intake(store, config.spool, clock)
        admin = AdminAccess(store, passwords, directory, config.admin, auth.throttle, clock)
        access = WebmailAccess(store, auth, directory, config.webmail, clock)
        app = create_app(
            WebContext(
                config,
                store,
                supervisor,
                directory,
                QueueAdmin(store, intake),
                intake.stats,
                "cli-token",
                admin,
                webmail_access=access,
            )
        )
        base = base_url(https)
        async with app_client(app, https=https) as client:
            yield Mail(client, store, clock, directory, auth, access, base)
    finally:
        await supervisor.shutdown()
        await store.close()
