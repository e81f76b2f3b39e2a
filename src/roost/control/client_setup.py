"""How a mail or chat app reaches this server: names, ports and security.

Computed once from the configuration for the webmail's set-up help and for
Thunderbird-style autoconfig (`roost.web.autoconfig`), so the two can never
disagree. Each protocol's listeners give the port (the first address of each
list; production defaults 993/143, 995/110, 465/587 and 5223/5222); the host
name is the first of `[tls] host_names` (the name the certificate carries),
else the node name. Implicit TLS comes first where both are offered
(RFC 8314 §3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from roost.core.config import Config
from roost.core.settings import parse_listen


class Security(enum.StrEnum):
    """As Thunderbird's autoconfig names it (`socketType`)."""

    TLS = "SSL"
    """TLS from the first byte (RFC 8314)."""
    STARTTLS = "STARTTLS"


class Kind(enum.StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"
    XMPP = "xmpp"


TITLES = {
    Kind.IMAP: "IMAP (incoming mail)",
    Kind.POP3: "POP3 (incoming mail)",
    Kind.SMTP: "SMTP submission (outgoing mail)",
    Kind.XMPP: "XMPP (chat)",
}
SECURITY_WORDS = {
    Security.TLS: "SSL/TLS (encrypted from the start)",
    Security.STARTTLS: "STARTTLS",
}


@dataclass(frozen=True, slots=True)
class Server:
    kind: Kind
    hostname: str
    port: int
    security: Security

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def security_words(self) -> str:
        return SECURITY_WORDS[self.security]


@dataclass(frozen=True, slots=True)
class ClientSetup:
    hostname: str
    servers: tuple[Server, ...]

    def of(self, kind: Kind) -> tuple[Server, ...]:
        return tuple(s for s in self.servers if s.kind is kind)


def host_name(config: Config) -> str:
    """The name clients should connect to: one the certificate carries."""
    for name in config.tls.host_names:
        if name and not name.startswith("*"):
            return name.lower()
    return config.node.lower()


def _port(listeners: tuple[str, ...]) -> int | None:
    for text in listeners:
        _host, port = parse_listen(text)
        if port:
            return port
    return None


def client_setup(config: Config) -> ClientSetup:
    hostname = host_name(config)
    wanted = [
        (Kind.IMAP, config.imap.tls_listen, Security.TLS),
        (Kind.IMAP, config.imap.listen, Security.STARTTLS),
        (Kind.POP3, config.pop.tls_listen, Security.TLS),
        (Kind.POP3, config.pop.listen, Security.STARTTLS),
        (Kind.SMTP, config.smtp.submissions_listen, Security.TLS),
        (Kind.SMTP, config.smtp.submission_listen, Security.STARTTLS),
        (Kind.XMPP, config.xmpp.tls_listen, Security.TLS),
        (Kind.XMPP, config.xmpp.listen, Security.STARTTLS),
    ]
    servers = []
    for kind, listeners, security in wanted:
        port = _port(listeners)
        if port is not None:
            servers.append(Server(kind, hostname, port, security))
    return ClientSetup(hostname, tuple(servers))
