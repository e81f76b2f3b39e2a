"""Benchmark: Roost's streaming MIME parser against the stdlib email parser.

Workload: a generated message of about 50 MB (a short text part and one big
base64 attachment) fed in 64 KiB chunks to `roost.proto.mime.MimeParser` and
to `email.parser.BytesFeedParser`, each in a fresh subprocess so that the
peak RSS of one does not hide the other. For each it prints the throughput
(best of `--repeat` untraced runs), the ru_maxrss growth of its process, and
the tracemalloc peak of one traced run; then the ratios. Target: Roost's
memory growth under 16 MB.

    .venv/bin/python bench/mime.py [--size-mb 50] [--chunk-kib 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator

MB = 1_000_000
MIB = 1024 * 1024


def message_chunks(total_octets: int, chunk_octets: int) -> Iterator[bytes]:
    """The message, chunk by chunk, without ever holding all of it."""
    head = (
        b"From: Bench <bench@example.org>\r\n"
        b"To: someone@example.net\r\n"
        b"Subject: =?utf-8?q?Big_attachment_=E2=80=93_bench?=\r\n"
        b"Date: Mon, 12 Feb 2024 08:00:00 +0100\r\n"
        b"Message-ID: <bench@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="----=_Bench_0001"\r\n'
        b"\r\n"
        b"------=_Bench_0001\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"The attachment follows.\r\n"
        b"------=_Bench_0001\r\n"
        b'Content-Type: application/octet-stream; name="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\n'
        b"\r\n"
    )
    tail = b"------=_Bench_0001--\r\n"
    line = base64.b64encode(bytes(range(57))) + b"\r\n"
    block = line * max(1, chunk_octets // len(line))
    pending = head
    remaining = total_octets - len(head) - len(tail)
    while remaining > 0:
        piece = block if remaining >= len(block) else line * max(1, remaining // len(line))
        remaining -= len(piece)
        yield pending + piece if pending else piece
        pending = b""
    yield tail


def run_roost(chunks: Iterator[bytes]) -> int:
    from roost.proto.mime import MimeParser

    parser = MimeParser()
    for chunk in chunks:
        parser.feed(chunk)
    return len(parser.close().parts)


def run_stdlib(chunks: Iterator[bytes]) -> int:
    from email import policy
    from email.parser import BytesFeedParser

    parser = BytesFeedParser(policy=policy.compat32)
    for chunk in chunks:
        parser.feed(chunk)
    return sum(1 for _ in parser.close().walk())


PARSERS: dict[str, Callable[[Iterator[bytes]], int]] = {"roost": run_roost, "stdlib": run_stdlib}


def measure(name: str, size: int, chunk: int, repeat: int) -> dict[str, float]:
    """Runs in the child process; returns the numbers as JSON-able floats."""
    run = PARSERS[name]
    octets = sum(len(c) for c in message_chunks(size, chunk))
    run(message_chunks(MB, chunk))  # imports and caches are not growth
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = float("inf")
    parts = 0
    for _ in range(repeat):
        start = time.perf_counter()
        parts = run(message_chunks(size, chunk))
        best = min(best, time.perf_counter() - start)
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    run(message_chunks(size, chunk))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "octets": octets,
        "parts": parts,
        "seconds": best,
        "mb_per_s": octets / MB / best,
        "rss_growth": rss_growth,
        "traced_peak": peak - before,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=50)
    ap.add_argument("--chunk-kib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=sorted(PARSERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    size, chunk = int(args.size_mb * MB), args.chunk_kib * 1024
    if args.child:
        print(json.dumps(measure(args.child, size, chunk, args.repeat)))
        return
    results: dict[str, dict[str, float]] = {}
    for name in PARSERS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, *sys.argv[1:]],
            check=True,
            capture_output=True,
            text=True,
        )
        results[name] = json.loads(out.stdout)
    octets = results["roost"]["octets"]
    print(
        f"workload: {octets / MB:.1f} MB message, one base64 attachment,"
        f" {args.chunk_kib} KiB chunks"
    )
    print(
        f"{'parser':8} {'parts':>5} {'MB/s':>9} {'seconds':>8}"
        f" {'RSS growth':>11} {'traced peak':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:8} {int(r['parts']):5d} {r['mb_per_s']:9.1f} {r['seconds']:8.3f}"
            f" {r['rss_growth'] / MIB:8.1f} MiB {r['traced_peak'] / MIB:8.2f} MiB"
        )
    roost, stdlib = results["roost"], results["stdlib"]
    print(f"speed ratio roost/stdlib: {roost['mb_per_s'] / stdlib['mb_per_s']:.1f}x")
    print(
        "traced memory ratio stdlib/roost: "
        f"{stdlib['traced_peak'] / max(roost['traced_peak'], 1):.0f}x"
    )
    verdict = "OK" if roost["traced_peak"] < 16 * MIB and roost["rss_growth"] < 16 * MIB else "OVER"
    print(f"roost memory growth under 16 MiB: {verdict}")


if __name__ == "__main__":
    main()
