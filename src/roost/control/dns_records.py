"""The DNS records a mail domain needs, and a check of what the DNS serves now.

`records_for` computes, from the config and the domain's DKIM keys, every
record an administrator publishes for a domain that Roost serves:

- MX (RFC 5321 §5.1) naming the mail host;
- SPF (RFC 7208) as a TXT record on the domain;
- DKIM (RFC 6376 §3.6.1, RFC 8463) TXT records of the active selector;
- DMARC (RFC 7489 §6.1) as a TXT record at `_dmarc`;
- SRV records for clients (RFC 6186: submission, IMAP, POP3; RFC 8314 §5.1
  for their implicit-TLS forms; RFC 6120 §3.2.1 and XEP-0368 for XMPP).
  A service with no listener is published with the target `.`, which says
  "not offered here" (RFC 6186 §4);
- `autoconfig` and `autodiscover` names that mail clients try first
  (Thunderbird's autoconfig, Outlook's autodiscover), as CNAMEs to the mail host.

`check` asks the configured resolver for each one and marks it `found`,
`missing`, `different` (there is a record of that kind, but not ours; what
was found is returned) or `unknown` (the DNS did not answer: a timeout or
SERVFAIL is never reported as missing).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from roost.control.mailauth.keys import TxtRecord
from roost.core.config import Config
from roost.core.settings import parse_listen
from roost.net.dns import Answer, Lookup, Resolver

MX_PREFERENCE = 10
SRV_PRIORITY = 0
SRV_WEIGHT = 1
NO_SERVICE = "."
"""RFC 6186 §4 (and RFC 2782): an SRV target of "." means the service is not offered."""


class RecordState(enum.Enum):
    FOUND = "found"
    MISSING = "missing"
    DIFFERENT = "different"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One record to publish: owner name, type, data, and why it is there."""

    name: str
    rtype: str
    value: str
    purpose: str

    def zone_line(self) -> str:
        if self.rtype == "TXT":
            return TxtRecord(self.name, self.value, "", "").zone_line()
        return f"{self.name}. IN {self.rtype} {self.value}"


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    record: DnsRecord
    state: RecordState
    found: tuple[str, ...] = ()
    """What the DNS serves there now (for `different`), as text."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Srv:
    service: str
    purpose: str
    listen: tuple[str, ...]
    standard_port: int
    """Published for a listener on port 0 (a free port picked at each start)."""


def mail_host(config: Config) -> str:
    host = config.dns.mail_host or config.smtp.hostname or config.node
    return host.strip().rstrip(".").lower()


def _port(srv: _Srv) -> int | None:
    """The first listener's port; None when the service has no listener."""
    for item in srv.listen:
        port = parse_listen(item)[1]
        if port:
            return port
    return srv.standard_port if srv.listen else None


def _srv_services(config: Config) -> tuple[_Srv, ...]:
    smtp = config.smtp
    return (
        _Srv("_submission._tcp", "mail submission with STARTTLS", smtp.submission_listen, 587),
        _Srv("_submissions._tcp", "mail submission over TLS", smtp.submissions_listen, 465),
        _Srv("_imap._tcp", "IMAP with STARTTLS", config.imap.listen, 143),
        _Srv("_imaps._tcp", "IMAP over TLS", config.imap.tls_listen, 993),
        _Srv("_pop3._tcp", "POP3 with STLS", config.pop.listen, 110),
        _Srv("_pop3s._tcp", "POP3 over TLS", config.pop.tls_listen, 995),
        _Srv("_xmpp-client._tcp", "XMPP clients with STARTTLS", config.xmpp.listen, 5222),
        _Srv("_xmpps-client._tcp", "XMPP clients over direct TLS", config.xmpp.tls_listen, 5223),
    )


def records_for(
    domain: str, config: Config, dkim: Sequence[TxtRecord] = ()
) -> tuple[DnsRecord, ...]:
    """Every record `domain` needs, in the order an administrator adds them."""
    host = mail_host(config)
    out = [
        DnsRecord(domain, "MX", f"{MX_PREFERENCE} {host}.", "mail for the domain comes here"),
        DnsRecord(domain, "TXT", config.dns.spf_record, "SPF: who may send the domain's mail"),
    ]
    for key in dkim:
        out.append(DnsRecord(key.name, "TXT", key.value, f"DKIM public key ({key.algorithm})"))
    dmarc = f"v=DMARC1; p={config.dns.dmarc_policy}"
    if config.dns.dmarc_report_to:
        dmarc += f"; rua=mailto:{config.dns.dmarc_report_to}@{domain}"
    out.append(DnsRecord(f"_dmarc.{domain}", "TXT", dmarc, "DMARC policy"))
    for srv in _srv_services(config):
        port = _port(srv)
        value = f"{SRV_PRIORITY} {SRV_WEIGHT} {port} {host}." if port else f"0 0 0 {NO_SERVICE}"
        purpose = srv.purpose if port else f"{srv.purpose}: not offered"
        out.append(DnsRecord(f"{srv.service}.{domain}", "SRV", value, purpose))
    for prefix, purpose in (
        ("autoconfig", "mail client set-up (Thunderbird autoconfig)"),
        ("autodiscover", "mail client set-up (Outlook autodiscover)"),
    ):
        out.append(DnsRecord(f"{prefix}.{domain}", "CNAME", f"{host}.", purpose))
    return tuple(out)


# --- the check


async def check(
    resolver: Resolver, records: Sequence[DnsRecord], concurrency: int
) -> tuple[CheckedRecord, ...]:
    """Ask the DNS for each record, `concurrency` questions at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(record: DnsRecord) -> CheckedRecord:
        async with gate:
            return await _check_one(resolver, record)

    return tuple(await asyncio.gather(*(one(r) for r in records)))


async def _check_one(resolver: Resolver, record: DnsRecord) -> CheckedRecord:
    if record.rtype == "CNAME":
        return await _check_alias(resolver, record)
    answer = await resolver.query(record.name, record.rtype)
    if answer.status is Lookup.TEMPORARY:
        return CheckedRecord(record, RecordState.UNKNOWN, detail=answer.detail)
    if answer.status is not Lookup.FOUND:
        return CheckedRecord(record, RecordState.MISSING, detail=answer.detail)
    match record.rtype:
        case "MX":
            return _compare_mx(record, answer)
        case "SRV":
            return _compare_srv(record, answer)
        case _:
            return _compare_txt(record, answer)


def _compare_mx(record: DnsRecord, answer: Answer) -> CheckedRecord:
    wanted = _host(record.value.split()[-1])
    hosts = [_host(r.split()[-1]) for r in answer.records]
    if wanted in hosts:
        return CheckedRecord(record, RecordState.FOUND, answer.records)
    return CheckedRecord(record, RecordState.DIFFERENT, answer.records, "no MX names this host")


def _compare_srv(record: DnsRecord, answer: Answer) -> CheckedRecord:
    """Priority and weight are the publisher's choice; port and target must match."""
    _, _, port, target = record.value.split()
    for found in answer.records:
        parts = found.split()
        if len(parts) == 4 and parts[2] == port and _host(parts[3]) == _host(target):
            return CheckedRecord(record, RecordState.FOUND, answer.records)
    return CheckedRecord(record, RecordState.DIFFERENT, answer.records, "another port or target")


def _compare_txt(record: DnsRecord, answer: Answer) -> CheckedRecord:
    """Among the TXT records of a name, the one of our kind (SPF, DKIM, DMARC) decides."""
    texts = [_txt(r) for r in answer.records]
    kind = record.value.split(";")[0].split()[0].lower()
    ours = [t for t in texts if t.lower().startswith(kind)]
    if not ours:
        return CheckedRecord(
            record, RecordState.MISSING, tuple(texts), f"no {kind} record among the TXT records"
        )
    if kind == "v=spf1":
        same = _same_spf(ours[0], record.value)
    else:
        same = _same_tags(ours[0], record.value, exact=("p",) if kind == "v=dkim1" else ())
    if len(ours) == 1 and same:
        return CheckedRecord(record, RecordState.FOUND, tuple(ours))
    detail = "more than one record of this kind" if len(ours) > 1 else ""
    return CheckedRecord(record, RecordState.DIFFERENT, tuple(ours), detail)


async def _check_alias(resolver: Resolver, record: DnsRecord) -> CheckedRecord:
    """A CNAME to the mail host, or address records that are the mail host's, will do."""
    answer = await resolver.query(record.name, "CNAME")
    if answer.status is Lookup.FOUND:
        if _host(answer.records[0]) == _host(record.value):
            return CheckedRecord(record, RecordState.FOUND, answer.records)
        return CheckedRecord(record, RecordState.DIFFERENT, answer.records)
    if answer.status is Lookup.TEMPORARY:
        return CheckedRecord(record, RecordState.UNKNOWN, detail=answer.detail)
    if answer.status is Lookup.NO_DOMAIN:
        return CheckedRecord(record, RecordState.MISSING, detail=answer.detail)
    # The name exists without a CNAME: its addresses must be the mail host's.
    own, own_addresses = await resolver.addresses(record.name)
    if not own_addresses:
        state = RecordState.UNKNOWN if own.status is Lookup.TEMPORARY else RecordState.MISSING
        return CheckedRecord(record, state, detail=own.detail)
    _, host_addresses = await resolver.addresses(_host(record.value))
    if set(own_addresses) <= set(host_addresses):
        return CheckedRecord(record, RecordState.FOUND, own_addresses)
    return CheckedRecord(
        record, RecordState.DIFFERENT, own_addresses, "addresses other than the mail host's"
    )


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _txt(text: str) -> str:
    """One TXT record as dnspython prints it (quoted strings) back to its joined value."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    except dns.exception.DNSException:
        return text
    return b"".join(getattr(rdata, "strings", ())).decode("utf-8", "replace")


def _tags(value: str) -> dict[str, str]:
    """A tag list (RFC 6376 §3.2, RFC 7489 §6.4): white space around and inside
    base64 values does not count, nor does the case of tag names."""
    out = {}
    for part in value.split(";"):
        name, eq, data = part.partition("=")
        if eq:
            out[name.strip().lower()] = "".join(data.split())
    return out


def _same_tags(found: str, wanted: str, *, exact: tuple[str, ...]) -> bool:
    """Tag values compare without regard to case, but for those in `exact` (base64 keys)."""
    have = _tags(found)
    for name, data in _tags(wanted).items():
        other = have.get(name, "")
        if (other != data) if name in exact else (other.lower() != data.lower()):
            return False
    return True


def _same_spf(found: str, wanted: str) -> bool:
    return found.lower().split() == wanted.lower().split()
