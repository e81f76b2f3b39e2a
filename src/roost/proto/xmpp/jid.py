"""JIDs: ``localpart@domainpart/resourcepart`` (RFC 7622).

`Jid.parse` splits a string as RFC 7622 §3.1 says and prepares each part
(`roost.proto.xmpp.precis` for the local and resource parts, `prepare_domain`
here for the domain), so two JIDs that name the same entity compare equal.
Anything that cannot be a JID raises `JidMalformed`, which a stanza
answers with ``jid-malformed`` (RFC 6120 §8.3.3.8).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import secrets
import unicodedata
from dataclasses import dataclass

from roost.proto.xmpp.errors import JidMalformed
from roost.proto.xmpp.precis import (
    MAX_LABEL_OCTETS,
    MAX_PART_OCTETS,
    bidi_rule_ok,
    identifier_ok,
    prepare_localpart,
    prepare_resourcepart,
    width_map,
)

_FULL_STOPS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""RFC 7622 §3.2: label separators other than the ASCII full stop."""

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
"""An NR-LDH label (RFC 5890 §2.3.1), lower case after preparation."""

RESOURCE_OCTETS = 12
PARSED_CACHED = 4096
"""JID strings whose parse is remembered (each at most 3 KiB, RFC 7622 §3.1)."""
"""Random octets in a server-chosen resource: 96 bits, 16 characters."""


def random_resource() -> str:
    """A resource for a client that asked the server to pick one (RFC 6120
    §7.6): random, so it cannot collide or be guessed."""
    return secrets.token_urlsafe(RESOURCE_OCTETS)


def prepare_domain(text: str) -> str:
    """Prepare a domainpart (RFC 7622 §3.2).

    An IP literal stays one (IPv6 in brackets, written in its canonical
    form); a name is mapped (ideographic full stops to ``.``, width, lower
    case, NFC), loses one trailing dot, and each label must be an NR-LDH
    label or a U-label. A-labels (``xn--``) are turned into U-labels.

    Raises:
        JidMalformed: the string cannot be a domainpart.
    """
    if text.startswith("["):
        if not text.endswith("]"):
            raise JidMalformed("the domainpart has an unclosed IPv6 literal")
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            raise JidMalformed("the domainpart is not a valid IPv6 literal") from None
    if text.isascii():
        prepared = text.lower()
    else:
        prepared = unicodedata.normalize("NFC", width_map(text.translate(_FULL_STOPS)).lower())
    if prepared.endswith("."):
        prepared = prepared[:-1]
    if not prepared:
        raise JidMalformed("the domainpart is empty")
    if len(prepared.encode("utf-8")) > MAX_PART_OCTETS:
        raise JidMalformed(f"the domainpart is longer than {MAX_PART_OCTETS} octets")
    return ".".join(_prepare_label(label) for label in prepared.split("."))


def _prepare_label(label: str) -> str:
    if not label:
        raise JidMalformed("the domainpart has an empty label")
    if label.isascii():
        if _LDH_LABEL.fullmatch(label) is None or len(label) > MAX_LABEL_OCTETS:
            raise JidMalformed("a domain label is not letters, digits and inner hyphens")
        if not label.startswith("xn--"):
            return label
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            raise JidMalformed("a domain A-label does not decode") from None
        if decoded.isascii() or _prepare_label(decoded) != decoded:
            raise JidMalformed("a domain A-label is not a valid U-label")
        return decoded
    if label.startswith("-") or label.endswith("-") or label[2:4] == "--":
        raise JidMalformed("a domain label has a hyphen where IDNA2008 forbids it")
    for char in label:
        allowed = (char == "-" or char.isalnum()) if char.isascii() else identifier_ok(char)
        if not allowed:
            raise JidMalformed("a domain label holds a character IDNA2008 does not allow")
    if unicodedata.category(label[0]).startswith("M"):
        raise JidMalformed("a domain label begins with a combining mark")
    if not bidi_rule_ok(label):
        raise JidMalformed("a domain label breaks the Bidi Rule (RFC 5893)")
    if len(b"xn--" + label.encode("punycode")) > MAX_LABEL_OCTETS:
        raise JidMalformed(f"a domain label is longer than {MAX_LABEL_OCTETS} octets as an A-label")
    return label


@dataclass(frozen=True, slots=True)
class Jid:
    """A prepared JID (RFC 7622 §3). Build one with `parse` or `of`; the
    constructor itself trusts its arguments to be prepared."""

    local: str | None
    domain: str
    resource: str | None = None

    @classmethod
    def parse(cls, text: str) -> Jid:
        """Split and prepare a JID string (RFC 7622 §3.1).

        The resourcepart is everything after the first ``/`` (it may hold
        ``/`` and ``@``); the localpart is everything before the first
        ``@`` of the rest.

        Raises:
            JidMalformed: a part is empty where its separator is present,
                or breaks its preparation rules.
        """
        return _parse(text)

    @classmethod
    def of(cls, local: str | None, domain: str, resource: str | None = None) -> Jid:
        """A JID from its parts, each prepared; None leaves a part out.

        Raises:
            JidMalformed: a part breaks its preparation rules.
        """
        return cls(
            None if local is None else prepare_localpart(local),
            prepare_domain(domain),
            None if resource is None else prepare_resourcepart(resource),
        )

    @property
    def bare(self) -> Jid:
        """This JID without its resource (RFC 6120 §1.4 "bare JID")."""
        return self if self.resource is None else Jid(self.local, self.domain)

    @property
    def is_bare(self) -> bool:
        return self.resource is None

    def with_resource(self, resource: str) -> Jid:
        """The full JID of ``resource`` at this bare JID (prepared).

        Raises:
            JidMalformed: ``resource`` is not a valid resourcepart.
        """
        return Jid(self.local, self.domain, prepare_resourcepart(resource))

    def __str__(self) -> str:
        text = self.domain if self.local is None else f"{self.local}@{self.domain}"
        return text if self.resource is None else f"{text}/{self.resource}"


@functools.lru_cache(maxsize=PARSED_CACHED)
def _parse(text: str) -> Jid:
    """`Jid.parse`, remembered: the same few JIDs are parsed from every stanza."""
    rest, slash, resource = text.partition("/")
    local, at, domain = rest.partition("@")
    if not at:
        local, domain = "", rest
    if slash and not resource:
        raise JidMalformed("the resourcepart is empty")
    if at and not local:
        raise JidMalformed("the localpart is empty")
    return Jid.of(local or None, domain, resource or None)
