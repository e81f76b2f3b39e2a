"""TLS carried over `ssl.MemoryBIO`, driven by our own code.

Theory of operation
-------------------
asyncio's TLS transport keeps a 256 KiB read buffer per connection, alive for
the whole life of the connection: ten thousand idle IMAP clients would cost
2.5 GB. `TlsEngine` instead wraps an `ssl.SSLObject` between two memory BIOs
and holds nothing else. Ciphertext read from the socket (into a buffer shared
by every connection of the thread) is fed to the engine in slices of at most
`FEED_OCTETS`, and decrypted at once, so the incoming BIO never holds more
than one slice. Plaintext is encrypted in records of at most `RECORD_OCTETS`
and taken out of the outgoing BIO at once. OpenSSL's memory BIO keeps its
largest size for life, so these two bounds are what an idle connection keeps
after traffic; CPython sets ``SSL_MODE_RELEASE_BUFFERS``, so OpenSSL's own
record buffers are freed between records.

The engine is sans-I/O: bytes in, plaintext and bytes-to-send out. The
connection (`roost.net.connection`) moves them between socket and caller.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

__all__ = [
    "FEED_OCTETS",
    "RECORD_OCTETS",
    "SniRecordingSSLObject",
    "TlsEngine",
    "TlsInfo",
    "client_context",
    "harden_context",
    "record_server_name",
]

# Received ciphertext is handed to OpenSSL in slices this big, each drained
# at once, so the incoming BIO never grows beyond about 5 KiB. (Measured in
# bench/net.py: no slower than whole 16 KiB records.)
FEED_OCTETS = 4 * 1024
# Plaintext per record we write: the RFC 8446 §5.1 maximum, 2^14 octets.
# The outgoing BIO thus keeps about 22 KiB after a large write; 4 KiB
# records would keep 5 KiB but halve the sending rate.
RECORD_OCTETS = 16 * 1024
# Largest plaintext one SSL_read returns (one record).
_PLAINTEXT_OCTETS = 16 * 1024

# Mozilla "intermediate" TLS 1.2 suites (forward secret AEAD only);
# TLS 1.3 suites are OpenSSL's defaults and are all fine.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"


class SniRecordingSSLObject(ssl.SSLObject):
    """An `ssl.SSLObject` that remembers the host name the client asked for.

    Installed as ``sslobject_class`` by `harden_context`; the SNI callback
    (`record_server_name`, or the selecting one of `roost.net.certs`) stores
    the name here, since the stdlib offers no getter for it on the server side.
    """

    requested_server_name: str | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What was negotiated on one connection, for logs, policy and status."""

    version: str
    cipher: str
    cipher_bits: int
    server_name: str | None
    """The SNI host name the client asked for (RFC 6066 §3), if any."""
    peer_certificate: bytes | None
    """The peer's certificate in DER form, if it sent one."""
    alpn_protocol: str | None


def harden_context(context: ssl.SSLContext) -> ssl.SSLContext:
    """Apply Roost's TLS defaults to *context* and return it.

    TLS 1.2 at least, no compression (CRIME), no renegotiation (it lets a
    client make the server burn CPU, and TLS 1.3 dropped it), forward-secret
    AEAD suites for TLS 1.2, the server's suite order.
    """
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= (
        ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    )
    context.set_ciphers(_TLS12_CIPHERS)
    context.sslobject_class = SniRecordingSSLObject
    if context.sni_callback is None:
        context.sni_callback = record_server_name
    return context


def record_server_name(
    sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _context: ssl.SSLContext
) -> None:
    """SNI callback that only notes the requested name (see `TlsInfo.server_name`)."""
    if isinstance(sslobj, SniRecordingSSLObject):
        sslobj.requested_server_name = server_name


class TlsEngine:
    """One TLS session between two memory BIOs; no socket, no asyncio.

    Call `feed` with received ciphertext; `handshake` until it returns True;
    then `decrypt_into` for plaintext and `encrypt` for ciphertext to send.
    After every call, `take_output` returns what must go to the peer.
    `ssl.SSLError` from any method means the session is broken.
    """

    __slots__ = ("_done", "_in", "_obj", "_out")

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = context.wrap_bio(
            self._in, self._out, server_side=server_side, server_hostname=server_hostname
        )
        self._done = False

    @property
    def handshake_done(self) -> bool:
        return self._done

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Hand received ciphertext to OpenSSL (at most `FEED_OCTETS` at once)."""
        self._in.write(data)

    def feed_eof(self) -> None:
        """The peer closed its side of the TCP connection."""
        self._in.write_eof()

    def handshake(self) -> bool:
        """Advance the handshake; True once it is complete."""
        if not self._done:
            try:
                self._obj.do_handshake()
            except ssl.SSLWantReadError:
                return False
            self._done = True
        return True

    def decrypt_into(self, sink: bytearray) -> bool:
        """Append all plaintext available to *sink*; True if the peer ended TLS.

        The peer ends TLS with close_notify (RFC 8446 §6.1), or by closing TCP
        without it, which we treat the same (most mail clients do it).
        """
        obj = self._obj
        while True:
            try:
                chunk = obj.read(_PLAINTEXT_OCTETS)
            except ssl.SSLWantReadError:
                return False
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return True
            if not chunk:
                return True
            sink += chunk

    def encrypt(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Encrypt *data* into records; returns the ciphertext pieces to send."""
        obj = self._obj
        out = self._out
        pieces: list[bytes] = []
        view = memoryview(data)
        for start in range(0, len(view), RECORD_OCTETS):
            obj.write(view[start : start + RECORD_OCTETS])
            pieces.append(out.read())
        return pieces

    def take_output(self) -> bytes:
        """Ciphertext OpenSSL produced (handshake messages, alerts, tickets)."""
        return self._out.read() if self._out.pending else b""

    def close_notify(self) -> bytes:
        """Start closing TLS: returns the close_notify alert to send."""
        try:
            self._obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            # The session is already broken; there is nothing to say.
            pass
        return self.take_output()

    def info(self) -> TlsInfo:
        """The negotiated parameters (only meaningful once the handshake is done)."""
        obj = self._obj
        cipher = obj.cipher()
        name = obj.requested_server_name if isinstance(obj, SniRecordingSSLObject) else None
        return TlsInfo(
            version=obj.version() or "",
            cipher=cipher[0] if cipher else "",
            cipher_bits=cipher[2] if cipher else 0,
            server_name=name if obj.server_side else obj.server_hostname,
            peer_certificate=obj.getpeercert(binary_form=True),
            alpn_protocol=obj.selected_alpn_protocol(),
        )


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """A verifying client context (system CAs, or *cafile*), TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
