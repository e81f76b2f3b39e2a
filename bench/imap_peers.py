"""The servers bench/imap.py runs: Roost and Debian's Dovecot, on one corpus.

Each is a fresh process (Dovecot: a root-started daemon set) with its own
temp folder, listening on 127.0.0.1 only, plaintext IMAP and IMAP over TLS
(one self-signed certificate for both), holding the same messages:

- Roost (`python -m roost --config FILE serve`), IMAP listeners only, the
  messages put into the INBOX through the store before it starts as local
  delivery puts them: a blob each, its MIME structure parsed and kept beside
  it, trace fields (Return-Path, Delivered-To, Received) beside the blob.
  Changed from the defaults: connection limits raised for workload (c),
  fast argon2 so 2,000 logins are quick, DNS pointed at 127.0.0.1:9.
- Dovecot 2.3 IMAP: passwd-file user database, Maildir with the messages as
  Dovecot's own delivery writes them (LF line ends, ``,S=`` and ``,W=`` in
  the file names, in cur/ unseen), the zlib plugins for COMPRESS=DEFLATE,
  the login processes in Dovecot's documented high-performance mode
  (``service_count = 0``) so 2,000 TLS clients do not need 2,000 login
  processes, process and per-user connection limits raised for (c).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewMessage, StagedBlob

HOST = "127.0.0.1"
ADDRESS = "bench@example.org"
PASSWORD = "bench-password"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
INDEX_WAIT_S = 600.0
STAGE_BATCH = 200
ROOST = [sys.executable, "-m", "roost"]
DOVECOT = shutil.which("dovecot")
DOVECOT_IMAP = Path("/usr/lib/dovecot/imap")
DOVECOT_ZLIB = Path("/usr/lib/dovecot/modules/lib30_imap_zlib_plugin.so")
MAIL_USER = "nobody"
MAX_CONNECTIONS = 5000
TRACE = (
    b"Return-Path: <sender@example.net>\r\nDelivered-To: bench@example.org\r\n"
    b"Received: from client.example.net ([127.0.0.1])\r\n\tby mx.example.org (Roost) with ESMTP"
    b" id bench; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
)


class BenchError(Exception):
    """A server or the client failed: the workload has no result."""


@dataclass
class Server:
    name: str
    port: int
    tls_port: int
    pid: int
    """The process whose tree's CPU and memory are measured."""


# -- processes -------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and every process below it, by pid."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            stats[int(entry)] = found
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _cpu) in stats.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return {pid: stats[pid][1] for pid in members if pid in stats}


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples: growth of the old processes, all of the new."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def pss_kib(root: int) -> int:
    """Proportional set size of a process tree: shared pages counted once."""
    total = 0
    for pid in tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_greeting(port: int, alive: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError(f"{what} exited while starting")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as s:
            s.settimeout(5)
            if s.recv(512).startswith(b"* OK"):
                s.sendall(b"x LOGOUT\r\n")
                return
        time.sleep(0.05)
    raise BenchError(f"{what} did not greet on port {port} within {START_TIMEOUT_S:g} s")


def certificate(folder: Path) -> tuple[Path, Path]:
    """One self-signed certificate for both servers' TLS listeners."""
    from roost.net.certs import generate_self_signed

    generate_self_signed(folder, ["localhost"], stem="bench")
    return folder / "bench.crt", folder / "bench.key"


# -- Roost ---------------------------------------------------------------------------


def _roost_config(folder: Path, port: int, tls_port: int, cert: tuple[Path, Path]) -> Path:
    config = folder / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\nnode_name = "bench"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        "[smtp]\nmx_listen = []\nsubmission_listen = []\nsubmissions_listen = []\n"
        "[pop]\nlisten = []\ntls_listen = []\n"
        f'[tls]\ncert_file = "{cert[0]}"\nkey_file = "{cert[1]}"\n'
        f'[imap]\nlisten = ["{HOST}:{port}"]\ntls_listen = ["{HOST}:{tls_port}"]\n'
        f"max_connections = {MAX_CONNECTIONS}\nmax_connections_per_address = {MAX_CONNECTIONS}\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
    )
    return config


def _fill_roost(config_path: Path, corpus: list[bytes]) -> None:
    """The account, then the messages into its INBOX as local delivery puts them."""
    from roost.core.config import load
    from roost.local_api import local_api
    from roost.proto.mime import parse_bytes
    from roost.store.store import open_store

    async def work() -> None:
        config = load(config_path)
        async with local_api(config) as api:
            (await api.post("/api/v1/domains", json={"name": "example.org"})).raise_for_status()
            response = await api.post(
                "/api/v1/accounts", json={"address": ADDRESS, "password": PASSWORD}
            )
            response.raise_for_status()
        store = await open_store(config)
        try:
            account = await store.read(store.directory.account, ADDRESS)
            box = await store.read(store.mail.mailbox, account.id, "INBOX")
            for start in range(0, len(corpus), STAGE_BATCH):
                batch = corpus[start : start + STAGE_BATCH]
                staged = await store.blobs.stage_many(batch)
                structures = [parse_bytes(data).to_json() for data in batch]

                await store.write(_append, store, box.id, staged, structures)
        finally:
            await store.close()

    asyncio.run(work())


async def _append(
    tx: Tx, store: Store, box_id: int, staged: list[StagedBlob], structures: list[str]
) -> None:
    items = [NewMessage(blob, trace=TRACE) for blob in staged]
    await store.mail.append(tx, box_id, items, enforce_quota=False)
    for blob, structure in zip(staged, structures, strict=True):
        await store.blobs.set_structure(tx, blob.hash, structure)


@contextlib.contextmanager
def roost_server(folder: Path, corpus: list[bytes], cert: tuple[Path, Path]) -> Iterator[Server]:
    port, tls_port = free_port(), free_port()
    config = _roost_config(folder, port, tls_port, cert)
    _fill_roost(config, corpus)
    with serve_roost(folder, config, port, tls_port) as server:
        wait_until_indexed(folder / "data" / "roost.sqlite3")
        yield server


def wait_until_indexed(database: Path) -> None:
    """The Indexing service indexes what was just filled, in Roost's own
    process: time nothing before it is done, or it is timed too."""
    started = time.monotonic()
    while time.monotonic() - started < INDEX_WAIT_S:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            docs = int(db.execute("SELECT count(*) FROM search_docs").fetchone()[0])
            if docs >= int(db.execute("SELECT count(*) FROM messages").fetchone()[0]):
                break
        time.sleep(0.5)
    print(f"  Roost indexed the mailbox in {time.monotonic() - started:.1f} s", flush=True)


@contextlib.contextmanager
def serve_roost(folder: Path, config: Path, port: int, tls_port: int) -> Iterator[Server]:
    """`roost serve` on a filled data folder, until the block ends."""
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*ROOST, "--config", str(config), "serve"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_greeting(port, lambda: proc.poll() is None, "Roost")
        yield Server("Roost", port, tls_port, proc.pid)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        log.close()


# -- Dovecot -------------------------------------------------------------------------

DOVECOT_CONF = """\
instance_name = roost-bench-imap-{tag}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_plugins = $mail_plugins zlib
default_process_limit = {limit}
default_client_limit = {limit}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = {limit}
}}
service imap {{
  process_limit = {limit}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib
  mail_max_userip_connections = {limit}
}}
"""


def dovecot_problem() -> str | None:
    if os.geteuid() != 0:
        return "not root (Dovecot is started as a root-started daemon)"
    missing = [
        name
        for name, there in (
            ("dovecot-core", DOVECOT is not None),
            ("dovecot-imapd", DOVECOT_IMAP.exists()),
            ("the imap_zlib plugin", DOVECOT_ZLIB.exists()),
        )
        if not there
    ]
    if missing:
        return f"not installed: {', '.join(missing)} (see bench/imap.py for apt-get)"
    return None


@contextlib.contextmanager
def dovecot_server(folder: Path, corpus: list[bytes], cert: tuple[Path, Path]) -> Iterator[Server]:
    assert DOVECOT is not None
    nobody = pwd.getpwnam(MAIL_USER)
    folder.chmod(0o755)  # Dovecot's unprivileged processes walk through it
    home = folder / "mail" / "bench"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    stamp = int(time.time())
    for number, body in enumerate(corpus, start=1):
        data = TRACE + body
        stored = data.replace(b"\r\n", b"\n")  # as Dovecot's own delivery stores it
        name = f"{stamp}.M{number:06d}P1.bench,S={len(stored)},W={len(data)}:2,"
        (maildir / "cur" / name).write_bytes(stored)
    for path in [folder / "mail", *(folder / "mail").rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (folder / "users").write_text(
        f"{ADDRESS}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n"
    )
    port, tls_port = free_port(), free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            root=folder,
            host=HOST,
            port=port,
            tls_port=tls_port,
            tag=folder.name,
            cert=cert[0],
            key=cert[1],
            limit=MAX_CONNECTIONS,
        )
    )

    with dovecot_running(folder, conf, port) as pid:
        yield Server("Dovecot", port, tls_port, pid)


@contextlib.contextmanager
def dovecot_running(
    folder: Path, conf: Path, port: int, command_timeout_s: float = STOP_TIMEOUT_S
) -> Iterator[int]:
    """Dovecot started with ``conf`` until the block ends; yields its master's
    pid once it greets on ``port``. Stopped with ``dovecot stop``, then killed."""
    assert DOVECOT is not None

    def run(*command: str) -> None:
        # Output to a file: the daemon's children inherit it; a pipe would never close.
        with (folder / "commands.log").open("a+b") as out:
            done = subprocess.run(command, stdout=out, stderr=out, timeout=command_timeout_s)
            if done.returncode != 0:
                out.seek(0)
                raise BenchError(f"{' '.join(command)}: {out.read().decode()[-300:]}")

    pid_file = folder / "run" / "master.pid"
    try:
        run(DOVECOT, "-c", str(conf))
        wait_for_greeting(port, lambda: True, "Dovecot")
        yield int(pid_file.read_text().split()[0])
    finally:
        with contextlib.suppress(OSError, ValueError, IndexError):
            master = int(pid_file.read_text().split()[0])
            with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
                run(DOVECOT, "-c", str(conf), "stop")
            deadline = time.monotonic() + STOP_TIMEOUT_S / 2
            while time.monotonic() < deadline and Path(f"/proc/{master}").exists():
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(master, 9)
