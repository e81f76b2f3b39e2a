"""ESMTP parameters of MAIL and RCPT, and the xtext they are often written in.

RFC 5321 §4.1.2::

    Mail-parameters  = esmtp-param *(SP esmtp-param)
    esmtp-param      = esmtp-keyword ["=" esmtp-value]
    esmtp-keyword    = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    esmtp-value      = 1*(%d33-60 / %d62-126)      ; RFC 6531 adds UTF-8

A parameter is known only if an extension offered in this session defines
it: anything else is 555 5.5.4 (§4.1.1.11). A known parameter with a bad
value, or given twice, is a syntax error (501 5.5.4).

Decoded text values (ENVID, ORCPT, AUTH=) end up in DSN header fields, so
control characters in them are refused: ``+0D+0A`` must not become a
header injection in the bounce.
"""

from __future__ import annotations

import re

from roost.proto.smtp.capabilities import Offer
from roost.proto.smtp.errors import ParameterSyntaxError, PathSyntaxError, UnknownParameterError
from roost.proto.smtp.events import Body, MailParams, Notify, Orcpt, RcptParams, Ret

MAX_ENVID_CHARS = 100
"""RFC 3461 §4.4: an envelope identifier is at most 100 characters."""

_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_VALUE = re.compile(r"[!-<>-~]+")
_VALUE_UTF8 = re.compile(r"[!-<>-~\u0080-\U0010ffff]+")
# RFC 3461 §4: xchar is "!" to "~" except "+" and "="; hexchar is "+" 2HEXDIG.
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-Fa-f]{2})*")
_XTEXT_UTF8 = re.compile(r"(?:[!-*,-<>-~\u0080-\U0010ffff]|\+[0-9A-Fa-f]{2})*")
_HEXCHAR = re.compile(r"\+([0-9A-Fa-f]{2})")
_EMBEDDED_UNICODE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_SIZE = re.compile(r"[0-9]{1,20}")
_ADDR_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_PRINTABLE_UTF8 = re.compile(r"[\x20-\x7e\u00a0-\ud7ff\ue000-\U0010ffff]*")


def xtext_decode(text: str, *, utf8: bool = False) -> str:
    """Undo xtext (RFC 3461 §4): ``+HH`` becomes the character HH.

    RFC 3461 asks for upper-case hex; lower case is accepted, as it cannot
    mean anything else. ``utf8`` admits raw UTF-8 (RFC 6533 unitext).
    Raises `ParameterSyntaxError`.
    """
    pattern = _XTEXT_UTF8 if utf8 else _XTEXT
    if pattern.fullmatch(text) is None:
        raise ParameterSyntaxError("malformed xtext")
    return _HEXCHAR.sub(lambda m: chr(int(m.group(1), 16)), text)


def xtext_encode(text: str) -> str:
    """Encode ASCII ``text`` as xtext: every character outside "!".."~",
    and "+" and "=", becomes ``+HH`` (RFC 3461 §4). Raises ValueError for
    non-ASCII text, which xtext cannot carry.
    """
    if not text.isascii():
        raise ValueError("xtext carries ASCII only")
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in text)


def split_params(text: str, *, utf8: bool) -> list[tuple[str, str | None]]:
    """Split what follows a path into (KEYWORD, value) pairs.

    Keywords come back upper-cased (they are case-insensitive, §2.4).
    Runs of spaces count as one, a liberal reading of the ``SP`` in the
    grammar that real clients need. Raises `PathSyntaxError` when the
    path is followed by something other than a space, and
    `ParameterSyntaxError` for a malformed or repeated parameter.
    """
    if not text:
        return []
    if not text.startswith(" "):
        raise PathSyntaxError("text right after the path")
    value_pattern = _VALUE_UTF8 if utf8 else _VALUE
    seen: set[str] = set()
    items: list[tuple[str, str | None]] = []
    for token in text.split(" "):
        if not token:
            continue
        keyword, equals, value = token.partition("=")
        if _KEYWORD.fullmatch(keyword) is None:
            raise ParameterSyntaxError("bad parameter keyword")
        if equals and value_pattern.fullmatch(value) is None:
            raise ParameterSyntaxError("bad parameter value")
        keyword = keyword.upper()
        if keyword in seen:
            raise ParameterSyntaxError("parameter given twice")
        seen.add(keyword)
        items.append((keyword, value if equals else None))
    return items


def _no_value(value: str | None) -> None:
    if value is not None:
        raise ParameterSyntaxError("parameter takes no value")


def _value(value: str | None) -> str:
    if value is None:
        raise ParameterSyntaxError("parameter needs a value")
    return value


def _printable(text: str, *, utf8: bool = False) -> str:
    pattern = _PRINTABLE_UTF8 if utf8 else _PRINTABLE_ASCII
    if pattern.fullmatch(text) is None:
        raise ParameterSyntaxError("control or non-text character in a decoded value")
    return text


def _body(value: str, offer: Offer) -> Body:
    try:
        body = Body(value.upper())
    except ValueError:
        raise ParameterSyntaxError("unknown BODY value") from None
    if (body is Body.EIGHT_BIT_MIME and not offer.eight_bit_mime) or (
        body is Body.BINARY_MIME and not offer.binarymime
    ):
        raise UnknownParameterError(f"BODY={body}")
    return body


def parse_mail_params(items: list[tuple[str, str | None]], offer: Offer) -> MailParams:
    """Interpret MAIL parameters (RFC 1870, 6152, 3030, 6531, 3461, 4954, 8689)."""
    size: int | None = None
    body: Body | None = None
    smtputf8 = requiretls = False
    ret: Ret | None = None
    envid: str | None = None
    auth: str | None = None
    for keyword, value in items:
        match keyword:
            case "SIZE" if offer.size:
                text = _value(value)
                if _SIZE.fullmatch(text) is None:
                    raise ParameterSyntaxError("SIZE is 1 to 20 digits (RFC 1870 §3)")
                size = int(text)
            case "BODY" if offer.eight_bit_mime or offer.binarymime:
                body = _body(_value(value), offer)
            case "SMTPUTF8" if offer.smtputf8:
                _no_value(value)
                smtputf8 = True
            case "RET" if offer.dsn:
                try:
                    ret = Ret(_value(value).upper())
                except ValueError:
                    raise ParameterSyntaxError("RET is FULL or HDRS") from None
            case "ENVID" if offer.dsn:
                envid = _printable(xtext_decode(_value(value)))
                if len(envid) > MAX_ENVID_CHARS:
                    raise ParameterSyntaxError("ENVID longer than 100 characters")
            case "AUTH" if offer.auth:
                auth = _printable(xtext_decode(_value(value), utf8=True), utf8=True)
            case "REQUIRETLS" if offer.requiretls:
                _no_value(value)
                requiretls = True
            case _:
                raise UnknownParameterError(keyword)
    return MailParams(
        size=size,
        body=body,
        smtputf8=smtputf8,
        ret=ret,
        envid=envid,
        auth=auth,
        requiretls=requiretls,
    )


def _notify(value: str) -> frozenset[Notify]:
    try:
        found = frozenset(Notify(word.upper()) for word in value.split(","))
    except ValueError:
        raise ParameterSyntaxError("NOTIFY is NEVER or SUCCESS, FAILURE, DELAY") from None
    if Notify.NEVER in found and len(found) > 1:
        raise ParameterSyntaxError("NOTIFY=NEVER stands alone (RFC 3461 §4.1)")
    return found


def _orcpt(value: str, *, utf8: bool) -> Orcpt:
    addr_type, semicolon, encoded = value.partition(";")
    if not semicolon or _ADDR_TYPE.fullmatch(addr_type) is None or not encoded:
        raise ParameterSyntaxError("ORCPT is addr-type;xtext (RFC 3461 §4.2)")
    addr_type = addr_type.lower()
    if addr_type == "utf-8":
        # RFC 6533 §3: utf-8-addr-xtext and -unitext escape with \x{HEX}.
        decoded = xtext_decode(encoded, utf8=utf8)
        try:
            address = _EMBEDDED_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), decoded)
        except (ValueError, OverflowError):
            raise ParameterSyntaxError("bad \\x{HEX} in ORCPT") from None
    else:
        address = xtext_decode(encoded)
    return Orcpt(addr_type, _printable(address, utf8=addr_type == "utf-8"))


def parse_rcpt_params(
    items: list[tuple[str, str | None]], offer: Offer, *, utf8: bool
) -> RcptParams:
    """Interpret RCPT parameters (RFC 3461 §4.1, §4.2)."""
    notify: frozenset[Notify] = frozenset()
    orcpt: Orcpt | None = None
    for keyword, value in items:
        match keyword:
            case "NOTIFY" if offer.dsn:
                notify = _notify(_value(value))
            case "ORCPT" if offer.dsn:
                orcpt = _orcpt(_value(value), utf8=utf8)
            case _:
                raise UnknownParameterError(keyword)
    return RcptParams(notify=notify, orcpt=orcpt)
