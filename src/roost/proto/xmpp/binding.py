"""Resource binding (RFC 6120 §7) and what a stream accepts around it.

Before a resource is bound, the only stanza a client may send is the
bind request (§7.1); anything else ends the stream with
``not-authorized``. `bind_request` reads that request: the wish for a
resource is prepared as a resourcepart (RFC 7622 §3.4) and a bad one is
answered with ``bad-request`` (§7.7.2.1). Which resource is bound, and
what happens when another session holds it (§7.7.2.2), the service
decides; `bind_result` writes its answer.

After binding, `bound_stanza` applies `roost.proto.xmpp.stanzas.inbound`
and answers two IQs itself: the legacy session request (RFC 3921 §3,
kept as a no-op: draft-cridland-xmpp-session) gets an empty result, and a
second bind request ``not-allowed``, since RFC 6120 dropped binding
several resources to one stream (§7.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.conditions import StanzaErrorCondition, StreamErrorCondition
from roost.proto.xmpp.element import Element
from roost.proto.xmpp.errors import JidMalformed
from roost.proto.xmpp.events import Iq
from roost.proto.xmpp.jid import Jid
from roost.proto.xmpp.precis import prepare_resourcepart
from roost.proto.xmpp.stanzas import (
    Accepted,
    Answered,
    Verdict,
    Violation,
    addressed_to_server,
    check_iq,
    error_reply,
    inbound,
    iq_result,
)


@dataclass(frozen=True, slots=True)
class BindAsk:
    """A valid bind request: ``iq`` to answer, ``resource`` wished for."""

    iq: Element
    resource: str | None


def bind_request(stanza: Element) -> BindAsk | Answered | Violation:
    """Read a stanza sent after authentication and before binding."""
    bind = stanza.find("bind", ns.BIND)
    if stanza.name != "iq" or stanza.get("type") != "set" or bind is None:
        return Violation(StreamErrorCondition.NOT_AUTHORIZED, "stanzas need a bound resource first")
    if isinstance(problem := check_iq(stanza), Answered):
        return problem
    wish = bind.find("resource", ns.BIND)
    if wish is None or not wish.text:
        return BindAsk(stanza, None)
    try:
        return BindAsk(stanza, prepare_resourcepart(wish.text))
    except JidMalformed as e:
        return Answered(error_reply(stanza, StanzaErrorCondition.BAD_REQUEST, text=str(e)))


def bind_result(iq: Element, jid: Jid) -> Element:
    """The result that tells the client its full JID (RFC 6120 §7.6.1)."""
    jid_element = Element.of("jid", ns.BIND, children=[str(jid)])
    return iq_result(iq, Element.of("bind", ns.BIND, children=[jid_element]))


def classify(stanza: Element, *, authenticated: bool, full_jid: Jid | None) -> Verdict | BindAsk:
    """What becomes of a stanza, by how far the stream got: refused before
    authentication (RFC 6120 §4.9.3.12), a bind request before binding,
    checked and stamped after."""
    if not authenticated:
        return Violation(StreamErrorCondition.NOT_AUTHORIZED, "stanzas need authentication first")
    if full_jid is None:
        return bind_request(stanza)
    return bound_stanza(stanza, full_jid=full_jid)


def bound_stanza(stanza: Element, *, full_jid: Jid) -> Verdict:
    """Check and stamp a stanza of a bound stream; answer session and
    repeated bind requests (see the module docstring)."""
    verdict = inbound(stanza, full_jid=full_jid)
    match verdict:
        case Accepted(event=Iq(type="set", stanza=iq, payload=Element() as payload)) if (
            payload.namespace in (ns.BIND, ns.SESSION) and addressed_to_server(iq, full_jid.domain)
        ):
            if payload.namespace == ns.SESSION:
                return Answered(iq_result(iq))
            return Answered(error_reply(iq, StanzaErrorCondition.NOT_ALLOWED))
        case _:
            return verdict
