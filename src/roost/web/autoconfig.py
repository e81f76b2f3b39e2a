"""Thunderbird-style autoconfig: mail apps configure themselves from a domain.

A mail app that is given `ann@example.org` asks
`https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=ann@example.org`
and then `https://example.org/.well-known/autoconfig/mail/config-v1.1.xml`;
both answer here with the clientConfig 1.1 document (Mozilla's "Autoconfig
file format"): the IMAP and POP3 servers as `incomingServer`, SMTP
submission as `outgoingServer`, each with host name, port, socket type,
authentication and `%EMAILADDRESS%` as the user name. The servers come from
`roost.control.client_setup`, as the webmail's set-up page shows them.

The domain is the e-mail address's, else the `autoconfig.` host name's.
Only local domains answer; any other gets 404, so the document says nothing
about which domains exist beyond what MX records already say.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.client_setup import ClientSetup, Kind, client_setup
from roost.web.context import WebContext

AUTOCONFIG_HOST_PREFIX = "autoconfig."
MAX_ADDRESS_CHARS = 320
PATHS = ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml")
AUTHENTICATION = "password-cleartext"
"""The password over TLS (every listener here requires TLS before it)."""
USERNAME = "%EMAILADDRESS%"
XML_TYPE = "application/xml"


def domain_asked(request: Request) -> str | None:
    """The domain a request is about, or None when it names none."""
    address = request.query_params.get("emailaddress", "").strip()
    if address:
        if len(address) > MAX_ADDRESS_CHARS:
            return None
        domain = address.rpartition("@")[2]
    else:
        host = request.headers.get("host", "").lower()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not host.startswith(AUTOCONFIG_HOST_PREFIX):
            return None
        domain = host[len(AUTOCONFIG_HOST_PREFIX) :]
    domain = domain.strip().rstrip(".").lower()
    if not domain or any(c.isspace() or c in "/\\@<>&\"'" for c in domain):
        return None
    return domain


def document(setup: ClientSetup, domain: str) -> bytes:
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=domain)
    ET.SubElement(provider, "domain").text = domain
    ET.SubElement(provider, "displayName").text = f"{domain} mail"
    ET.SubElement(provider, "displayShortName").text = domain
    for kind, tag, kind_name in (
        (Kind.IMAP, "incomingServer", "imap"),
        (Kind.POP3, "incomingServer", "pop3"),
        (Kind.SMTP, "outgoingServer", "smtp"),
    ):
        for server in setup.of(kind):
            element = ET.SubElement(provider, tag, type=kind_name)
            ET.SubElement(element, "hostname").text = server.hostname
            ET.SubElement(element, "port").text = str(server.port)
            ET.SubElement(element, "socketType").text = server.security.value
            ET.SubElement(element, "authentication").text = AUTHENTICATION
            ET.SubElement(element, "username").text = USERNAME
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def autoconfig_routes(web: WebContext) -> list[BaseRoute]:
    setup = client_setup(web.config)

    async def config_xml(request: Request) -> Response:
        domain = domain_asked(request)
        if domain is None or await web.store.read(web.store.directory.local_domain, domain) is None:
            return Response(
                "No mail configuration for this domain here.\n",
                status_code=404,
                media_type="text/plain",
            )
        return Response(document(setup, domain), media_type=XML_TYPE)

    return [Route(path, config_xml, methods=["GET"]) for path in PATHS]
