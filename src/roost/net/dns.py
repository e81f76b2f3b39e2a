"""DNS look-ups the services share (dnspython's async resolver).

Answers are sorted into what a mail server must tell apart: an answer, a name
that does not exist (NXDOMAIN: permanent), a name without records of that
type, and a failure worth retrying (SERVFAIL, timeout).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from roost.core.settings import parse_listen


class Lookup(enum.Enum):
    FOUND = "found"
    NO_DOMAIN = "nxdomain"
    NO_RECORDS = "no records"
    TEMPORARY = "temporary failure"


@dataclass(frozen=True, slots=True)
class Answer:
    status: Lookup
    records: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    host: str


class Resolver:
    def __init__(self, nameservers: tuple[str, ...], timeout_s: float) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port)
                for host, port in (parse_listen(n) for n in nameservers)
            ]
        self._resolver.lifetime = timeout_s
        self._resolver.timeout = timeout_s

    async def query(self, name: str, rdtype: str) -> Answer:
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer(Lookup.NO_DOMAIN, detail=f"{name} does not exist")
        except dns.resolver.NoAnswer:
            return Answer(Lookup.NO_RECORDS, detail=f"{name} has no {rdtype} records")
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            return Answer(Lookup.TEMPORARY, detail=f"{rdtype} {name}: {exc}")
        except dns.exception.DNSException as exc:
            return Answer(Lookup.TEMPORARY, detail=f"{rdtype} {name}: {exc}")
        return Answer(Lookup.FOUND, tuple(r.to_text() for r in answer))

    async def mx(self, domain: str) -> tuple[Answer, tuple[MxHost, ...]]:
        """MX hosts in preference order (RFC 5321 §5.1)."""
        answer = await self.query(domain, "MX")
        hosts = []
        for record in answer.records:
            preference, _, host = record.partition(" ")
            hosts.append(MxHost(int(preference), host.rstrip(".").lower()))
        hosts.sort(key=lambda h: h.preference)
        return answer, tuple(hosts)

    async def addresses(self, host: str) -> tuple[Answer, tuple[str, ...]]:
        """IPv6 and IPv4 addresses of a host; a failure only when both fail."""
        v6 = await self.query(host, "AAAA")
        v4 = await self.query(host, "A")
        found = v6.records + v4.records
        if found:
            return Answer(Lookup.FOUND, found), found
        if Lookup.TEMPORARY in (v6.status, v4.status):
            return (v4 if v4.status is Lookup.TEMPORARY else v6), ()
        return v4, ()
