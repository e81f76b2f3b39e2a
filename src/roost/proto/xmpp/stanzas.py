"""Stanzas from a client: checks, the ``from`` stamp, and error replies.

`inbound` decides what becomes of a stanza a bound client sent:

1. A ``from`` the client set must be its full JID or its bare JID; any
   other value, or one that is not a JID, ends the stream with
   ``invalid-from`` (RFC 6120 §4.9.3.9).
2. The server stamps ``from`` with the full JID (§8.1.2.1), or with the
   bare JID on subscription requests and answers (RFC 6121 §3.1.2,
   §3.2.2, §3.3.2, §3.4.2).
3. A ``to`` that is not a JID earns ``jid-malformed`` (§8.3.3.8).
4. An IQ must have an ``id`` and a known ``type``; a get or set exactly
   one child element, a result at most one (§8.2.3). Otherwise
   ``bad-request`` (§8.3.3.1).

An error stanza is never answered with another error (§8.3.1); one that
breaks a rule is dropped. `error_reply` builds the error stanza that
answers another one; the service uses it too (``service-unavailable``
for an IQ nobody handles, ``remote-server-not-found`` for another
domain).
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import (
    ErrorType,
    StanzaErrorCondition,
    StreamErrorCondition,
    stanza_error,
)
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import JidMalformed
from roost.proto.xmpp.events import Iq, Message, Presence
from roost.proto.xmpp.jid import Jid

STANZA_NAMES = frozenset(("message", "presence", "iq"))
"""The three stanza kinds of the ``jabber:client`` namespace (RFC 6120 §8)."""

IQ_TYPES = frozenset(("get", "set", "result", "error"))
"""RFC 6120 §8.2.3."""

SUBSCRIPTION_TYPES = frozenset(("subscribe", "subscribed", "unsubscribe", "unsubscribed"))
"""Presence types stamped with the bare JID (RFC 6121 §3)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The stanza goes to the service as ``event``."""

    event: Message | Presence | Iq


@dataclass(frozen=True, slots=True)
class Answered:
    """The stanza goes no further; ``reply`` goes back to the client (an
    error, or the server's own answer)."""

    reply: Element


@dataclass(frozen=True, slots=True)
class Dropped:
    """An error stanza that broke a rule: nothing to say (RFC 6120 §8.3.1)."""

    detail: str


@dataclass(frozen=True, slots=True)
class Violation:
    """The stanza ends the stream with ``condition``."""

    condition: StreamErrorCondition
    detail: str


Verdict = Accepted | Answered | Dropped | Violation


def is_stanza(element: Element) -> bool:
    """Is this a ``<message/>``, ``<presence/>`` or ``<iq/>``?"""
    return element.namespace == ns.CLIENT and element.name in STANZA_NAMES


def error_reply(
    stanza: Element,
    condition: StanzaErrorCondition,
    *,
    text: str | None = None,
    error_type: ErrorType | None = None,
    sender: str | None = None,
) -> Element:
    """The error stanza that answers ``stanza`` (RFC 6120 §8.3.1).

    It has the same name and ``id``, ``type='error'``, ``to`` the
    original's ``from`` and ``from`` the original's ``to`` — or ``sender``
    when given, e.g. the server's domain when the original ``to`` could
    not be parsed. The original payload is not echoed.
    """
    attributes = {
        "id": stanza.get("id"),
        "type": "error",
        "from": sender if sender is not None else stanza.get("to"),
        "to": stanza.get("from"),
    }
    error = stanza_error(condition, error_type=error_type, text=text)
    return Element.of(stanza.name, stanza.namespace, attributes, [error])


def iq_result(iq: Element, payload: Element | None = None) -> Element:
    """A ``type='result'`` answer to ``iq`` (RFC 6120 §8.2.3), from the
    address it was sent to, if any."""
    attributes = {"id": iq.get("id"), "type": "result", "from": iq.get("to"), "to": iq.get("from")}
    return Element.of("iq", ns.CLIENT, attributes, [] if payload is None else [payload])


def check_iq(iq: Element) -> Answered | Dropped | None:
    """The rules of RFC 6120 §8.2.3 for an IQ; None when it keeps them."""
    kind = iq.get("type")
    if kind == "error":
        return None if iq.get("id") is not None else Dropped("error IQ without id")
    if iq.get("id") is None:
        return Answered(error_reply(iq, StanzaErrorCondition.BAD_REQUEST, text="IQ without id"))
    if kind not in IQ_TYPES:
        return Answered(error_reply(iq, StanzaErrorCondition.BAD_REQUEST, text="unknown IQ type"))
    children = sum(1 for _ in iq.elements())
    if kind in ("get", "set") and children != 1:
        return Answered(
            error_reply(iq, StanzaErrorCondition.BAD_REQUEST, text="get and set need one child")
        )
    if kind == "result" and children > 1:
        return Answered(
            error_reply(iq, StanzaErrorCondition.BAD_REQUEST, text="a result has one child at most")
        )
    return None


def inbound(stanza: Element, *, full_jid: Jid) -> Verdict:
    """Check and stamp a stanza from the client bound as ``full_jid``
    (see the module docstring for the rules, in the order applied)."""
    claimed = stanza.get("from")
    if claimed is not None:
        try:
            sender = Jid.parse(claimed)
        except JidMalformed:
            return Violation(StreamErrorCondition.INVALID_FROM, "'from' is not a JID")
        if sender not in (full_jid, full_jid.bare):
            return Violation(StreamErrorCondition.INVALID_FROM, "'from' is not the bound JID")
    kind = stanza.get("type")
    bare = stanza.name == "presence" and kind in SUBSCRIPTION_TYPES
    stanza = stanza.with_attribute("from", str(full_jid.bare if bare else full_jid))
    to: Jid | None = None
    if (address := stanza.get("to")) is not None:
        try:
            to = Jid.parse(address)
        except JidMalformed as e:
            if kind == "error":
                return Dropped("error stanza with a malformed 'to'")
            reply = error_reply(
                stanza, StanzaErrorCondition.JID_MALFORMED, text=str(e), sender=full_jid.domain
            )
            return Answered(reply)
    match stanza.name:
        case "message":
            return Accepted(Message(stanza, to))
        case "presence":
            return Accepted(Presence(stanza, to))
        case _:
            if (problem := check_iq(stanza)) is not None:
                return problem
            assert kind is not None
            payload = next(stanza.elements(), None)
            return Accepted(Iq(stanza, to, stanza.get("id") or "", kind, payload))


def addressed_to_server(stanza: Element, domain: str) -> bool:
    """Is the stanza for the server itself: no ``to``, or ``to`` its domain?"""
    address = stanza.get("to")
    if address is None:
        return True
    try:
        return Jid.parse(address) == Jid(None, domain)
    except JidMalformed:
        return False
