"""TLS through real listeners: implicit TLS, STARTTLS, SNI, broken handshakes.

The server side speaks a tiny line protocol defined here: a greeting, then
one reply per CRLF line (ECHO, STARTTLS, INFO, QUIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from roost.net import (
    CertStore,
    Connection,
    ConnectionOptions,
    Listener,
    Server,
    SessionHandler,
    connect,
    load_pair,
)

HOST = "127.0.0.1"
WAIT_S = 5.0

StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def _write_pair(ca: trustme.CA, folder: Path, stem: str, *names: str) -> tuple[Path, Path]:
    issued = ca.issue_cert(*names)
    cert, key = folder / f"{stem}.crt", folder / f"{stem}.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.fixture
def store(ca: trustme.CA, tmp_path: Path) -> CertStore:
    """Default certificate a.test; a second one for *.b.test."""
    a = load_pair(*_write_pair(ca, tmp_path, "a", "a.test"))
    b = load_pair(*_write_pair(ca, tmp_path, "b", "*.b.test"))
    return CertStore([a, b])


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[Server] = []

    async def start(
        handler: SessionHandler,
        *,
        tls: ssl.SSLContext | None = None,
        options: ConnectionOptions | None = None,
    ) -> Server:
        server = Server(Listener("t", [f"{HOST}:0"], tls=tls, options=options), handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace_s=1.0)


def port_of(server: Server) -> int:
    return server.addresses[0].port


class LineService:
    """The test protocol; records every line it read and the TLS it saw."""

    def __init__(self, tls: ssl.SSLContext | None = None, *, drain_before_tls: bool = False):
        self.tls = tls
        self.drain_before_tls = drain_before_tls
        self.lines: list[bytes] = []
        self.connections: list[Connection] = []

    async def __call__(self, conn: Connection) -> None:
        self.connections.append(conn)
        conn.write(b"READY\r\n")
        while True:
            line = await conn.read_until(b"\r\n", 1000, between_commands=True)
            if not line:
                return
            self.lines.append(line)
            command = line.rstrip(b"\r\n")
            if command == b"STARTTLS" and self.tls is not None:
                conn.write(b"GO\r\n")
                if self.drain_before_tls:
                    # Let the ClientHello arrive before start_tls is called.
                    async with asyncio.timeout(WAIT_S):
                        while conn.pending_octets == 0:
                            await asyncio.sleep(0.01)
                await conn.start_tls(self.tls)
            elif command == b"INFO":
                info = conn.tls
                text = f"{info.version} {info.server_name}" if info else "plain"
                conn.write(f"INFO {text}\r\n".encode())
            elif command == b"QUIT":
                conn.write(b"BYE\r\n")
                await conn.drain()
                return
            else:
                conn.write(b"ECHO " + line)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
        async with asyncio.timeout(WAIT_S):
            await writer.wait_closed()


async def test_implicit_tls_round_trip(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    service = LineService()
    server = await start_server(service, tls=store.server_context())
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(
            HOST, port_of(server), ssl=client_ctx, server_hostname="a.test"
        )
        assert await reader.readline() == b"READY\r\n"
        writer.write(b"PING\r\nINFO\r\n")
        assert await reader.readline() == b"ECHO PING\r\n"
        assert await reader.readline() == b"INFO TLSv1.3 a.test\r\n"
        writer.write(b"QUIT\r\n")
        assert await reader.readline() == b"BYE\r\n"
        assert await reader.read() == b""
    await close_writer(writer)
    assert service.connections[0].is_tls


async def test_tls12_client_is_served(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server = await start_server(LineService(), tls=store.server_context())
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(
            HOST, port_of(server), ssl=client_ctx, server_hostname="a.test"
        )
        await reader.readline()
        writer.write(b"INFO\r\n")
        assert await reader.readline() == b"INFO TLSv1.2 a.test\r\n"
    await close_writer(writer)


async def test_large_transfer_both_ways(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    async def echo(conn: Connection) -> None:
        while data := await conn.read(50_000):
            conn.write(data)
            await conn.drain()

    server = await start_server(echo, tls=store.server_context())
    payload = os.urandom(3_000_000)
    async with asyncio.timeout(WAIT_S * 2):
        reader, writer = await asyncio.open_connection(
            HOST, port_of(server), ssl=client_ctx, server_hostname="a.test"
        )

        async def send() -> None:
            for start in range(0, len(payload), 70_001):
                writer.write(payload[start : start + 70_001])
                await writer.drain()
            writer.write_eof() if writer.can_write_eof() else None

        sender = asyncio.create_task(send())
        received = await reader.readexactly(len(payload))
        await sender
    await close_writer(writer)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


async def test_starttls_round_trip(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    service = LineService(store.server_context())
    server = await start_server(service)
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        assert await reader.readline() == b"READY\r\n"
        writer.write(b"INFO\r\n")
        assert await reader.readline() == b"INFO plain\r\n"
        writer.write(b"STARTTLS\r\n")
        assert await reader.readline() == b"GO\r\n"
        await writer.start_tls(client_ctx, server_hostname="x.b.test")
        writer.write(b"INFO\r\n")
        assert await reader.readline() == b"INFO TLSv1.3 x.b.test\r\n"
        writer.write(b"QUIT\r\n")
        assert await reader.readline() == b"BYE\r\n"
    await close_writer(writer)


async def test_starttls_keeps_a_client_hello_that_arrived_early(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    """Bytes after the go-ahead are TLS even if read before start_tls()."""
    server = await start_server(LineService(store.server_context(), drain_before_tls=True))
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        await reader.readline()
        writer.write(b"STARTTLS\r\n")
        assert await reader.readline() == b"GO\r\n"
        await writer.start_tls(client_ctx, server_hostname="a.test")
        writer.write(b"QUIT\r\n")
        assert await reader.readline() == b"BYE\r\n"
    await close_writer(writer)


async def test_starttls_injection_is_discarded(
    start_server: StartServer,
    store: CertStore,
    client_ctx: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RFC 3207 §4.2 / CVE-2011-0411: plaintext pipelined after STARTTLS."""
    caplog.set_level(logging.INFO, logger="roost.net")
    service = LineService(store.server_context())
    server = await start_server(service)
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        await reader.readline()
        writer.write(b"STARTTLS\r\nINJECTED\r\n")
        assert await reader.readline() == b"GO\r\n"
        await writer.start_tls(client_ctx, server_hostname="a.test")
        writer.write(b"QUIT\r\n")
        assert await reader.readline() == b"BYE\r\n"
    await close_writer(writer)
    assert service.lines == [b"STARTTLS\r\n", b"QUIT\r\n"]
    assert "discarded 10 plaintext octets sent before the TLS go-ahead" in caplog.text


@pytest.mark.parametrize(
    ("sni", "expected_san", "expected_sni"),
    [
        ("a.test", "a.test", "a.test"),
        ("mx.b.test", "*.b.test", "mx.b.test"),
        (None, "a.test", None),
    ],
)
async def test_sni_selects_the_certificate(
    start_server: StartServer,
    store: CertStore,
    client_ctx: ssl.SSLContext,
    sni: str | None,
    expected_san: str,
    expected_sni: str | None,
) -> None:
    service = LineService()
    server = await start_server(service, tls=store.server_context())
    if sni is None:
        client_ctx.check_hostname = False
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(
            HOST, port_of(server), ssl=client_ctx, server_hostname=sni or ""
        )
        await reader.readline()
        peer = writer.get_extra_info("ssl_object").getpeercert()
    await close_writer(writer)
    assert peer["subjectAltName"] == (("DNS", expected_san),)
    info = service.connections[0].tls
    assert info is not None
    assert info.server_name == expected_sni


async def test_client_certificate_is_exposed(
    start_server: StartServer, store: CertStore, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    service = LineService()
    server = await start_server(service, tls=store.server_context(client_ca=ca_file))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ca.issue_cert("client.test").configure_cert(ctx)
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(
            HOST, port_of(server), ssl=ctx, server_hostname="a.test"
        )
        await reader.readline()
        writer.write(b"QUIT\r\n")
        await reader.readline()
    await close_writer(writer)
    info = service.connections[0].tls
    assert info is not None and info.peer_certificate is not None
    cert = x509.load_der_x509_certificate(info.peer_certificate)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["client.test"]


async def test_our_client_against_our_server(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    server = await start_server(LineService(), tls=store.server_context())
    conn = await connect(HOST, port_of(server), tls=client_ctx, server_hostname="mx.b.test")
    try:
        assert await conn.read_until(b"\r\n", 100, timeout_s=WAIT_S) == b"READY\r\n"
        conn.write(b"INFO\r\n")
        assert (
            await conn.read_until(b"\r\n", 100, timeout_s=WAIT_S) == b"INFO TLSv1.3 mx.b.test\r\n"
        )
        assert conn.tls is not None and conn.tls.server_name == "mx.b.test"
    finally:
        conn.close()
        await conn.wait_closed(WAIT_S)


async def _working_tls_client(port: int, client_ctx: ssl.SSLContext) -> None:
    reader, writer = await asyncio.open_connection(
        HOST, port, ssl=client_ctx, server_hostname="a.test"
    )
    assert await reader.readline() == b"READY\r\n"
    writer.write(b"QUIT\r\n")
    assert await reader.readline() == b"BYE\r\n"
    await close_writer(writer)


async def test_garbage_instead_of_client_hello(
    start_server: StartServer,
    store: CertStore,
    client_ctx: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="roost.net")
    service = LineService()
    server = await start_server(service, tls=store.server_context())
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        writer.write(b"EHLO client.example\r\n")
        # OpenSSL answers with an alert record, then the server closes.
        with contextlib.suppress(ConnectionError):
            await reader.read()
        await _working_tls_client(port_of(server), client_ctx)
    await close_writer(writer)
    assert service.lines == [b"QUIT\r\n"]
    failures = [r.getMessage() for r in caplog.records if "handshake" in r.getMessage()]
    assert len(failures) == 1
    assert "failed: wrong version number (the peer did not send a TLS ClientHello)" in failures[0]


async def test_stalled_handshake_times_out(
    start_server: StartServer,
    store: CertStore,
    client_ctx: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="roost.net")
    options = ConnectionOptions(handshake_timeout_s=0.3)
    server = await start_server(LineService(), tls=store.server_context(), options=options)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        writer.write(b"\x16\x03\x01")  # the start of a record header, then nothing
        started = loop.time()
        await _working_tls_client(port_of(server), client_ctx)  # not disturbed
        assert await reader.read() == b""
        assert loop.time() - started >= 0.25
    await close_writer(writer)
    assert "timed out after 0.3 s" in caplog.text
    assert server.listener.active == 0


async def test_client_discards_a_response_injected_after_the_go_ahead(
    start_server: StartServer, store: CertStore, client_ctx: ssl.SSLContext
) -> None:
    server_ctx = store.server_context()

    async def injecting_server(conn: Connection) -> None:
        await conn.read_until(b"\r\n", 100)
        conn.write(b"GO\r\nINJECTED\r\n")
        await conn.start_tls(server_ctx)
        conn.write(b"SECURE\r\n")
        await conn.drain()

    server = await start_server(injecting_server)
    conn = await connect(HOST, port_of(server))
    try:
        conn.write(b"STARTTLS\r\n")
        assert await conn.read_until(b"\r\n", 100, timeout_s=WAIT_S) == b"GO\r\n"
        await conn.start_tls(client_ctx, server_hostname="a.test")
        assert await conn.read_until(b"\r\n", 100, timeout_s=WAIT_S) == b"SECURE\r\n"
    finally:
        conn.close()
        await conn.wait_closed(WAIT_S)
