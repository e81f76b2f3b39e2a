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
        assert "searches:      index (every message is indexed)" in shown
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
        # Per account, and how searches are served.
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
            accounts = api.get("/api/v1/index/accounts").raise_for_status().json()["accounts"]
            assert accounts == [
                {
                    "user": "alice@example.org",
                    "messages": 5,
                    "indexed": 5,
                    "failed": 0,
                    "queued": 0,
                    "processing": False,
                }
            ]
            status = api.get("/api/v1/index").raise_for_status().json()
            assert status["searches"]["mode"] == "index"
            # Search through the API: ranked hits with snippets, errors in words.
            params = {"user": "alice@example.org", "q": "jdg2-0 subject:note", "per_page": "2"}
            found = api.get("/api/v1/search", params=params).raise_for_status().json()
            assert found["total"] == 5 and len(found["hits"]) == 2
            assert found["index"] == {
                "complete": True,
                "unindexed": 0,
                "lag_changes": 0,
                "indexing": "running",
                "note": "",
            }
            assert {"text": "JDG2-0", "hit": True} in found["hits"][0]["snippet"]
            bad = api.get("/api/v1/search", params={"user": "alice@example.org", "q": '"ab'})
            assert bad.status_code == 400 and "not closed" in bad.json()["error"]
            api.post("/api/v1/services/indexing/stop").raise_for_status()
            api.post("/api/v1/index/rebuild", json={}).raise_for_status()
            status = api.get("/api/v1/index").raise_for_status().json()
            assert status["searches"]["mode"] == "scan"
            assert "Indexing is stopped" in status["searches"]["detail"]
            assert "5 messages not indexed yet" in status["searches"]["detail"]
            accounts = api.get("/api/v1/index/accounts").raise_for_status().json()["accounts"]
            assert (accounts[0]["indexed"], accounts[0]["queued"]) == (0, 5)
    finally:
        code, _, err = server.stop()
        assert code == 0, err
