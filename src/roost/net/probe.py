"""A connection to one of our own listeners, as a service's health probe makes.

Every service's probe opens one (DESIGN: the probes) and then speaks its own
protocol over it; this is the part they share: which host to dial for a
wildcard bind, and TLS that checks the listener answers, not who it is.
"""

from __future__ import annotations

import asyncio
import ssl

from roost.net.listener import ListenAddress
from roost.net.server import Server

_WILDCARDS = ("0.0.0.0", "", "*")  # noqa: S104 (addresses listened on, not bound here)


def probe_target(server: Server) -> ListenAddress:
    """The first address `server` listens on."""
    return server.addresses[0]


async def open_probe(
    server: Server, timeout_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address of `server` (TLS for a TLS listener).

    Raises OSError or TimeoutError when it cannot."""
    address = probe_target(server)
    host = "127.0.0.1" if address.host in _WILDCARDS else address.host
    host = "::1" if host == "::" else host
    context: ssl.SSLContext | None = None
    if server.listener.tls is not None:
        # Our own listener: the probe checks that it answers, not who it is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return await asyncio.wait_for(
        asyncio.open_connection(host, address.port, ssl=context), timeout_s
    )
