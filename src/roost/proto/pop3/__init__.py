"""The POP3 server protocol (RFC 1939 and its extensions), sans-I/O.

`Pop3ServerConnection` turns the client's bytes into events and the
service's answers into responses; see `roost.proto.pop3.connection` for
the states and how a service drives it, `roost.proto.pop3.encoder` for
streaming a message with dot-stuffing, and `roost.proto.pop3.maildrop`
for the listing the core answers STAT, LIST, UIDL, DELE and RSET from.
Extensions: CAPA with TOP, UIDL, USER, SASL, RESP-CODES, PIPELINING,
EXPIRE, LOGIN-DELAY and IMPLEMENTATION (RFC 2449), AUTH-RESP-CODE
(RFC 3206), STLS (RFC 2595), AUTH with PLAIN and SCRAM-SHA-256 through
`roost.proto.sasl` (RFC 5034), UTF8 (RFC 6856). Not APOP: it needs the
clear-text password, which Roost never stores.

A service drives it like this (error handling left out)::

    core = Pop3ServerConnection(settings, sasl=sasl_config, tls=conn.is_tls)
    core.greeting()
    while not core.closing:
        event = core.next_event()
        if event is None:  # the core needs input: flush its responses first
            conn.write(core.data_to_send())
            core.receive_data(await conn.read(timeout_s=600))
            continue
        match event:
            case PasswordLogin(user=user, password=password):
                if not await directory.check(user, password):
                    core.reject(replies.AUTH_FAILED)
                elif not locks.take(user):
                    core.reject(replies.IN_USE)
                else:
                    core.login_accepted(Maildrop.of(await store.listing(user, "INBOX")))
            case ScramKeysRequested(user=user, algorithm=algorithm):
                core.scram_keys(await directory.scram_keys(user, algorithm))
            case Authenticated(user=user):
                ...  # lock and list as for PasswordLogin
            case StartTlsRequested():
                core.accept(); conn.write(core.data_to_send())
                await conn.start_tls(context); core.tls_established()
            case Retrieve(uid=uid):
                core.begin_message()
                async for chunk in store.read(uid):
                    more = core.message_data(chunk)
                    conn.write(core.data_to_send())
                    if not more:
                        break
                core.end_message()
            case Update(deleted=deleted):
                await store.expunge(user, [d.uid for d in deleted]); locks.release(user)
                core.accept()
            case Quit() | SessionAborted() | ConnectionLost():
                break  # commit nothing
    conn.write(core.data_to_send()); conn.close()
"""

from roost.proto.pop3 import replies
from roost.proto.pop3.connection import Phase, Pop3ServerConnection, State
from roost.proto.pop3.encoder import EncodedMessage, MessageEncoder, encode_message
from roost.proto.pop3.errors import Pop3Error, Pop3SettingsError, Pop3StateError
from roost.proto.pop3.events import (
    NEEDS_ANSWER,
    VIA_USER,
    AbortReason,
    Authenticated,
    AuthFailed,
    ConnectionLost,
    Deletion,
    Event,
    PasswordLogin,
    Quit,
    Retrieve,
    ScramKeysRequested,
    SessionAborted,
    StartTlsRequested,
    Update,
    Utf8Enabled,
)
from roost.proto.pop3.maildrop import Maildrop, MaildropEntry, MaildropSession
from roost.proto.pop3.replies import Reply, ResponseCode
from roost.proto.pop3.settings import (
    MAX_AUTH_COMMAND_OCTETS,
    MAX_COMMAND_OCTETS,
    MAX_SASL_LINE_OCTETS,
    Pop3Settings,
)

__all__ = [
    "MAX_AUTH_COMMAND_OCTETS",
    "MAX_COMMAND_OCTETS",
    "MAX_SASL_LINE_OCTETS",
    "NEEDS_ANSWER",
    "VIA_USER",
    "AbortReason",
    "AuthFailed",
    "Authenticated",
    "ConnectionLost",
    "Deletion",
    "EncodedMessage",
    "Event",
    "Maildrop",
    "MaildropEntry",
    "MaildropSession",
    "MessageEncoder",
    "PasswordLogin",
    "Phase",
    "Pop3Error",
    "Pop3ServerConnection",
    "Pop3Settings",
    "Pop3SettingsError",
    "Pop3StateError",
    "Quit",
    "Reply",
    "ResponseCode",
    "Retrieve",
    "ScramKeysRequested",
    "SessionAborted",
    "StartTlsRequested",
    "State",
    "Update",
    "Utf8Enabled",
    "encode_message",
    "replies",
]
