"""The SMTP server protocol (RFC 5321 and its extensions), sans-I/O.

`SmtpServerConnection` turns the client's bytes into events and the
service's answers into replies; see `roost.proto.smtp.connection` for how
a service drives it and `roost.proto.smtp.body` for the SMTP smuggling
defence. Extensions: PIPELINING, SIZE, 8BITMIME, CHUNKING, BINARYMIME,
DSN, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, AUTH and REQUIRETLS.

A service drives it like this (error handling and SASL left out)::

    core = SmtpServerConnection(settings, tls=conn.is_tls)
    core.greeting()
    while True:
        event = core.next_event()
        if event is None:  # the core needs input: flush its replies first
            conn.write(core.data_to_send())
            core.receive_data(await conn.read(timeout_s=300, between_commands=True))
            continue
        match event:
            case Hello() | MailFrom() | RcptTo() | Vrfy():
                core.accept()  # or core.reject(Reply(550, "5.1.1", "No such user"))
            case DataRequested():
                spool = open_spool(); core.accept()
            case DataChunk(data=data):
                spool.write(data)
            case DataEnd():
                queue_id = await spool.commit()
                core.accept(Reply(250, "2.0.0", f"Ok: queued as {queue_id}"))
            case MessageRefused() | Reset():
                spool.discard()
            case StartTlsRequested():
                core.accept(); conn.write(core.data_to_send())
                await conn.start_tls(context); core.tls_established()
            case Quit() | SessionAborted() | ConnectionLost():
                break
    conn.write(core.data_to_send()); conn.close()
"""

from roost.proto.smtp import replies
from roost.proto.smtp.capabilities import Offer
from roost.proto.smtp.connection import Phase, SmtpServerConnection
from roost.proto.smtp.errors import SmtpError, SmtpSettingsError, SmtpStateError
from roost.proto.smtp.events import (
    NEEDS_ANSWER,
    AbortReason,
    AuthCancelled,
    AuthRequested,
    AuthResponse,
    Body,
    ConnectionLost,
    DataChunk,
    DataEnd,
    DataRequested,
    Event,
    Hello,
    MailFrom,
    MailParams,
    MessageRefused,
    Notify,
    Orcpt,
    Quit,
    RcptParams,
    RcptTo,
    Reset,
    Ret,
    SessionAborted,
    StartTlsRequested,
    Vrfy,
)
from roost.proto.smtp.params import xtext_decode, xtext_encode
from roost.proto.smtp.replies import Reply
from roost.proto.smtp.settings import (
    MAX_AUTH_LINE_OCTETS,
    MAX_COMMAND_OCTETS,
    MAX_DATA_LINE_OCTETS,
    SmtpSettings,
)

__all__ = [
    "MAX_AUTH_LINE_OCTETS",
    "MAX_COMMAND_OCTETS",
    "MAX_DATA_LINE_OCTETS",
    "NEEDS_ANSWER",
    "AbortReason",
    "AuthCancelled",
    "AuthRequested",
    "AuthResponse",
    "Body",
    "ConnectionLost",
    "DataChunk",
    "DataEnd",
    "DataRequested",
    "Event",
    "Hello",
    "MailFrom",
    "MailParams",
    "MessageRefused",
    "Notify",
    "Offer",
    "Orcpt",
    "Phase",
    "Quit",
    "RcptParams",
    "RcptTo",
    "Reply",
    "Reset",
    "Ret",
    "SessionAborted",
    "SmtpError",
    "SmtpServerConnection",
    "SmtpSettings",
    "SmtpSettingsError",
    "SmtpStateError",
    "StartTlsRequested",
    "Vrfy",
    "replies",
    "xtext_decode",
    "xtext_encode",
]
