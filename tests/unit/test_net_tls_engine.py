"""`TlsEngine` in memory: two engines talk with no socket in between."""

from __future__ import annotations

import os
import ssl

import pytest
import trustme

from roost.net import TlsEngine, harden_context
from roost.net.tls import RECORD_OCTETS


@pytest.fixture(scope="module")
def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server = harden_context(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    ca.issue_cert("mail.test").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def shuttle(a: TlsEngine, b: TlsEngine) -> None:
    """Run both handshakes to completion, moving bytes in memory."""
    for _ in range(10):
        a_done, b_done = a.handshake(), b.handshake()
        out_a, out_b = a.take_output(), b.take_output()
        if out_a:
            b.feed(out_a)
        if out_b:
            a.feed(out_b)
        if a_done and b_done and not out_a and not out_b:
            return
    raise AssertionError("handshake did not finish")


def pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> tuple[TlsEngine, TlsEngine]:
    server_ctx, client_ctx = contexts
    server = TlsEngine(server_ctx, server_side=True)
    client = TlsEngine(client_ctx, server_side=False, server_hostname="mail.test")
    shuttle(client, server)
    return server, client


def test_handshake_and_info(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server, client = pair(contexts)
    info = server.info()
    assert info.version == "TLSv1.3"
    assert info.server_name == "mail.test"
    assert info.peer_certificate is None
    assert client.info().peer_certificate is not None


def test_data_both_ways_in_bounded_records(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server, client = pair(contexts)
    payload = os.urandom(100_000)
    pieces = client.encrypt(payload)
    assert len(pieces) == -(-len(payload) // RECORD_OCTETS)
    assert max(len(p) for p in pieces) < RECORD_OCTETS + 256
    sink = bytearray()
    for piece in pieces:
        server.feed(piece)
        assert not server.decrypt_into(sink)
    assert bytes(sink) == payload
    for piece in server.encrypt(b"250 OK\r\n"):
        client.feed(piece)
    reply = bytearray()
    client.decrypt_into(reply)
    assert reply == b"250 OK\r\n"


def test_close_notify_ends_the_stream(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server, client = pair(contexts)
    server.feed(client.close_notify())
    assert server.decrypt_into(bytearray())


def test_eof_without_close_notify_ends_the_stream(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server, _client = pair(contexts)
    server.feed_eof()
    assert server.decrypt_into(bytearray())


def test_garbage_instead_of_client_hello(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server = TlsEngine(contexts[0], server_side=True)
    server.feed(b"EHLO mail.example\r\n")
    with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER"):
        server.handshake()


def test_hardened_context_defaults() -> None:
    ctx = harden_context(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    tls12 = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all("ECDHE" in n or "DHE" in n for n in tls12)
    assert all("GCM" in n or "CHACHA20" in n for n in tls12)
