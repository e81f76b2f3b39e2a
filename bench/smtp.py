"""Benchmark: SMTP intake into local mailboxes, Roost against Postfix→Dovecot and two sinks.

Workload: N messages (20,000 by default) with a 2,048-byte payload to 10
accounts (u0..u9@example.org) over 10 concurrent SMTP sessions on loopback,
one session per account:

  (a) a new connection per message (as Postfix's smtp-source does by default);
  (b) reused connections (smtp-source -d: each session sends all its messages
      over one connection).

The rate is messages per second from the start of the load generator to the
moment the last message is visible in its mailbox (Roost: a row in the
messages table, read from the SQLite store read-only; Dovecot: a file in the
maildir's new/). For the sinks, which discard, it ends with the last 250.

Servers, each a fresh process (or daemon set) with its own temp folder:

- Roost (`python -m roost --config FILE serve`) with its defaults (every
  message fsynced before its 250 and again when stored), MX listener only.
  Changed: `max_messages_per_connection` raised to N for (b),
  `connection_rate_per_minute` off for (a) (as Postfix's default
  smtpd_client_connection_rate_limit = 0), `[mailauth] check_inbound` off
  (see below), fast argon2 so the setup of 10 accounts is quick, DNS pointed
  at 127.0.0.1:9 (nothing answers: no lookup leaves the machine).
- Debian's Postfix delivering over LMTP to Debian's Dovecot (virtual mailbox
  domain example.org, Dovecot passwd-file userdb, maildir in the temp folder);
  both root-started with their own config (`postfix -c DIR`, `dovecot -c FILE`).
- Postfix's smtp-sink (C, discards): the ceiling of SMTP intake here.
- aiosmtpd (in the venv) with a handler that discards.

SPF, DKIM and DMARC are not measured: Roost checks them on the MX listener
since commit dc28daf, but only for clients outside `trusted_networks` (loopback
is inside by default) and a fair run would need a DNS server on loopback with
SPF, DKIM and DMARC records; the peers here do not check them either.

Also: Roost's peak RSS (VmHWM) in the load runs (target under 200 MB), and the
RSS growth of a fresh Roost while one 50 MB message is received, parsed and
stored (target under 16 MB).

Every workload is bounded: the load generator stops sending after
--send-limit seconds (45 by default); the rate is then "first MAIL to the last
acknowledged message visible" over the messages sent so far, and the line
says so. Past --time-limit seconds (180) the workload ends and counts what is
stored by then. A full run takes about 8 minutes. Loopback only; all processes
and temp folders are removed at the end.

Peers (Debian 12, as root). Stop the daemons from starting system-wide during
the install with policy-rc.d (only if there is none yet; remove it after if
you created it):

    printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        postfix dovecot-core dovecot-lmtpd
    rm /usr/sbin/policy-rc.d

Without postfix (smtp-source) the load comes from a Python asyncio client;
a missing peer is skipped and the output says why.

Run:  .venv/bin/python bench/smtp.py [--messages N] [--sessions N] [--skip-peers]
                                      [--send-limit S] [--time-limit S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
DOMAIN = "example.org"
SENDER = "sender@example.net"
PAYLOAD_BYTES = 2048
BIG_MESSAGE_BYTES = 50_000_000
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
POLL_S = 0.1
SAMPLE_S = 0.005
TARGET_RATIO = 1.0
TARGET_PEAK_MB = 200
TARGET_GROWTH_MB = 16
MODES = ("new", "reused")
MODE_TITLES = {"new": "new connection per message", "reused": "reused connections"}
ROOST = [sys.executable, "-m", "roost"]
SMTP_SOURCE = shutil.which("smtp-source")
SMTP_SINK = shutil.which("smtp-sink")
POSTFIX = shutil.which("postfix")
DOVECOT = shutil.which("dovecot")
DOVECOT_LMTP = Path("/usr/lib/dovecot/lmtp")
UNPRIVILEGED = "nobody"


class BenchError(Exception):
    """A server or the load generator failed: the workload has no result."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_banner(port: int, alive: Callable[[], bool], what: str) -> None:
    """Wait until the server on `port` answers with its 220 greeting."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError(f"{what} exited while starting")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as s:
            s.settimeout(5)
            if s.recv(512).startswith(b"220"):
                s.sendall(b"QUIT\r\n")
                return
        time.sleep(0.05)
    raise BenchError(f"{what} did not greet on port {port} within {START_TIMEOUT_S:g} s")


def proc_status(pid: int, key: str) -> int:
    """A VmRSS/VmHWM line of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {key} for process {pid}")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_pid_file(path: Path) -> None:
    """Wait for a daemon whose pid is in `path` to exit; kill it if it lingers."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S / 2
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def accounts(n: int) -> list[str]:
    return [f"u{i}@{DOMAIN}" for i in range(n)]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- servers -------------------------------------------------------------------


@dataclass
class Server:
    """A running server under test: its port and how to count what it stored."""

    name: str
    port: int
    visible: Callable[[], int] | None  # None: it discards; the last 250 ends the run
    stop: Callable[[], None]
    pid: int | None = None


def roost_config(folder: Path, mx_port: int, max_per_connection: int) -> Path:
    config = folder / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\nnode_name = "mx.example.org"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        f'[smtp]\nmx_listen = ["{HOST}:{mx_port}"]\nsubmission_listen = []\n'
        f"submissions_listen = []\nmax_messages_per_connection = {max_per_connection}\n"
        "connection_rate_per_minute = 0\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
        "[mailauth]\ncheck_inbound = false\n"
    )
    return config


def add_accounts(config_path: Path, addresses: list[str]) -> None:
    """Make the domain and the accounts through the API in-process, before `serve`."""
    from roost.core.config import load
    from roost.local_api import local_api

    async def work() -> None:
        async with local_api(load(config_path)) as api:
            (await api.post("/api/v1/domains", json={"name": DOMAIN})).raise_for_status()
            for address in addresses:
                response = await api.post(
                    "/api/v1/accounts", json={"address": address, "password": "bench-password"}
                )
                response.raise_for_status()

    asyncio.run(work())


@contextlib.contextmanager
def roost_server(
    folder: Path, n_accounts: int, max_per_connection: int, profile: Path | None = None
) -> Iterator[Server]:
    port = free_port()
    config = roost_config(folder, port, max_per_connection)
    add_accounts(config, accounts(n_accounts))
    log = (folder / "serve.log").open("wb")
    command = [*ROOST, "--config", str(config), "serve"]
    if profile is not None:
        # One file per workload: each runs its own Roost.
        stats = profile.with_name(f"{profile.name}.{folder.name}")
        command = [sys.executable, "-m", "cProfile", "-o", str(stats), *command[1:]]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    db: sqlite3.Connection | None = None
    try:
        wait_for_banner(port, lambda: proc.poll() is None, "Roost")
        db = sqlite3.connect(
            f"file:{folder / 'data' / 'roost.sqlite3'}?mode=ro", uri=True, isolation_level=None
        )
        reader = db

        def visible() -> int:
            return int(reader.execute("SELECT count(*) FROM messages").fetchone()[0])

        yield Server("Roost", port, visible, lambda: stop_process(proc), proc.pid)
    finally:
        if db is not None:
            db.close()
        stop_process(proc)
        log.close()


def roost_traffic(folder: Path) -> dict[str, int]:
    """Roost's own counters (received, delivered) from /api/v1/queue/stats."""
    info = json.loads((folder / "data" / "run" / "api.json").read_text())
    request = urllib.request.Request(
        info["url"] + "/api/v1/queue/stats", headers={"Authorization": f"Bearer {info['token']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        traffic = json.load(response)["traffic"]
    return {kind: int(counts["since_start"]) for kind, counts in traffic.items()}


POSTFIX_MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
lmtp       unix  - - n -    - lmtp
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
"""

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.org
mydomain = example.org
myorigin = $myhostname
mydestination =
inet_interfaces = {host}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{root}/vmailbox
virtual_transport = lmtp:inet:{host}:{lmtp_port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = no
biff = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
"""

DOVECOT_CONF = """\
instance_name = roost-bench-dovecot
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = lmtp
listen = {host}
ssl = no
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
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {port}
  }}
}}
"""


def peer_problem_postfix_dovecot() -> str | None:
    if os.geteuid() != 0:
        return "not root (Postfix and Dovecot are started as root-started daemons)"
    missing = [
        name
        for name, there in (
            ("postfix", POSTFIX),
            ("dovecot-core", DOVECOT),
            ("dovecot-lmtpd", DOVECOT_LMTP.exists()),
        )
        if not there
    ]
    if missing:
        return f"not installed: {', '.join(missing)} (see the docstring for apt-get)"
    return None


@contextlib.contextmanager
def postfix_dovecot(folder: Path, n_accounts: int) -> Iterator[Server]:
    assert POSTFIX is not None and DOVECOT is not None
    nobody = pwd.getpwnam(UNPRIVILEGED)
    folder.chmod(0o755)  # Postfix's and Dovecot's unprivileged processes walk through it
    dove, post, mail = folder / "dovecot", folder / "postfix", folder / "mail"
    for path in (dove, post, mail):
        path.mkdir(mode=0o755)
    os.chown(mail, nobody.pw_uid, nobody.pw_gid)
    (post / "spool").mkdir(mode=0o755)  # postfix-script makes its subfolders
    (post / "data").mkdir(mode=0o700)
    owner = pwd.getpwnam("postfix")
    os.chown(post / "data", owner.pw_uid, owner.pw_gid)
    lmtp_port, smtp_port = free_port(), free_port()
    users = accounts(n_accounts)
    homes = [mail / u.split("@")[0] for u in users]
    (dove / "users").write_text(
        "".join(
            f"{u}:{{PLAIN}}bench:{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n"
            for u, home in zip(users, homes, strict=True)
        )
    )
    dove_conf = dove / "dovecot.conf"
    dove_conf.write_text(DOVECOT_CONF.format(root=dove, host=HOST, port=lmtp_port))
    (post / "main.cf").write_text(
        POSTFIX_MAIN_CF.format(root=post, host=HOST, domain=DOMAIN, lmtp_port=lmtp_port)
    )
    (post / "master.cf").write_text(POSTFIX_MASTER_CF.format(host=HOST, port=smtp_port))
    (post / "vmailbox").write_text("".join(f"{u} {u.split('@')[0]}/\n" for u in users))
    dovecot_started = postfix_started = False

    def run(*command: str) -> None:
        # Output to a file: a daemon's children inherit it and a pipe would never close.
        with (folder / "commands.log").open("a+b") as out:
            start = out.tell()
            done = subprocess.run(
                command, stdout=out, stderr=out, timeout=STOP_TIMEOUT_S, check=False
            )
            if done.returncode != 0:
                out.seek(start)
                text = out.read().decode(errors="replace")[-500:]
                raise BenchError(f"{' '.join(command)} (exit {done.returncode}): {text}")

    def stop() -> None:
        nonlocal dovecot_started, postfix_started
        if postfix_started:
            postfix_started = False
            with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
                run(POSTFIX, "-c", str(post), "stop")
            kill_pid_file(post / "spool" / "pid" / "master.pid")
        if dovecot_started:
            dovecot_started = False
            with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
                run(DOVECOT, "-c", str(dove_conf), "stop")
            kill_pid_file(dove / "run" / "master.pid")

    try:
        dovecot_started = True  # a failed start may still leave a master running
        run(DOVECOT, "-c", str(dove_conf))
        postfix_started = True
        run(POSTFIX, "-c", str(post), "start")
        wait_for_banner(smtp_port, lambda: True, "Postfix")
        wait_for_banner(lmtp_port, lambda: True, "Dovecot LMTP")
        new_dirs = [home / "Maildir" / "new" for home in homes]

        def visible() -> int:
            total = 0
            for path in new_dirs:
                with contextlib.suppress(FileNotFoundError):
                    total += len(os.listdir(path))
            return total

        yield Server("Postfix→Dovecot LMTP", smtp_port, visible, stop)
    finally:
        stop()


@contextlib.contextmanager
def smtp_sink_server(folder: Path) -> Iterator[Server]:
    assert SMTP_SINK is not None
    port = free_port()
    user = ["-u", UNPRIVILEGED] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [SMTP_SINK, *user, f"{HOST}:{port}", "1024"],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "smtp-sink.log").open("wb"),
    )
    try:
        wait_for_banner(port, lambda: proc.poll() is None, "smtp-sink")
        yield Server("smtp-sink (discards)", port, None, lambda: stop_process(proc), proc.pid)
    finally:
        stop_process(proc)


def serve_aiosmtpd(port: int) -> None:
    """The aiosmtpd peer's process: accept everything, discard it."""
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Discard:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            return "250 OK"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Discard(), hostname="sink.example.org"), HOST, port, backlog=1024
        )
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(serve())


@contextlib.contextmanager
def aiosmtpd_server(folder: Path) -> Iterator[Server]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-aiosmtpd", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "aiosmtpd.log").open("wb"),
    )
    try:
        wait_for_banner(port, lambda: proc.poll() is None, "aiosmtpd")
        yield Server("aiosmtpd (discards)", port, None, lambda: stop_process(proc), proc.pid)
    finally:
        stop_process(proc)


# -- load ------------------------------------------------------------------------


@dataclass
class Outcome:
    messages: int
    elapsed_s: float
    complete: bool
    """False: the time limit came before the last message was stored."""
    cut: bool
    """True: sending stopped at the send limit, before all messages were sent."""
    sending_s: float
    """From the start to the last 250 (or to the send limit)."""

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class Load:
    """Messages sent per session, one session (and account) each."""

    messages: int
    sessions: int
    reuse: bool
    folder: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    python_acked: list[int] = field(default_factory=list)
    python_error: list[BaseException] = field(default_factory=list)
    python_stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, port: int) -> None:
        plan = split(self.messages, self.sessions)
        if SMTP_SOURCE is not None:
            for i, (count, rcpt) in enumerate(zip(plan, accounts(self.sessions), strict=True)):
                out = self.folder / f"smtp-source-{i}.out"
                self.outputs.append(out)
                command = [SMTP_SOURCE, "-c", "-s", "1", "-m", str(count), "-l", str(PAYLOAD_BYTES)]
                command += ["-d"] if self.reuse else []
                command += ["-M", "client.example.net", "-f", SENDER, "-t", rcpt, f"{HOST}:{port}"]
                self.procs.append(
                    subprocess.Popen(command, stdout=out.open("wb"), stderr=subprocess.STDOUT)
                )
        else:
            self.python_acked = [0] * self.sessions
            self.thread = threading.Thread(target=self._python_client, args=(port, plan))
            self.thread.start()

    def finished(self) -> bool:
        if self.thread is not None:
            if self.python_error:
                raise BenchError(f"the Python SMTP client failed: {self.python_error[0]!r}")
            return not self.thread.is_alive()
        failed = [p for p in self.procs if p.poll() not in (None, 0)]
        if failed:
            index = self.procs.index(failed[0])
            text = self.outputs[index].read_bytes().decode(errors="replace")
            raise BenchError(f"smtp-source failed: {text.replace(chr(13), ' ')[-300:].strip()}")
        return all(p.poll() is not None for p in self.procs)

    def acknowledged(self) -> int:
        if self.thread is not None:
            return sum(self.python_acked)
        total = 0
        for out in self.outputs:
            tail = out.read_bytes()[-64:].replace(b"\n", b"\r").split(b"\r")
            numbers = [int(t) for t in tail if t.strip().isdigit()]
            total += numbers[-1] if numbers else 0
        return total

    def stop(self) -> None:
        self.python_stop.set()
        if self.thread is not None:
            self.thread.join(timeout=STOP_TIMEOUT_S)
        for proc in self.procs:
            stop_process(proc)

    # A minimal client without pipelining, for machines without smtp-source.
    def _python_client(self, port: int, plan: list[int]) -> None:
        body = message_body(PAYLOAD_BYTES)

        async def reply(reader: asyncio.StreamReader) -> bytes:
            while True:
                line = await asyncio.wait_for(reader.readline(), 60)
                if len(line) < 4 or line[3:4] != b"-":
                    if not line.startswith((b"2", b"3")):
                        raise BenchError(f"server said {line!r}")
                    return line

        async def session(index: int, count: int, rcpt: str) -> None:
            conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
            for _ in range(count):
                if self.python_stop.is_set():
                    break
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
                    await reply(conn[0])
                    conn[1].write(b"EHLO client.example.net\r\n")
                    await reply(conn[0])
                reader, writer = conn
                for command in (f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{rcpt}>", "DATA"):
                    writer.write(command.encode() + b"\r\n")
                    await reply(reader)
                writer.write(body + b".\r\n")
                await reply(reader)
                self.python_acked[index] += 1
                if not self.reuse:
                    writer.write(b"QUIT\r\n")
                    await reply(reader)
                    writer.close()
                    conn = None
            if conn is not None:
                conn[1].write(b"QUIT\r\n")
                await reply(conn[0])
                conn[1].close()

        async def run() -> None:
            await asyncio.gather(
                *(
                    session(i, count, rcpt)
                    for i, (count, rcpt) in enumerate(zip(plan, accounts(len(plan)), strict=True))
                )
            )

        try:
            asyncio.run(run())
        except Exception as exc:  # reported by finished()
            self.python_error.append(exc)


def message_body(payload: int) -> bytes:
    head = (
        f"From: <{SENDER}>\r\nTo: <u0@{DOMAIN}>\r\nSubject: bench\r\n"
        "Message-ID: <bench@client.example.net>\r\n\r\n"
    ).encode()
    line = b"La la la la la la la la la la la la la la la la la la la la la la la la\r\n"
    return head + (line * (payload // len(line) + 1))[:payload].rsplit(b"\r\n", 1)[0] + b"\r\n"


def run_load(server: Server, messages: int, sessions: int, reuse: bool, folder: Path,
             send_limit_s: float, limit_s: float) -> Outcome:  # fmt: skip
    """Send, and wait until every message is in its mailbox (or, for a sink, acknowledged).

    Sending stops after `send_limit_s`; then the run waits for the messages
    acknowledged so far, so the rate is still "first MAIL to the last message
    visible", over fewer messages. Past `limit_s` it gives up and counts what
    is visible by then.
    """
    load = Load(messages, sessions, reuse, folder)
    t0 = time.monotonic()
    load.start(server.port)
    target, cut, sent_at = messages, False, None
    try:
        while True:
            done = sent_at is not None or load.finished()
            now = time.monotonic()
            if done and sent_at is None:
                sent_at = now
            if server.visible is None:
                if sent_at is not None:
                    return Outcome(target, sent_at - t0, True, cut, sent_at - t0)
            elif server.visible() >= target:
                return Outcome(target, now - t0, True, cut, (sent_at or now) - t0)
            if sent_at is None and now - t0 > send_limit_s:
                load.stop()
                target, cut, sent_at = load.acknowledged(), True, now
                continue
            if now - t0 > limit_s:
                seen = server.visible() if server.visible is not None else load.acknowledged()
                return Outcome(min(seen, target), now - t0, False, cut, (sent_at or now) - t0)
            time.sleep(SAMPLE_S if server.visible is None else POLL_S)
    finally:
        load.stop()


# -- the 50 MB message -----------------------------------------------------------


def big_message(size: int) -> bytes:
    """A MIME message with one base64 attachment, `size` bytes in all."""
    head = (
        f"From: <{SENDER}>\r\nTo: <u0@{DOMAIN}>\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n--b0\r\n'
        "Content-Type: text/plain\r\n\r\nA large attachment follows.\r\n--b0\r\n"
        'Content-Type: application/octet-stream; name="big.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    tail = b"--b0--\r\n"
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    lines = (size - len(head) - len(tail)) // len(line)
    return head + line * lines + tail


@dataclass
class BigResult:
    baseline_kib: int
    peak_kib: int
    after_kib: int
    elapsed_s: float


def measure_big(folder: Path, size: int, limit_s: float) -> BigResult:
    data = big_message(size)
    with roost_server(folder, 1, 1000) as server:
        assert server.pid is not None and server.visible is not None
        pid, visible = server.pid, server.visible

        def send(message: bytes) -> None:
            with smtplib.SMTP(HOST, server.port, timeout=limit_s) as client:
                client.sendmail(SENDER, [f"u0@{DOMAIN}"], message)

        def wait_visible(count: int, deadline: float) -> None:
            while visible() < count:
                if time.monotonic() > deadline:
                    raise BenchError(f"the message was not in its mailbox within {limit_s:g} s")
                time.sleep(0.02)

        # A small message first, so that what any first message loads is in the baseline.
        send(message_body(PAYLOAD_BYTES))
        wait_visible(1, time.monotonic() + limit_s)
        time.sleep(1.0)
        baseline = proc_status(pid, "VmRSS")
        hwm_before = proc_status(pid, "VmHWM")
        failure: list[BaseException] = []

        def sender() -> None:
            try:
                send(data)
            except (OSError, smtplib.SMTPException) as exc:
                failure.append(exc)

        peak = baseline
        t0 = time.monotonic()
        thread = threading.Thread(target=sender)
        thread.start()
        while thread.is_alive() or visible() < 2:
            peak = max(peak, proc_status(pid, "VmRSS"))
            if failure:
                raise BenchError(f"sending the 50 MB message failed: {failure[0]!r}")
            if time.monotonic() - t0 > limit_s:
                raise BenchError(f"the 50 MB message was not stored within {limit_s:g} s")
            time.sleep(SAMPLE_S)
        elapsed = time.monotonic() - t0
        thread.join()
        hwm_after = proc_status(pid, "VmHWM")
        if hwm_after > hwm_before:
            peak = max(peak, hwm_after)
        time.sleep(0.5)
        return BigResult(baseline, peak, proc_status(pid, "VmRSS"), elapsed)


# -- the run ---------------------------------------------------------------------


@dataclass
class Options:
    messages: int
    sessions: int
    skip_peers: bool
    send_limit_s: float
    time_limit_s: float
    profile: Path | None = None


def fmt_outcome(outcome: Outcome | str) -> str:
    if isinstance(outcome, str):
        return outcome
    text = f"{outcome.rate:8.0f} msg/s  ({outcome.messages} in {outcome.elapsed_s:.1f} s"
    if outcome.cut:
        text += "; sending stopped at the send limit"
    if not outcome.complete:
        text += "; TIME LIMIT: the rest was not stored"
    return text + ")"


Factory = Callable[[Path], contextlib.AbstractContextManager[Server]]


def servers(opts: Options) -> tuple[dict[str, Factory], list[str]]:
    """The servers to measure, Roost first, and the peers skipped with the reason."""

    def roost(folder: Path) -> contextlib.AbstractContextManager[Server]:
        return roost_server(folder, opts.sessions, max(1000, opts.messages), opts.profile)

    def postfix(folder: Path) -> contextlib.AbstractContextManager[Server]:
        return postfix_dovecot(folder, opts.sessions)

    chosen: dict[str, Factory] = {"Roost": roost}
    skipped: list[str] = []
    if opts.skip_peers:
        return chosen, ["every peer: --skip-peers"]
    problem = peer_problem_postfix_dovecot()
    if problem:
        skipped.append(f"Postfix→Dovecot LMTP: {problem}")
    else:
        chosen["Postfix→Dovecot LMTP"] = postfix
    if SMTP_SINK is None:
        skipped.append("smtp-sink: not installed (Debian package postfix)")
    else:
        chosen["smtp-sink (discards)"] = smtp_sink_server
    chosen["aiosmtpd (discards)"] = aiosmtpd_server
    return chosen, skipped


def ratio(mine: Outcome | str | None, theirs: Outcome | str | None) -> float | None:
    if isinstance(mine, Outcome) and isinstance(theirs, Outcome) and theirs.rate > 0:
        return mine.rate / theirs.rate
    return None


def run(opts: Options) -> int:
    chosen, skipped = servers(opts)
    generator = "smtp-source" if SMTP_SOURCE else "a Python asyncio client (no smtp-source)"
    print(
        f"SMTP intake: {opts.messages} messages, {PAYLOAD_BYTES} B payload, {opts.sessions} "
        f"sessions to {opts.sessions} accounts, loopback; load from {generator}; "
        f"sending stops after {opts.send_limit_s:g} s, each workload after "
        f"{opts.time_limit_s:g} s; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, dict[str, Outcome | str]] = {name: {} for name in chosen}
    roost_hwm_kib = 0
    for mode in MODES:
        reuse = mode == "reused"
        print(f"\n({'a' if mode == 'new' else 'b'}) {MODE_TITLES[mode]}", flush=True)
        for name, factory in chosen.items():
            extra = ""
            with tempfile.TemporaryDirectory(prefix="roost-bench-smtp-") as tmp:
                folder = Path(tmp)
                try:
                    with factory(folder) as server:
                        result = run_load(
                            server,
                            opts.messages,
                            opts.sessions,
                            reuse,
                            folder,
                            opts.send_limit_s,
                            opts.time_limit_s,
                        )
                        outcome: Outcome | str = result
                        if server.pid is not None and name == "Roost":
                            hwm = proc_status(server.pid, "VmHWM")
                            roost_hwm_kib = max(roost_hwm_kib, hwm)
                            received = roost_traffic(folder).get("received", 0)
                            extra = (
                                f"  [250s at {received / result.sending_s:.0f} msg/s while sending;"
                                f" VmHWM {hwm / 1024:.0f} MB]"
                            )
                except BenchError as exc:
                    outcome = f"failed: {exc}"
            results[name][mode] = outcome
            print(f"  {name:<22} {fmt_outcome(outcome)}{extra}", flush=True)

    if len(chosen) > 1:
        print(f"\n{'ratio':<30}{'(a) new conn':>14}{'(b) reused':>14}   target")
    roost = results["Roost"]
    for name in list(chosen)[1:]:
        ratios = [ratio(roost.get(m), results[name].get(m)) for m in MODES]
        cells = "".join(f"{r:13.2f}×" if r is not None else f"{'n/a':>14}" for r in ratios)
        target = ""
        if name.startswith("Postfix"):
            met = all(r is not None and r >= TARGET_RATIO for r in ratios)
            target = f">= {TARGET_RATIO:.1f}×: {'met' if met else 'NOT met'}"
        print(f"{'Roost / ' + name:<30}{cells}   {target}")

    peak_mb = roost_hwm_kib / 1024
    verdict = "met" if 0 < peak_mb < TARGET_PEAK_MB else "NOT met"
    print(f"\nRoost peak RSS (VmHWM) in the load runs: {peak_mb:.0f} MB "
          f"(target < {TARGET_PEAK_MB} MB: {verdict})")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="roost-bench-smtp-big-") as tmp:
        try:
            big = measure_big(Path(tmp), BIG_MESSAGE_BYTES, max(opts.time_limit_s, 120))
            growth = (big.peak_kib - big.baseline_kib) / 1024
            verdict = "met" if growth < TARGET_GROWTH_MB else "NOT met"
            print(
                f"One {BIG_MESSAGE_BYTES / 1e6:.0f} MB message into Roost: RSS "
                f"{big.baseline_kib / 1024:.0f} MB before, peak {big.peak_kib / 1024:.0f} MB, "
                f"{big.after_kib / 1024:.0f} MB after; growth {growth:.1f} MB "
                f"(target < {TARGET_GROWTH_MB} MB: {verdict}); stored in {big.elapsed_s:.1f} s"
            )
        except BenchError as exc:
            print(f"One 50 MB message into Roost: failed: {exc}")

    print(
        "\nNot measured: SPF, DKIM and DMARC. Roost ran with [mailauth] check_inbound = false"
        " (and loopback is a trusted network), like the peers, which do not check them either."
    )
    for line in skipped:
        print(f"Skipped {line}")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--send-limit",
        type=float,
        default=45.0,
        help="seconds after which the load generator stops sending (default 45)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=180.0, help="seconds per workload (default 180)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run Roost under cProfile; its stats go to FILE.<workload folder> "
        "(slowed by the profiler: read where the time goes, not the figures)",
    )
    parser.add_argument("--serve-aiosmtpd", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_aiosmtpd is not None:
        serve_aiosmtpd(args.serve_aiosmtpd)
        return 0
    if args.messages < args.sessions or args.sessions < 1:
        parser.error("--messages must be at least --sessions, and --sessions at least 1")
    options = Options(
        args.messages,
        args.sessions,
        args.skip_peers,
        args.send_limit,
        args.time_limit,
        args.profile,
    )
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
