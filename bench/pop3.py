"""Benchmark: POP3 download of one large mailbox, Roost against Dovecot.

Workload: one mailbox of N messages (5,000 by default) with a fixed size mix
— 90% between 2 and 20 KB, 9% between 20 and 500 KB, 1% of 1 MB (seeded, so
every run and both servers get the same bytes) — downloaded over one
plaintext session on loopback with RETR 1..N, one command at a time, by a
client that reads 64 KB blocks and keeps nothing (poplib reads line by line
and would measure itself), then QUIT without DELE. Both servers run side by
side and take turns for --rounds rounds (3), so that the machine's load
falls on both; each keeps its median round. Last, DELE 1..N pipelined and
QUIT, which removes them all.

Reported per server: messages/s and MB/s from USER to the last RETR (MB of
message octets as LIST gives them), and by size class (2-20 KB: the cost
per message; larger: the throughput), the server's CPU per message over
that phase (user + system time of the server's processes, read from /proc:
the Roost process; Dovecot's master and its children, the pop3 process
included), the time DELE..QUIT took, and Roost's RSS (VmRSS, VmHWM). Both
servers are warmed up first with one session that lists the mailbox
(Dovecot builds its index then), so the timed sessions read warm caches.

Servers, each a fresh process with its own temp folder:

- Roost (`python -m roost --config FILE serve`), POP listener only, the
  messages put into the INBOX through the store before it starts (as local
  delivery does: a blob each, trace fields beside it).
- Debian's Dovecot 2.3 POP3 (`dovecot -c FILE`, root-started), passwd-file
  user database, Maildir with the messages as Dovecot's own delivery writes
  them (LF line ends, ``,S=`` and ``,W=`` sizes in the file names), the
  default ``pop3_uidl_format``.

- The asyncio floor (`FloorProtocol`): a Python asyncio server with every
  message dot-stuffed in memory beforehand, which only answers; what asyncio
  itself costs per message here, printed as a reference (--skip-floor).

Targets: Roost at least 0.7× Dovecot's messages/s and 1.0× its MB/s.

Peer (Debian 12, as root); keep it from starting system-wide during the
install with policy-rc.d (only if there is none yet; remove it after if you
created it):

    printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    apt-get install -y --no-install-recommends dovecot-core dovecot-pop3d
    rm /usr/sbin/policy-rc.d

Run:  .venv/bin/python bench/pop3.py [--messages N] [--rounds N] [--skip-peers] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imap_peers

HOST = "127.0.0.1"
ADDRESS = "bench@example.org"
PASSWORD = "bench-password"
BLOCK_OCTETS = 64 * 1024
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
IO_TIMEOUT_S = 120.0
STAGE_BATCH = 100
TARGET_MSGS = 0.7
TARGET_MB = 1.0
ROOST = [sys.executable, "-m", "roost"]
FLOOR = "Floor"
"""The asyncio floor's name in the output."""
DOVECOT = shutil.which("dovecot")
DOVECOT_POP3 = Path("/usr/lib/dovecot/pop3")
MAIL_USER = "nobody"
TRACE = (
    b"Return-Path: <sender@example.net>\r\nDelivered-To: bench@example.org\r\n"
    b"Received: from client.example.net ([127.0.0.1])\r\n\tby mx.example.org (Roost) with ESMTP"
    b" id bench; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
)
LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n"
DOT_LINE = b".. a line that starts with a dot, so the server stuffs it\r\n"


class BenchError(Exception):
    """A server or the client failed: the workload has no result."""


# -- the mailbox ----------------------------------------------------------------


def size_mix(count: int, seed: int) -> list[int]:
    """Message sizes: 90% 2-20 KB, 9% 20-500 KB, 1% 1 MB, in a shuffled order."""
    rng = random.Random(seed)
    large = max(count // 100, 1 if count >= 100 else 0)
    medium = count * 9 // 100
    sizes = [1024 * 1024] * large
    sizes += [rng.randint(20 * 1024, 500 * 1024) for _ in range(medium)]
    sizes += [rng.randint(2 * 1024, 20 * 1024) for _ in range(count - large - medium)]
    rng.shuffle(sizes)
    return sizes


def message(number: int, size: int) -> bytes:
    """A message of ``size`` octets (trace fields included), CRLF line ends."""
    head = (
        f"From: <sender@example.net>\r\nTo: <{ADDRESS}>\r\nSubject: message {number}\r\n"
        f"Message-ID: <{number}@bench.example.net>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n"
    ).encode()
    block = LINE * 12 + DOT_LINE
    body_octets = max(size - len(TRACE) - len(head), 2)
    body = (block * (body_octets // len(block) + 1))[: body_octets - 2] + b"\r\n"
    return TRACE + head + body


def messages_of(sizes: list[int]) -> Iterator[bytes]:
    for number, size in enumerate(sizes, start=1):
        yield message(number, size)


# -- process measurements -----------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and every process below it, by pid."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            stats[int(entry)] = found
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _cpu) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples: growth of the old processes, all of the new."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def proc_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} for process {pid}")


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
            if s.recv(512).startswith(b"+OK"):
                s.sendall(b"QUIT\r\n")
                return
        time.sleep(0.05)
    raise BenchError(f"{what} did not greet on port {port} within {START_TIMEOUT_S:g} s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


# -- servers -------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    pid: int
    """The process whose tree's CPU is measured."""
    remaining: Callable[[], int]
    """Messages left in the mailbox, to check that QUIT removed them."""


def roost_config(folder: Path, port: int) -> Path:
    config = folder / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\nnode_name = "bench"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        "[smtp]\nmx_listen = []\nsubmission_listen = []\nsubmissions_listen = []\n"
        f'[pop]\nlisten = ["{HOST}:{port}"]\ntls_listen = []\n'
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
    )
    return config


def fill_roost(config_path: Path, sizes: list[int]) -> None:
    """The account, then the messages into its INBOX through the store."""
    from roost.core.config import load
    from roost.local_api import local_api
    from roost.store.store import open_store
    from roost.store.types import NewMessage

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
            batch: list[bytes] = []
            for data in messages_of(sizes):
                batch.append(data)
                if len(batch) == STAGE_BATCH:
                    await _append(store, box.id, batch)
                    batch = []
            if batch:
                await _append(store, box.id, batch)
        finally:
            await store.close()

    async def _append(store: object, box_id: int, batch: list[bytes]) -> None:
        from roost.store.store import Store

        assert isinstance(store, Store)
        # The trace is kept beside the blob, as local delivery does.
        staged = await store.blobs.stage_many([m[len(TRACE) :] for m in batch])
        items = [NewMessage(blob, trace=TRACE) for blob in staged]
        await store.write(store.mail.append, box_id, items, enforce_quota=False)

    asyncio.run(work())


@contextlib.contextmanager
def roost_server(folder: Path, sizes: list[int], profile: Path | None = None) -> Iterator[Server]:
    port = free_port()
    config = roost_config(folder, port)
    fill_roost(config, sizes)
    log = (folder / "serve.log").open("wb")
    command = [*ROOST, "--config", str(config), "serve"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command[1:]]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    database = folder / "data" / "roost.sqlite3"

    def remaining() -> int:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])

    try:
        wait_for_greeting(port, lambda: proc.poll() is None, "Roost")
        imap_peers.wait_until_indexed(database)
        yield Server("Roost", port, proc.pid, remaining)
    finally:
        stop_process(proc)
        log.close()


# -- the floor: what asyncio alone costs ------------------------------------------


class FloorProtocol(asyncio.Protocol):
    """A POP3 answerer with every message dot-stuffed in memory beforehand:
    no store, no parsing beyond the verb, one write per RETR. What Python's
    asyncio alone costs per message on this machine, and so the least a
    server in it can take (the figure is a reference, not a target)."""

    def __init__(self, wire: list[bytes], sizes: list[int], emptied: Path) -> None:
        self._wire = wire
        self._sizes = sizes
        self._emptied = emptied
        self._buffer = b""
        self._deleted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(b"+OK floor\r\n")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n")) >= 0:
            line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            verb, _, argument = line.partition(b" ")
            if verb == b"RETR":
                self._transport.write(self._wire[int(argument) - 1])
            elif verb == b"STAT":
                self._transport.write(b"+OK %d %d\r\n" % (len(self._sizes), sum(self._sizes)))
            elif verb == b"LIST":
                lines = b"".join(b"%d %d\r\n" % (n, s) for n, s in enumerate(self._sizes, 1))
                self._transport.write(b"+OK\r\n" + lines + b".\r\n")
            elif verb == b"DELE":
                self._deleted += 1
                self._transport.write(b"+OK\r\n")
            else:
                self._transport.write(b"+OK\r\n")
                if verb == b"QUIT":
                    if self._deleted == len(self._sizes):
                        self._emptied.touch()  # as a maildrop emptied by DELE and QUIT
                    self._transport.close()


def serve_floor(port: int, count: int, seed: int, emptied: Path) -> None:
    sizes = size_mix(count, seed)
    wire = [
        b"+OK\r\n" + message(n, size).replace(b"\r\n.", b"\r\n..") + b".\r\n"
        for n, size in enumerate(sizes, start=1)
    ]

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: FloorProtocol(wire, sizes, emptied), HOST, port)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


@contextlib.contextmanager
def floor_server(folder: Path, sizes: list[int], count: int, seed: int) -> Iterator[Server]:
    port = free_port()
    emptied = folder / "emptied"
    command = [
        sys.executable,
        __file__,
        "--serve-floor",
        str(port),
        "--messages",
        str(count),
        "--seed",
        str(seed),
        "--floor-emptied",
        str(emptied),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_greeting(port, lambda: proc.poll() is None, "the asyncio floor")
        yield Server(FLOOR, port, proc.pid, lambda: 0 if emptied.exists() else len(sizes))
    finally:
        stop_process(proc)


DOVECOT_CONF = """\
instance_name = roost-bench-pop3-{tag}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = pop3
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {host}
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def dovecot_problem() -> str | None:
    if os.geteuid() != 0:
        return "not root (Dovecot is started as a root-started daemon)"
    missing = [
        name
        for name, there in (("dovecot-core", DOVECOT), ("dovecot-pop3d", DOVECOT_POP3.exists()))
        if not there
    ]
    if missing:
        return f"not installed: {', '.join(missing)} (see the docstring for apt-get)"
    return None


@contextlib.contextmanager
def dovecot_server(folder: Path, sizes: list[int]) -> Iterator[Server]:
    assert DOVECOT is not None
    nobody = pwd.getpwnam(MAIL_USER)
    folder.chmod(0o755)  # Dovecot's unprivileged processes walk through it
    home = folder / "mail" / "bench"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    stamp = int(time.time())
    for number, data in enumerate(messages_of(sizes), start=1):
        # As Dovecot's own delivery stores mail: LF line ends, sizes in the name.
        stored = data.replace(b"\r\n", b"\n")
        name = f"{stamp}.M{number:06d}P1.bench,S={len(stored)},W={len(data)}"
        (maildir / "new" / name).write_bytes(stored)
    for path in [folder / "mail", *(folder / "mail").rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (folder / "users").write_text(
        f"{ADDRESS}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n"
    )
    port = free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=folder, host=HOST, port=port, tag=folder.name))

    def run(*command: str) -> None:
        # Output to a file: the daemon's children inherit it; a pipe would never close.
        with (folder / "commands.log").open("a+b") as out:
            done = subprocess.run(command, stdout=out, stderr=out, timeout=STOP_TIMEOUT_S)
            if done.returncode != 0:
                out.seek(0)
                raise BenchError(f"{' '.join(command)}: {out.read().decode()[-300:]}")

    def remaining() -> int:
        return sum(len(os.listdir(maildir / sub)) for sub in ("cur", "new"))

    pid_file = folder / "run" / "master.pid"
    try:
        run(DOVECOT, "-c", str(conf))
        wait_for_greeting(port, lambda: True, "Dovecot")
        pid = int(pid_file.read_text().split()[0])
        yield Server("Dovecot", port, pid, remaining)
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


# -- the client ------------------------------------------------------------------


class Client:
    """A POP3 client that reads 64 KB blocks and keeps no message."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT_S)
        self.pending = b""
        self.expect_ok(self.line())

    def _fill(self) -> None:
        data = self.sock.recv(BLOCK_OCTETS)
        if not data:
            raise BenchError("the server closed the connection")
        self.pending += data

    def line(self) -> bytes:
        while (end := self.pending.find(b"\r\n")) < 0:
            self._fill()
        line, self.pending = self.pending[:end], self.pending[end + 2 :]
        return line

    @staticmethod
    def expect_ok(line: bytes) -> bytes:
        if not line.startswith(b"+OK"):
            raise BenchError(f"the server said {line[:80]!r}")
        return line

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.expect_ok(self.line())

    def login(self) -> int:
        self.command(f"USER {ADDRESS}")
        self.command(f"PASS {PASSWORD}")
        return int(self.command("STAT").split()[1])

    def listing(self) -> list[int]:
        """LIST: the size of every message, in order."""
        self.sock.sendall(b"LIST\r\n")
        self.expect_ok(self.line())
        sizes = []
        while (line := self.line()) != b".":
            sizes.append(int(line.split()[1]))
        return sizes

    def retr(self, number: int) -> int:
        """RETR one message; returns the octets read after the status line."""
        self.sock.sendall(b"RETR %d\r\n" % number)
        self.expect_ok(self.line())
        data, self.pending = self.pending, b""
        if data.startswith(b".\r\n"):
            self.pending = data[3:]
            return 0
        octets = 0
        tail = b"\r\n"  # the status line's end: an empty message ends at once
        while True:
            window = tail + data
            end = window.find(b"\r\n.\r\n")
            if end >= 0:
                self.pending = window[end + 5 :]
                return octets + end + 2 - len(tail)
            octets += len(data)
            tail = window[-4:]
            data = self.sock.recv(BLOCK_OCTETS)
            if not data:
                raise BenchError(f"the server closed the connection during RETR {number}")

    def delete_all(self, count: int) -> None:
        self.sock.sendall(b"".join(b"DELE %d\r\n" % n for n in range(1, count + 1)))
        for _ in range(count):
            self.expect_ok(self.line())
        self.command("QUIT")
        self.sock.close()

    def quit(self) -> None:
        self.command("QUIT")
        self.sock.close()


# -- the run ---------------------------------------------------------------------


SIZE_CLASSES = ("2-20 KB", "20 KB-1 MB")


def size_class(octets: int) -> str:
    return SIZE_CLASSES[0] if octets <= 20 * 1024 + len(TRACE) else SIZE_CLASSES[1]


@dataclass
class Tally:
    """RETRs of one size class: how many, their octets, the time they took."""

    messages: int
    octets: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.octets / 1e6 / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    messages: int
    octets: int
    retr_s: float
    """From USER to the end of the last RETR."""
    login_s: float
    """USER, PASS, STAT and LIST: opening the maildrop."""
    cpu_s: float
    by_class: dict[str, Tally]

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.retr_s

    @property
    def mb_per_s(self) -> float:
        return self.octets / 1e6 / self.retr_s

    @property
    def cpu_ms_per_message(self) -> float:
        return self.cpu_s * 1000 / self.messages


def warm_up(server: Server, count: int) -> None:
    """One session that lists the mailbox: Dovecot builds its index then."""
    warm = Client(server.port)
    if warm.login() != count:
        raise BenchError(f"{server.name} lists the wrong number of messages")
    warm.listing()
    warm.quit()
    time.sleep(0.5)  # let the session end and release the maildrop


def download(server: Server) -> Result:
    """One timed session: login, LIST, RETR every message; QUIT without DELE."""
    client = Client(server.port)
    before = tree_cpu(server.pid)
    t0 = time.perf_counter()
    client.login()
    sizes = client.listing()
    login_s = time.perf_counter() - t0
    octets = sum(sizes)
    sent = 0
    classes = {name: [0, 0, 0.0] for name in SIZE_CLASSES}
    for number, size in enumerate(sizes, start=1):
        started = time.perf_counter()
        sent += client.retr(number)
        tally = classes[size_class(size)]
        tally[0] += 1
        tally[1] += size
        tally[2] += time.perf_counter() - started
    retr_s = time.perf_counter() - t0
    cpu = cpu_between(before, tree_cpu(server.pid))
    client.quit()
    if sent < octets:
        raise BenchError(f"{server.name} sent {sent} octets for {octets} listed")
    by_class = {name: Tally(int(n), int(o), t) for name, (n, o, t) in classes.items()}
    time.sleep(0.5)  # the session ends and releases the maildrop
    return Result(len(sizes), octets, retr_s, login_s, cpu, by_class)


def delete_everything(server: Server, count: int) -> tuple[float, int]:
    """DELE 1..N pipelined and QUIT; the time it took and the messages left."""
    client = Client(server.port)
    client.login()
    t0 = time.perf_counter()
    client.delete_all(count)
    seconds = time.perf_counter() - t0
    time.sleep(0.5)
    return seconds, server.remaining()


def describe(result: Result) -> str:
    text = (
        f"{result.msgs_per_s:7.0f} msg/s {result.mb_per_s:7.1f} MB/s "
        f"({result.octets / 1e6:.0f} MB in {result.retr_s:.1f} s, login and LIST "
        f"{result.login_s:.2f} s), CPU {result.cpu_ms_per_message:.2f} ms/msg"
    )
    for name, tally in result.by_class.items():
        text += f"; {name} {tally.msgs_per_s:.0f} msg/s {tally.mb_per_s:.1f} MB/s"
    return text


def median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.retr_s)[len(results) // 2]


Factory = Callable[[Path, list[int]], contextlib.AbstractContextManager[Server]]


def _ratio(mine: Result, theirs: Result, size: str, what: str) -> float:
    ours, peer = mine.by_class[size], theirs.by_class[size]
    value: float = getattr(ours, what) / max(getattr(peer, what), 1e-9)
    return value


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1939)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="timed downloads per server")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run Roost under cProfile, its stats to FILE (slowed: read where the time goes)",
    )
    parser.add_argument("--skip-floor", action="store_true", help="no asyncio floor")
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-emptied", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor is not None:
        serve_floor(args.serve_floor, args.messages, args.seed, args.floor_emptied)
        return 0
    sizes = size_mix(args.messages, args.seed)
    print(
        f"POP3 download: {args.messages} messages, {sum(sizes) / 1e6:.0f} MB "
        f"(90% 2-20 KB, 9% 20-500 KB, 1% 1 MB; seed {args.seed}), one session on loopback, "
        f"RETR one at a time read in {BLOCK_OCTETS // 1024} KB blocks, then DELE all and QUIT; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    chosen: dict[str, Factory] = {
        "Roost": lambda folder, sizes: roost_server(folder, sizes, args.profile)
    }
    skipped = []
    problem = "--skip-peers" if args.skip_peers else dovecot_problem()
    if problem:
        skipped.append(f"Dovecot: {problem}")
    else:
        chosen["Dovecot"] = dovecot_server
    if not args.skip_floor:
        chosen[FLOOR] = lambda folder, sizes: floor_server(folder, sizes, args.messages, args.seed)
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for name, factory in chosen.items():
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-pop3-")))
            try:
                servers[name] = stack.enter_context(factory(folder, sizes))
                warm_up(servers[name], len(sizes))
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                print(f"  {name:<8} failed: {exc}", flush=True)
                servers.pop(name, None)
        if "Roost" not in servers:
            return 1
        roost_pid = servers["Roost"].pid
        rss_before = proc_kib(roost_pid, "VmRSS")
        # The servers take turns, so that a change in the machine's load
        # falls on both; each keeps its median round.
        rounds: dict[str, list[Result]] = {name: [] for name in servers}
        for round_number in range(1, args.rounds + 1):
            order = list(servers) if round_number % 2 else list(reversed(servers))
            for name in order:
                result = download(servers[name])
                rounds[name].append(result)
                print(f"  round {round_number} {name:<8} {describe(result)}", flush=True)
        print()
        for name, server in servers.items():
            delete_s, left = delete_everything(server, len(sizes))
            print(f"  {name:<8} DELE {len(sizes)} and QUIT: {delete_s:.2f} s, {left} left")
        rss_after = proc_kib(roost_pid, "VmRSS")
        rss_peak = proc_kib(roost_pid, "VmHWM")
    print(
        f"  Roost RSS {rss_before / 1024:.0f} MB before the rounds, {rss_after / 1024:.0f} MB "
        f"after, peak {rss_peak / 1024:.0f} MB"
    )
    results = {name: median(found) for name, found in rounds.items()}
    print()
    for name, result in results.items():
        print(f"  median {name:<8} {describe(result)}")
    mine, theirs = results.get("Roost"), results.get("Dovecot")
    if mine is not None and theirs is not None:
        # Over the whole mailbox both servers move the same octets, so the two
        # ratios are one number; by size class, small messages measure the cost
        # per message and large ones the throughput.
        whole = mine.msgs_per_s / theirs.msgs_per_s
        small = _ratio(mine, theirs, SIZE_CLASSES[0], "msgs_per_s")
        large = _ratio(mine, theirs, SIZE_CLASSES[1], "mb_per_s")
        cpu = mine.cpu_ms_per_message / theirs.cpu_ms_per_message
        per_round = ", ".join(
            f"{a.msgs_per_s / b.msgs_per_s:.2f}×"
            for a, b in zip(rounds["Roost"], rounds["Dovecot"], strict=True)
        )
        print(
            f"\nRoost / Dovecot (medians), whole mailbox: {whole:.2f}× (msg/s and MB/s alike; "
            f"rounds: {per_round}); {cpu:.2f}× CPU per message\n"
            f"  msg/s  {whole:.2f}× whole, {small:.2f}× {SIZE_CLASSES[0]} "
            f"(target >= {TARGET_MSGS}×: {_verdict(min(whole, small), TARGET_MSGS)})\n"
            f"  MB/s   {whole:.2f}× whole, {large:.2f}× {SIZE_CLASSES[1]} "
            f"(target >= {TARGET_MB}×: {_verdict(min(whole, large), TARGET_MB)})"
        )
    floor = results.get(FLOOR)
    if floor is not None:
        shares = ", ".join(
            f"{name} {_ratio(found, floor, SIZE_CLASSES[0], 'msgs_per_s'):.2f}×"
            for name, found in results.items()
            if name != FLOOR
        )
        print(
            f"Against the asyncio floor ({SIZE_CLASSES[0]} msg/s; 1.00× is all a Python "
            f"asyncio server can do here): {shares}"
        )
    for line in skipped:
        print(f"Skipped {line}")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
