"""Errors of the XMPP core, split the way h11 splits them.

*Local* errors mean Roost drove the core wrongly: it answered an event
that was never asked, sent a stanza before the resource was bound, built
an element that cannot be written as XML, or gave settings that make no
sense. They raise, since only a bug causes them.

*Peer* errors mean the client broke the protocol. They never escape the
core as exceptions: the parser turns them into a `StreamFault` and the
connection into a stream error (RFC 6120 §4.9), a SASL failure
(§6.5) or a stanza error (§8.3), each chosen in one place. The one
exception a caller may meet from peer data is `JidMalformed`, raised by
`Jid.parse` when the service itself parses an address a client sent.
"""

from __future__ import annotations

from roost.core.errors import RoostError


class XmppError(RoostError):
    """Base of the errors raised by `roost.proto.xmpp`."""


class XmppStateError(XmppError):
    """The service drove the core out of order (an h11 *local* error).

    For example it answered an event twice, called `next_event` while an
    event still waited for its answer, or sent a stanza before binding.
    """


class XmppSettingsError(XmppError):
    """`XmppSettings` were given a value the protocol cannot honour."""


class XmlCharacterError(XmppError):
    """An element holds text that XML 1.0 cannot carry (XML §2.2).

    Control characters other than tab, line feed and carriage return,
    lone surrogates, U+FFFE and U+FFFF have no representation at all, not
    even as character references; the serializer refuses them rather than
    write a stream the client must reject.
    """


class JidMalformed(XmppError, ValueError):
    """A string is not a JID under RFC 7622 (stanza error ``jid-malformed``,
    RFC 6120 §8.3.3.8). The message names the part and the rule, never
    the input."""
