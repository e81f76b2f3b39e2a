"""Errors of the IMAP core, split the way h11 splits them.

*Local* errors mean Roost drove the core wrongly: it asked the writer to
send an atom with a line break in it, or asked the framer for a line in the
middle of a command. They raise `ImapUsageError`, since only a bug causes
them.

*Peer* errors mean the client broke the protocol. The framer and the
parser raise (or report) `ParseError` and nothing else, whatever the bytes:
the hypothesis tests hold them to it. A `ParseError` carries what the
client is told — the tag if one was read, BAD or NO, a response code and
a line of text — and `roost.proto.imap.writer.rejection` is the one place
that turns it into bytes.
"""

from __future__ import annotations

from roost.core.errors import RoostError
from roost.proto.imap.responses import Condition, ResponseCode


class ImapError(RoostError):
    """Base of the errors `roost.proto.imap` raises for Roost's own mistakes."""


class ImapUsageError(ImapError):
    """The service used the core out of order or gave it a value it cannot send."""


class ParseError(Exception):
    """The client sent something the grammar refuses (an h11 *peer* error).

    ``tag`` is the command's tag when one could be read (the answer is then
    tagged, otherwise ``* BAD``). ``condition`` is BAD for syntax, NO for a
    well-formed command refused for its size (TOOBIG) or its charset
    (BADCHARSET), as RFC 9051 §6.4.4 and RFC 7888 §4 ask. ``text`` is one
    line of ASCII meant for a human; it never echoes more than a short
    piece of what the client sent.
    """

    def __init__(
        self,
        text: str,
        *,
        tag: str | None = None,
        condition: Condition = Condition.BAD,
        code: ResponseCode | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.tag = tag
        self.condition = condition
        self.code = code

    def with_tag(self, tag: str) -> ParseError:
        """This error answered under ``tag`` (the parser learns it first)."""
        if self.tag is None:
            self.tag = tag
        return self

    def __repr__(self) -> str:
        return f"ParseError({self.text!r}, tag={self.tag!r}, condition={self.condition.value})"
