"""The data model of IMAP response data (RFC 9051 §4), shared by every core module.

Whoever builds a response (FETCH items, BODYSTRUCTURE, ENVELOPE, STATUS,
LIST) builds `ImapData`; only the writer decides how it looks on the wire,
so the choice between a quoted string and a literal (RFC 9051 §4.3) lives in
one place.

- `None` is NIL.
- `int` is a number (RFC 9051 `number64` at most).
- `Atom` is sent as is: flags, keywords, response-code names, `BODY[1.2]`.
- `str` is a string: quoted when it can be, otherwise a literal (UTF-8).
- `bytes` is a string that may hold 8-bit or NUL octets: always a literal
  (`~{n}` literal8 when `Binary` wraps it).
- a `tuple` is a parenthesised list.
- `Juxtaposed` is several items written side by side with no space, as the
  grammar wants for `1*body` in a multipart and `1*address` in an envelope.
- `Raw` is data the writer wrote before (a cached ENVELOPE), sent as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Atom:
    """Bytes the writer sends unquoted; the builder guarantees they are an atom."""

    value: str


@dataclass(frozen=True, slots=True)
class Binary:
    """A BINARY fetch result: sent as a literal8 (RFC 3516, RFC 9051 §7.5.2)."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Juxtaposed:
    """Items written one after the other without a space (RFC 9051 §9:
    `body-type-mpart = 1*body SP ...`, `env-from = "(" 1*address ")"`)."""

    items: tuple[ImapData, ...]


@dataclass(frozen=True, slots=True)
class Raw:
    """Octets in their wire form already, as `writer.write_data` gave them
    (with the same ``utf8``): sent as they are. For data that depends only on
    a message's immutable octets and is worth keeping written."""

    value: bytes


ImapData = None | int | Atom | str | bytes | Binary | Juxtaposed | Raw | tuple["ImapData", ...]
