"""CalDAV and CardDAV servers for tests: Roost's web listener in-process on a
free loopback port, and Radicale as a subprocess, behind one shape so that
the same scenario runs against both (Radicale first, to prove the test)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.core.clock import ManualClock
from roost.store.store import Store, open_store
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from roost.web.server import WebServer
from tests.conftest import make_config

USER = "ann@example.test"
PASSWORD = "ann-password-1"
OTHER = "bob@example.test"


@dataclass
class DavServer:
    url: str
    """The server's root: discovery starts here."""
    user: str
    password: str
    store: Store | None = None
    calendar_home: str = ""
    """The user's calendar home (RFC 4791 §6.2.1), for tests that make collections."""
    addressbook_home: str = ""
    """The user's address book home (RFC 6352 §7.1.1)."""

    @property
    def origin(self) -> str:
        """scheme://host:port, where RFC 6764 discovery starts."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@asynccontextmanager
async def roost_dav(tmp_path: Path, **sections: dict[str, object]) -> AsyncIterator[DavServer]:
    """Roost's web listener on 127.0.0.1, port 0, with two mail users."""
    clock = ManualClock()
    config = make_config(tmp_path, **sections)
    store = await open_store(config, clock)
    supervisor = Supervisor([], store, config.supervisor, clock, "node1")
    try:
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await directory.add_domain(Actor("test"), "example.test")
        await directory.add_user(Actor("test"), USER, PASSWORD, quota_mb=10)
        await directory.add_user(Actor("test"), OTHER, PASSWORD, quota_mb=10)
        await supervisor.boot()
        intake = Intake(store, config.spool, clock)
        app = create_app(
            WebContext(
                config,
                store,
                supervisor,
                directory,
                QueueAdmin(store, intake),
                intake.stats,
                "cli-token",
                authenticator=auth,
            )
        )
        server = WebServer(app, ["127.0.0.1:0"], [], None, timeout_s=30)
        await server.start()
        try:
            origin = f"http://{server.addresses[0]}"
            yield DavServer(
                f"{origin}/.well-known/caldav",
                USER,
                PASSWORD,
                store,
                calendar_home=f"{origin}/dav/calendars/{quote(USER, safe='@')}/",
                addressbook_home=f"{origin}/dav/addressbooks/{quote(USER, safe='@')}/",
            )
        finally:
            await server.stop()
    finally:
        await supervisor.shutdown()
        await store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def radicale_dav(tmp_path: Path) -> Iterator[DavServer]:
    """Radicale (PyPI) on a free loopback port, one user in an htpasswd file."""
    folder = tmp_path / "radicale"
    folder.mkdir()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n{OTHER}:{PASSWORD}\n")
    port = _free_port()
    command = [
        sys.executable, "-m", "radicale",
        "--server-hosts", f"127.0.0.1:{port}",
        "--storage-filesystem-folder", str(folder / "collections"),
        "--auth-type", "htpasswd",
        "--auth-htpasswd-filename", str(folder / "users"),
        "--auth-htpasswd-encryption", "plain",
        "--rights-type", "owner_only",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Radicale did not start") from None
                time.sleep(0.1)
        yield DavServer(
            url, USER, PASSWORD, calendar_home=f"{url}{USER}/", addressbook_home=f"{url}{USER}/"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
