"""`roost index status|rebuild` against a running Roost, through the JSON API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.core import config as config_mod
from roost.store.db import Tx
from roost.store.store import open_store
from roost.store.types import NewMessage
from tests.integration.test_cli import Server, roost, write_config


async def _prepare(config_path: Path, count: int) -> None:
    """alice with `count` messages, put in the store before Roost starts."""
    config = config_mod.load(config_path)
    store = await open_store(config)
    try:
        directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
        await directory.add_domain(Actor("test"), "example.org")
        account, _ = await directory.add_user(Actor("test"), "alice@example.org", "pw-alice")
        staged = [
            await store.blobs.stage(f"Subject: note {i}\r\n\r\nJDG2-0{i} text\r\n".encode())
            for i in range(count)
        ]

        async def work(tx: Tx) -> None:
            box = await store.mail.mailbox(tx, account.id, "INBOX")
            await store.mail.append(tx, box.id, [NewMessage(s) for s in staged])

        await store.write(work)
    finally:
        await store.close()


def _status(config: Path, *args: str) -> str:
    done = roost(config, "index", "status", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_status_and_rebuild(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    asyncio.run(_prepare(config, 5))
    server = Server(config)
    try:
        rebuilt = roost(config, "index", "rebuild", "alice@example.org")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "documents dropped for alice@example.org" in rebuilt.stdout
        assert "5 indexed, 0 failed" in rebuilt.stdout
        shown = _status(config, "alice@example.org")
        assert "indexed:       5" in shown and "pending:       0" in shown
        assert "scope:         all accounts" in _status(config)
        missing = roost(config, "index", "status", "nobody@example.org")
        assert missing.returncode == 1 and "nobody@example.org" in missing.stderr
        # The API refuses a body that is not what it takes, in words.
        token = json.loads((tmp_path / "data" / "run" / "api.json").read_text())["token"]
        answer = httpx.post(
            f"{server.url}/api/v1/index/rebuild",
            json={"user": 7},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 400 and "'user'" in answer.json()["error"]
    finally:
        code, _, err = server.stop()
        assert code == 0, err
