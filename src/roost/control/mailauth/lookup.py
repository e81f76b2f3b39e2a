"""TXT look-ups for DKIM keys and DMARC policies, through Roost's resolver.

`roost.net.dns.Resolver` answers with presentation text; a TXT record's
text is turned back into its character-strings by dnspython's own parser,
so escapes and quoting round-trip exactly. The strings of one record are
concatenated (RFC 6376 §3.6.2.2, RFC 7489 §6.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.txtbase

from roost.net.dns import Lookup, Resolver


@dataclass(frozen=True, slots=True)
class TxtAnswer:
    status: Lookup
    texts: tuple[bytes, ...] = ()
    detail: str = ""


def txt_strings(record: str) -> tuple[bytes, ...]:
    """The character-strings of one TXT record in presentation form."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, record)
    except dns.exception.DNSException:
        return ()
    if not isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return ()
    return tuple(rdata.strings)


async def txt(resolver: Resolver, name: str) -> TxtAnswer:
    answer = await resolver.query(name, "TXT")
    if answer.status is not Lookup.FOUND:
        return TxtAnswer(answer.status, detail=answer.detail)
    return TxtAnswer(Lookup.FOUND, tuple(b"".join(txt_strings(r)) for r in answer.records))
