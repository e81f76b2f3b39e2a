"""Benchmark: IMAP SEARCH BODY on 100,000 messages, Roost with its index
against Dovecot without FTS and Dovecot with fts-xapian, in one run.

Corpus (generated, seeded, never held in memory whole): `--messages`
messages (100,000) in INBOX and `--small` (1,000) in a folder `Small` of
the same account, which shares Roost's index. Sizes and vocabulary follow
real mail more than bench/imap.py's corpus does: a vocabulary of about
20,000 word forms drawn by Zipf's law (a hundred common English words on
top, `budget` among them), body text of log-normal length (median about
2.5 KB), a quarter multipart/alternative with an HTML part, a tenth with a
base64 attachment of log-normal size (median about 60 KB). A rare word
(`zephyrine`: 5 messages in INBOX, 2 in Small) and a hyphenated token
(`JDG2-04711`: 3 and 1) are put into the text of seeded messages. Every
server gets the same bytes.

Measured, on 127.0.0.1:

- Roost's indexing: from the IMAP greeting until `GET /api/v1/index` shows
  no message waiting; messages per second, and the index's size on disk
  (SQLite's dbstat over the index's tables) in all and per message;
- Dovecot with fts-xapian: `doveadm index` of both folders, timed, and the
  size of its xapian-indexes folder;
- ``UID SEARCH BODY <needle>`` for the rare word, a common word and the
  hyphenated token in each folder, on one connection: `--rounds` times on
  Roost and Dovecot with fts-xapian, `--peer-rounds` times on Dovecot
  without FTS (each search reads every message), after one untimed run;
  p50 and p99 latency, hit counts, and the ratio of each peer's p50 to
  Roost's. Dovecot without FTS is the reference for the hit counts.

Targets (issue 12): rare word p50 under 10 ms and p99 under 100 ms, exact hit
counts, indexing at least 1,000 messages per second.

Needs (the script installs nothing): root, Debian's dovecot-core and
dovecot-imapd (see bench/imap.py), and for the third server
dovecot-fts-xapian (`apt-get install dovecot-fts-xapian`, with a
policy-rc.d that exits 101 first: see NOTES.md). A peer that is missing is
reported as skipped. About 3 GB of disk per server and 25 minutes at the
default sizes; `--messages 5000` for a quick run.

Run:  .venv/bin/python bench/search.py [--messages N] [--small N] [--rounds N]
          [--peer-rounds N] [--skip-peers] [--skip-xapian] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import os
import pwd
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

import imap_peers
from imap_peers import (
    ADDRESS,
    DOVECOT,
    HOST,
    MAIL_USER,
    PASSWORD,
    STAGE_BATCH,
    TRACE,
    BenchError,
    Server,
    certificate,
    dovecot_problem,
    free_port,
)

IO_TIMEOUT_S = 600.0
INDEX_TIMEOUT_S = 3600.0
RARE = "zephyrine"
TOKEN = "JDG2-04711"
COMMON = "budget"
SMALL = "Small"
TARGET_P50_MS = 10.0
TARGET_P99_MS = 100.0
TARGET_RATE = 1000.0
XAPIAN_PLUGIN = Path("/usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so")
_COMMON = (
    "the of and to a in is that for it as was with be by on not he this are or his from at"
    " which but have an they you were her she there one all we their been has will would"
    " who more if no when what so out up said about other into than its time only could"
    " new them these may some two first any then do also like my now over such our man"
    " me even most made after well budget meeting report project review team plan"
    " schedule contract invoice"
)
COMMON_WORDS = tuple(_COMMON.split())
_SYLLABLES = (
    "ka ro mi ta ne lo su vi da re po li ma to ni sa be ko ru fe"
    " ga hu ze wi ly cha sto pra tre gno qui bla dre fri glo pla"
)
SYLLABLES = tuple(_SYLLABLES.split())
VOCABULARY_SIZE = 20_000


# -- the corpus ---------------------------------------------------------------------


class Corpus:
    """Messages made on demand from (seed, number): the same bytes for every
    server, and never all in memory."""

    def __init__(self, count: int, seed: int, rare: int, tokens: int, prefix: str) -> None:
        self.count = count
        self.seed = seed
        self.prefix = prefix
        vocab = random.Random(seed)
        words = list(COMMON_WORDS)
        seen = set(words)
        while len(words) < VOCABULARY_SIZE:
            word = "".join(vocab.choices(SYLLABLES, k=vocab.randint(1, 4)))
            if word not in seen and RARE not in word:
                seen.add(word)
                words.append(word)
        self.words = words
        self.weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
        pick = random.Random(seed + 1)
        self.inserts: dict[int, list[str]] = {}
        for word, times in ((RARE, rare), (TOKEN, tokens)):
            for number in pick.sample(range(count), min(times, count)):
                self.inserts.setdefault(number, []).append(word)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[bytes]:
        return (self.message(number) for number in range(self.count))

    def _text(self, rng: random.Random, octets: int, extra: list[str]) -> bytes:
        lines, size = [], 0
        while size < octets:
            count = rng.randint(6, 14)
            line = " ".join(rng.choices(self.words, cum_weights=self.weights, k=count))
            line = line.capitalize() + "."
            lines.append(line)
            size += len(line) + 2
        if extra:
            lines[-1] = lines[-1][:-1] + " " + " ".join(extra) + "."
        return ("\r\n".join(lines) + "\r\n").encode()

    def message(self, number: int) -> bytes:
        rng = random.Random(self.seed * 1_000_003 + number)
        extra = self.inserts.get(number, [])
        subject = " ".join(rng.choices(self.words, cum_weights=self.weights, k=rng.randint(2, 7)))
        sender = rng.choice(self.words[100:2000])
        head = (
            f"From: {sender.title()} <{sender}@example.net>\r\nTo: Bench <{ADDRESS}>\r\n"
            f"Date: {rng.randint(1, 28)} {rng.choice(('Jan', 'Apr', 'Jul', 'Oct'))} 2025 "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 +0000\r\n"
            f"Message-ID: <{self.prefix}{number}@bench.example.net>\r\n"
            f"Subject: {subject.capitalize()}\r\nMIME-Version: 1.0\r\n"
        )
        octets = min(200_000, int(rng.lognormvariate(math.log(2_500), 0.8)))
        text = self._text(rng, octets, extra)
        kind = rng.random()
        if kind < 0.65:
            return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode() + text
        boundary = f"b{self.prefix}{number}"
        if kind < 0.9:
            html = (
                b"<html><body><p>" + text.replace(b"\r\n", b"</p>\r\n<p>") + b"</p></body></html>"
            )
            parts = [
                (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n", text),
                (b"Content-Type: text/html; charset=us-ascii\r\n\r\n", html + b"\r\n"),
            ]
            subtype = "alternative"
        else:
            size = min(5_000_000, int(rng.lognormvariate(math.log(60_000), 1.0)))
            blob = base64.encodebytes(rng.randbytes(size))
            attachment = (
                b"Content-Type: application/pdf; name=report.pdf\r\n"
                b"Content-Disposition: attachment; filename=report.pdf\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
            )
            parts = [
                (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n", text),
                (attachment, blob.replace(b"\n", b"\r\n")),
            ]
            subtype = "mixed"
        out = (head + f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n').encode()
        for headers, content in parts:
            out += f"--{boundary}\r\n".encode() + headers + content
        return out + f"--{boundary}--\r\n".encode()


def batches(messages: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    iterator = iter(messages)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# -- Roost --------------------------------------------------------------------------


def _fill_roost(config_path: Path, folders: dict[str, Corpus]) -> int:
    """The account, then each folder's messages as local delivery puts them;
    returns the octets stored."""
    from roost.core.config import load
    from roost.local_api import local_api
    from roost.proto.mime import parse_bytes
    from roost.store.store import open_store

    async def work() -> int:
        config = load(config_path)
        async with local_api(config) as api:
            (await api.post("/api/v1/domains", json={"name": "example.org"})).raise_for_status()
            response = await api.post(
                "/api/v1/accounts", json={"address": ADDRESS, "password": PASSWORD}
            )
            response.raise_for_status()
        store = await open_store(config)
        octets = 0
        try:
            account = await store.read(store.directory.account, ADDRESS)
            for name, corpus in folders.items():
                if name == "INBOX":
                    box = await store.read(store.mail.mailbox, account.id, name)
                else:
                    box = await store.write(store.mail.create_mailbox, account.id, name)
                for batch in batches(corpus, STAGE_BATCH):
                    staged = await store.blobs.stage_many(batch)
                    structures = [parse_bytes(data).to_json() for data in batch]
                    await store.write(imap_peers._append, store, box.id, staged, structures)
                    octets += sum(len(data) for data in batch)
        finally:
            await store.close()
        return octets

    return asyncio.run(work())


@contextlib.contextmanager
def roost_server(
    folder: Path, folders: dict[str, Corpus], cert: tuple[Path, Path]
) -> Iterator[Server]:
    port, tls_port = free_port(), free_port()
    config = imap_peers._roost_config(folder, port, tls_port, cert)
    octets = _fill_roost(config, folders)
    print(f"corpus: {sum(map(len, folders.values())):,} messages, {octets / 1e6:,.0f} MB")
    with imap_peers.serve_roost(folder, config, port, tls_port) as server:
        yield server


def index_size(data: Path) -> int:
    """Bytes of the index's tables and indexes (SQLite's dbstat)."""
    with sqlite3.connect(f"file:{data / 'roost.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%' "
            "OR name LIKE 'ix_search%' OR name LIKE 'sqlite_autoindex_search%'"
        ).fetchone()
    return int(row[0] or 0)


def wait_indexed(folder: Path, messages: int) -> float:
    """Seconds until Roost's index holds every message."""
    path = folder / "data" / "run" / "api.json"
    start = time.perf_counter()
    while not path.exists():  # written once the web listener is up
        if time.perf_counter() - start > IO_TIMEOUT_S:
            raise BenchError(f"{path} did not appear")
        time.sleep(0.05)
    runtime = json.loads(path.read_text())
    headers = {"Authorization": f"Bearer {runtime['token']}"}
    start = time.perf_counter()
    with httpx.Client(base_url=runtime["url"], headers=headers, timeout=IO_TIMEOUT_S) as api:
        while True:
            status = api.get("/api/v1/index").raise_for_status().json()
            if status["messages"] >= messages and status["pending"] == 0:
                return time.perf_counter() - start
            if time.perf_counter() - start > INDEX_TIMEOUT_S:
                raise BenchError(f"indexing did not finish: {status}")
            time.sleep(0.2)


# -- Dovecot ------------------------------------------------------------------------

XAPIAN_CONF = """
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}
"""


def dovecot_xapian_problem() -> str | None:
    problem = dovecot_problem()
    if problem:
        return problem
    if not XAPIAN_PLUGIN.exists():
        return "not installed: dovecot-fts-xapian"
    return None


@contextlib.contextmanager
def dovecot_server(
    folder: Path, folders: dict[str, Corpus], cert: tuple[Path, Path], *, xapian: bool
) -> Iterator[tuple[Server, Path]]:
    """Dovecot on a Maildir holding the folders (Maildir++: `.Small`);
    yields the server and its configuration file (for doveadm)."""
    assert DOVECOT is not None
    nobody = pwd.getpwnam(MAIL_USER)
    folder.chmod(0o755)
    home = folder / "mail" / "bench"
    stamp = int(time.time())
    for name, corpus in folders.items():
        maildir = home / "Maildir" / ("" if name == "INBOX" else f".{name}")
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for number, body in enumerate(corpus, start=1):
            data = TRACE + body
            stored = data.replace(b"\r\n", b"\n")  # as Dovecot's own delivery stores it
            file = f"{stamp}.M{number:06d}P1.bench,S={len(stored)},W={len(data)}:2,"
            (maildir / "cur" / file).write_bytes(stored)
    for path in [folder / "mail", *(folder / "mail").rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (folder / "users").write_text(
        f"{ADDRESS}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n"
    )
    port, tls_port = free_port(), free_port()
    text = imap_peers.DOVECOT_CONF
    if xapian:
        text = text.replace("$mail_plugins zlib", "$mail_plugins zlib fts fts_xapian", 1)
    conf = folder / "dovecot.conf"
    conf.write_text(
        (XAPIAN_CONF if xapian else "")
        + text.format(
            root=folder,
            host=HOST,
            port=port,
            tls_port=tls_port,
            tag=folder.name,
            cert=cert[0],
            key=cert[1],
            limit=100,
        )
    )

    with imap_peers.dovecot_running(folder, conf, port, INDEX_TIMEOUT_S) as pid:
        yield Server("Dovecot+xapian" if xapian else "Dovecot", port, tls_port, pid), conf


def doveadm_index(conf: Path) -> float:
    """Seconds `doveadm index` takes over every folder."""
    doveadm = shutil.which("doveadm")
    if doveadm is None:
        raise BenchError("doveadm not found (dovecot-core)")
    start = time.perf_counter()
    done = subprocess.run(
        [doveadm, "-c", str(conf), "index", "-u", ADDRESS, "*"],
        capture_output=True,
        timeout=INDEX_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise BenchError(f"doveadm index: {done.stderr.decode(errors='replace')[-300:]}")
    return time.perf_counter() - start


def folder_octets(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- the client ---------------------------------------------------------------------


class Client:
    """A raw IMAP client: one command at a time, the tagged reply read whole."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT_S)
        self.buf = b""
        self.tag = 0
        self._line()  # greeting
        self.command(f'LOGIN "{ADDRESS}" "{PASSWORD}"')

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("the server closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def command(self, text: str) -> list[bytes]:
        self.tag += 1
        tag = f"a{self.tag}".encode()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise BenchError(f"{text}: {line.decode(errors='replace')}")
                return lines
            lines.append(line)

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True, slots=True)
class Result:
    hits: int
    p50_ms: float
    p99_ms: float


def search(server: Server, mailbox: str, needle: str, rounds: int) -> Result:
    """UID SEARCH BODY needle in one folder, after one untimed run."""
    client = Client(server.port)
    try:
        client.command(f"SELECT {mailbox}")
        command = f'UID SEARCH BODY "{needle}"'
        first = client.command(command)
        hits = sum(len(line.split()) - 2 for line in first if line.startswith(b"* SEARCH"))
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            client.command(command)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        client.close()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return Result(hits, statistics.median(times), p99)


NEEDLES = (("rare word", RARE), ("common word", COMMON), ("hyphenated", TOKEN))


def search_all(
    server: Server, folders: Iterable[str], rounds: int
) -> dict[tuple[str, str], Result]:
    return {
        (box, name): search(server, box, needle, rounds)
        for box in folders
        for name, needle in NEEDLES
    }


# -- the run ------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--peer-rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-xapian", action="store_true")
    args = parser.parse_args()
    folders = {
        "INBOX": Corpus(args.messages, args.seed, rare=5, tokens=3, prefix="i"),
        SMALL: Corpus(args.small, args.seed + 7, rare=2, tokens=1, prefix="s"),
    }
    total = args.messages + args.small
    results: dict[str, dict[tuple[str, str], Result]] = {}
    with tempfile.TemporaryDirectory(prefix="roost-bench-search-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # Dovecot's unprivileged processes walk through it
        cert = certificate(root)
        folder = root / "roost"
        folder.mkdir()
        with roost_server(folder, folders, cert) as roost:
            seconds = wait_indexed(folder, total)
            size = index_size(folder / "data")
            print(
                f"Roost indexing: {total:,} messages in {seconds:.1f} s = "
                f"{total / seconds:,.0f} msg/s (target {TARGET_RATE:,.0f}); "
                f"index {size / 1e6:,.0f} MB on disk, {size / total / 1024:.1f} KiB per message"
            )
            results["Roost"] = search_all(roost, folders, args.rounds)
        free_disk(folder)
        peers = [("Dovecot", False, args.peer_rounds), ("Dovecot+xapian", True, args.rounds)]
        for name, xapian, rounds in peers:
            if args.skip_peers or (xapian and args.skip_xapian):
                print(f"{name}: skipped (asked)")
                continue
            problem = dovecot_xapian_problem() if xapian else dovecot_problem()
            if problem:
                print(f"{name}: skipped ({problem})")
                continue
            folder = root / name.replace("+", "-").lower()
            folder.mkdir()
            with dovecot_server(folder, folders, cert, xapian=xapian) as (server, conf):
                if xapian:
                    seconds = doveadm_index(conf)
                    size = sum(
                        folder_octets(path)
                        for path in (folder / "mail").rglob("*xapian*")
                        if path.is_dir()
                    )
                    print(
                        f"{name} indexing: {total:,} messages in {seconds:.1f} s = "
                        f"{total / seconds:,.0f} msg/s; index {size / 1e6:,.0f} MB, "
                        f"{size / total / 1024:.1f} KiB per message"
                    )
                results[name] = search_all(server, folders, rounds)
            free_disk(folder)
    return report(results, args)


def free_disk(path: Path) -> None:
    """Free the disk between servers (three copies of the corpus are a lot)."""
    shutil.rmtree(path, ignore_errors=True)


def report(results: dict[str, dict[tuple[str, str], Result]], args: argparse.Namespace) -> int:
    sizes = {"INBOX": args.messages, SMALL: args.small}
    print(f"\nUID SEARCH BODY; rounds: Roost and xapian {args.rounds}, Dovecot {args.peer_rounds}")
    print(f"{'folder':<14} {'query':<12} {'server':<15} {'hits':>6} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'p50 / Roost':>12}")  # fmt: skip
    ok = True
    for box, count in sizes.items():
        for name, _needle in NEEDLES:
            ours = results["Roost"][(box, name)]
            reference = results.get("Dovecot", {}).get((box, name))
            for server, by_query in results.items():
                got = by_query[(box, name)]
                ratio = got.p50_ms / ours.p50_ms if ours.p50_ms else math.inf
                mark = ""
                if reference is not None and got.hits != reference.hits:
                    mark = "  hits DIFFER from Dovecot without FTS"
                    ok &= server != "Roost"
                print(
                    f"{box + f' ({count:,})':<14} {name:<12} {server:<15} {got.hits:>6} "
                    f"{got.p50_ms:>9.2f} {got.p99_ms:>9.2f} {ratio:>11.1f}x{mark}"
                )
    rare = results["Roost"][("INBOX", "rare word")]
    met = rare.p50_ms < TARGET_P50_MS and rare.p99_ms < TARGET_P99_MS
    print(
        f"rare word in INBOX: p50 {rare.p50_ms:.2f} ms (target < {TARGET_P50_MS:g}), "
        f"p99 {rare.p99_ms:.2f} ms (target < {TARGET_P99_MS:g}): {'met' if met else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
