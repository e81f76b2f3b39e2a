"""Store benchmark: durable appends and flag listing, on SQLite and PostgreSQL.

Workload: N distinct 2 KB RFC 5322 messages appended into one mailbox, each
with a flag and a keyword row, its blob durable (staged) before the commit
that references it:

  (a) sequential, one message per commit: stage, then a write of 1;
  (b) batches of 32: stage 32 blobs together (stage_many), then one write of the 32;
  (c) 32 concurrent writers, each staging its own blob and writing 1, so the
      SQLite writer groups them (commit_group_max is set to 32 here, so no
      commit holds more than 32 messages).

Then the flags of the N messages of one mailbox are listed (median of 5).

Peer: the same durable work without Roost, on the standard library alone
(blob files written, fsynced, renamed and their folder fsynced from a pool
of threads, then one sqlite3 commit per 32 messages in WAL with
synchronous=FULL). Its rate is the floor of what this machine allows; Roost's
ratio to it is printed.

Variants (a) and (c), one message per unit of work, run on at most
--single-max messages (3,000 by default) to keep the whole run near three
minutes; their rates hardly depend on the count. (b) and the listing use N.

Run:  .venv/bin/python bench/store.py [--messages N] [--single-max N] [--no-pg] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import sqlalchemy

from roost.core import config as config_mod
from roost.store.db import Tx
from roost.store.store import Store, open_store
from roost.store.types import Flag, Mailbox, NewMessage, StagedBlob

PG_URL = os.environ.get("ROOST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_CONNECT_TIMEOUT_S = 3.0
MESSAGE_OCTETS = 2048
BATCH_MESSAGES = 32
WRITERS = 32
TARGET_APPENDS_PER_S = 2000.0
LIST_RUNS = 5
SINGLE_MAX = 3000  # (a) and (c) cost a unit per message; more only lengthens the run
PEER_IO_THREADS = 16  # as roost.store.blobs.IO_THREADS
KEYWORDS = frozenset({"$Label1"})

WORDS = (
    "the",
    "quarterly",
    "report",
    "attached",
    "meeting",
    "agenda",
    "please",
    "review",
    "before",
    "friday",
    "thanks",
    "regards",
    "invoice",
    "shipment",
    "delayed",
    "warehouse",
    "schedule",
    "update",
    "project",
    "milestone",
    "budget",
    "approval",
    "draft",
    "contract",
    "signature",
    "deadline",
    "customer",
    "feedback",
    "release",
    "notes",
    "server",
    "maintenance",
    "window",
    "tonight",
    "backup",
    "restore",
    "credentials",
    "rotated",
    "conference",
    "call",
    "minutes",
    "action",
    "items",
    "follow",
    "up",
    "next",
    "week",
    "lunch",
    "tomorrow",
)
FIRST = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy")
LAST = ("Martin", "Nguyen", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka")


# --- messages


def make_message(rng: random.Random, tag: str, index: int, when: datetime) -> bytes:
    """A unique, plausible 2 KB message: trace-free headers and wrapped text."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    sender = f"{first.lower()}.{last.lower()}@example.net"
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
    head = (
        f"Received: from mx{rng.randint(1, 9)}.example.net (mx.example.net "
        f"[192.0.2.{rng.randint(1, 254)}])\r\n"
        f"\tby mail.example.org with ESMTPS id {uuid.uuid4().hex[:12]}\r\n"
        f"\tfor <u@example.org>; {format_datetime(when)}\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f'From: "{first} {last}" <{sender}>\r\n'
        f"To: U <u@example.org>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{tag}.{index}.{uuid.uuid4().hex}@example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
    ).encode()
    lines: list[bytes] = [f"Hello U,\r\n\r\nmessage {index} of run {tag}.\r\n".encode()]
    size = len(head) + len(lines[0])
    while True:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 12))) + "\r\n"
        if size + len(line) > MESSAGE_OCTETS - 2:
            break
        lines.append(line.encode())
        size += len(line)
    lines.append(b"-" * (MESSAGE_OCTETS - 2 - size) + b"\r\n")
    data = head + b"".join(lines)
    assert len(data) == MESSAGE_OCTETS
    return data


def make_messages(tag: str, count: int) -> list[bytes]:
    rng = random.Random(tag)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [make_message(rng, tag, i, start + timedelta(seconds=37 * i)) for i in range(count)]


def chunked(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- options and results


@dataclass(frozen=True, slots=True)
class Options:
    messages: int
    single_max: int
    no_pg: bool
    profile: bool


@dataclass(slots=True)
class Timing:
    messages: int = 0
    commits: int = 0
    elapsed_s: float = 0.0
    stage_s: float = 0.0
    write_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s else 0.0


def describe(name: str, t: Timing, *, serial: bool) -> str:
    text = f"  {name:<42} {t.rate:9,.0f} msg/s  ({t.messages} msgs, {t.commits} units, "
    text += f"{t.elapsed_s:.2f} s)"
    if serial:
        other = t.elapsed_s - t.stage_s - t.write_s
        text += (
            f"\n  {'':<42} stage {t.stage_s / t.elapsed_s:4.0%}"
            f"  write {t.write_s / t.elapsed_s:4.0%}"
            f"  other {other / t.elapsed_s:4.0%}"
            f"  | per unit: stage {t.stage_s / t.commits * 1e3:.2f} ms,"
            f" write {t.write_s / t.commits * 1e3:.2f} ms"
        )
    else:
        text += (
            f"\n  {'':<42} mean latency per writer: stage {t.stage_s / t.messages * 1e3:.2f} ms,"
            f" write {t.write_s / t.messages * 1e3:.2f} ms"
        )
    return text


# --- the workloads


def new_message(blob: StagedBlob) -> NewMessage:
    return NewMessage(blob, flags=Flag.SEEN, keywords=KEYWORDS)


async def make_mailbox(store: Store, name: str) -> Mailbox:
    async def work(tx: Tx) -> Mailbox:
        if await store.directory.local_domain(tx, "example.org") is None:
            await store.directory.add_domain(tx, "example.org")
        account = await store.directory.find_account(tx, "u@example.org")
        if account is None:
            account = await store.directory.add_account(
                tx, "u@example.org", display_name="U", password_hash="x", scram="{}"
            )
        return await store.mail.create_mailbox(tx, account.id, name)

    return await store.write(work)


async def sequential(store: Store, box: Mailbox, data: list[bytes]) -> Timing:
    t = Timing(messages=len(data), commits=len(data))
    clock = time.perf_counter
    began = clock()
    for item in data:
        t0 = clock()
        blob = await store.blobs.stage(item)
        t1 = clock()
        await store.write(store.mail.append, box.id, [new_message(blob)])
        t.stage_s += t1 - t0
        t.write_s += clock() - t1
    t.elapsed_s = clock() - began
    return t


async def batched(store: Store, box: Mailbox, data: list[bytes]) -> Timing:
    t = Timing(messages=len(data))
    clock = time.perf_counter
    began = clock()
    for batch in chunked(data, BATCH_MESSAGES):
        t0 = clock()
        blobs = await store.blobs.stage_many(batch)
        t1 = clock()
        await store.write(store.mail.append, box.id, [new_message(b) for b in blobs])
        t.stage_s += t1 - t0
        t.write_s += clock() - t1
        t.commits += 1
    t.elapsed_s = clock() - began
    return t


async def concurrent(store: Store, box: Mailbox, data: list[bytes]) -> Timing:
    t = Timing(messages=len(data), commits=len(data))
    pending = iter(data)
    clock = time.perf_counter

    async def writer() -> None:
        for item in pending:
            t0 = clock()
            blob = await store.blobs.stage(item)
            t1 = clock()
            await store.write(store.mail.append, box.id, [new_message(blob)])
            t.stage_s += t1 - t0
            t.write_s += clock() - t1

    began = clock()
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    t.elapsed_s = clock() - began
    return t


async def list_flags(store: Store, box: Mailbox, expected: int) -> list[float]:
    runs = []
    for _ in range(LIST_RUNS):
        began = time.perf_counter()
        flags = await store.read(store.mail.flags, box.id)
        runs.append(time.perf_counter() - began)
        assert len(flags) == expected, (len(flags), expected)
        assert flags[0].flags == Flag.SEEN and flags[-1].keywords == KEYWORDS
    return runs


Variant = Callable[[Store, Mailbox, list[bytes]], Awaitable[Timing]]
VARIANTS: tuple[tuple[str, str, Variant], ...] = (
    ("a", "(a) 1 message per commit, sequential", sequential),
    ("b", f"(b) {BATCH_MESSAGES} messages per commit, batched", batched),
    ("c", f"(c) {WRITERS} concurrent writers of 1 (group commit)", concurrent),
)


async def run_backend(
    label: str, store: Store, opts: Options
) -> tuple[dict[str, Timing], list[float]]:
    results: dict[str, Timing] = {}
    listing: list[float] = []
    for key, name, variant in VARIANTS:
        size = opts.messages if key == "b" else min(opts.messages, opts.single_max)
        data = make_messages(f"{label}-{key}-{uuid.uuid4().hex[:8]}", size)
        box = await make_mailbox(store, f"bench-{key}")
        profiler = cProfile.Profile() if opts.profile and key == "b" else None
        if profiler:
            profiler.enable()
        results[key] = await variant(store, box, data)
        if profiler:
            profiler.disable()
            print_profile(f"{label} {name}", profiler)
        print(describe(name, results[key], serial=key != "c"), flush=True)
        if key == "b":
            listing = await list_flags(store, box, opts.messages)
    return results, listing


def print_profile(title: str, profiler: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    print(f"  -- cProfile of {title}, top 15 by own time (event-loop thread only) --")
    for line in out.getvalue().splitlines():
        if line.strip() and not line.startswith(("   Ordered", "   List")):
            print("  " + line)


# --- backends


def build_config(folder: Path, store: dict[str, object]) -> config_mod.Config:
    raw: dict[str, dict[str, object]] = {"roost": {"data_dir": str(folder / "data")}}
    raw["store"] = dict(store)
    return config_mod.build(raw, source="(bench)", base=folder)


async def pg_problem() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL, timeout=PG_CONNECT_TIMEOUT_S)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def pg_facts() -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_URL, timeout=PG_CONNECT_TIMEOUT_S)
    try:
        version = await conn.fetchval("SHOW server_version")
        sync = await conn.fetchval("SHOW synchronous_commit")
        fsync = await conn.fetchval("SHOW fsync")
    finally:
        await conn.close()
    return f"PostgreSQL {version} (synchronous_commit={sync}, fsync={fsync})"


async def bench_sqlite(folder: Path, opts: Options) -> tuple[dict[str, Timing], list[float]]:
    config = build_config(folder, {"commit_group_max": BATCH_MESSAGES})
    store = await open_store(config)
    try:
        return await run_backend("sqlite", store, opts)
    finally:
        await store.close()


async def bench_pg(folder: Path, opts: Options) -> tuple[dict[str, Timing], list[float]]:
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_URL, timeout=PG_CONNECT_TIMEOUT_S)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            store = await open_store(build_config(folder, {"url": PG_URL, "schema": schema}))
            try:
                return await run_backend("pg", store, opts)
            finally:
                await store.close()
        finally:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()


# --- the peer


def peer_sqlite(folder: Path, count: int) -> Timing:
    """Roost's variant (b) without Roost: same durability, standard library only."""
    root = folder / "peer"
    tmp = root / "tmp"
    tmp.mkdir(parents=True)
    db = sqlite3.connect(root / "peer.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, mailbox_id INT, uid INT, modseq INT,"
        " flags INT, blob_hash TEXT, size INT, UNIQUE (mailbox_id, uid))"
    )
    db.execute("CREATE TABLE blobs (hash TEXT PRIMARY KEY, size INT, refs INT)")
    db.execute(
        "CREATE TABLE keywords (message_id INT, keyword TEXT, PRIMARY KEY (message_id, keyword))"
    )

    def stage(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        final = root / digest[:2] / digest
        if not final.parent.exists():
            final.parent.mkdir(exist_ok=True)
            fsync_path(root)
        part = tmp / f"{digest}.{time.monotonic_ns()}"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, final)
        fsync_path(final.parent)
        return digest, len(data)

    data = make_messages(f"peer-{uuid.uuid4().hex[:8]}", count)
    t = Timing(messages=count)
    uid = 0
    began = time.perf_counter()
    with ThreadPoolExecutor(PEER_IO_THREADS) as pool:
        for batch in chunked(data, BATCH_MESSAGES):
            staged = list(pool.map(stage, batch))
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO blobs VALUES (?, ?, 1)", staged)
            for digest, size in staged:
                uid += 1
                cur = db.execute(
                    "INSERT INTO messages (mailbox_id, uid, modseq, flags, blob_hash, size)"
                    " VALUES (1, ?, ?, ?, ?, ?)",
                    (uid, t.commits + 1, int(Flag.SEEN), digest, size),
                )
                db.execute("INSERT INTO keywords VALUES (?, '$Label1')", (cur.lastrowid,))
            db.execute("COMMIT")
            t.commits += 1
    t.elapsed_s = time.perf_counter() - began
    db.close()
    return t


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- report


def report_listing(runs: list[float], count: int) -> None:
    median = statistics.median(runs)
    print(
        f"  flags of {count} messages (one read, median of {len(runs)}): "
        f"{median * 1e3:.1f} ms  = {count / median:,.0f} msg/s  "
        f"(min {min(runs) * 1e3:.1f}, max {max(runs) * 1e3:.1f} ms)"
    )


async def main(opts: Options) -> int:
    count = opts.messages
    print("== Roost store benchmark ==")
    print(f"CPUs: {os.cpu_count()}  machine: {platform.machine()}  {platform.platform()}")
    print(f"Python {platform.python_version()}  SQLite {sqlite3.sqlite_version}", end="")
    print(f"  SQLAlchemy {sqlalchemy.__version__}")
    problem = "disabled with --no-pg" if opts.no_pg else await pg_problem()
    if problem is None:
        print(await pg_facts(), f"at {PG_URL.rpartition('@')[2]}")
    print(
        f"workload: {count} distinct messages of {MESSAGE_OCTETS} octets, flag \\Seen +"
        f" keyword $Label1, blob durable before the commit"
    )

    with tempfile.TemporaryDirectory(prefix="roost-bench-", dir="/tmp") as name:
        folder = Path(name)
        print(f"data: {folder} (removed afterwards)\n")
        print(f"SQLite (embedded; synchronous=FULL, commit_group_max={BATCH_MESSAGES})")
        sqlite, sqlite_listing = await bench_sqlite(folder / "sqlite", opts)
        report_listing(sqlite_listing, count)

        print("\nPeer: stdlib sqlite3 + fsynced files, same durability, 32 per commit")
        peer = await asyncio.to_thread(peer_sqlite, folder / "peer", count)
        print(describe("raw, 32 messages per commit", peer, serial=False).split("\n")[0])
        print(f"  Roost (b) / peer: {sqlite['b'].rate / peer.rate:.2f}")

        print()
        if problem is not None:
            print(f"PostgreSQL: SKIPPED ({PG_URL.rpartition('@')[2]}: {problem})")
        else:
            print("PostgreSQL (blobs as chunks in the database; each stage is its own commit)")
            pg, pg_listing = await bench_pg(folder / "pg", opts)
            report_listing(pg_listing, count)
            print(
                "  SQLite / PostgreSQL: "
                + ", ".join(f"({k}) {sqlite[k].rate / pg[k].rate:.2f}" for k, _, _ in VARIANTS)
            )

    best_key = max(("b", "c"), key=lambda k: sqlite[k].rate)
    best = sqlite[best_key].rate
    verdict = "MET" if best >= TARGET_APPENDS_PER_S else "NOT MET"
    print(
        f"\ntarget >= {TARGET_APPENDS_PER_S:.0f} appends/s on SQLite with <= {BATCH_MESSAGES}"
        f" messages per commit: {verdict} ({best / TARGET_APPENDS_PER_S:.2f} of target;"
        f" best variant ({best_key}) {best:,.0f} msg/s)"
    )
    return 0


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages per variant")
    parser.add_argument(
        "--single-max",
        type=int,
        default=SINGLE_MAX,
        help="cap on messages for (a) and (c), which write one message per unit of work",
    )
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile variant (b) and print the top functions"
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.single_max < 1:
        parser.error("--messages and --single-max must be at least 1")
    return Options(args.messages, args.single_max, args.no_pg, args.profile)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
