"""kill -9 of Roost mid-fetch: IMAP Retrieval and POP Retrieval resume where
they stopped, and the destination mailboxes end with exactly the 200
messages of each remote mailbox, none twice.

`roost serve` runs as a separate process on a temporary data folder, with
one IMAP and one POP3 external account on Debian's Dovecot. Each time the
fetched keys (committed with the queue entries) show a fetch in progress,
the process is killed with SIGKILL and started again. The remote copies
are deleted only after their commit, so a killed run leaves them all
there; the next run must skip what it fetched and take the rest.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from roost.core.config import load
from roost.store.store import open_store
from tests.dovecot_peer import DovecotPeer, dovecot_peer
from tests.integration.test_crash import ROOST, Server, free_port
from tests.retrieval_support import REMOTE_PASSWORD, message, put_remote

MESSAGES = 200
KILL_AT = (20, 70, 140)
"""Fetched keys (of either protocol) at which Roost is killed."""
DEADLINE_S = 300.0
POLL_S = 0.01
IMAP_SINK = "imap-sink@example.org"
POP_SINK = "pop-sink@example.org"


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        f'[smtp]\nmx_listen = ["127.0.0.1:{free_port()}"]\nsubmission_listen = []\n'
        "submissions_listen = []\n"
        "[spool]\npoll_interval_s = 0.1\nretry_schedule_s = [0.5]\nretry_every_s = 1\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
        '[pop]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        '[imap]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        '[xmpp]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        "[retrieval]\ninterval_s = 5\njitter_s = 0\nidle_max_connections = 0\n"
    )
    return config


def roost(config: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [*ROOST, "--config", str(config), *args],
        check=True,
        capture_output=True,
        input=stdin.encode() if stdin is not None else None,
        timeout=120,
    )


def fetched_keys(database: Path) -> tuple[int, int]:
    """(IMAP keys, POP3 keys) committed so far, read beside the running server."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            imap = db.execute("SELECT count(*) FROM retrieval_imap_keys").fetchone()[0]
            pop = db.execute("SELECT count(*) FROM retrieval_pop_keys").fetchone()[0]
    except sqlite3.OperationalError:
        return 0, 0  # not made yet, or busy: ask again
    return int(imap), int(pop)


def remote_left(peer: DovecotPeer, user: str) -> int:
    maildir = peer.mail / user / "Maildir"
    return sum(1 for sub in ("new", "cur") for _ in (maildir / sub).iterdir())


def queue_drained(server: Server) -> None:
    """Wait (bounded) until the Spool delivered everything queued."""
    info = json.loads(server.runtime.read_text())
    headers = {"Authorization": f"Bearer {info['token']}"}
    with httpx.Client(base_url=info["url"], headers=headers, timeout=30) as api:
        for _ in range(600):
            queue = api.get("/api/v1/queue/stats").json()["queue"]
            if queue["queued"] + queue["deferred"] == 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"the queue did not empty: {queue}")


async def subjects(config: Path, address: str) -> Counter[int]:
    store = await open_store(load(config))
    try:
        account = await store.read(store.directory.account, address)
        box = await store.read(store.mail.mailbox, account.id, "INBOX")
        counts: Counter[int] = Counter()
        for info in await store.read(store.mail.messages, box.id):
            data = await store.message_bytes(info)
            counts[int(data.split(b"Subject: message ", 1)[1].split(b"\r\n", 1)[0])] += 1
        return counts
    finally:
        await store.close()


@pytest.mark.slow
async def test_kill_9_mid_fetch_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "data" / "roost.sqlite3"
    with dovecot_peer(["remote-imap", "remote-pop"], REMOTE_PASSWORD, imap=True) as peer:
        put_remote(peer, "remote-imap", [message(n, size=n * 37 % 3000) for n in range(MESSAGES)])
        put_remote(peer, "remote-pop", [message(n, size=n * 53 % 3000) for n in range(MESSAGES)])
        roost(config, "domain", "add", "example.org")
        for sink in (IMAP_SINK, POP_SINK):
            roost(config, "user", "add", sink, "--password-stdin", stdin="sink-password\n")
        for sink, protocol, port, user in (
            (IMAP_SINK, "imap", peer.imap_port, "remote-imap"),
            (POP_SINK, "pop3", peer.port, "remote-pop"),
        ):
            roost(
                config,
                *("retrieval", "add", sink, "--protocol", protocol, "--host", "127.0.0.1"),
                *("--port", str(port), "--tls", "none", "--username", user, "--password-stdin"),
                stdin=REMOTE_PASSWORD + "\n",
            )
        server = Server(config)
        killed_at: list[tuple[int, int]] = []
        try:
            server.start()
            deadline = time.monotonic() + DEADLINE_S
            for threshold in KILL_AT:
                while max(keys := fetched_keys(database)) < threshold:
                    assert time.monotonic() < deadline, f"no progress past {keys}"
                    time.sleep(POLL_S)
                server.kill()
                killed_at.append(fetched_keys(database))
                server.start()
            while remote_left(peer, "remote-imap") or remote_left(peer, "remote-pop"):
                assert time.monotonic() < deadline, (
                    f"left on the server: {remote_left(peer, 'remote-imap')} IMAP, "
                    f"{remote_left(peer, 'remote-pop')} POP3; keys {fetched_keys(database)}"
                )
                time.sleep(0.1)
            queue_drained(server)
            server.stop()
        finally:
            server.abort()
    # Each kill came mid-fetch: some messages in, some not yet.
    assert any(0 < imap < MESSAGES for imap, _ in killed_at), killed_at
    assert any(0 < pop < MESSAGES for _, pop in killed_at), killed_at
    for address in (IMAP_SINK, POP_SINK):
        counts = await subjects(config, address)
        twice = sorted(n for n, c in counts.items() if c > 1)
        assert not twice, f"{address}: fetched more than once: {twice[:20]}"
        assert sorted(counts) == list(range(MESSAGES)), (
            f"{address}: {len(counts)} of {MESSAGES}; missing "
            f"{sorted(set(range(MESSAGES)) - set(counts))[:20]}"
        )
