"""The `roost` command: first start, the CLI through the API and on the store,
and startup errors as one clear line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.core.runtime import RUNTIME_FILE

ROOST = [sys.executable, "-m", "roost"]
START_TIMEOUT_S = 60


def write_config(folder: Path, **extra: str) -> Path:
    path = folder / "roost.toml"
    text = (
        '[roost]\ndata_dir = "data"\nnode_name = "testnode"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
        '[smtp]\nmx_listen = ["127.0.0.1:0"]\nsubmission_listen = ["127.0.0.1:0"]\n'
        'submissions_listen = ["127.0.0.1:0"]\n'
        '[pop]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
        '[imap]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
        '[xmpp]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\n'
    )
    for section, body in extra.items():
        text += f"[{section}]\n{body}\n"
    path.write_text(text)
    return path


def roost(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOST, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Server:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.process = subprocess.Popen(
            [*ROOST, "--config", str(config), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runtime = config.parent / "data" / RUNTIME_FILE
        deadline = time.monotonic() + START_TIMEOUT_S
        while not runtime.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                out, err = self.process.communicate(timeout=10)
                raise AssertionError(f"roost serve did not start:\n{out}\n{err}")
            time.sleep(0.05)
        self.url = json.loads(runtime.read_text())["url"]

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(write_config(tmp_path))
    yield running
    if running.process.poll() is None:
        running.stop()


def test_first_start_then_cli_through_the_api(server: Server, tmp_path: Path) -> None:
    config = server.config
    status = roost(config, "status")
    assert status.returncode == 0, status.stderr
    assert "Spool" in status.stdout and "running" in status.stdout
    added = roost(config, "domain", "add", "example.org")
    assert added.returncode == 0 and "added domain example.org" in added.stdout
    user = roost(
        config, "user", "add", "alice@example.org", "--password-stdin", stdin="alice-password\n"
    )
    assert user.returncode == 0, user.stderr
    assert "alice-password" not in user.stdout
    shown = roost(config, "user", "show", "alice@example.org")
    assert "alice@example.org" in shown.stdout
    bad = roost(config, "service", "stop", "gopher")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "roost: no service named 'gopher' (services: smtp, spool, pop, imap, "
        "imap-retrieval, pop-retrieval, indexing, xmpp)"
    )
    stopped = roost(config, "service", "stop", "SPOOL")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert roost(config, "status").returncode == 0  # stopped on purpose is not a failure
    assert roost(config, "service", "start", "spool").returncode == 0
    token = roost(config, "token", "add", "ci")
    assert token.returncode == 0 and "roost_" in token.stdout
    events = roost(config, "events", "--limit", "5")
    assert "cli:" in events.stdout and "token:admin/ci" in events.stdout
    code, out, err = server.stop()
    assert code == 0, err
    assert "one-time password" in out
    assert not (tmp_path / "data" / RUNTIME_FILE).exists()
    assert (tmp_path / "data" / "tls" / "selfsigned.crt").exists()
    assert (tmp_path / "data" / "logs" / "roost.log").read_text()
    # The second start makes no new admin and prints no password.
    again = Server(config)
    code, out, _ = again.stop()
    assert code == 0 and "one-time password" not in out
    # With Roost stopped, directory commands work on the store directly.
    offline = roost(config, "user", "list")
    assert offline.returncode == 0 and "alice@example.org" in offline.stdout
    assert roost(config, "status").returncode == 1


def test_cli_on_the_store_while_stopped(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert roost(config, "domain", "add", "example.org").returncode == 0
    made = roost(config, "user", "add", "bob@example.org")
    assert made.returncode == 0 and "shown only this once" in made.stdout
    assert roost(config, "alias", "add", "team@example.org", "bob@example.org").returncode == 0
    listed = roost(config, "alias", "list")
    assert "team@example.org" in listed.stdout and "postmaster@example.org" in listed.stdout
    assert roost(config, "user", "disable", "bob@example.org").returncode == 0
    assert "no" in roost(config, "user", "list").stdout
    dup = roost(config, "domain", "add", "example.org")
    assert dup.returncode == 1 and dup.stderr.strip() == "roost: domain example.org exists already"
    no_stdin = roost(config, "user", "passwd", "bob@example.org", "--password-stdin", stdin="")
    assert no_stdin.returncode != 0 and "held no password" in no_stdin.stderr
    assert roost(config, "user", "remove", "bob@example.org", "--yes").returncode == 0
    assert roost(config, "domain", "remove", "example.org").returncode == 0


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    made = roost(path, "init", "--data", "d", "--profile", "production")
    assert made.returncode == 0, made.stderr
    assert 'profile = "production"' in path.read_text()
    assert roost(path, "init").returncode == 1  # never overwrites


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("roost:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path)
        config.write_text(
            config.read_text().replace(
                'listen = ["127.0.0.1:0"]', f'listen = ["127.0.0.1:{port}"]', 1
            )
        )
        line = one_line_error(roost(config, "serve"))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line


def test_malformed_config_is_one_clear_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, store="sqlite_readers = -1")
    line = one_line_error(roost(config, "serve"))
    assert line == f"roost: {config}: [store] sqlite_readers = -1: must be at least 1"


def test_unreachable_postgres_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    config = write_config(tmp_path, store=f'url = "postgresql://roost@127.0.0.1:{port}/roost"')
    line = one_line_error(roost(config, "serve"))
    assert line.startswith(f"roost: cannot open the store at postgresql://127.0.0.1:{port}/roost: ")


def test_unusable_data_folder_is_one_clear_line(tmp_path: Path) -> None:
    # Roost runs as root in CI, where permission bits do not stop it; a data
    # folder below a plain file fails the same way for every user.
    (tmp_path / "file").write_text("")
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace('data_dir = "data"', 'data_dir = "file/data"'))
    line = one_line_error(roost(config, "serve"))
    assert "cannot create the data folder" in line and "file/data" in line


def test_config_option_after_the_command(tmp_path: Path) -> None:
    path = tmp_path / "late.toml"
    made = subprocess.run(
        [*ROOST, "init", "--config", str(path), "--data", "d"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    listed = subprocess.run(
        [*ROOST, "domain", "list", f"--config={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0 and listed.stdout.startswith("DOMAIN"), listed.stderr


def test_queue_commands_on_the_store(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert roost(config, "domain", "add", "example.org").returncode == 0
    empty = roost(config, "queue", "list")
    assert empty.returncode == 0 and "0-0 of 0" in empty.stdout
    stats = roost(config, "queue", "stats")
    assert stats.returncode == 0 and "queued: 0" in stats.stdout
    missing = roost(config, "queue", "hold", "42")
    assert missing.returncode == 1 and "no queue entry 42" in missing.stderr
