"""The XMPP client-to-server stream (RFC 6120), sans-I/O.

`XmppServerConnection` turns a client's bytes into events and the
service's answers into XML; see `roost.proto.xmpp.connection` for the
states and phases. Underneath:

- `roost.proto.xmpp.parser` — incremental parsing over expat, locked down
  as RFC 6120 §11 requires (`roost.proto.xmpp.document`), per TCP stream
  or per WebSocket message (RFC 7395), with the stanza size and depth
  limits;
- `roost.proto.xmpp.element` and `roost.proto.xmpp.serializer` — an
  immutable element model and a serializer that writes default namespaces
  as XMPP software expects, never ``ns0:`` prefixes;
- `roost.proto.xmpp.jid` and `roost.proto.xmpp.precis` — JIDs prepared per
  RFC 7622 with the standard library only;
- `roost.proto.xmpp.auth` — SASL (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN only
  under TLS) over `roost.proto.sasl`;
- `roost.proto.xmpp.stanzas` — stanza checks, the ``from`` stamp, error
  replies.

A service drives it like this (error handling and timeouts left out)::

    core = XmppServerConnection(settings, sasl=sasl_config, tls=conn.is_tls)
    while not core.closing:
        event = core.next_event()
        if event is None:  # the core needs input: flush its output first
            conn.write(core.data_to_send())
            core.receive_data(await conn.read(timeout_s=300))
            continue
        match event:
            case StartTlsRequested():
                core.accept(); conn.write(core.data_to_send())
                await conn.start_tls(context); core.tls_established()
            case PasswordLogin(user=user, password=password, domain=domain):
                account = await directory.check(user, domain, password)
                if account is None:
                    core.reject()  # <not-authorized/>
                else:
                    core.login_accepted(Jid.parse(account.address))
            case ScramKeysRequested(user=user, algorithm=algorithm, domain=domain):
                core.scram_keys(await directory.scram_keys(user, domain, algorithm))
            case Authenticated(user=user, domain=domain):
                core.login_accepted(await directory.account_jid(user, domain))
            case BindRequested(resource=resource):
                resource = sessions.free_resource(core.user_jid, resource or random_resource())
                core.bind_accepted(resource); sessions.add(core.jid, core)
            case Message() | Presence() | Iq():
                router.route(event)  # later: core.send(stanza) for what arrives
            case SmEnableRequested(resume=resume):
                core.sm_enabled(parking.new_id() if resume else None, max_s=300)
            case SmResumeRequested(previd=previd):
                parked = parking.take(previd)  # its SmSnapshot and full JID
                core.sm_resumed(parked.jid, parked.snapshot)
            case Nonza(element=element):
                client_state.handle(core, element)
            case StreamClosed() | StreamFailed() | ConnectionLost():
                break
    conn.write(core.data_to_send()); conn.close()

Over WebSocket the service passes ``websocket=True``, feeds each text
message with `receive_message` and sends each of `messages_to_send` as a
text message of its own.
"""

from roost.proto.xmpp import namespaces
from roost.proto.xmpp.conditions import (
    ErrorType,
    SaslCondition,
    StanzaErrorCondition,
    StreamErrorCondition,
    sasl_failure,
    stanza_error,
    stream_error,
)
from roost.proto.xmpp.connection import Phase, State, XmppServerConnection
from roost.proto.xmpp.element import MAX_DEPTH_LIMIT, Element
from roost.proto.xmpp.errors import (
    JidMalformed,
    XmlCharacterError,
    XmppError,
    XmppSettingsError,
    XmppStateError,
)
from roost.proto.xmpp.events import (
    NEEDS_ANSWER,
    Authenticated,
    AuthFailed,
    BindRequested,
    ConnectionLost,
    Event,
    Iq,
    Message,
    Nonza,
    PasswordLogin,
    Presence,
    ScramKeysRequested,
    SmEnableRequested,
    SmResumeRequested,
    StartTlsRequested,
    StreamClosed,
    StreamFailed,
)
from roost.proto.xmpp.header import StreamHeader
from roost.proto.xmpp.jid import Jid, random_resource
from roost.proto.xmpp.parser import (
    ParsedElement,
    ParserItem,
    StreamEnded,
    StreamFault,
    StreamOpened,
    XmlStreamParser,
    parse_message,
)
from roost.proto.xmpp.serializer import DOCUMENT_SCOPE, STREAM_SCOPE, Scope, serialize
from roost.proto.xmpp.settings import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_STANZA_OCTETS,
    TlsPolicy,
    XmppSettings,
)
from roost.proto.xmpp.sm import SM, SmSnapshot
from roost.proto.xmpp.stanzas import error_reply, iq_result

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_STANZA_OCTETS",
    "DOCUMENT_SCOPE",
    "MAX_DEPTH_LIMIT",
    "NEEDS_ANSWER",
    "SM",
    "STREAM_SCOPE",
    "AuthFailed",
    "Authenticated",
    "BindRequested",
    "ConnectionLost",
    "Element",
    "ErrorType",
    "Event",
    "Iq",
    "Jid",
    "JidMalformed",
    "Message",
    "Nonza",
    "ParsedElement",
    "ParserItem",
    "PasswordLogin",
    "Phase",
    "Presence",
    "SaslCondition",
    "Scope",
    "ScramKeysRequested",
    "SmEnableRequested",
    "SmResumeRequested",
    "SmSnapshot",
    "StanzaErrorCondition",
    "StartTlsRequested",
    "State",
    "StreamClosed",
    "StreamEnded",
    "StreamErrorCondition",
    "StreamFailed",
    "StreamFault",
    "StreamHeader",
    "StreamOpened",
    "TlsPolicy",
    "XmlCharacterError",
    "XmlStreamParser",
    "XmppError",
    "XmppServerConnection",
    "XmppSettings",
    "XmppSettingsError",
    "XmppStateError",
    "error_reply",
    "iq_result",
    "namespaces",
    "parse_message",
    "random_resource",
    "sasl_failure",
    "serialize",
    "stanza_error",
    "stream_error",
]
