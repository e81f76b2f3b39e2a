"""The DNS records to publish for a domain, and how a served record compares with ours."""

from __future__ import annotations

from pathlib import Path

from roost.control import dns_records
from roost.control.dns_records import DnsRecord, RecordState
from roost.control.mailauth.keys import TxtRecord
from roost.net.dns import Answer, Lookup, Resolver
from tests.conftest import make_config


class ZoneResolver(Resolver):
    """A resolver that answers from a dict, with no socket."""

    def __init__(self, zone: dict[tuple[str, str], Answer]) -> None:
        super().__init__(("127.0.0.1:53",), 1.0)
        self.zone = zone

    async def query(self, name: str, rdtype: str) -> Answer:
        if (name, rdtype) in self.zone:
            return self.zone[(name, rdtype)]
        if any(key[0] == name for key in self.zone):
            return Answer(Lookup.NO_RECORDS, detail=f"{name} has no {rdtype} records")
        return Answer(Lookup.NO_DOMAIN, detail=f"{name} does not exist")


def found(*records: str) -> Answer:
    return Answer(Lookup.FOUND, records)


def test_records_come_from_the_config_and_the_keys(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        dns={"mail_host": "MX.Example.NET.", "dmarc_policy": "reject", "dmarc_report_to": "dmarc"},
        smtp={"submission_listen": ["0.0.0.0:587"], "submissions_listen": []},
        imap={"listen": ["127.0.0.1:0"]},
    )
    key = TxtRecord("s-rsa._domainkey.example.com", "v=DKIM1; k=rsa; p=AbC", "rsa", "s")
    records = {(r.name, r.rtype): r for r in dns_records.records_for("example.com", config, [key])}
    assert records[("example.com", "MX")].value == "10 mx.example.net."
    assert records[("example.com", "TXT")].value == "v=spf1 mx -all"
    assert records[("s-rsa._domainkey.example.com", "TXT")].value == key.value
    assert (
        records[("_dmarc.example.com", "TXT")].value
        == "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
    )
    assert records[("_submission._tcp.example.com", "SRV")].value == "0 1 587 mx.example.net."
    # No listener: "not offered here" (RFC 6186 §4); port 0: the standard port.
    assert records[("_submissions._tcp.example.com", "SRV")].value == "0 0 0 ."
    assert records[("_imap._tcp.example.com", "SRV")].value == "0 1 143 mx.example.net."
    assert records[("autoconfig.example.com", "CNAME")].value == "mx.example.net."
    assert records[("_xmpp-client._tcp.example.com", "SRV")].rtype == "SRV"
    assert records[("example.com", "MX")].zone_line() == "example.com. IN MX 10 mx.example.net."


async def check(record: DnsRecord, zone: dict[tuple[str, str], Answer]) -> RecordState:
    (result,) = await dns_records.check(ZoneResolver(zone), [record], 4)
    return result.state


async def test_txt_records_compare_by_kind_and_tags() -> None:
    dkim = DnsRecord("s._domainkey.x.test", "TXT", "v=DKIM1; k=rsa; p=AbCd", "")
    name = ("s._domainkey.x.test", "TXT")
    # Split into strings and spaced differently: the same key.
    assert await check(dkim, {name: found('"v=DKIM1; k=rsa; " "p=Ab Cd"')}) is RecordState.FOUND
    # Base64 is case-sensitive.
    assert await check(dkim, {name: found('"v=DKIM1; k=rsa; p=abcd"')}) is RecordState.DIFFERENT
    assert await check(dkim, {}) is RecordState.MISSING
    spf = DnsRecord("x.test", "TXT", "v=spf1 mx -all", "")
    other = found('"some-verification=1"')
    assert await check(spf, {("x.test", "TXT"): other}) is RecordState.MISSING
    two = found('"v=spf1 mx -all"', '"v=spf1 a -all"')
    assert await check(spf, {("x.test", "TXT"): two}) is RecordState.DIFFERENT
    assert await check(spf, {("x.test", "TXT"): found('"V=SPF1  MX -all"')}) is RecordState.FOUND
    failing = {("x.test", "TXT"): Answer(Lookup.TEMPORARY, detail="timeout")}
    assert await check(spf, failing) is RecordState.UNKNOWN


async def test_mx_srv_and_cname_compare_hosts_and_ports() -> None:
    mx = DnsRecord("x.test", "MX", "10 mx.x.test.", "")
    assert await check(mx, {("x.test", "MX"): found("20 MX.x.test.")}) is RecordState.FOUND
    assert await check(mx, {("x.test", "MX"): found("10 other.test.")}) is RecordState.DIFFERENT
    srv = DnsRecord("_imaps._tcp.x.test", "SRV", "0 1 993 mx.x.test.", "")
    key = ("_imaps._tcp.x.test", "SRV")
    assert await check(srv, {key: found("5 0 993 mx.x.test.")}) is RecordState.FOUND
    assert await check(srv, {key: found("0 1 994 mx.x.test.")}) is RecordState.DIFFERENT
    alias = DnsRecord("autoconfig.x.test", "CNAME", "mx.x.test.", "")
    cname = ("autoconfig.x.test", "CNAME")
    assert await check(alias, {cname: found("mx.x.test.")}) is RecordState.FOUND
    assert await check(alias, {cname: found("web.x.test.")}) is RecordState.DIFFERENT
    # An A record instead of a CNAME: the same address as the mail host will do.
    same = {("autoconfig.x.test", "A"): found("192.0.2.1"), ("mx.x.test", "A"): found("192.0.2.1")}
    assert await check(alias, same) is RecordState.FOUND
    moved = {**same, ("autoconfig.x.test", "A"): found("192.0.2.9")}
    assert await check(alias, moved) is RecordState.DIFFERENT
