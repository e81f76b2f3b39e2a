"""DKIM verification of inbound mail (RFC 6376 §6; Ed25519 by RFC 8463).

Every signature is verified and reported (RFC 6376 §6.1: a message may carry
several; RFC 8601 §2.7.1: one result each). Keys are fetched first, all at
once, through Roost's resolver; dkimpy then checks the hashes in a thread
with the fetched records handed to it through `dnsfunc`, so it never asks
the DNS itself.

Results as RFC 8601 §2.7.1 names them: `pass`; `fail` when the body hash or
the signature does not match; `permerror` for a signature or key that
cannot be used (syntax, missing key, revoked or too short key); `temperror`
when the key could not be fetched for now.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dkim
import dkim.util

from roost.control.mailauth.headers import split_message
from roost.control.mailauth.lookup import txt
from roost.net.dns import Lookup, Resolver

log = logging.getLogger(__name__)

DkimCode = Literal["pass", "fail", "neutral", "none", "temperror", "permerror", "policy"]
MAX_SIGNATURES = 8
"""Signatures verified per message; each costs a DNS query and a hash of the
body, and a hostile message may carry hundreds. Others are not reported."""
MIN_RSA_BITS = 1024
"""RFC 8301 §3.2: verifiers MUST NOT accept RSA keys shorter than 1024 bits."""
HEADER_B_CHARS = 12
"""Prefix of b= that tells apart signatures of one domain (RFC 6008 §4)."""
TOO_LARGE = "message too large to verify"

_NAME = re.compile(rb"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$")
_WSP = re.compile(rb"\s+")
_SIGNATURE_FIELD = re.compile(rb"(?im)^dkim-signature[ \t]*:")


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: DkimCode
    domain: str
    """The signing domain, `d=`."""
    selector: str
    algorithm: str
    identity: str
    """`i=`, or "" when the signature has none."""
    b: str
    """The first characters of `b=`, for `header.b` (RFC 6008)."""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DkimReport:
    results: tuple[DkimResult, ...] = ()
    skipped: str = ""
    """Why the signatures were not verified (the size cut-off), or ""."""
    unverified_domains: tuple[str, ...] = ()
    """`d=` of the signatures left unverified because of `skipped`."""

    @property
    def passing_domains(self) -> tuple[str, ...]:
        return tuple(r.domain for r in self.results if r.result == "pass")


@dataclass(frozen=True, slots=True)
class _Signature:
    index: int
    tags: dict[bytes, bytes]
    problem: str


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace").strip()


def _signatures(header_block: bytes) -> list[_Signature]:
    if not _SIGNATURE_FIELD.search(header_block):
        return []
    try:
        headers, _ = dkim.rfc822_parse(header_block + b"\r\n")
    except dkim.DKIMException as exc:
        return [_Signature(0, {}, f"header block not readable: {exc}")]
    values = [value for name, value in headers if name.lower() == b"dkim-signature"]
    out = []
    for index, value in enumerate(values[:MAX_SIGNATURES]):
        try:
            tags = dkim.util.parse_tag_value(value)
        except dkim.util.InvalidTagValueList as exc:
            out.append(_Signature(index, {}, f"signature syntax: {exc}"))
            continue
        problem = ""
        try:
            dkim.validate_signature_fields(tags)
        except dkim.DKIMException as exc:
            problem = str(exc)
        else:
            if not (_NAME.match(tags[b"d"]) and _NAME.match(tags[b"s"])):
                problem = "d= or s= is not a domain name"
        out.append(_Signature(index, tags, problem))
    return out


def _result(sig: _Signature, code: DkimCode, reason: str) -> DkimResult:
    tags = sig.tags
    return DkimResult(
        code,
        domain=_text(tags.get(b"d")).lower().rstrip("."),
        selector=_text(tags.get(b"s")),
        algorithm=_text(tags.get(b"a")).lower(),
        identity=_text(tags.get(b"i")),
        b=_WSP.sub(b"", tags.get(b"b", b""))[:HEADER_B_CHARS].decode("ascii", "replace"),
        reason=reason,
    )


def signing_domains(header_block: bytes) -> tuple[str, ...]:
    """`d=` of each readable signature, without verifying anything."""
    return tuple(
        _text(sig.tags.get(b"d")).lower().rstrip(".")
        for sig in _signatures(header_block)
        if sig.tags.get(b"d")
    )


def skipped(header_block: bytes, reason: str = TOO_LARGE) -> DkimReport:
    """The report for a message whose signatures are not verified."""
    return DkimReport((), reason, signing_domains(header_block))


async def _fetch_key(resolver: Resolver, sig: _Signature) -> tuple[bytes | None, DkimResult | None]:
    """The key record, or the result that ends this signature's check."""
    name = f"{_text(sig.tags[b's'])}._domainkey.{_text(sig.tags[b'd'])}"
    answer = await txt(resolver, name)
    if answer.status is Lookup.TEMPORARY:
        return None, _result(sig, "temperror", f"key lookup failed: {answer.detail}")
    if answer.status is not Lookup.FOUND or not answer.texts:
        return None, _result(sig, "permerror", f"no key at {name}")
    record = answer.texts[0]
    try:
        dkim.evaluate_pk(name, record)
    except (dkim.DKIMException, ValueError) as exc:
        return None, _result(sig, "permerror", f"key at {name} not usable: {exc}")
    return record, None


def _verify_all(message: bytes, pending: Sequence[tuple[_Signature, bytes]]) -> list[DkimResult]:
    """The hash checks, in a thread: dkimpy with the keys already fetched."""
    try:
        checker = dkim.DKIM(message, minkey=MIN_RSA_BITS)
    except dkim.DKIMException as exc:
        return [_result(sig, "permerror", f"message not readable: {exc}") for sig, _ in pending]
    out = []
    for sig, record in pending:

        def key(_name: bytes, timeout: float = 5, record: bytes = record) -> bytes:
            return record

        try:
            ok = checker.verify(idx=sig.index, dnsfunc=key)
        except dkim.ValidationError as exc:
            if "body hash mismatch" in str(exc):
                out.append(_result(sig, "fail", "body hash did not verify"))
            else:
                out.append(_result(sig, "permerror", str(exc)))
            continue
        except Exception as exc:
            # dkimpy on hostile input: any failure to verify is this signature's error.
            out.append(_result(sig, "permerror", f"{type(exc).__name__}: {exc}"))
            continue
        out.append(_result(sig, "pass", "") if ok else _result(sig, "fail", "bad signature"))
    return out


async def verify_dkim(resolver: Resolver, message: bytes) -> DkimReport:
    """Verify each DKIM-Signature of `message` (the first `MAX_SIGNATURES`)."""
    header_block, _ = split_message(message)
    sigs = _signatures(header_block)
    results: dict[int, DkimResult] = {}
    usable = []
    for sig in sigs:
        if sig.problem:
            results[sig.index] = _result(sig, "permerror", sig.problem)
        else:
            usable.append(sig)
    fetched = await asyncio.gather(*(_fetch_key(resolver, sig) for sig in usable))
    pending = []
    for sig, (record, early) in zip(usable, fetched, strict=True):
        if early is not None:
            results[sig.index] = early
        elif record is not None:
            pending.append((sig, record))
    if pending:
        verified = await asyncio.to_thread(_verify_all, message, pending)
        for (sig, _), result in zip(pending, verified, strict=True):
            results[sig.index] = result
    for index, result in sorted(results.items()):
        log.debug(
            "DKIM signature %d d=%s: %s %s", index, result.domain, result.result, result.reason
        )
    return DkimReport(tuple(r for _, r in sorted(results.items())))
