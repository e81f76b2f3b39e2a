"""Delivery status notifications (RFC 3461, 3464, 3463, 6522, 6533),
composed by pure functions, sans-I/O.

The Spool decides that a sender must hear about some recipients of a
message (`should_notify`: NOTIFY of RFC 3461 §4.1, never to the null
reverse path), describes them in a `Notice`, and calls `write_notice`
with a sink (or `iter_notice`, or `build_notice` for bytes). The result is
a multipart/report (RFC 6522) with:

1. a text/plain part saying per recipient, in plain words, what happened
   and what the sender can do (`human`, with RFC 3463 titles and advice
   from `status`);
2. message/delivery-status (RFC 3464 §2), or message/global-delivery-status
   for SMTPUTF8 mail (RFC 6533 §6);
3. the original as message/rfc822 (message/global), or its header section
   as text/rfc822-headers (message/global-headers), as RET and the size
   caps decide (`return_rule`, RFC 3461 §4.3).

The original is read as a stream of chunks and the notice is written as
one: see `roost.proto.dsn.compose` for the memory each path costs.
`xtext` holds the DSN parameter encodings (RFC 3461 §4, RFC 6533 §3).
"""

from roost.proto.dsn.compose import build_notice, iter_notice, write_notice
from roost.proto.dsn.model import (
    Action,
    DsnError,
    Notice,
    NoticeKind,
    NoticeResult,
    ReportedRecipient,
    Ret,
    Returned,
)
from roost.proto.dsn.notify import (
    DEFAULT_MAX_FULL_OCTETS,
    DEFAULT_NOTIFY,
    ReturnRule,
    return_rule,
    should_notify,
)
from roost.proto.dsn.status import describe_class, describe_status, parse_status, status_advice
from roost.proto.dsn.xtext import (
    format_orcpt,
    parse_orcpt,
    utf8_addr_decode,
    utf8_addr_unitext_encode,
    utf8_addr_xtext_encode,
    xtext_decode,
    xtext_encode,
)

__all__ = [
    "DEFAULT_MAX_FULL_OCTETS",
    "DEFAULT_NOTIFY",
    "Action",
    "DsnError",
    "Notice",
    "NoticeKind",
    "NoticeResult",
    "ReportedRecipient",
    "Ret",
    "ReturnRule",
    "Returned",
    "build_notice",
    "describe_class",
    "describe_status",
    "format_orcpt",
    "iter_notice",
    "parse_orcpt",
    "parse_status",
    "return_rule",
    "should_notify",
    "status_advice",
    "utf8_addr_decode",
    "utf8_addr_unitext_encode",
    "utf8_addr_xtext_encode",
    "write_notice",
    "xtext_decode",
    "xtext_encode",
]
