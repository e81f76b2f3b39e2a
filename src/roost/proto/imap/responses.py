"""Status responses and response codes (RFC 9051 §7.1), as values.

A status response is ``tag OK|NO|BAD [CODE args] text``, or untagged with
``*`` (and then also PREAUTH or BYE). The writer turns them into bytes;
this module only names them, so that a parse error, a framing refusal and
the engine's own answers all use the same vocabulary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from roost.proto.imap.values import Atom, ImapData


class Condition(enum.Enum):
    """What a status response says (RFC 9051 §7.1: ``resp-cond-*``)."""

    OK = "OK"
    NO = "NO"
    BAD = "BAD"
    PREAUTH = "PREAUTH"
    BYE = "BYE"


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """A response code: ``[NAME arg arg ...]`` (RFC 9051 §7.1).

    ``name`` is an atom such as ``UIDNEXT`` or ``TOOBIG``; ``args`` are
    written after it separated by spaces, each as `ImapData` (a sequence
    set, for COPYUID, is an `Atom`).
    """

    name: str
    args: tuple[ImapData, ...] = ()


TOOBIG = ResponseCode("TOOBIG")
"""RFC 4469 §5 / RFC 9051 §7.1: the command or a literal in it is too big."""

SUPPORTED_CHARSETS = ("UTF-8", "US-ASCII")
"""Search charsets the parser decodes: the two RFC 9051 §6.4.4 requires."""

BADCHARSET = ResponseCode("BADCHARSET", (tuple(Atom(name) for name in SUPPORTED_CHARSETS),))
"""RFC 9051 §7.1: the CHARSET of a SEARCH is not supported; lists those that are."""

CLIENTBUG = ResponseCode("CLIENTBUG")
"""RFC 5530 §3: the server saw a client error that it chose to tolerate or report."""
