"""The stream header a client opens with, and the version rule.

Over TCP the header is the start tag of ``<stream:stream>`` (RFC 6120
§4.7); over WebSocket it is an ``<open/>`` element of the framing
namespace with the same attributes (RFC 7395). Either way the
parser reads it into a `StreamHeader`, after checking what makes a stream
unusable before anything else is said:

- the version (RFC 6120 §4.7.5): ``major.minor``, two integers whose
  leading zeros do not count. Roost speaks 1.0, so any 1.x stream is
  answered as 1.0 and anything else — a missing version, which means the
  pre-RFC "0.9" protocol, or 2.0 — ends with ``unsupported-version``;
- over TCP the namespaces (RFC 6120 §4.8): the root must be ``stream`` in
  the stream namespace and the default namespace ``jabber:client``, or
  the stream ends with ``invalid-namespace``. A WebSocket ``<open/>``
  declares no content namespace; each stanza carries its own.

`resolve_domain` checks the ``to`` domain against the hosted ones when
the connection answers the header.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import StreamErrorCondition
from roost.proto.xmpp.errors import JidMalformed
from roost.proto.xmpp.jid import Jid, prepare_domain

SUPPORTED_VERSION = (1, 0)
"""The XMPP version Roost speaks and announces (RFC 6120 §4.7.5)."""

_VERSION = re.compile(r"([0-9]{1,9})\.([0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The attributes of a client's stream header (RFC 6120 §4.7).

    ``version`` is the parsed ``(major, minor)``; the other attributes are
    as sent, not yet checked: ``to`` is a domain the connection prepares
    and looks up, ``from_`` the JID a client may name itself by.
    """

    to: str | None = None
    from_: str | None = None
    version: tuple[int, int] = SUPPORTED_VERSION
    lang: str | None = None
    id: str | None = None


class HeaderRefused(Exception):
    """A header that ends the stream; internal to the parser."""

    def __init__(self, condition: StreamErrorCondition, detail: str) -> None:
        super().__init__(detail)
        self.condition = condition
        self.detail = detail


def parse_version(value: str | None) -> tuple[int, int] | None:
    """``(major, minor)`` of a version attribute, or None if absent or not
    two dot-separated integers (RFC 6120 §4.7.5)."""
    if value is None or (match := _VERSION.fullmatch(value)) is None:
        return None
    return int(match.group(1)), int(match.group(2))


def read_header(attributes: Mapping[str, str]) -> StreamHeader:
    """A `StreamHeader` from the root's or ``<open/>``'s attributes.

    Raises:
        HeaderRefused: with ``unsupported-version`` unless the version is 1.x.
    """
    version = parse_version(attributes.get("version"))
    if version is None or version[0] != SUPPORTED_VERSION[0]:
        raise HeaderRefused(
            StreamErrorCondition.UNSUPPORTED_VERSION, "XMPP version 1.x is required"
        )
    return StreamHeader(
        to=attributes.get("to"),
        from_=attributes.get("from"),
        version=version,
        lang=attributes.get(ns.XML_LANG),
        id=attributes.get("id"),
    )


def check_stream_root(namespace: str, name: str, content_namespace: str | None) -> None:
    """Check a TCP stream's root element and its default namespace (RFC 6120 §4.8).

    Raises:
        HeaderRefused: ``invalid-namespace`` for a root outside the stream
            namespace or a content namespace other than ``jabber:client``;
            ``bad-format`` for another element in the stream namespace.
    """
    if namespace != ns.STREAM:
        raise HeaderRefused(
            StreamErrorCondition.INVALID_NAMESPACE, "the stream root is not in the stream namespace"
        )
    if name != "stream":
        raise HeaderRefused(StreamErrorCondition.BAD_FORMAT, "the root element is not <stream>")
    if content_namespace != ns.CLIENT:
        raise HeaderRefused(
            StreamErrorCondition.INVALID_NAMESPACE, "the default namespace must be jabber:client"
        )


def resolve_domain(to: str | None, *, hosted: Container[str], previous: str | None) -> str:
    """The prepared domain a header's ``to`` names (RFC 6120 §4.7.2).

    Raises:
        HeaderRefused: ``host-unknown`` when ``to`` is missing, not a
            domain, not ``hosted``, or not the ``previous`` stream's domain.
    """
    try:
        domain = prepare_domain(to) if to is not None else None
    except JidMalformed:
        domain = None
    if domain is None or domain not in hosted:
        raise HeaderRefused(
            StreamErrorCondition.HOST_UNKNOWN, "this server does not host that domain"
        )
    if previous is not None and domain != previous:
        raise HeaderRefused(
            StreamErrorCondition.HOST_UNKNOWN, "a restarted stream changed its domain"
        )
    return domain


def peer_address(value: str | None) -> str | None:
    """The header's ``from``, prepared, to echo as ``to`` in the server's
    header (RFC 6120 §4.7.2); None if absent or not a JID."""
    try:
        return str(Jid.parse(value)) if value is not None else None
    except JidMalformed:
        return None
