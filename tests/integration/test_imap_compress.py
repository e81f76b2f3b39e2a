"""COMPRESS=DEFLATE (RFC 4978) on the plaintext and the TLS listener, with a
raw socket and zlib as the client, and with imaplib's socket wrapped."""

from __future__ import annotations

import re
import socket
import ssl
import zlib
from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    ALICE,
    ALICE_PASSWORD,
    NEWSLETTER,
    PLAIN,
    TIMEOUT_S,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)
from tests.tls_support import client_context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class Deflated:
    """An IMAP client that speaks compressed after COMPRESS DEFLATE."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.deflater: zlib._Compress | None = None
        self.inflater: zlib._Decompress | None = None
        self.received = 0

    def send(self, line: bytes) -> None:
        if self.deflater is not None:
            line = self.deflater.compress(line) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(line)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.received += len(data)
            self.buffer += self.inflater.decompress(data) if self.inflater else data
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.received += len(data)
            self.buffer += self.inflater.decompress(data) if self.inflater else data
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out

    def command(self, tag: str, text: str) -> list[bytes]:
        self.send(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = self.line()
            found = re.search(rb"\{(\d+)\}$", line)
            if found:
                line += b"\r\n" + self.exact(int(found.group(1))) + self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    def compress(self) -> bytes:
        done = self.command("z1", "COMPRESS DEFLATE")[-1]
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)
        assert not self.buffer  # nothing may follow the OK uncompressed
        return done


def scenario(sock: socket.socket) -> None:
    client = Deflated(sock)
    assert client.line().startswith(b"* OK")
    assert b"COMPRESS=DEFLATE" in client.command("a1", "CAPABILITY")[0]
    client.command("a2", f"LOGIN {ALICE} {ALICE_PASSWORD}")
    assert client.compress() == b"z1 OK DEFLATE active"
    lines = client.command("a3", "SELECT INBOX")
    assert lines[-1].startswith(b"a3 OK [READ-WRITE]")
    before = client.received
    lines = client.command("a4", "FETCH 1:2 (BODY.PEEK[])")
    assert lines[0].endswith(PLAIN + b")") and lines[1].endswith(NEWSLETTER + b")")
    assert client.received - before < len(NEWSLETTER) // 4  # the newsletter repeats itself
    assert client.command("a5", "COMPRESS DEFLATE")[-1].startswith(b"a5 NO [COMPRESSIONACTIVE]")
    client.send(b"a6 IDLE\r\n")
    assert client.line() == b"+ idling"
    client.send(b"DONE\r\n")
    assert client.line() == b"a6 OK IDLE terminated"
    assert client.command("a7", "LOGOUT")[0] == b"* BYE Logging out"


async def test_compress_on_plaintext(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, NEWSLETTER])
        port = imap_port(roost)

        def run() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
                scenario(sock)

        await in_thread(run)


async def test_compress_under_tls(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, NEWSLETTER])
        port = imap_port(roost, "imaps")
        context = client_context(ca)

        def run() -> None:
            raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
            with context.wrap_socket(raw, server_hostname="localhost") as sock:
                assert isinstance(sock, ssl.SSLSocket)
                scenario(sock)

        await in_thread(run)


async def test_compress_refusals(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)

        def run() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
                client = Deflated(sock)
                client.line()
                assert client.command("a1", "COMPRESS DEFLATE")[-1].startswith(b"a1 BAD")
                client.command("a2", f"LOGIN {ALICE} {ALICE_PASSWORD}")
                assert client.command("a3", "COMPRESS LZMA")[-1].startswith(b"a3 BAD")

        await in_thread(run)
