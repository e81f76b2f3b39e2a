"""The admin console in-process for tests/integration: the app over a real store and
supervisor (test services), a manual clock, and an httpx client that keeps cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.certificates import CertificateAdmin
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.core.clock import ManualClock
from roost.net.certs import CertStore
from roost.store.store import Store, open_store
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from tests import web_support
from tests.conftest import make_config
from tests.helpers import TestService
from tests.web_support import app_client, base_url, csrf_of

PASSWORD = "root-password-1"
SESSION_COOKIE = "roost_admin"


@dataclass
class Console:
    client: httpx.AsyncClient
    store: Store
    clock: ManualClock
    supervisor: Supervisor
    directory: DirectoryAdmin
    access: AdminAccess
    services: dict[str, TestService]
    base: str
    certificates: CertificateAdmin | None = None

    def client_for(self, **kwargs: object) -> httpx.AsyncClient:
        """Another browser: its own cookies, the same app."""
        return httpx.AsyncClient(
            transport=self.client._transport,
            base_url=self.base,
            **kwargs,  # type: ignore[arg-type]
        )


async def sign_in(
    client: httpx.AsyncClient, name: str = "root", password: str = PASSWORD, code: str = ""
) -> httpx.Response:
    """Sign in as a browser that has no session (a signed-in one is sent on)."""
    client.cookies.delete(SESSION_COOKIE)
    page = await client.get("/admin/sign-in")
    return await client.post(
        "/admin/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "name": name,
            "password": password,
            "code": code,
            "next": "/admin/services",
        },
    )


async def page_csrf(client: httpx.AsyncClient, path: str = "/admin/services") -> str:
    return await web_support.page_csrf(client, path)


@asynccontextmanager
async def console(
    tmp_path: Path,
    *,
    https: bool = False,
    certs: CertStore | None = None,
    **sections: dict[str, object],
) -> AsyncIterator[Console]:
    clock = ManualClock()
    config = make_config(tmp_path, **sections)
    store = await open_store(config, clock)
    services = {"smtp": TestService("smtp", "SMTP"), "imap": TestService("imap", "IMAP")}
    supervisor = Supervisor(list(services.values()), store, config.supervisor, clock, "node1")
    try:
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await directory.add_admin(Actor("test"), "root", PASSWORD)
        await supervisor.boot()
        intake = Intake(store, config.spool, clock)
        access = AdminAccess(store, passwords, directory, config.admin, auth.throttle, clock)
        certificates = CertificateAdmin(certs, store, config, clock) if certs else None
        app = create_app(
            WebContext(
                config,
                store,
                supervisor,
                directory,
                QueueAdmin(store, intake),
                intake.stats,
                "cli-token",
                access,
                certificates=certificates,
            )
        )
        base = base_url(https)
        async with app_client(app, https=https) as client:
            yield Console(
                client, store, clock, supervisor, directory, access, services, base, certificates
            )
    finally:
        await supervisor.shutdown()
        await store.close()
