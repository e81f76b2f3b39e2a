"""Benchmark: IMAP Retrieval and POP Retrieval against fetchmail and getmail6.

Workload: one remote mailbox of N messages (5,000 by default) with the size
mix of bench/pop3.py — 90% 2-20 KB, 9% 20-500 KB, 1% of 1 MB, seeded — on
Debian's Dovecot (IMAP and POP3 on loopback, plaintext), fetched whole and
deleted there, into a local mailbox:

- Roost (`roost serve`, a fresh process, its own data folder): a manual
  external account, "retrieve now" through the API; timed from the request
  until the Spool has delivered everything into the user's INBOX (the
  queue empty), so fetching, queueing and local delivery (fsync) are all in.
- fetchmail and getmail6 (Debian's): each run once, delivering every
  message over LMTP into the same Dovecot (dovecot-lmtpd, a second user's
  Maildir): a local delivery that fsyncs as Roost's does. Timed from start
  to exit.

Before every timed run the remote mailbox is filled afresh and Dovecot's
index is built by one login that lists it, so every client meets a warm
server. The runs take turns for --rounds rounds; each client keeps its
median. Reported: seconds, messages/s and MB/s per client and protocol, and
the ratio of each peer's time to Roost's (above 1: Roost is faster;
target: at least 1).

Memory: before the mixed runs, Roost fetches --big-count messages of a
quarter of --big-mb MB, then as many of --big-mb MB, over IMAP and over
POP3; the growth of its peak RSS (VmHWM) over each fetch is printed.
Messages are written to disk as they arrive, so the larger messages must
add well under their extra size (target: a quarter of it).

Peers (Debian 12, as root; keep the daemon from starting system-wide with
policy-rc.d as NOTES.md says):

    apt-get install -y --no-install-recommends dovecot-core dovecot-imapd \\
        dovecot-pop3d dovecot-lmtpd fetchmail getmail6

Run:  .venv/bin/python bench/retrieval.py [--messages N] [--rounds N]
          [--big-count N] [--big-mb N] [--seed N] [--skip-peers]
"""

from __future__ import annotations

import argparse
import contextlib
import imaplib
import json
import os
import poplib
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from pop3 import free_port, message, proc_kib, size_mix, stop_process

HOST = "127.0.0.1"
LOCAL_USER = "bench@example.org"
REMOTE_USER = "remote@bench.test"
SINK_USER = "sink@bench.test"
PASSWORD = "bench-password"
MAIL_USER = "nobody"
DOVECOT = shutil.which("dovecot")
ROOST = [sys.executable, "-m", "roost"]
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 1800.0
POLL_S = 0.05
TARGET_RATIO = 1.0
MEMORY_TARGET = 0.25
"""Peak RSS growth over a big-message fetch, as a share of one message."""

DOVECOT_CONF = """\
instance_name = roost-bench-{tag}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = pop3 imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:~/Maildir
postmaster_address = postmaster@bench.test
hostname = bench.test
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
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"""


class BenchError(Exception):
    pass


# -- the remote (and the peers' local) server: Dovecot ------------------------------


@dataclass
class Dovecot:
    root: Path
    imap: int
    pop3: int
    lmtp: int

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def count(self, user: str) -> int:
        box = self.maildir(user)
        return sum(1 for sub in ("new", "cur") for _ in (box / sub).iterdir())

    def fill(self, bodies: list[bytes]) -> None:
        """Empty the remote mailbox (and its index) and put `bodies` in it."""
        box = self.maildir(REMOTE_USER)
        for sub in ("new", "cur", "tmp"):
            shutil.rmtree(box / sub, ignore_errors=True)
        for name in box.glob("dovecot*"):
            name.unlink()
        nobody = pwd.getpwnam(MAIL_USER)
        for sub in ("new", "cur", "tmp"):
            (box / sub).mkdir()
            os.chown(box / sub, nobody.pw_uid, nobody.pw_gid)
        stamp = int(time.time())
        for number, data in enumerate(bodies):
            path = box / "new" / f"{stamp}.M{number:07d}P1.bench,S={len(data)}"
            path.write_bytes(data)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)

    def empty_sink(self) -> None:
        box = self.maildir(SINK_USER)
        for sub in ("new", "cur"):
            for path in (box / sub).iterdir():
                path.unlink()

    def warm(self) -> None:
        """Dovecot builds its index at the first look: let no client pay for it."""
        client = imaplib.IMAP4(HOST, self.imap)
        client.login(REMOTE_USER, PASSWORD)
        client.select("INBOX", readonly=True)
        client.logout()
        pop = poplib.POP3(HOST, self.pop3, timeout=60)
        pop.user(REMOTE_USER)
        pop.pass_(PASSWORD)
        pop.uidl()
        pop.quit()


@contextlib.contextmanager
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None or not Path("/usr/lib/dovecot/lmtp").exists():
        raise BenchError("Dovecot with IMAP, POP3 and LMTP is needed (see the docstring)")
    nobody = pwd.getpwnam(MAIL_USER)
    root = Path(tempfile.mkdtemp(prefix="roost-bench-retrieval-"))
    root.chmod(0o755)
    ports = {"imap": free_port(), "pop3": free_port(), "lmtp": free_port()}
    try:
        for user in (REMOTE_USER, SINK_USER):
            for sub in ("cur", "new", "tmp"):
                (root / "mail" / user / "Maildir" / sub).mkdir(parents=True)
        for path in [root / "mail", *(root / "mail").rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        (root / "users").write_text(
            "".join(
                f"{u}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{root / 'mail' / u}::\n"
                for u in (REMOTE_USER, SINK_USER)
            )
        )
        conf = root / "dovecot.conf"
        conf.write_text(DOVECOT_CONF.format(root=root, tag=root.name, **ports))
        try:
            # Output to a file: the daemon's children inherit it, and a pipe
            # would never close.
            with (root / "commands.log").open("ab") as log:
                subprocess.run(
                    [DOVECOT, "-c", str(conf)], check=True, stdout=log, stderr=log, timeout=60
                )
            server = Dovecot(root, **ports)
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    server.warm()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield server
        finally:
            with (root / "commands.log").open("ab") as log:
                subprocess.run(
                    [DOVECOT, "-c", str(conf), "stop"],
                    check=False,
                    stdout=log,
                    stderr=log,
                    timeout=60,
                )
    finally:
        time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)


# -- Roost ---------------------------------------------------------------------------


@dataclass
class Roost:
    process: subprocess.Popen[bytes]
    api: httpx.Client
    ids: dict[str, int]

    def fetch(self, protocol: str, expect: int) -> float:
        """Retrieve now; seconds until every message is delivered."""
        path = f"/api/v1/retrieval/{LOCAL_USER}/{self.ids[protocol]}"
        before = self.api.get(path).json()
        started = time.perf_counter()
        self.api.post(f"{path}/run").raise_for_status()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (now := self.api.get(path).json())["last_attempt_at"] == before["last_attempt_at"]:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BenchError(f"Roost: the {protocol} fetch did not end")
            time.sleep(POLL_S)
        if now["last_error"] or now["last_fetched"] != expect:
            raise BenchError(
                f"Roost {protocol}: {now['last_fetched']} fetched, {now['last_error']}"
            )
        while True:
            queue = self.api.get("/api/v1/queue/stats").json()["queue"]
            if queue["queued"] + queue["deferred"] == 0:
                return time.perf_counter() - started
            if time.monotonic() > deadline:
                raise BenchError(f"Roost: the queue did not empty: {queue}")
            time.sleep(POLL_S)


def roost_cli(config: Path, *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        [*ROOST, "--config", str(config), *args],
        input=stdin.encode() if stdin else None,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"roost {' '.join(args)}: {done.stderr.decode(errors='replace')}")


@contextlib.contextmanager
def roost(folder: Path, peer: Dovecot) -> Iterator[Roost]:
    config = folder / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        "[smtp]\nmx_listen = []\nsubmission_listen = []\nsubmissions_listen = []\n"
        '[pop]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        '[imap]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        '[xmpp]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
        "[spool]\npoll_interval_s = 0.05\n"
        "[retrieval]\nmax_messages_per_run = 1000000\nidle_max_connections = 0\n"
        "max_message_bytes = 1073741824\n"
    )
    roost_cli(config, "domain", "add", "example.org")
    roost_cli(config, "user", "add", LOCAL_USER, "--password-stdin", stdin="local-password\n")
    for protocol, port in (("imap", peer.imap), ("pop3", peer.pop3)):
        roost_cli(
            config,
            *("retrieval", "add", LOCAL_USER, "--protocol", protocol, "--host", HOST),
            *("--port", str(port), "--tls", "none", "--username", REMOTE_USER),
            *("--password-stdin", "--manual"),
            stdin=PASSWORD + "\n",
        )
    runtime = folder / "data" / "run" / "api.json"
    process = subprocess.Popen(
        [*ROOST, "--config", str(config), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "roost.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not runtime.exists():
            if time.monotonic() > deadline or process.poll() is not None:
                raise BenchError("Roost did not start (see roost.log)")
            time.sleep(POLL_S)
        info = json.loads(runtime.read_text())
        headers = {"Authorization": f"Bearer {info['token']}"}
        with httpx.Client(base_url=info["url"], headers=headers, timeout=60) as api:
            found = api.get("/api/v1/retrieval").json()
            ids = {r["protocol"]: r["id"] for r in found}
            yield Roost(process, api, ids)
    finally:
        stop_process(process)


# -- the peers -----------------------------------------------------------------------


def fetchmail(folder: Path, peer: Dovecot, protocol: str) -> Callable[[], None]:
    rc = folder / f"fetchmailrc-{protocol}"
    port = peer.imap if protocol == "imap" else peer.pop3
    rc.write_text(
        "set no syslog\n"
        f"poll {HOST} service {port} protocol {'IMAP' if protocol == 'imap' else 'POP3'} "
        "auth password\n"
        f'  user "{REMOTE_USER}" password "{PASSWORD}" is "{SINK_USER}" here\n'
        f'  smtphost "{HOST}/{peer.lmtp}" lmtp smtpname "{SINK_USER}"\n'
        '  sslproto "" fetchall nokeep\n'
    )
    rc.chmod(0o600)
    home = folder / "fetchmail-home"
    home.mkdir(exist_ok=True)

    def run() -> None:
        subprocess.run(
            ["fetchmail", "-f", str(rc), "--nodetach"],
            env={**os.environ, "FETCHMAILHOME": str(home)},
            check=True,
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
        )

    return run


def getmail(folder: Path, peer: Dovecot, protocol: str) -> Callable[[], None]:
    home = folder / f"getmail-{protocol}"
    home.mkdir(exist_ok=True)
    kind = "SimpleIMAPRetriever" if protocol == "imap" else "SimplePOP3Retriever"
    port = peer.imap if protocol == "imap" else peer.pop3
    extra = 'mailboxes = ("INBOX",)\n' if protocol == "imap" else ""
    (home / "getmailrc").write_text(
        f"[retriever]\ntype = {kind}\nserver = {HOST}\nport = {port}\n"
        f"username = {REMOTE_USER}\npassword = {PASSWORD}\n{extra}"
        f"[destination]\ntype = MDA_lmtp\nhost = {HOST}\nport = {peer.lmtp}\n"
        f"override = {SINK_USER}\n"
        "[options]\ndelete = true\nread_all = true\nverbose = 0\n"
    )

    def run() -> None:
        subprocess.run(
            ["getmail", f"--getmaildir={home}", "--rcfile=getmailrc"],
            check=True,
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
        )

    return run


# -- the runs ------------------------------------------------------------------------


def timed_peer(peer: Dovecot, run: Callable[[], None], count: int, what: str) -> float:
    peer.empty_sink()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    left, delivered = peer.count(REMOTE_USER), peer.count(SINK_USER)
    if (left, delivered) != (0, count):
        raise BenchError(f"{what}: {delivered} of {count} delivered, {left} left on the server")
    return seconds


def memory_check(server: Roost, peer: Dovecot, count: int, megabytes: int) -> list[str]:
    """Peak RSS growth over a fetch of `count` messages of a quarter of
    `megabytes`, then of `megabytes`: what the larger ones add must stay
    under MEMORY_TARGET of the difference in size (the first fetch also
    pays for what any first fetch allocates)."""
    lines = []
    for protocol in ("imap", "pop3"):
        growth = []
        for size in (megabytes // 4, megabytes):
            body = message(0, size * 1024 * 1024)
            peer.fill([body.replace(b"message 0", f"message {n}".encode()) for n in range(count)])
            peer.warm()
            before = proc_kib(server.process.pid, "VmHWM")
            server.fetch(protocol, count)
            growth.append(proc_kib(server.process.pid, "VmHWM") - before)
            lines.append(
                f"  {protocol:5} {count} x {size:3} MB: peak RSS grew {growth[-1] / 1024:5.1f} MB"
            )
        share = growth[-1] / ((megabytes - megabytes // 4) * 1024)
        verdict = "ok" if share <= MEMORY_TARGET else "ABOVE TARGET"
        lines.append(
            f"  {protocol:5} the larger messages added {share:.2f} of their extra size "
            f"(target <= {MEMORY_TARGET}) {verdict}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--big-count", type=int, default=4)
    parser.add_argument("--big-mb", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise BenchError("run as root: Dovecot is started with its own config")
    sizes = size_mix(args.messages, args.seed)
    bodies = [message(n, size) for n, size in enumerate(sizes, start=1)]
    megabytes = sum(len(b) for b in bodies) / 1e6
    print(f"{args.messages} messages, {megabytes:.1f} MB, {args.rounds} round(s)")
    times: dict[tuple[str, str], list[float]] = {}
    with dovecot() as peer, tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        folder = Path(tmp)
        with roost(folder, peer) as server:
            print("memory (Roost, big messages):")
            for line in memory_check(server, peer, args.big_count, args.big_mb):
                print(line)
            rss_before = proc_kib(server.process.pid, "VmHWM")
            for round_ in range(args.rounds):
                for protocol in ("imap", "pop3"):
                    clients: list[tuple[str, Callable[[], float]]] = [
                        ("roost", lambda p=protocol: server.fetch(p, args.messages)),
                    ]
                    if not args.skip_peers:
                        for name, make in (("fetchmail", fetchmail), ("getmail6", getmail)):
                            run = make(folder, peer, protocol)
                            clients.append(
                                (
                                    name,
                                    lambda r=run, n=name: timed_peer(peer, r, args.messages, n),
                                )
                            )
                    for name, timed in clients:
                        peer.fill(bodies)
                        peer.warm()
                        seconds = timed()
                        times.setdefault((name, protocol), []).append(seconds)
                        print(
                            f"  round {round_ + 1} {protocol:5} {name:9} {seconds:7.2f} s",
                            flush=True,
                        )
            rss_after = proc_kib(server.process.pid, "VmHWM")
    print(
        f"Roost peak RSS: {rss_before / 1024:.0f} MB before the mixed runs, "
        f"{rss_after / 1024:.0f} MB after"
    )
    print(f"\n{'client':10} {'proto':5} {'seconds':>8} {'msg/s':>8} {'MB/s':>7} {'peer/roost':>10}")
    failed = False
    for protocol in ("imap", "pop3"):
        mine = statistics.median(times[("roost", protocol)])
        for name in ("roost", "fetchmail", "getmail6"):
            if (name, protocol) not in times:
                continue
            seconds = statistics.median(times[(name, protocol)])
            ratio = seconds / mine
            mark = ""
            if name != "roost":
                ok = ratio >= TARGET_RATIO
                failed |= not ok
                mark = f"{ratio:10.2f} {'ok' if ok else 'BELOW TARGET'}"
            print(
                f"{name:10} {protocol:5} {seconds:8.2f} {args.messages / seconds:8.0f} "
                f"{megabytes / seconds:7.1f} {mark}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/retrieval.py: {exc}", file=sys.stderr)
        sys.exit(2)
