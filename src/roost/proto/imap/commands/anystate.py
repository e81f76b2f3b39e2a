"""Commands valid in any state (RFC 9051 §6.1): CAPABILITY, NOOP, LOGOUT, and ID (RFC 2971).

Each command is a frozen value with the client's tag; the ``_parse_*``
functions read its arguments after the command name and leave the reader
at the end of the line. ``PARSERS`` maps the command name to its parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from roost.proto.imap.reader import Reader

ID_MAX_PAIRS = 30
"""RFC 2971 §3.3: a client sends at most 30 field-value pairs."""

ID_MAX_FIELD_OCTETS = 30
ID_MAX_VALUE_OCTETS = 1024
"""RFC 2971 §3.3: fields are at most 30 octets long, values at most 1024."""


@dataclass(frozen=True, slots=True)
class Capability:
    """CAPABILITY (RFC 9051 §6.1.1)."""

    NAME: ClassVar[str] = "CAPABILITY"
    tag: str


@dataclass(frozen=True, slots=True)
class Noop:
    """NOOP (RFC 9051 §6.1.2)."""

    NAME: ClassVar[str] = "NOOP"
    tag: str


@dataclass(frozen=True, slots=True)
class Logout:
    """LOGOUT (RFC 9051 §6.1.3)."""

    NAME: ClassVar[str] = "LOGOUT"
    tag: str


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971 §3.1): the client's field-value pairs, or None for ``ID NIL``."""

    NAME: ClassVar[str] = "ID"
    tag: str
    params: tuple[tuple[str, str | None], ...] | None


AnyStateCommand = Capability | Noop | Logout | Id


def _parse_id(r: Reader, tag: str) -> Id:
    r.sp()
    if r.take_keyword("NIL"):
        return Id(tag, None)

    def pair() -> tuple[str, str | None]:
        # RFC 2971 asks for strings; some clients send atoms, which are unambiguous.
        field = r.astring()
        r.sp()
        value = None if r.take_keyword("NIL") else r.astring()
        if len(field) > ID_MAX_FIELD_OCTETS or (value and len(value) > ID_MAX_VALUE_OCTETS):
            raise r.error("ID fields are at most 30 octets, values 1024 (RFC 2971 section 3.3)")
        return r.decode(field), None if value is None else r.decode(value)

    params = r.parenthesized(pair, empty=True)
    if len(params) > ID_MAX_PAIRS:
        raise r.error("ID carries at most 30 field-value pairs (RFC 2971 section 3.3)")
    return Id(tag, params)


PARSERS: dict[str, Callable[[Reader, str], AnyStateCommand]] = {
    "CAPABILITY": lambda r, tag: Capability(tag),
    "NOOP": lambda r, tag: Noop(tag),
    "LOGOUT": lambda r, tag: Logout(tag),
    "ID": _parse_id,
}
