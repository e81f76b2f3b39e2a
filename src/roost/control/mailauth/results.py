"""The Authentication-Results header field (RFC 8601), built with authres.

One field holds every method's result, one `resinfo` per line so that a
reader (and a line-length limit) copes with several DKIM signatures:

    Authentication-Results: mx.example.org;
        spf=pass (sender SPF authorized) smtp.mailfrom=ann@example.com;
        dkim=pass header.d=example.com header.s=sel-rsa header.a=rsa-sha256 header.b=...;
        dmarc=pass (p=reject dis=none) header.from=example.com
"""

from __future__ import annotations

import re

import authres
import authres.dkim_b
import authres.dmarc

from roost.control.mailauth.dkim_verify import DkimReport, DkimResult
from roost.control.mailauth.dmarc import DmarcResult
from roost.control.mailauth.spf_check import SpfResult
from roost.core.errors import InvalidName

FIELD_NAME = "Authentication-Results"
FEATURES = authres.FeatureContext(authres.dkim_b, authres.dmarc)
"""What `parse` understands: the core methods, DMARC and `header.b`."""

_NOT_IN_COMMENT = re.compile(r"[()\\\x00-\x1f\x7f-\U0010ffff]+")
_NOT_IN_REASON = re.compile(r'[@"\\()\x00-\x1f\x7f-\U0010ffff]+')
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._+=/-]+$")
MAX_REASON_CHARS = 160
_SAFE_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$")
_AUTHSERV_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def check_authserv_id(authserv_id: str) -> str:
    """Our authserv-id must be a plain host name (a dot-atom, RFC 8601 §2.5)."""
    if not _AUTHSERV_ID.match(authserv_id):
        raise InvalidName(f"{authserv_id!r} is not usable as an authserv-id (a host name)")
    return authserv_id.lower()


def _comment(text: str) -> str | None:
    cleaned = _NOT_IN_COMMENT.sub(" ", text).strip()
    return cleaned or None


def _reason(text: str) -> str | None:
    """authres leaves a value with `@` unquoted: keep reasons free of it and
    of anything else that could end the quoted string or the clause."""
    cleaned = " ".join(_NOT_IN_REASON.sub(" ", text).split())[:MAX_REASON_CHARS]
    return cleaned or None


def _value(text: str) -> str | None:
    """A property value taken from the message or the client (d=, s=, HELO):
    kept only when it is a plain token, so it cannot smuggle in a clause."""
    return text if text and _SAFE_VALUE.match(text) else None


def _spf(spf: SpfResult) -> object:
    result = authres.SPFAuthenticationResult(
        result=spf.result, result_comment=_comment(spf.explanation)
    )
    if spf.identity == "helo":
        result.smtp_helo = _value(spf.domain) or "unknown"
    elif _SAFE_ADDRESS.match(spf.sender):
        result.smtp_mailfrom = spf.sender
    else:
        # The domain when the address would need quoting (RFC 8601 §2.7.2 allows either).
        result.smtp_mailfrom = _value(spf.domain) or "unknown"
    return result


def _dkim(one: DkimResult) -> object:
    result = authres.DKIMAuthenticationResult(
        result=one.result,
        reason=_reason(one.reason),
        header_d=_value(one.domain),
        header_i=one.identity if _SAFE_ADDRESS.match("x" + one.identity) else None,
        header_s=_value(one.selector),
        header_a=_value(one.algorithm),
    )
    b = _value(one.b)
    if b:
        result.properties.append(authres.AuthenticationResultProperty("header", "b", b))
    return result


def _dmarc(dmarc: DmarcResult) -> object:
    comment = None
    if dmarc.policy is not None:
        comment = f"p={dmarc.policy} dis={dmarc.disposition}"
    return authres.dmarc.DMARCAuthenticationResult(
        result=dmarc.result,
        result_comment=comment,
        reason=_reason(dmarc.reason),
        header_from=_value(dmarc.from_domain),
    )


def authentication_results(
    authserv_id: str, spf: SpfResult | None, dkim: DkimReport, dmarc: DmarcResult | None
) -> bytes:
    """The folded field, CRLF-terminated, to prepend to the message."""
    results: list[object] = []
    if spf is not None:
        results.append(_spf(spf))
    if dkim.results:
        results.extend(_dkim(r) for r in dkim.results)
    else:
        results.append(
            authres.DKIMAuthenticationResult(result="none", reason=_reason(dkim.skipped))
        )
    if dmarc is not None:
        results.append(_dmarc(dmarc))
    lines = [f"{FIELD_NAME}: {check_authserv_id(authserv_id)}", *(str(r) for r in results)]
    return (";\r\n\t".join(lines) + "\r\n").encode("utf-8")


def parse(field: bytes) -> authres.AuthenticationResultsHeader:
    """An Authentication-Results field (folded or not) as authres reads it."""
    text = re.sub(r"\r?\n(?=[ \t])", "", field.decode("utf-8")).strip()
    return FEATURES.parse(text)
