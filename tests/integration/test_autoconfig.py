"""Thunderbird-style autoconfig (clientConfig 1.1): the document's elements,
the ports from the config's listeners, and only local domains answering."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from roost.control.client_setup import Kind, Security, client_setup
from tests.conftest import make_config
from tests.webmail_support import webmail

PRODUCTION_PORTS = {
    "imap": {"listen": ["0.0.0.0:143"], "tls_listen": ["0.0.0.0:993"]},
    "pop": {"listen": ["0.0.0.0:110"], "tls_listen": ["[::]:995"]},
    "smtp": {"submission_listen": ["0.0.0.0:587"], "submissions_listen": ["0.0.0.0:465"]},
    "xmpp": {"listen": ["0.0.0.0:5222"], "tls_listen": ["0.0.0.0:5223"]},
    "tls": {"host_names": ["mail.example.test", "example.test"]},
}
SERVER_CHILDREN = ["hostname", "port", "socketType", "authentication", "username"]
SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
AUTHENTICATIONS = {
    "password-cleartext",
    "password-encrypted",
    "NTLM",
    "GSSAPI",
    "client-IP-address",
    "TLS-client-cert",
    "OAuth2",
    "none",
}


def servers(root: ET.Element, tag: str, kind: str) -> list[tuple[str, int, str]]:
    """Each server of a kind, checked against the format's shape."""
    found = []
    for element in root.iter(tag):
        if element.get("type") != kind:
            continue
        assert [child.tag for child in element] == SERVER_CHILDREN
        values = {child.tag: (child.text or "") for child in element}
        assert values["socketType"] in SOCKET_TYPES
        assert values["authentication"] in AUTHENTICATIONS
        assert values["username"] == "%EMAILADDRESS%"
        found.append((values["hostname"], int(values["port"]), values["socketType"]))
    return found


def check_document(text: bytes, domain: str) -> ET.Element:
    assert text.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"<!DOCTYPE" not in text and b"<!ENTITY" not in text
    root = ET.fromstring(text)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    (provider,) = list(root)
    assert provider.tag == "emailProvider" and provider.get("id") == domain
    assert [c.tag for c in provider][:3] == ["domain", "displayName", "displayShortName"]
    assert provider.findtext("domain") == domain
    assert {c.tag for c in provider} <= {
        "domain",
        "displayName",
        "displayShortName",
        "incomingServer",
        "outgoingServer",
    }
    return root


async def test_the_document_names_the_configured_ports(tmp_path: Path) -> None:
    async with webmail(tmp_path, **PRODUCTION_PORTS) as mail:
        for path in ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"):
            answer = await mail.client.get(path, params={"emailaddress": "ann@example.test"})
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/xml")
            root = check_document(answer.content, "example.test")
            host = "mail.example.test"
            assert servers(root, "incomingServer", "imap") == [
                (host, 993, "SSL"),
                (host, 143, "STARTTLS"),
            ]
            assert servers(root, "incomingServer", "pop3") == [
                (host, 995, "SSL"),
                (host, 110, "STARTTLS"),
            ]
            assert servers(root, "outgoingServer", "smtp") == [
                (host, 465, "SSL"),
                (host, 587, "STARTTLS"),
            ]


async def test_the_autoconfig_host_name_and_only_local_domains(tmp_path: Path) -> None:
    async with webmail(tmp_path, **PRODUCTION_PORTS) as mail:
        transport = mail.client._transport
        async with httpx.AsyncClient(
            transport=transport, base_url="http://autoconfig.example.test:8080"
        ) as by_host:
            answer = await by_host.get("/mail/config-v1.1.xml")
            assert answer.status_code == 200
            check_document(answer.content, "example.test")
        async with httpx.AsyncClient(
            transport=transport, base_url="http://autoconfig.elsewhere.test"
        ) as other:
            assert (await other.get("/mail/config-v1.1.xml")).status_code == 404
        for address in ("bob@elsewhere.test", "no-domain", "x@<script>", "a@" + "b" * 400):
            answer = await mail.client.get(
                "/mail/config-v1.1.xml", params={"emailaddress": address}
            )
            assert answer.status_code == 404, address
            assert b"example.test" not in answer.content
        # Without an address or an autoconfig host name, nothing is named.
        assert (await mail.client.get("/mail/config-v1.1.xml")).status_code == 404


def test_setup_follows_the_listeners(tmp_path: Path) -> None:
    setup = client_setup(make_config(tmp_path, **PRODUCTION_PORTS))
    assert [(s.kind, s.port, s.security) for s in setup.of(Kind.XMPP)] == [
        (Kind.XMPP, 5223, Security.TLS),
        (Kind.XMPP, 5222, Security.STARTTLS),
    ]
    # A listener that is switched off (an empty list) is not offered.
    bare = make_config(
        tmp_path,
        imap={"listen": [], "tls_listen": ["0.0.0.0:993"]},
        pop={"listen": [], "tls_listen": []},
        roost={"node_name": "Node1.Example.Test"},
    )
    setup = client_setup(bare)
    assert setup.hostname == "node1.example.test"
    assert [(s.kind, s.port) for s in setup.of(Kind.IMAP)] == [(Kind.IMAP, 993)]
    assert setup.of(Kind.POP3) == ()
