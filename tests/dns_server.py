"""A small authoritative DNS server on 127.0.0.1 for tests (dnspython messages over UDP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SERVFAIL = "SERVFAIL"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[tuple[str, str], list[str] | str]) -> None:
        self.zone = zone
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        records = self.zone.get((name, rdtype))
        if records == SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif records:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, "IN", rdtype, list(records))
            )
        elif not any(key[0] == name for key in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.flags |= dns.flags.AA
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@asynccontextmanager
async def dns_server(zone: dict[tuple[str, str], list[str] | str]) -> AsyncIterator[str]:
    """Serve `zone` ({(name, type): [rdata]} or SERVFAIL); yields "127.0.0.1:PORT"."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(zone), local_addr=("127.0.0.1", 0)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        yield f"127.0.0.1:{port}"
    finally:
        transport.close()
