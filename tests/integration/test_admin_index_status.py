"""The admin console's user page shows the user's place in the search index
(messages and groupware items: indexed, queued, failed; queued, processing
or indexed; the Indexing service's state) and rebuilds it with a button:
a POST with the session's CSRF token, audited, through the same function
as the API and the CLI (`roost.web.api_index.rebuild_index`)."""

from __future__ import annotations

import asyncio
import re
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
from roost.core.clock import ManualClock
from roost.services.indexing.service import IndexingService
from roost.store.groupware import NewItem
from roost.store.store import Store, open_store
from roost.store.types import NewMessage
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from tests.admin_support import PASSWORD, sign_in
from tests.conftest import make_config
from tests.web_support import app_client, csrf_of

ALICE = "alice@example.org"
PAGE = "/admin/users/edit?address=alice%40example.org"
WAIT_S = 60.0


@dataclass
class Setup:
    client: httpx.AsyncClient
    store: Store
    supervisor: Supervisor


@asynccontextmanager
async def console_with_indexing(tmp_path: Path) -> AsyncIterator[Setup]:
    """The admin console over a store whose only service is a real Indexing."""
    clock = ManualClock()
    config = make_config(tmp_path)
    store = await open_store(config, clock)
    indexing = IndexingService(store, config.indexing, clock)
    supervisor = Supervisor([indexing], store, config.supervisor, clock, "node1")
    try:
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await directory.add_admin(Actor("test"), "root", PASSWORD)
        await directory.add_domain(Actor("test"), "example.org")
        account, _ = await directory.add_user(Actor("test"), ALICE, "alice-password-1")
        await supervisor.boot()
        await supervisor.stop("indexing", actor="test")
        # Mail and items arrive while Indexing is stopped: queued.
        staged = [
            await store.blobs.stage(f"Subject: note {i}\r\n\r\nJDG2-0{i}\r\n".encode())
            for i in range(3)
        ]
        box = await store.read(store.mail.mailbox, account.id, "INBOX")
        await store.write(store.mail.append, box.id, [NewMessage(s) for s in staged])
        notes = await store.write(store.groupware.ensure_defaults, account.id)
        folder = next(c for c in notes if c.kind == "notes")
        for name in ("a", "b"):
            await store.write(
                store.groupware.put_item,
                folder.id,
                NewItem(name, name, "NOTE", "parts list", title=name),
            )
        intake = Intake(store, config.spool, clock)
        access = AdminAccess(store, passwords, directory, config.admin, auth.throttle, clock)
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
            )
        )
        async with app_client(app, https=False) as client:
            yield Setup(client, store, supervisor)
    finally:
        await supervisor.shutdown()
        await store.close()


def facts(html: str) -> dict[str, str]:
    """The index facts of the page, by element id, as text."""
    out = {}
    for key in ("index-state", "index-messages", "index-items"):
        found = re.search(rf'<li id="{key}">(.*?)</li>', html, re.S)
        assert found is not None, key
        out[key] = " ".join(found.group(1).split())
    return out


async def wait_indexed(store: Store) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        mail = await store.read(store.search.status)
        items = await store.read(store.search.item_status)
        if mail.pending == 0 and items.pending == 0:
            return
        assert loop.time() < deadline, (mail, items)
        await asyncio.sleep(0.05)


async def test_user_page_shows_and_rebuilds_the_index(tmp_path: Path) -> None:
    async with console_with_indexing(tmp_path) as setup:
        client, store = setup.client, setup.store
        assert (await sign_in(client)).status_code == 303
        page = await client.get(PAGE)
        assert page.status_code == 200
        assert facts(page.text) == {
            "index-state": "Queued: waiting for the indexer (Indexing is stopped: searches "
            "scan what is not indexed)",
            "index-messages": "Messages: 0 indexed, 3 queued, 0 failed, of 3",
            "index-items": "Contacts, events, tasks and notes: 0 indexed, 2 queued, 0 failed, of 2",
        }
        await setup.supervisor.start("indexing", actor="test")
        await wait_indexed(store)
        page = await client.get(PAGE)
        assert facts(page.text) == {
            "index-state": "Indexed",
            "index-messages": "Messages: 3 indexed, 0 queued, 0 failed, of 3",
            "index-items": "Contacts, events, tasks and notes: 2 indexed, 0 queued, 0 failed, of 2",
        }

        # A form without the session's CSRF token changes nothing.
        refused = await client.post(
            "/admin/users/reindex", data={"address": ALICE, "csrf": "forged"}
        )
        assert refused.status_code == 403
        assert (await store.read(store.search.status)).indexed == 3

        await setup.supervisor.stop("indexing", actor="test")
        done = await client.post(
            "/admin/users/reindex", data={"address": ALICE, "csrf": csrf_of(page.text)}
        )
        assert done.status_code == 303
        assert done.headers["location"].endswith("done=reindexed")
        page = await client.get(done.headers["location"])
        assert "The user&#39;s index is being rebuilt" in page.text
        shown = facts(page.text)
        assert shown["index-messages"] == "Messages: 0 indexed, 3 queued, 0 failed, of 3"
        assert shown["index-state"].startswith("Queued")
        events = await store.read(store.events.list, limit=20)
        rebuilt = [e for e in events if e.action == "rebuild"]
        assert [(e.object, e.actor) for e in rebuilt] == [(f"index:{ALICE}", "admin:root")]
        assert rebuilt[0].reason == "3 documents and 2 item documents dropped"
        await setup.supervisor.start("indexing", actor="test")
        await wait_indexed(store)
        assert facts((await client.get(PAGE)).text)["index-state"] == "Indexed"

        # An unknown user is a page with the reason, not a crash.
        missing = await client.post(
            "/admin/users/reindex",
            data={"address": "nobody@example.org", "csrf": csrf_of(page.text)},
        )
        assert missing.status_code == 404
