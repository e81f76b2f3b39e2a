"""Benchmark: XMPP message routing and idle connections, Roost against
Debian's Prosody (mod_limits off), in one run.

Measured, on 127.0.0.1, both servers over STARTTLS with the same test
certificate, clients logging in with PLAIN under TLS:

- throughput and latency: `--pairs` (4) sender/receiver pairs, each pair in
  a client process of its own, each sender sending `--messages` (5,000)
  chat messages to its receiver's full JID; every body carries the
  sender's CLOCK_MONOTONIC time, so the receiver knows each message's
  latency. A sender keeps at most `WINDOW` messages in flight (sent, not
  yet received), so neither server's outbound queue is what is measured.
  Messages per second over all pairs (first send to last receipt), p50 and
  p99 latency, and every message counted on arrival;
- memory per idle connection: `--idle` (5,000) clients connect over TLS,
  log in and bind (no presence: the idle clients share `IDLE_ACCOUNTS`
  accounts, and each resource would get the presence of every other),
  from `IDLE_PROCESSES` client processes;
  the server's resident memory (VmRSS) once all are connected and idle,
  less its memory with none, divided by their number.

Ratios printed are Roost over Prosody (throughput: higher is better;
latency and memory: lower is better). Targets (issue 9): at least
Prosody's throughput, under 48 KB per idle TLS connection.

Roost's bench settings: `[xmpp] max_connections_per_address` and
`max_resources` raised so that 5,000 clients from 127.0.0.1 fit (idle
clients share ten accounts); everything else is the default.

Needs (the script installs nothing): root (Prosody runs as Debian's
`prosody` user) and Debian's prosody (`apt-get install prosody` with a
policy-rc.d that exits 101 first: see NOTES.md). A missing Prosody is
reported as skipped. A few minutes at the default sizes.

Run:  .venv/bin/python bench/xmpp.py [--pairs N] [--messages N] [--idle N]
          [--skip-peer] [--profile FILE]

--profile FILE runs Roost under cProfile and writes its stats there (the
figures of such a run are slowed by the profiler: read them for where the
time goes, not as figures).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HOST = "127.0.0.1"
DOMAIN = "example.org"
PASSWORD = "bench-password"
ROOST = [sys.executable, "-m", "roost"]
WINDOW = 200
"""Messages one sender may have in flight."""
IDLE_PROCESSES = 4
IDLE_ACCOUNTS = 10
CONNECT_CONCURRENCY = 50
START_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 600.0
SETTLE_S = 3.0
READ_OCTETS = 65_536

HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    f"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='{DOMAIN}'>"
).encode()


# --- a minimal client


class Stream:
    """One client stream: STARTTLS, PLAIN, bind, presence; then raw XML."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""

    @classmethod
    async def connect(
        cls, port: int, user: str, resource: str, context: ssl.SSLContext, *, presence: bool = True
    ) -> Stream:
        reader, writer = await asyncio.open_connection(HOST, port)
        stream = cls(reader, writer)
        writer.write(HEADER)
        await stream.until(b"</stream:features>")
        writer.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await stream.until(b"<proceed")
        await writer.start_tls(context, server_hostname=DOMAIN)
        writer.write(HEADER)
        await stream.until(b"</stream:features>")
        # The SASL user is the localpart (RFC 6120 §6.3.7); Prosody takes no other.
        local = user.partition("@")[0]
        token = base64.b64encode(f"\0{local}\0{PASSWORD}".encode()).decode()
        sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
        writer.write(f"<auth xmlns='{sasl}' mechanism='PLAIN'>{token}</auth>".encode())
        await stream.until(b"<success")
        writer.write(HEADER)
        await stream.until(b"</stream:features>")
        writer.write(
            b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            b"<resource>" + resource.encode() + b"</resource></bind></iq>"
        )
        await stream.until(b"</iq>")
        if presence:
            writer.write(b"<presence/>")
        stream.buffer = b""
        return stream

    async def until(self, needle: bytes) -> None:
        while needle not in self.buffer:
            try:
                chunk = await asyncio.wait_for(self.reader.read(READ_OCTETS), START_TIMEOUT_S)
            except TimeoutError:
                raise ConnectionError(f"no {needle!r}, only {self.buffer[-300:]!r}") from None
            if not chunk:
                raise ConnectionError(f"closed before {needle!r}: {self.buffer[-200:]!r}")
            self.buffer += chunk
        self.buffer = self.buffer[self.buffer.index(needle) + len(needle) :]


def client_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True, slots=True)
class PairResult:
    first_send_ns: int
    last_receipt_ns: int
    latencies_us: list[int]


async def _pair(port: int, index: int, count: int, ca_file: str, barrier: Barrier) -> PairResult:
    context = client_context(ca_file)
    receiver = await Stream.connect(port, f"r{index}@{DOMAIN}", "bench", context)
    sender = await Stream.connect(port, f"s{index}@{DOMAIN}", "bench", context)
    await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
    latencies: list[int] = []
    done = asyncio.Event()
    last = 0

    async def receive() -> None:
        nonlocal last
        pending = b""
        while len(latencies) < count:
            chunk = await receiver.reader.read(READ_OCTETS)
            if not chunk:
                raise ConnectionError(f"receiver {index} closed after {len(latencies)}")
            now = time.monotonic_ns()
            pending += chunk
            while True:
                start = pending.find(b"<body>T")
                end = pending.find(b"</body>", start)
                if start < 0 or end < 0:
                    break
                sent = int(pending[start + 7 : end])
                latencies.append((now - sent) // 1000)
                pending = pending[end + 7 :]
            last = now
            if len(latencies) >= count:
                done.set()

    reading = asyncio.create_task(receive())
    to = f"r{index}@{DOMAIN}/bench"
    first = time.monotonic_ns()
    for n in range(count):
        while n - len(latencies) >= WINDOW:
            await asyncio.sleep(0.0005)
            if reading.done():
                reading.result()
        sender.writer.write(
            f"<message to='{to}' type='chat'><body>T{time.monotonic_ns()}</body></message>".encode()
        )
        if n % 20 == 19:
            await sender.writer.drain()
    await sender.writer.drain()
    await asyncio.wait_for(reading, RUN_TIMEOUT_S)
    for stream in (sender, receiver):
        stream.writer.write(b"</stream:stream>")
        stream.writer.close()
    return PairResult(first, last, latencies)


def pair_process(
    port: int, index: int, count: int, ca_file: str, barrier: Barrier, out: object
) -> None:
    result = asyncio.run(_pair(port, index, count, ca_file, barrier))
    out.put(result)  # type: ignore[attr-defined]


async def _idle(port: int, first: int, count: int, ca_file: str, ready: Event, stop: Event) -> None:
    context = client_context(ca_file)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    streams: list[Stream] = []

    async def one(n: int) -> None:
        async with gate:
            user = f"idle{n % IDLE_ACCOUNTS}@{DOMAIN}"
            # No presence: 500 resources of an account would each get everyone's.
            stream = await Stream.connect(port, user, f"c{n}", context, presence=False)
            streams.append(stream)

    await asyncio.gather(*(one(n) for n in range(first, first + count)))
    ready.set()
    loop = asyncio.get_running_loop()
    # Idle, but reading whatever the server sends (presence of the others, pings).
    drains = [asyncio.create_task(_drain(s)) for s in streams]
    await loop.run_in_executor(None, stop.wait)
    for task in drains:
        task.cancel()
    for stream in streams:
        stream.writer.close()


async def _drain(stream: Stream) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while await stream.reader.read(READ_OCTETS):
            pass


def idle_process(
    port: int, first: int, count: int, ca_file: str, ready: Event, stop: Event
) -> None:
    asyncio.run(_idle(port, first, count, ca_file, ready, stop))


# --- servers


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    port: int
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def accounts(pairs: int) -> list[str]:
    names = [f"s{i}" for i in range(pairs)] + [f"r{i}" for i in range(pairs)]
    return names + [f"idle{i}" for i in range(IDLE_ACCOUNTS)]


def wait_for_features(port: int, alive: object) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive():  # type: ignore[operator]
            raise RuntimeError("the server exited at start")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 5) as sock:
            sock.sendall(HEADER)
            seen = b""
            while b"</stream:features>" not in seen:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                seen += chunk
            if b"</stream:features>" in seen:
                return
        time.sleep(0.1)
    raise RuntimeError(f"no XMPP stream on {port} within {START_TIMEOUT_S:g} s")


@contextlib.contextmanager
def roost_server(
    folder: Path, cert: Path, key: Path, pairs: int, profile: Path | None
) -> Iterator[Server]:
    from roost.core.config import load
    from roost.local_api import local_api

    port = free_port()
    config_path = folder / "roost.toml"
    config_path.write_text(
        '[roost]\ndata_dir = "data"\nnode_name = "bench"\n'
        "[directory]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n"
        '[web]\nlisten = ["127.0.0.1:0"]\ntls_listen = []\n'
        "[smtp]\nmx_listen = []\nsubmission_listen = []\nsubmissions_listen = []\n"
        "[pop]\nlisten = []\ntls_listen = []\n[imap]\nlisten = []\ntls_listen = []\n"
        f'[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n'
        f'[xmpp]\nlisten = ["{HOST}:{port}"]\ntls_listen = []\n'
        "max_connections_per_address = 10000\nmax_resources = 1000\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
    )

    async def fill() -> None:
        async with local_api(load(config_path)) as api:
            (await api.post("/api/v1/domains", json={"name": DOMAIN})).raise_for_status()
            for name in accounts(pairs):
                body = {"address": f"{name}@{DOMAIN}", "password": PASSWORD}
                (await api.post("/api/v1/accounts", json=body)).raise_for_status()

    asyncio.run(fill())
    command = [*ROOST, "--config", str(config_path), "serve"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command[1:]]
    with (folder / "serve.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_features(port, lambda: proc.poll() is None)
            yield Server("Roost", port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


@contextlib.contextmanager
def prosody_server(cert: Path, key: Path, pairs: int) -> Iterator[Server]:
    from tests.prosody_peer import prosody_peer

    users = [(name, PASSWORD) for name in accounts(pairs)]
    with prosody_peer(DOMAIN, users, (cert, key)) as peer:
        yield Server("Prosody", peer.port, peer.pid)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# --- the measurements


@dataclass(frozen=True, slots=True)
class Result:
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    delivered: int
    kib_per_idle: float


def run_pairs(
    server: Server, pairs: int, count: int, ca_file: str
) -> tuple[float, float, float, int]:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(pairs)
    out = spawn.Queue()
    procs = [
        spawn.Process(target=pair_process, args=(server.port, i, count, ca_file, barrier, out))
        for i in range(pairs)
    ]
    for proc in procs:
        proc.start()
    results: list[PairResult] = [out.get(timeout=RUN_TIMEOUT_S) for _ in procs]
    for proc in procs:
        proc.join(RUN_TIMEOUT_S)
    start = min(r.first_send_ns for r in results)
    end = max(r.last_receipt_ns for r in results)
    latencies = sorted(v for r in results for v in r.latencies_us)
    delivered = len(latencies)
    p50 = statistics.median(latencies) / 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000
    return delivered / ((end - start) / 1e9), p50, p99, delivered


def run_idle(server: Server, clients: int, ca_file: str) -> float:
    spawn = multiprocessing.get_context("spawn")
    time.sleep(SETTLE_S)
    before = rss_kib(server.pid)
    stop = spawn.Event()
    share = -(-clients // IDLE_PROCESSES)
    readies, procs = [], []
    for i in range(IDLE_PROCESSES):
        first, count = i * share, min(share, clients - i * share)
        if count <= 0:
            break
        ready = spawn.Event()
        proc = spawn.Process(
            target=idle_process, args=(server.port, first, count, ca_file, ready, stop)
        )
        proc.start()
        readies.append(ready)
        procs.append(proc)
    try:
        for ready in readies:
            if not ready.wait(RUN_TIMEOUT_S):
                raise RuntimeError(f"{server.name}: idle clients did not all connect")
        time.sleep(SETTLE_S)
        after = rss_kib(server.pid)
    finally:
        stop.set()
        for proc in procs:
            proc.join(60)
            if proc.is_alive():
                proc.kill()
    return (after - before) / clients


def measure(server: Server, args: argparse.Namespace, ca_file: str) -> Result:
    rate, p50, p99, delivered = run_pairs(server, args.pairs, args.messages, ca_file)
    print(
        f"  {server.name}: {rate:,.0f} msg/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"{delivered:,} of {args.pairs * args.messages:,} delivered",
        flush=True,
    )
    per_idle = run_idle(server, args.idle, ca_file)
    print(f"  {server.name}: {per_idle:.1f} KiB per idle TLS connection", flush=True)
    return Result(rate, p50, p99, delivered, per_idle)


def prosody_problem() -> str | None:
    if shutil.which("prosody") is None:
        return "prosody is not installed (apt-get install prosody; see NOTES.md)"
    if os.geteuid() != 0:
        return "the Prosody peer is started as root"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--profile", type=Path, help="run Roost under cProfile, stats here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="roost-bench-xmpp-"))
    os.chmod(folder, 0o755)
    try:
        ca = trustme.CA()
        issued = ca.issue_cert(DOMAIN, "localhost", HOST)
        cert, key, ca_file = folder / "xmpp.crt", folder / "xmpp.key", folder / "ca.pem"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(ca_file))
        print(
            f"XMPP: {args.pairs} pairs x {args.messages:,} messages (window {WINDOW}); "
            f"{args.idle:,} idle TLS clients",
            flush=True,
        )
        results: dict[str, Result] = {}
        (folder / "roost").mkdir()
        with roost_server(folder / "roost", cert, key, args.pairs, args.profile) as server:
            results["Roost"] = measure(server, args, str(ca_file))
        problem = None if not args.skip_peer else "--skip-peer"
        problem = problem or prosody_problem()
        if problem is None:
            with prosody_server(cert, key, args.pairs) as server:
                results["Prosody"] = measure(server, args, str(ca_file))
        else:
            print(f"  Prosody: skipped ({problem})")
        report(results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(results: dict[str, Result]) -> None:
    roost = results["Roost"]
    print("\n| server | msg/s | p50 ms | p99 ms | delivered | KiB per idle TLS connection |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r.msgs_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.delivered:,} | {r.kib_per_idle:.1f} |"
        )
    peer = results.get("Prosody")
    if peer is not None:
        print(
            f"\nRoost/Prosody: throughput {roost.msgs_per_s / peer.msgs_per_s:.2f}x, "
            f"p50 {roost.p50_ms / peer.p50_ms:.2f}x, p99 {roost.p99_ms / peer.p99_ms:.2f}x, "
            f"memory per idle connection {roost.kib_per_idle / peer.kib_per_idle:.2f}x"
        )
    print(
        f"Targets: throughput >= Prosody's; under 48 KB per idle TLS connection "
        f"(Roost: {roost.kib_per_idle * 1024 / 1000:.1f} KB)"
    )


if __name__ == "__main__":
    main()
