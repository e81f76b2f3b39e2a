"""Benchmark: Roost's MemoryBIO TLS against asyncio's TLS transport.

(a) Memory per idle TLS connection: N connections (TLS established, idle),
    RSS growth of the server process, minus the growth for N plaintext
    connections to the same server; for Roost's listener and for a stdlib
    asyncio server (``asyncio.start_server(ssl=...)``, i.e.
    ``loop.create_server(ssl=...)``). Target: under 32 KB above plaintext.
(b) Throughput of one TLS connection, client to server (sink) and server to
    client (source), Roost against the stdlib transport. Target: >= 0.8x.

Every server runs in a fresh process; clients run in another process (with
blocking `ssl` sockets in threads), so the server's RSS is its own.
Loopback only; every wait is bounded; the run stops by itself.

    .venv/bin/python bench/net.py [--connections 5000] [--megabytes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from roost.net import (
    CertStore,
    Connection,
    ConnectionOptions,
    Listener,
    ListenerLimits,
    Server,
    generate_self_signed,
)

HOST = "127.0.0.1"
SERVER_NAME = "bench.test"
KINDS = ("roost-plain", "roost-tls", "stdlib-plain", "stdlib-tls")
STEP_TIMEOUT_S = 180.0
CHUNK = 64 * 1024


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- server process ----------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.active = 0


async def serve_roost(ctx: ssl.SSLContext | None, counter: Counter) -> Server:
    async def handler(conn: Connection) -> None:
        counter.active += 1
        try:
            line = await conn.read_until(b"\n", 100)
            verb, _, arg = line.strip().partition(b" ")
            if verb == b"IDLE":
                await conn.read(1, timeout_s=3600)
            elif verb == b"ECHO":
                left = int(arg)
                while left > 0:
                    data = await conn.read(left)
                    conn.write(data)
                    await conn.drain()
                    left -= len(data)
                del data  # or the idle frame keeps the last chunk
                await conn.read(1, timeout_s=3600)
            elif verb == b"SINK":
                left = int(arg)
                while left > 0:
                    data = await conn.read(CHUNK * 4)
                    if not data:
                        return
                    left -= len(data)
                conn.write(b"DONE\n")
                await conn.drain()
            elif verb == b"SOURCE":
                block = bytes(CHUNK)
                for _ in range(int(arg) // CHUNK):
                    conn.write(block)
                    await conn.drain()
                await conn.read(1)
        finally:
            counter.active -= 1

    listener = Listener(
        "bench",
        [f"{HOST}:0"],
        tls=ctx,
        limits=ListenerLimits(max_connections=50_000, max_per_address=50_000, backlog=4096),
        options=ConnectionOptions(idle_timeout_s=3600),
    )
    server = Server(listener, handler)
    await server.start()
    return server


async def serve_stdlib(ctx: ssl.SSLContext | None, counter: Counter) -> asyncio.Server:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counter.active += 1
        try:
            line = await reader.readline()
            verb, _, arg = line.strip().partition(b" ")
            if verb == b"IDLE":
                await reader.read(1)
            elif verb == b"ECHO":
                left = int(arg)
                while left > 0:
                    data = await reader.read(left)
                    writer.write(data)
                    await writer.drain()
                    left -= len(data)
                del data  # or the idle frame keeps the last chunk
                await reader.read(1)
            elif verb == b"SINK":
                left = int(arg)
                while left > 0:
                    data = await reader.read(CHUNK * 4)
                    if not data:
                        return
                    left -= len(data)
                writer.write(b"DONE\n")
                await writer.drain()
            elif verb == b"SOURCE":
                block = bytes(CHUNK)
                for _ in range(int(arg) // CHUNK):
                    writer.write(block)
                    await writer.drain()
                await reader.read(1)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            counter.active -= 1
            writer.close()

    return await asyncio.start_server(handler, HOST, 0, ssl=ctx, backlog=4096)


async def server_main(kind: str, cert_dir: Path) -> None:
    raise_nofile()
    ctx = CertStore.open(cert_dir, [SERVER_NAME]).server_context() if "tls" in kind else None
    counter = Counter()
    stop: Server | asyncio.Server
    if kind.startswith("roost"):
        stop = await serve_roost(ctx, counter)
        port = stop.addresses[0].port
    else:
        stop = await serve_stdlib(ctx, counter)
        port = stop.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    print(f"PORT {port}", flush=True)
    while command := (await commands.readline()).strip():
        if command == b"count":
            print(counter.active, flush=True)
        elif command == b"rss":
            gc.collect()
            print(rss_kib(), flush=True)
        elif command == b"quit":
            break
    if isinstance(stop, Server):
        await stop.stop(grace_s=0.5)
    else:
        stop.close()


# -- client process ----------------------------------------------------------


def client_context(cert_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_dir / "selfsigned.crt"))


def open_one(port: int, ctx: ssl.SSLContext | None, first_line: bytes) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=30)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname=SERVER_NAME)
    sock.sendall(first_line)
    return sock


def open_echoed(port: int, ctx: ssl.SSLContext | None, echo: int) -> socket.socket:
    if not echo:
        return open_one(port, ctx, b"IDLE\n")
    sock = open_one(port, ctx, f"ECHO {echo}\n".encode())
    sock.sendall(bytes(echo))
    got = 0
    while got < echo:
        data = sock.recv(echo - got)
        if not data:
            raise RuntimeError("server closed early")
        got += len(data)
    return sock


def client_idle(port: int, tls: bool, count: int, echo: int, cert_dir: Path) -> None:
    raise_nofile()
    ctx = client_context(cert_dir) if tls else None
    with ThreadPoolExecutor(8) as pool:
        socks = list(pool.map(lambda _: open_echoed(port, ctx, echo), range(count)))
    print("READY", flush=True)
    sys.stdin.readline()
    for sock in socks:
        sock.close()


def client_throughput(port: int, direction: str, megabytes: int, cert_dir: Path) -> None:
    total = megabytes * 1024 * 1024
    sock = open_one(port, client_context(cert_dir), f"{direction} {total}\n".encode())
    started = time.perf_counter()
    if direction == "SINK":
        block = bytes(4 * CHUNK)
        for _ in range(total // len(block)):
            sock.sendall(block)
        assert sock.recv(16) == b"DONE\n"
    else:
        buffer = memoryview(bytearray(4 * CHUNK))
        got = 0
        while got < total:
            n = sock.recv_into(buffer)
            if not n:
                raise RuntimeError("server closed early")
            got += n
    elapsed = time.perf_counter() - started
    sock.sendall(b"x")
    sock.close()
    print(f"{elapsed:.6f}", flush=True)


# -- orchestration -----------------------------------------------------------


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: list[str] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._ready:
                self._lines.append(line.strip())
                self._ready.notify()
        with self._ready:
            self._lines.append("")
            self._ready.notify()

    def line(self, timeout_s: float = STEP_TIMEOUT_S) -> str:
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._lines), timeout_s):
                raise TimeoutError(f"no answer from {self.proc.args!r}")
            line = self._lines.pop(0)
        if not line:
            raise RuntimeError(f"{self.proc.args!r} ended")
        return line

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.line()

    def finish(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_count(server: Child, expected: int) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while int(server.ask("count")) != expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"server did not reach {expected} sessions")
        time.sleep(0.05)


def idle_growth_kib(kind: str, connections: int, echo: int, cert_dir: Path) -> int:
    server = Child("--serve", kind, str(cert_dir))
    try:
        port = server.line().split()[1]
        tls = "tls" if "tls" in kind else "plain"
        warm = Child("--idle-client", port, tls, "100", str(echo), str(cert_dir))
        warm.line()
        wait_count(server, 100)
        warm.finish()
        wait_count(server, 0)
        before = int(server.ask("rss"))
        client = Child("--idle-client", port, tls, str(connections), str(echo), str(cert_dir))
        client.line()
        wait_count(server, connections)
        after = int(server.ask("rss"))
        client.finish()
        wait_count(server, 0)
        return after - before
    finally:
        server.finish()


def throughput_s(kind: str, direction: str, megabytes: int, cert_dir: Path) -> float:
    server = Child("--serve", kind, str(cert_dir))
    try:
        port = server.line().split()[1]
        client = Child("--throughput-client", port, direction, str(megabytes), str(cert_dir))
        elapsed = float(client.line())
        client.finish()
        wait_count(server, 0)
        return elapsed
    finally:
        server.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--echo", type=int, default=65536, help="octets echoed in (a) second pass")
    args = parser.parse_args()
    raise_nofile()
    logging.getLogger("roost").setLevel(logging.ERROR)  # "self-signed" is the point here
    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        generate_self_signed(cert_dir, [SERVER_NAME])
        n = args.connections
        for echo, title in (
            (0, "just after the handshake"),
            (args.echo, f"after a {args.echo} B echo"),
        ):
            print(f"(a) memory per idle connection, {n} connections, {title}: server RSS growth")
            growth = {kind: idle_growth_kib(kind, n, echo, cert_dir) * 1024 / n for kind in KINDS}
            for kind in KINDS:
                print(f"    {kind:13s} {growth[kind] / 1024:8.1f} KiB/conn")
            ours = growth["roost-tls"] - growth["roost-plain"]
            theirs = growth["stdlib-tls"] - growth["stdlib-plain"]
            print(
                f"    TLS above plaintext: roost {ours / 1024:.1f} KiB, "
                f"stdlib {theirs / 1024:.1f} KiB, stdlib/roost {theirs / ours:.1f}x"
                + ("" if echo else f", target < 32 KB: {ours < 32_000}")
            )
        mb = args.megabytes
        print(f"(b) TLS throughput of one connection, {mb} MiB, best of {args.runs}")
        for direction in ("SINK", "SOURCE"):
            best: dict[str, float] = {}
            for _ in range(args.runs):
                for kind in ("roost-tls", "stdlib-tls"):
                    elapsed = throughput_s(kind, direction, mb, cert_dir)
                    best[kind] = min(best.get(kind, elapsed), elapsed)
            rate = {kind: mb / s for kind, s in best.items()}
            ratio = rate["roost-tls"] / rate["stdlib-tls"]
            label = "client->server" if direction == "SINK" else "server->client"
            print(
                f"    {label}: roost {rate['roost-tls']:7.0f} MiB/s, "
                f"stdlib {rate['stdlib-tls']:7.0f} MiB/s, roost/stdlib {ratio:.2f}x"
            )
    # (c) is its own script, so that it can be run alone; the issue asks for
    # the three figures from one run of this one.
    print("(c) MIME parse of a 50 MB message (bench/mime.py)", flush=True)
    subprocess.run([sys.executable, str(Path(__file__).with_name("mime.py"))], check=True)


if __name__ == "__main__":
    match sys.argv[1:2]:
        case ["--serve"]:
            asyncio.run(server_main(sys.argv[2], Path(sys.argv[3])))
        case ["--idle-client"]:
            port, tls, count, echo, cert_dir = sys.argv[2:7]
            client_idle(int(port), tls == "tls", int(count), int(echo), Path(cert_dir))
        case ["--throughput-client"]:
            port, direction, megabytes, cert_dir = sys.argv[2:6]
            client_throughput(int(port), direction, int(megabytes), Path(cert_dir))
        case _:
            main()
