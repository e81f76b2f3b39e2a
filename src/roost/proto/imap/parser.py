"""Framed commands to typed commands (RFC 9051 §9 ``command``): the entry point.

`parse_command` takes one command as the framer delivers it — the tag, the
name, the arguments with their literals in place, and the final CRLF — and
returns the command's value from `roost.proto.imap.commands`, or raises
`ParseError` and nothing else, whatever the bytes. The error carries the
tag once it has been read, so the connection answers ``tag BAD ...``, or
``* BAD ...`` when there was no tag to read.

``utf8`` is whether the client enabled UTF8=ACCEPT (RFC 6855) or
IMAP4rev2 (RFC 9051 §5.1): it decides whether mailbox names are read as
UTF-8 or decoded from modified UTF-7.

Two kinds of line are not commands: the DONE that ends IDLE (`is_done`)
and the SASL responses of AUTHENTICATE
(`roost.proto.imap.commands.nonauth.parse_sasl_response`). The connection
asks the framer for a plain line when it expects one.
"""

from __future__ import annotations

from collections.abc import Callable

from roost.proto.imap.commands import Command, anystate, auth, listing, nonauth, selected
from roost.proto.imap.errors import ParseError
from roost.proto.imap.reader import Reader

_PARSERS: dict[str, Callable[[Reader, str], Command]] = {
    **anystate.PARSERS,
    **nonauth.PARSERS,
    **auth.PARSERS,
    **listing.PARSERS,
    **selected.PARSERS,
}
_UID_PARSERS: dict[str, Callable[[Reader, str], Command]] = {**selected.UID_PARSERS}

COMMAND_NAMES = frozenset(_PARSERS) | frozenset("UID " + name for name in _UID_PARSERS)
"""Every command name the parser knows, UID forms included."""


def parse_command(raw: bytes, *, utf8: bool = False) -> Command:
    """The command in ``raw`` (one framed command, CRLF included).

    Raises `ParseError` for anything the grammar refuses, an unknown
    command included (RFC 9051 §7.1.3: BAD).
    """
    r = Reader(raw, utf8=utf8)
    if r.at_eol():
        raise ParseError("empty command line")
    tag = r.tag()
    if not r.skip(b" "):
        # Without the space this is no tag (the framer reads tags the same way).
        raise r.error("expected a tag, a space and a command name")
    try:
        name = r.keyword("a command name")
        table = _PARSERS
        if name == "UID":
            r.sp()
            name = r.keyword("a command name after UID")
            table = _UID_PARSERS
        parse = table.get(name)
        if parse is None:
            prefix = "UID " if table is _UID_PARSERS else ""
            raise r.error(f"unknown command {prefix}{name[:32]}")
        command = parse(r, tag)
        r.eol()
    except ParseError as error:
        error.with_tag(tag)
        raise
    return command


def is_done(line: bytes) -> bool:
    """Whether ``line`` (without its CRLF) is the DONE that ends IDLE (RFC 2177 §3)."""
    return line.upper() == b"DONE"
