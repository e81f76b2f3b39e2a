"""kill -9 at random moments: no acknowledged message is lost, none is delivered twice.

Roost runs as a separate process that a killer thread stops with SIGKILL at
random points and starts again, six times, while four senders send numbered
messages over SMTP, reconnecting after each crash, until the last restart. Afterwards every message
that got its 250 is in the mailbox exactly once, and no message is there
twice (one whose 250 was lost may or may not be there).
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from roost.core.config import load
from roost.store.store import open_store

MESSAGES = 20_000
"""An upper bound: the senders stop once the killer has done its `KILLS`."""
KILLS = 6
SENDERS = 4
DEADLINE_S = 600
ROOST = [sys.executable, "-m", "roost"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.runtime = config.parent / "data" / "run" / "api.json"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.runtime.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [*ROOST, "--config", str(self.config), "serve"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not self.runtime.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError("Roost did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    def abort(self) -> None:
        """Whatever happened in the test, no Roost outlives it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def message(number: int) -> bytes:
    header = f"Subject: crash-test {number}\r\nFrom: load@example.net\r\n"
    return f"{header}\r\nmessage {number}\r\n".encode()


@pytest.mark.slow
async def test_kill_9_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    mx = free_port()
    config = tmp_path / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        f'[smtp]\nmx_listen = ["127.0.0.1:{mx}"]\nsubmission_listen = []\nsubmissions_listen = []\n'
        "[spool]\npoll_interval_s = 0.1\nretry_schedule_s = [0.5]\nretry_every_s = 1\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
        '[pop]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
        '[imap]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
        '[xmpp]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
    )
    for command in (["domain", "add", "example.org"], ["user", "add", "sink@example.org"]):
        subprocess.run([*ROOST, "--config", str(config), *command], check=True, capture_output=True)
    server = Server(config)
    try:
        server.start()
        done = threading.Event()
        kills = 0

        def killer() -> None:
            nonlocal kills
            rng = random.Random(1234)
            while kills < KILLS and not done.wait(rng.uniform(0.5, 2.5)):
                server.kill()
                kills += 1
                server.start()
            done.set()

        thread = threading.Thread(target=killer)
        thread.start()
        acknowledged: set[int] = set()
        deadline = time.monotonic() + DEADLINE_S
        numbers = iter(range(MESSAGES))
        lock = threading.Lock()

        def sender() -> None:
            """One SMTP session at a time, reconnecting after each crash; the
            senders share the numbers, so crashes hit several sessions at once."""
            client: smtplib.SMTP | None = None
            number: int | None = None
            while time.monotonic() < deadline and not done.is_set():
                if number is None:
                    with lock:
                        number = next(numbers, None)
                    if number is None:
                        break
                if client is None:
                    try:
                        client = smtplib.SMTP("127.0.0.1", mx, timeout=10)
                    except (OSError, smtplib.SMTPException):
                        time.sleep(0.05)  # Roost is down or starting: nothing was sent
                        continue
                try:
                    client.sendmail("load@example.net", ["sink@example.org"], message(number))
                    with lock:
                        acknowledged.add(number)
                except (OSError, smtplib.SMTPException):
                    client = None  # its fate is unknown: at most once
                    time.sleep(0.05)
                number = None
            if client is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    client.quit()

        senders = [threading.Thread(target=sender) for _ in range(SENDERS)]
        try:
            for thread_ in senders:
                thread_.start()
            for thread_ in senders:
                thread_.join(timeout=DEADLINE_S + 60)
        finally:
            done.set()
            thread.join(timeout=120)
        assert kills == KILLS, f"only {kills} kills: the test did not test much"
        assert len(acknowledged) >= 100, f"only {len(acknowledged)} acknowledged"

        # Let the last instance deliver what waits, then stop it cleanly.
        info = json.loads(server.runtime.read_text())
        async with httpx.AsyncClient(
            base_url=info["url"], headers={"Authorization": f"Bearer {info['token']}"}
        ) as api:
            for _ in range(600):
                queue = (await api.get("/api/v1/queue/stats")).json()["queue"]
                if queue["queued"] + queue["deferred"] == 0:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"the queue did not empty: {queue}")
        server.stop()
    finally:
        server.abort()

    store = await open_store(load(config))
    try:
        account = await store.read(store.directory.account, "sink@example.org")
        box = await store.read(store.mail.mailbox, account.id, "INBOX")
        counts: Counter[int] = Counter()
        for info_ in await store.read(store.mail.messages, box.id):
            data = await store.message_bytes(info_)
            subject = data.split(b"Subject: crash-test ", 1)[1].split(b"\r\n", 1)[0]
            counts[int(subject)] += 1
    finally:
        await store.close()
    lost = sorted(acknowledged - set(counts))
    twice = sorted(n for n, c in counts.items() if c > 1)
    assert not lost, f"acknowledged but lost: {lost[:20]}"
    assert not twice, f"delivered more than once: {twice[:20]}"
