"""Benchmark: IMAP SEARCH BODY, Roost with its index against Dovecot without FTS.

Corpus: bench/imap.py's seeded corpus (plain, multipart/alternative and
messages with a PDF attachment; a vocabulary of 28 common words), with a rare
word (`zephyrine`, in 5 messages) and a hyphenated token (`JDG2-04711`, in 3)
put into the text of seeded messages. Both servers get the same bytes
(bench/imap_peers.py).

Measured, on 127.0.0.1:

- Roost's indexing: from the IMAP greeting until `GET /api/v1/index` shows
  no message waiting; messages per second, and the pages of the index's
  tables (SQLite's dbstat: the index's size on disk);
- ``UID SEARCH BODY <needle>`` for the rare word, a common word and the
  hyphenated token, --rounds times each (after one untimed run) on one
  connection: p50 and p99 latency, and the hit counts of both servers,
  which must be equal.

Targets (issue 12): rare word p50 under 10 ms and p99 under 100 ms, exact hit
counts, indexing at least 1,000 messages per second.

Not measured yet: the same queries in a 1,000-message mailbox sharing the
index, and Dovecot with fts-xapian (Debian's dovecot-fts-xapian).

Run:  .venv/bin/python bench/search.py [--messages N] [--rounds N] [--skip-peers] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from imap import corpus
from imap_peers import (
    ADDRESS,
    HOST,
    PASSWORD,
    BenchError,
    Server,
    certificate,
    dovecot_problem,
    dovecot_server,
    roost_server,
)

IO_TIMEOUT_S = 300.0
INDEX_TIMEOUT_S = 3600.0
RARE = "zephyrine"
TOKEN = "JDG2-04711"
COMMON = "budget"
TARGET_P50_MS = 10.0
TARGET_P99_MS = 100.0
TARGET_RATE = 1000.0


def seeded_corpus(count: int, seed: int) -> list[bytes]:
    messages = corpus(count, seed)
    rng = random.Random(seed + 1)
    for word, times in ((RARE, 5), (TOKEN, 3)):
        for index in rng.sample(range(count), min(times, count)):
            # Into the last text line of the first part: before any boundary.
            data = messages[index]
            cut = data.index(b".\r\n", data.index(b"\r\n\r\n"))
            messages[index] = data[:cut] + f" {word}".encode() + data[cut:]
    return messages


class Client:
    """A raw IMAP client: one command at a time, the tagged reply read whole."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT_S)
        self.buf = b""
        self.tag = 0
        self._line()  # greeting
        self.command(f'LOGIN "{ADDRESS}" "{PASSWORD}"')
        self.command("SELECT INBOX")

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


def search(server: Server, needle: str, rounds: int) -> tuple[int, float, float]:
    """(hits, p50 ms, p99 ms) of UID SEARCH BODY needle."""
    client = Client(server.port)
    try:
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
    return hits, statistics.median(times), p99


def index_size(data: Path) -> int:
    """Bytes of the index's tables (SQLite's dbstat), read-only beside the server."""
    with sqlite3.connect(f"file:{data / 'roost.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%'").fetchone()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    messages = seeded_corpus(args.messages, args.seed)
    needles = (("rare word", RARE), ("common word", COMMON), ("hyphenated token", TOKEN))
    results: dict[str, dict[str, tuple[int, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="roost-bench-search-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # Dovecot's unprivileged processes walk through it
        cert = certificate(root)
        folder = root / "roost"
        folder.mkdir()
        with roost_server(folder, messages, cert) as roost:
            seconds = wait_indexed(folder, len(messages))
            data = folder / "data"
            print(
                f"Roost indexing: {len(messages)} messages in {seconds:.1f} s = "
                f"{len(messages) / seconds:,.0f} msg/s (target {TARGET_RATE:,.0f}); "
                f"index {index_size(data) / 1e6:,.0f} MB on disk"
            )
            results["Roost"] = {name: search(roost, n, args.rounds) for name, n in needles}
        problem = None if not args.skip_peers else "--skip-peers"
        problem = problem or dovecot_problem()
        if problem:
            print(f"Dovecot: skipped ({problem})")
        else:
            folder = root / "dovecot"
            folder.mkdir()
            with dovecot_server(folder, messages, cert) as dovecot:
                results["Dovecot"] = {name: search(dovecot, n, args.rounds) for name, n in needles}
    print(f"\nUID SEARCH BODY, {len(messages)} messages, {args.rounds} rounds")
    print(f"{'query':<18} {'server':<8} {'hits':>6} {'p50 ms':>9} {'p99 ms':>9}")
    for name, _needle in needles:
        for server, by_query in results.items():
            hits, p50, p99 = by_query[name]
            print(f"{name:<18} {server:<8} {hits:>6} {p50:>9.2f} {p99:>9.2f}")
    ok = True
    if "Dovecot" in results:
        for name, _needle in needles:
            same = results["Roost"][name][0] == results["Dovecot"][name][0]
            ok &= same
            print(f"{name}: hit counts {'equal' if same else 'DIFFER'}")
    _, p50, p99 = results["Roost"]["rare word"]
    print(
        f"rare word: p50 {p50:.2f} ms (target < {TARGET_P50_MS}), "
        f"p99 {p99:.2f} ms (target < {TARGET_P99_MS})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
