"""Roost net layer: listeners, TLS over memory BIOs, STARTTLS, certificates, sessions.

Services build a `Listener` (addresses, limits, implicit TLS or not) and a
`Server` running their `SessionHandler` for every accepted `Connection`;
`CertStore` supplies the `ssl.SSLContext` (with SNI) for TLS and STARTTLS.
Nothing here reads the configuration: the composition root passes plain
values in.
"""

from roost.net.certs import (
    Certificate,
    CertStore,
    generate_self_signed,
    load_folder,
    load_pair,
    match_host,
)
from roost.net.connection import ConnectionOptions, TcpConnection
from roost.net.driver import next_event
from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    LineTooLong,
    NetError,
    OutputOverflow,
    ShuttingDown,
    TlsHandshakeError,
    WriteTimeout,
)
from roost.net.interfaces import Connection, SansIoCore, SessionHandler
from roost.net.listener import ListenAddress, Listener, ListenerLimits, parse_address
from roost.net.server import Server, connect
from roost.net.tls import TlsEngine, TlsInfo, client_context, harden_context

__all__ = [
    "CertStore",
    "Certificate",
    "Connection",
    "ConnectionClosed",
    "ConnectionOptions",
    "IdleTimeout",
    "LineTooLong",
    "ListenAddress",
    "Listener",
    "ListenerLimits",
    "NetError",
    "OutputOverflow",
    "SansIoCore",
    "Server",
    "SessionHandler",
    "ShuttingDown",
    "TcpConnection",
    "TlsEngine",
    "TlsHandshakeError",
    "TlsInfo",
    "WriteTimeout",
    "client_context",
    "connect",
    "generate_self_signed",
    "harden_context",
    "load_folder",
    "load_pair",
    "match_host",
    "next_event",
    "parse_address",
]
