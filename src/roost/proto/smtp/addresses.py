"""Paths in MAIL and RCPT: the grammar of RFC 5321 §4.1.2, with RFC 6531 §3.3.

::

    Path          = "<" [ A-d-l ":" ] Mailbox ">"
    A-d-l         = At-domain *( "," At-domain )      ; source route, ignored
    Mailbox       = Local-part "@" ( Domain / address-literal )
    Local-part    = Dot-string / Quoted-string
    Domain        = sub-domain *("." sub-domain)
    address-literal = "[" ( IPv4-address-literal / "IPv6:" IPv6-addr ) "]"

SMTPUTF8 adds UTF-8 to atext, qtextSMTP and sub-domain (U-labels). This
module always parses with those additions, then refuses UTF-8 unless the
transaction asked for it, so that the client learns the right reason:
553 5.6.7 rather than a syntax error.

The parsed address comes back as one string in a canonical form:
brackets and source route dropped, a quoted local part unquoted when it
is a valid Dot-string (``"john.doe"@x`` is ``john.doe@x``, §4.1.2 says
they are the same mailbox), otherwise re-quoted with only the escapes it
needs. Case is kept: local parts are case-sensitive (§2.4), and domains
are compared by the service.
"""

from __future__ import annotations

import ipaddress
import re

from roost.proto.smtp.errors import NonAsciiPathError, PathSyntaxError

MAX_DOMAIN_OCTETS = 255
"""RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets."""

MAX_LABEL_OCTETS = 63
"""RFC 1035 §2.3.4: a DNS label is at most 63 octets."""

# RFC 5321 §4.1.2 atext (RFC 5322 §3.2.3) plus UTF8-non-ascii (RFC 6531 §3.3).
_NON_ASCII = "\u0080-\U0010ffff"
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-" + _NON_ASCII
_DOT_STRING = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*")
# qtextSMTP = %d32-33 / %d35-91 / %d93-126; quoted-pairSMTP = "\" %d32-126.
_QUOTED_STRING = re.compile(f'"(?:[ !#-\\[\\]-~{_NON_ASCII}]|\\\\[ -~])*"')
_QUOTED_PAIR = re.compile(r"\\(.)")
_SUB_DOMAIN = re.compile(
    f"[A-Za-z0-9{_NON_ASCII}](?:[A-Za-z0-9{_NON_ASCII}-]*[A-Za-z0-9{_NON_ASCII}])?"
)
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_IPV6_TAG = "ipv6:"


def is_domain(text: str, *, utf8: bool = False) -> bool:
    """Is ``text`` an RFC 5321 Domain (with U-labels when ``utf8``)?"""
    if not text or len(text.encode()) > MAX_DOMAIN_OCTETS:
        return False
    if not utf8 and not text.isascii():
        return False
    for label in text.split("."):
        if _SUB_DOMAIN.fullmatch(label) is None:
            return False
        if label.isascii() and len(label) > MAX_LABEL_OCTETS:
            return False
    return True


def is_address_literal(text: str) -> bool:
    """Is ``text`` a bracketed IPv4 or IPv6 address literal (RFC 5321 §4.1.3)?

    General-address-literals with other tags are refused: none is
    registered besides IPv6, and no MTA can route to one.
    """
    if len(text) < 3 or text[0] != "[" or text[-1] != "]":
        return False
    inner = text[1:-1]
    if inner[: len(_IPV6_TAG)].lower() == _IPV6_TAG:
        address = inner[len(_IPV6_TAG) :]
        if not address.isascii() or "%" in address:
            return False
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return False
        return True
    found = _IPV4.fullmatch(inner)
    return found is not None and all(int(part) <= 255 for part in found.groups())


def hello_name_ok(name: str) -> bool:
    """Does an EHLO/HELO argument follow RFC 5321 §4.1.1.1 (Domain / address-literal)?"""
    return is_domain(name) or is_address_literal(name)


def _path_end(text: str) -> int:
    """Index of the ``>`` that closes the path starting at ``text[0] == "<"``."""
    quoted = False
    escaped = False
    for i in range(1, len(text)):
        char = text[i]
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ">" and not quoted:
            return i
    raise PathSyntaxError("no closing '>'")


def _check_route(route: str) -> None:
    """A-d-l (§4.1.2): ``@one,@two``; accepted and then ignored (appendix C)."""
    for hop in route.split(","):
        if not hop.startswith("@") or not is_domain(hop[1:], utf8=True):
            raise PathSyntaxError("bad source route")


def _canonical_local(local: str) -> str:
    if not local.startswith('"'):
        return local
    content = _QUOTED_PAIR.sub(r"\1", local[1:-1])
    if _DOT_STRING.fullmatch(content):
        return content
    return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_mailbox(text: str) -> str:
    """Parse a Mailbox (§4.1.2) and return its canonical form.

    Accepts UTF-8 everywhere RFC 6531 does; the caller decides whether
    UTF-8 is allowed. Raises `PathSyntaxError`.
    """
    if text.startswith('"'):
        found = _QUOTED_STRING.match(text)
        if found is None:
            raise PathSyntaxError("bad quoted local part")
        local, after = found.group(), text[found.end() :]
        if not after.startswith("@"):
            raise PathSyntaxError("no '@' after the local part")
        domain = after[1:]
    else:
        local, at, domain = text.partition("@")
        if not at or _DOT_STRING.fullmatch(local) is None:
            raise PathSyntaxError("bad local part")
    if not (is_domain(domain, utf8=True) or is_address_literal(domain)):
        raise PathSyntaxError("bad domain")
    return f"{_canonical_local(local)}@{domain}"


def parse_path(text: str, *, null_ok: bool, postmaster_ok: bool, utf8: bool) -> tuple[str, str]:
    """Parse the Path at the start of ``text``; return (address, rest of text).

    ``null_ok`` admits ``<>`` (a reverse-path, §4.1.1.2), giving ``""``;
    ``postmaster_ok`` admits ``<Postmaster>`` without a domain (a
    forward-path, §4.1.1.3). Raises `PathSyntaxError`, or
    `NonAsciiPathError` for a valid UTF-8 path when ``utf8`` is False.
    """
    if not text.startswith("<"):
        raise PathSyntaxError("a path starts with '<'")
    end = _path_end(text)
    inner, rest = text[1:end], text[end + 1 :]
    ascii_only = inner.isascii()
    if not inner:
        if null_ok:
            return "", rest
        raise PathSyntaxError("empty path")
    if postmaster_ok and inner.lower() == "postmaster":
        return inner, rest
    if inner.startswith("@"):
        route, colon, inner = inner.partition(":")
        if not colon:
            raise PathSyntaxError("source route without ':'")
        _check_route(route)
    address = parse_mailbox(inner)
    if not utf8 and not ascii_only:
        raise NonAsciiPathError(address)
    return address, rest
