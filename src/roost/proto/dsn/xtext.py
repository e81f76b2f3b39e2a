"""The encodings of DSN parameters: xtext (RFC 3461 §4) and the two UTF-8
address forms of RFC 6533 §3.

`ENVID=` and `ORCPT=` arrive in SMTP as xtext: printable US-ASCII except
"+" and "=", every other octet written "+XX" in upper-case hex. RFC 6533
adds the `utf-8` address type, whose address is written in
`utf-8-addr-xtext` (7-bit, every character outside QCHAR as `\\x{HEX}`) or,
when SMTPUTF8 is in use, `utf-8-addr-unitext` (UTF-8 kept, only ASCII
specials escaped).

Roost keeps these values decoded inside the queue and encodes them again
only where they are written: the DSN fields (`roost.proto.dsn.fields`) and
an ORCPT passed on when relaying (`format_orcpt`).

xtext is octet-based while Roost handles `str`: encoding takes the UTF-8
octets of the text and decoding gives them back through `surrogateescape`,
so any octet string survives a round trip.
"""

from __future__ import annotations

import re

from roost.proto.dsn.model import DsnError

# RFC 3461 §4: xchar = "!".."~" except "+" and "=".
_XCHAR = frozenset(range(0x21, 0x7F)) - {0x2B, 0x3D}
_HEX = frozenset(b"0123456789ABCDEFabcdef")
# RFC 6533 §3: QCHAR = printable ASCII except SP, "\", "+" and "=".
_QCHAR = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"\\", "+", "="}
_EMBEDDED = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
# Longest DSN parameter we decode; RFC 3461 §4.2 allows ORCPT 500 octets.
MAX_XTEXT_CHARS = 1000


def xtext_encode(value: str) -> str:
    """Encode `value` as xtext (RFC 3461 §4): its UTF-8 octets, each one
    outside xchar written as "+" and two upper-case hex digits."""
    out: list[str] = []
    for octet in value.encode("utf-8", "surrogateescape"):
        out.append(chr(octet) if octet in _XCHAR else f"+{octet:02X}")
    return "".join(out)


def xtext_decode(text: str) -> str:
    """Decode xtext (RFC 3461 §4) into text.

    Lower-case hex digits are accepted (be liberal in what you accept);
    octets that are not UTF-8 come back as lone surrogates so that
    `xtext_encode` restores them. Raises `DsnError` on anything that is not
    xtext: a character outside xchar, or "+" without two hex digits.
    """
    if len(text) > MAX_XTEXT_CHARS:
        raise DsnError(f"xtext longer than {MAX_XTEXT_CHARS} characters")
    if not text.isascii():
        raise DsnError("xtext is US-ASCII only")
    raw = text.encode("ascii")
    out = bytearray()
    i = 0
    while i < len(raw):
        octet = raw[i]
        if octet == 0x2B:
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in _HEX for c in pair):
                raise DsnError(f"bad xtext escape at offset {i}")
            out.append(int(pair, 16))
            i += 3
            continue
        if octet not in _XCHAR:
            raise DsnError(f"character {octet:#04x} not allowed in xtext at offset {i}")
        out.append(octet)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _embedded(char: str) -> str:
    return f"\\x{{{ord(char):02X}}}"


def _check_scalar(value: str) -> None:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise DsnError("a utf-8 address must be valid Unicode text")


def utf8_addr_xtext_encode(address: str) -> str:
    """Write `address` as `utf-8-addr-xtext` (RFC 6533 §3): 7-bit, every
    character outside QCHAR as `\\x{HEX}`. Safe in ORCPT without SMTPUTF8 and
    in a message/delivery-status field."""
    _check_scalar(address)
    return "".join(c if c in _QCHAR else _embedded(c) for c in address)


def utf8_addr_unitext_encode(address: str) -> str:
    """Write `address` as `utf-8-addr-unitext` (RFC 6533 §3): non-ASCII
    characters kept as UTF-8, ASCII outside QCHAR as `\\x{HEX}`."""
    _check_scalar(address)
    return "".join(c if c in _QCHAR or ord(c) > 0x7F else _embedded(c) for c in address)


def utf8_addr_decode(text: str) -> str:
    """Decode `utf-8-addr-xtext` or `utf-8-addr-unitext` (RFC 6533 §3).

    Both forms decode the same way: `\\x{HEX}` gives that code point, every
    other character stands for itself. Raises `DsnError` on an ASCII
    special written bare, or on an escape that names no Unicode scalar.
    """
    if len(text) > MAX_XTEXT_CHARS:
        raise DsnError(f"utf-8 address longer than {MAX_XTEXT_CHARS} characters")
    out: list[str] = []
    pos = 0
    for m in _EMBEDDED.finditer(text):
        out.append(_plain(text[pos : m.start()], pos))
        point = int(m.group(1), 16)
        if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF or point == 0:
            raise DsnError(f"\\x{{{m.group(1)}}} is not a Unicode scalar value")
        out.append(chr(point))
        pos = m.end()
    out.append(_plain(text[pos:], pos))
    return "".join(out)


def _plain(run: str, offset: int) -> str:
    for i, c in enumerate(run):
        if c not in _QCHAR and ord(c) <= 0x7F:
            raise DsnError(f"character {ord(c):#04x} must be escaped at offset {offset + i}")
        if 0xD800 <= ord(c) <= 0xDFFF:
            raise DsnError("a utf-8 address must be valid Unicode text")
    return run


def parse_orcpt(value: str) -> tuple[str, str]:
    """Split and decode an ORCPT parameter (RFC 3461 §4.2, RFC 6533 §3)
    into (lower-case address type, decoded address).

    The `utf-8` type carries a utf-8-addr-xtext or -unitext address; every
    other type an xtext one. Raises `DsnError` when the value is malformed.
    """
    addr_type, sep, encoded = value.partition(";")
    addr_type = addr_type.strip().lower()
    if not sep or not addr_type or not encoded:
        raise DsnError('ORCPT must be addr-type ";" address')
    if not all(c.isascii() and (c.isalnum() or c == "-") for c in addr_type):
        raise DsnError(f"bad ORCPT address type {addr_type!r}")
    if addr_type == "utf-8":
        return addr_type, utf8_addr_decode(encoded)
    return addr_type, xtext_decode(encoded)


def format_orcpt(addr_type: str, address: str, *, smtputf8: bool = False) -> str:
    """The ORCPT parameter value that `parse_orcpt` reads back (RFC 3461
    §4.2): unitext for `utf-8` addresses when SMTPUTF8 is in use, the 7-bit
    utf-8-addr-xtext otherwise, and xtext for every other type."""
    addr_type = addr_type.lower()
    if addr_type == "utf-8":
        encoded = utf8_addr_unitext_encode(address) if smtputf8 else utf8_addr_xtext_encode(address)
    else:
        encoded = xtext_encode(address)
    return f"{addr_type};{encoded}"
