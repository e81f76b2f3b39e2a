"""Benchmark: IMAP, Roost against Dovecot, on one Maildir-shaped corpus of 10,000 messages.

Corpus (seeded, so every run and both servers get the same bytes): 70% plain
text of 2-10 KB, 20% multipart/alternative (text and HTML) of 5-30 KB, 10%
multipart/mixed with a base64 attachment of 30-200 KB; one in five a reply
(Re:, In-Reply-To, References); Date: fields spread over 2025. The servers
are described in bench/imap_peers.py.

Workloads, on 127.0.0.1:

(a) SELECT INBOX and ``UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE
    ENVELOPE)``, timed by a raw-socket client that reads to the tagged OK
    without parsing; one untimed run, then the best of --rounds (3).
(b) --clients (10) concurrent clients for --duration seconds (60) each, a
    fixed mix drawn with a seeded random generator per client:
      30% FETCH headers  UID FETCH u:u+19 (FLAGS BODY.PEEK[HEADER.FIELDS
                         (FROM TO SUBJECT DATE MESSAGE-ID)])
      15% FETCH body     UID FETCH u BODY.PEEK[]
      20% STORE          UID STORE u +FLAGS (\\Seen), or -FLAGS, alternately
      10% SEARCH         UID SEARCH UNSEEN
      10% SELECT         SELECT INBOX again
       5% IDLE           IDLE, then DONE at once after the continuation
       5% APPEND         a 3 KB message (LITERAL+)
       5% reconnect      LOGOUT, a new connection, LOGIN, SELECT INBOX
    (u uniform over the first corpus's UIDs). Reported: commands per second,
    p50 and p99 latency over every command, server CPU seconds per command.
(c) --idlers (2,000) clients on the TLS listener, each LOGIN, SELECT INBOX
    and IDLE, every other one after COMPRESS=DEFLATE; the server's memory
    (PSS of its process tree, /proc smaps_rollup) while they idle, less the
    same before they connected, per connection.

Targets: (a) and (b) within 2x of Dovecot; (c) under 64 KB per idle connection.

Peer (Debian 12, as root); keep it from starting system-wide during the
install with policy-rc.d (only if there is none yet; remove it after if you
created it):

    printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    apt-get install -y --no-install-recommends dovecot-core dovecot-imapd
    rm /usr/sbin/policy-rc.d

Run:  .venv/bin/python bench/imap.py [--messages N] [--rounds N] [--clients N]
          [--duration S] [--idlers N] [--only a,b,c] [--skip-peers] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import socket
import ssl
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imap_peers import (
    ADDRESS,
    HOST,
    PASSWORD,
    BenchError,
    Server,
    certificate,
    cpu_between,
    dovecot_problem,
    dovecot_server,
    pss_kib,
    roost_server,
    tree,
)

IO_TIMEOUT_S = 300.0
BLOCK_OCTETS = 256 * 1024
CONNECT_BATCH = 50
SETTLE_S = 2.0
TARGET_RATIO = 2.0
TARGET_IDLE_KB = 64
WORDS = (
    *("lunch", "meeting", "report", "budget", "quarterly", "review", "invoice", "travel"),
    *("plans", "project", "update", "release", "notes", "server", "migration", "holiday"),
    *("party", "schedule", "draft", "contract", "signed", "team", "offsite", "agenda"),
    *("minutes", "feedback", "design", "proposal"),
)
MIX = (
    ("fetch_headers", 30),
    ("fetch_body", 15),
    ("store", 20),
    ("search", 10),
    ("select", 10),
    ("idle", 5),
    ("append", 5),
    ("reconnect", 5),
)


# -- the corpus --------------------------------------------------------------------


def _text(rng: random.Random, octets: int) -> bytes:
    lines, size = [], 0
    while size < octets:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "."
        lines.append(line)
        size += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def _message(rng: random.Random, number: int) -> bytes:
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))).capitalize()
    head = (
        f"From: {rng.choice(WORDS).title()} <{rng.choice(WORDS)}{rng.randint(1, 50)}@example.net>"
        f"\r\nTo: Bench <{ADDRESS}>\r\n"
        f"Date: {rng.randint(1, 28)} {rng.choice(('Jan', 'Apr', 'Jul', 'Oct'))} 2025 "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 +0000\r\n"
        f"Message-ID: <{number}@bench.example.net>\r\n"
    )
    if number > 1 and rng.random() < 0.2:
        parent = rng.randint(1, number - 1)
        subject = "Re: " + subject
        head += f"In-Reply-To: <{parent}@bench.example.net>\r\n"
        head += f"References: <{parent}@bench.example.net>\r\n"
    head += f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
    kind = rng.random()
    if kind < 0.7:
        body = _text(rng, rng.randint(2_000, 10_000))
        return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode() + body
    boundary = f"b{number}"
    text = _text(rng, rng.randint(2_000, 10_000))
    if kind < 0.9:
        html = b"<html><body><p>" + _text(rng, rng.randint(3_000, 20_000)) + b"</p></body></html>"
        parts = [
            (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n", text),
            (b"Content-Type: text/html; charset=us-ascii\r\n\r\n", html + b"\r\n"),
        ]
        subtype = "alternative"
    else:
        blob = base64.encodebytes(rng.randbytes(rng.randint(30_000, 200_000)))
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


def corpus(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [_message(rng, number) for number in range(1, count + 1)]


APPENDED = (
    b"From: Bench <bench@example.net>\r\nTo: <bench@example.org>\r\nSubject: appended\r\n"
    b"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n" + b"An appended message line.\r\n" * 110
)


# -- a client that does not parse ----------------------------------------------------------

_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class Client:
    """IMAP over asyncio streams: a command out, everything up to its tagged
    response in, literals skipped by their length, nothing parsed further."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tags = 0
        self.inflater: zlib._Decompress | None = None
        self.deflater: zlib._Compress | None = None
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int, context: ssl.SSLContext | None = None) -> Client:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port, ssl=context, limit=BLOCK_OCTETS), IO_TIMEOUT_S
        )
        client = cls(reader, writer)
        greeting = await client.line()
        if not greeting.startswith(b"* OK"):
            raise BenchError(f"greeting {greeting[:80]!r}")
        return client

    async def _more(self) -> None:
        data = await asyncio.wait_for(self.reader.read(BLOCK_OCTETS), IO_TIMEOUT_S)
        if not data:
            raise BenchError("the server closed the connection")
        self.buffer += self.inflater.decompress(data) if self.inflater else data

    async def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            await self._more()
        line, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
        return line

    async def skip(self, count: int) -> None:
        while len(self.buffer) < count:
            await self._more()
        self.buffer = self.buffer[count:]

    def send(self, data: bytes) -> None:
        if self.deflater is not None:
            data = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        self.writer.write(data)

    async def command(self, text: str, literal: bytes | None = None) -> bytes:
        """Send a command (with a LITERAL+ literal) and read to its tagged response."""
        self.tags += 1
        tag = b"c%d" % self.tags
        if literal is None:
            self.send(tag + b" " + text.encode() + b"\r\n")
        else:
            head = tag + b" " + text.encode() + b" {%d+}\r\n" % len(literal)
            self.send(head + literal + b"\r\n")
        return await self.until(tag)

    async def until(self, tag: bytes) -> bytes:
        while True:
            line = await self.line()
            found = _LITERAL.search(line)
            if found is not None:
                await self.skip(int(found.group(1)))
                continue
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise BenchError(f"the server said {line[:100]!r}")
                return line

    async def login(self) -> None:
        await self.command(f"LOGIN {ADDRESS} {PASSWORD}")

    async def compress(self) -> None:
        await self.command("COMPRESS DEFLATE")
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)

    async def idle(self) -> bytes:
        """IDLE, up to its continuation; the tag to wait for after DONE."""
        self.tags += 1
        tag = b"c%d" % self.tags
        self.send(tag + b" IDLE\r\n")
        while not (await self.line()).startswith(b"+"):
            pass
        return tag

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 5)


# -- (a) SELECT and FETCH of every message's summary ----------------------------------------


def fetch_all(server: Server) -> tuple[float, float, int]:
    """One raw-socket run of (a): seconds, server CPU seconds, octets read."""
    with socket.create_connection((HOST, server.port), timeout=IO_TIMEOUT_S) as sock:
        sock.recv(4096)
        sock.sendall(f"a1 LOGIN {ADDRESS} {PASSWORD}\r\n".encode())
        _read_to(sock, b"a1 OK")
        before = tree(server.pid)
        t0 = time.perf_counter()
        sock.sendall(
            b"a2 SELECT INBOX\r\na3 UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\r\n"
        )
        octets = _read_to(sock, b"a3 OK")
        seconds = time.perf_counter() - t0
        cpu = cpu_between(before, tree(server.pid))
        sock.sendall(b"a4 LOGOUT\r\n")
    return seconds, cpu, octets


def _read_to(sock: socket.socket, marker: bytes) -> int:
    """Read until ``marker`` starts a line; the octets read."""
    # Each command is sent after the previous response was read whole, so
    # what comes first starts a line.
    tail, total, needle = b"\r\n", 0, b"\r\n" + marker
    while True:
        data = sock.recv(BLOCK_OCTETS)
        if not data:
            raise BenchError("the server closed the connection")
        total += len(data)
        window = tail + data
        if needle in window:
            return total
        tail = window[-len(needle) :]


# -- (b) a mixed workload -----------------------------------------------------------------


@dataclass
class Mixed:
    commands: int
    seconds: float
    cpu_s: float
    latencies: list[float]

    @property
    def per_s(self) -> float:
        return self.commands / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] * 1000


async def _one_client(
    server: Server, seed: int, deadline: float, uids: int, out: list[float]
) -> None:
    rng = random.Random(seed)
    names = [name for name, weight in MIX for _ in range(weight)]
    client = await Client.connect(server.port)

    async def timed(text: str, literal: bytes | None = None) -> None:
        t0 = time.perf_counter()
        await client.command(text, literal)
        out.append(time.perf_counter() - t0)

    await timed(f"LOGIN {ADDRESS} {PASSWORD}")
    await timed("SELECT INBOX")
    flip = False
    while time.perf_counter() < deadline:
        uid = rng.randint(1, uids)
        match rng.choice(names):
            case "fetch_headers":
                await timed(
                    f"UID FETCH {uid}:{uid + 19} (FLAGS BODY.PEEK[HEADER.FIELDS "
                    "(FROM TO SUBJECT DATE MESSAGE-ID)])"
                )
            case "fetch_body":
                await timed(f"UID FETCH {uid} BODY.PEEK[]")
            case "store":
                flip = not flip
                await timed(f"UID STORE {uid} {'+' if flip else '-'}FLAGS (\\Seen)")
            case "search":
                await timed("UID SEARCH UNSEEN")
            case "select":
                await timed("SELECT INBOX")
            case "idle":
                t0 = time.perf_counter()
                tag = await client.idle()
                client.send(b"DONE\r\n")
                await client.until(tag)
                out.append(time.perf_counter() - t0)
            case "append":
                await timed("APPEND INBOX (\\Seen)", APPENDED)
            case "reconnect":
                await timed("LOGOUT")
                await client.close()
                t0 = time.perf_counter()
                client = await Client.connect(server.port)
                await client.login()
                out.append(time.perf_counter() - t0)
                await timed("SELECT INBOX")
    await client.close()


def mixed(server: Server, clients: int, duration: float, uids: int, seed: int) -> Mixed:
    async def run() -> Mixed:
        latencies: list[float] = []
        before = tree(server.pid)
        t0 = time.perf_counter()
        deadline = t0 + duration
        await asyncio.gather(
            *(_one_client(server, seed + n, deadline, uids, latencies) for n in range(clients))
        )
        seconds = time.perf_counter() - t0
        cpu = cpu_between(before, tree(server.pid))
        return Mixed(len(latencies), seconds, cpu, latencies)

    return asyncio.run(run())


# -- (c) idle connections -------------------------------------------------------------------


async def _idle_connections(server: Server, count: int, context: ssl.SSLContext) -> tuple[int, int]:
    """PSS before and while ``count`` clients idle, half of them compressed."""
    await asyncio.sleep(SETTLE_S)
    before = pss_kib(server.pid)
    clients: list[Client] = []

    async def open_one(number: int) -> Client:
        client = await Client.connect(server.tls_port, context)
        await client.login()
        if number % 2:
            await client.compress()
        await client.command("SELECT INBOX")
        await client.idle()
        return client

    try:
        for start in range(0, count, CONNECT_BATCH):
            batch = range(start, min(start + CONNECT_BATCH, count))
            clients += await asyncio.gather(*(open_one(n) for n in batch))
        await asyncio.sleep(SETTLE_S)
        during = pss_kib(server.pid)
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return before, during


def idle_memory(server: Server, count: int) -> tuple[int, int]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # our own throwaway certificate
    return asyncio.run(_idle_connections(server, count, context))


# -- the run ---------------------------------------------------------------------------------

Factory = Callable[
    [Path, list[bytes], tuple[Path, Path]], contextlib.AbstractContextManager[Server]
]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--idlers", type=int, default=2000)
    parser.add_argument("--only", default="a,b,c", help="workloads to run, e.g. a,c")
    parser.add_argument("--seed", type=int, default=5256)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    t0 = time.perf_counter()
    messages = corpus(args.messages, args.seed)
    print(
        f"IMAP: {len(messages)} messages, {sum(map(len, messages)) / 1e6:.0f} MB (seed "
        f"{args.seed}, built in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    chosen: dict[str, Factory] = {"Roost": roost_server}
    problem = "--skip-peers" if args.skip_peers else dovecot_problem()
    if problem is None:
        chosen["Dovecot"] = dovecot_server
    else:
        print(f"Skipped Dovecot: {problem}")
    results: dict[str, dict[str, object]] = {name: {} for name in chosen}
    with contextlib.ExitStack() as stack:
        cert = certificate(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        servers: dict[str, Server] = {}
        for name, factory in chosen.items():
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-imap-")))
            started = time.perf_counter()
            servers[name] = stack.enter_context(factory(folder, messages, cert))
            print(f"  {name:<8} ready in {time.perf_counter() - started:.1f} s", flush=True)
        if "a" in only:
            for name, server in servers.items():
                fetch_all(server)  # untimed: caches, Dovecot's index
                runs = [fetch_all(server) for _ in range(args.rounds)]
                best = min(runs)
                results[name]["a"] = best
                print(
                    f"  (a) {name:<8} SELECT + UID FETCH 1:* summary: best {best[0]:.2f} s "
                    f"of {', '.join(f'{r[0]:.2f}' for r in runs)}; server CPU {best[1]:.2f} s; "
                    f"{best[2] / 1e6:.1f} MB",
                    flush=True,
                )
        if "b" in only:
            for name, server in servers.items():
                found = mixed(server, args.clients, args.duration, args.messages, args.seed)
                results[name]["b"] = found
                print(
                    f"  (b) {name:<8} {found.per_s:7.0f} commands/s ({found.commands} in "
                    f"{found.seconds:.0f} s, {args.clients} clients); p50 "
                    f"{found.percentile(0.5):.1f} ms, p99 {found.percentile(0.99):.1f} ms; "
                    f"server CPU {found.cpu_s * 1e3 / found.commands:.3f} ms/command",
                    flush=True,
                )
        if "c" in only:
            for name, server in servers.items():
                before, during = idle_memory(server, args.idlers)
                per = (during - before) / args.idlers
                results[name]["c"] = per
                print(
                    f"  (c) {name:<8} {args.idlers} idle TLS clients (half COMPRESS=DEFLATE): "
                    f"PSS {before / 1024:.0f} MB before, {during / 1024:.0f} MB while idle: "
                    f"{per:.1f} KB per connection",
                    flush=True,
                )
    _ratios(results)
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


def _ratios(results: dict[str, dict[str, object]]) -> None:
    mine, theirs = results.get("Roost", {}), results.get("Dovecot", {})
    print()
    if isinstance(a := mine.get("a"), tuple) and isinstance(b := theirs.get("a"), tuple):
        ratio = a[0] / b[0]
        print(
            f"(a) Roost / Dovecot time {ratio:.2f}x (target <= {TARGET_RATIO}x: "
            f"{_verdict(ratio <= TARGET_RATIO)}); server CPU {a[1] / max(b[1], 1e-9):.2f}x"
        )
    if isinstance(x := mine.get("b"), Mixed) and isinstance(y := theirs.get("b"), Mixed):
        rate = y.per_s / x.per_s
        p99 = x.percentile(0.99) / y.percentile(0.99)
        cpu = (x.cpu_s / x.commands) / (y.cpu_s / y.commands)
        print(
            f"(b) Roost / Dovecot: commands/s {x.per_s / y.per_s:.2f}x, p99 {p99:.2f}x, CPU per "
            f"command {cpu:.2f}x (target within {TARGET_RATIO}x: "
            f"{_verdict(rate <= TARGET_RATIO and p99 <= TARGET_RATIO)})"
        )
    if isinstance(kb := mine.get("c"), float):
        peer = theirs.get("c")
        versus = f"; Dovecot {peer:.1f} KB" if isinstance(peer, float) else ""
        print(
            f"(c) Roost {kb:.1f} KB per idle connection (target < {TARGET_IDLE_KB} KB: "
            f"{_verdict(kb < TARGET_IDLE_KB)}){versus}"
        )


if __name__ == "__main__":
    sys.exit(main())
