"""DMARC (RFC 7489): the author domain's policy, identifier alignment, disposition.

Policy discovery (§6.6.3): the TXT record at `_dmarc.<From domain>`; when
there is none, the one at `_dmarc.<Organizational Domain>` (§3.2: the
registrable domain by the Public Suffix List). Records not starting with
`v=DMARC1` are ignored; more than one record ends the evaluation.

Alignment (§3.1): DKIM passes aligned when a passing signature's `d=`, and
SPF when the checked domain (MAIL FROM, or HELO for the null sender), is the
From domain (strict, `s`) or shares its Organizational Domain (relaxed,
`r`, the default).

The evaluation itself (`evaluate`) is pure: the look-ups are done before, so
tests give it records and results directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, cast

from publicsuffixlist import PublicSuffixList

from roost.control.mailauth.dkim_verify import DkimReport
from roost.control.mailauth.headers import FromDomain
from roost.control.mailauth.lookup import txt
from roost.control.mailauth.spf_check import SpfResult
from roost.net.dns import Lookup, Resolver

DmarcCode = Literal["pass", "fail", "none", "temperror", "permerror"]
Disposition = Literal["none", "quarantine", "reject"]
Alignment = Literal["r", "s"]
DISPOSITIONS: tuple[Disposition, ...] = ("none", "quarantine", "reject")
_ONE_STEP_DOWN: dict[Disposition, Disposition] = {
    "reject": "quarantine",
    "quarantine": "none",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    p: Disposition
    sp: Disposition | None = None
    adkim: Alignment = "r"
    aspf: Alignment = "r"
    pct: int = 100


def parse_record(text: str) -> DmarcRecord | None:
    """A DMARC record (RFC 7489 §6.3), or None when `text` is not a usable one.

    A bad `p` is read as `p=none` when the record asks for reports (`rua`),
    else the record is unusable (§6.6.3 step 6). Unknown tags are ignored
    (§6.3); a bad value of an optional tag takes its default.
    """
    tags: dict[str, str] = {}
    for index, part in enumerate(text.split(";")):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if index == 0:
            if not (eq and key == "v" and value == "DMARC1"):
                return None
            continue
        if eq and key and key not in tags:
            tags[key] = value
    p = tags.get("p", "").lower()
    if p not in DISPOSITIONS:
        if "rua" not in tags:
            return None
        p = "none"
    sp = tags.get("sp", "").lower()
    try:
        pct = min(100, max(0, int(tags.get("pct", "100"))))
    except ValueError:
        pct = 100
    return DmarcRecord(
        p=cast(Disposition, p),
        sp=sp if sp in DISPOSITIONS else None,
        adkim="s" if tags.get("adkim", "").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "").lower() == "s" else "r",
        pct=pct,
    )


@functools.cache
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def org_domain(domain: str) -> str:
    """The Organizational Domain (RFC 7489 §3.2); a public suffix is its own."""
    name = domain.rstrip(".").lower()
    found = _suffix_list().privatesuffix(name)
    return str(found) if found else name


def aligned(identifier: str, from_domain: str, mode: Alignment) -> bool:
    a, b = identifier.rstrip(".").lower(), from_domain.rstrip(".").lower()
    if not a or not b:
        return False
    return a == b if mode == "s" else org_domain(a) == org_domain(b)


@dataclass(frozen=True, slots=True)
class PolicyLookup:
    status: Literal["found", "none", "temperror"]
    record: DmarcRecord | None = None
    record_domain: str = ""
    """The domain whose `_dmarc` record applies: the From domain or its
    Organizational Domain."""
    detail: str = ""


async def _record_at(resolver: Resolver, domain: str) -> PolicyLookup | None:
    """The lookup's outcome at one name; None when there is no record there."""
    answer = await txt(resolver, f"_dmarc.{domain}")
    if answer.status is Lookup.TEMPORARY:
        return PolicyLookup("temperror", detail=answer.detail)
    texts = [t.decode("utf-8", "replace") for t in answer.texts]
    candidates = [t for t in texts if t.replace(" ", "").startswith("v=DMARC1")]
    if not candidates:
        return None
    if len(candidates) > 1:
        return PolicyLookup("none", detail=f"_dmarc.{domain} has more than one DMARC record")
    record = parse_record(candidates[0])
    if record is None:
        return PolicyLookup("none", detail=f"_dmarc.{domain} has no usable policy")
    return PolicyLookup("found", record, domain)


async def find_policy(resolver: Resolver, from_domain: str) -> PolicyLookup:
    """The DMARC policy for mail from `from_domain` (RFC 7489 §6.6.3)."""
    found = await _record_at(resolver, from_domain)
    if found is not None:
        return found
    org = org_domain(from_domain)
    if org != from_domain:
        found = await _record_at(resolver, org)
        if found is not None:
            return found
    return PolicyLookup("none", detail=f"no DMARC record for {from_domain}")


@dataclass(frozen=True, slots=True)
class DmarcResult:
    result: DmarcCode
    from_domain: str = ""
    policy: Disposition | None = None
    """The policy that applies (`p`, or `sp` for a subdomain); None without a record."""
    disposition: Disposition = "none"
    """What to do with the message: the policy on failure, after `pct` sampling."""
    spf_aligned: bool = False
    dkim_aligned: bool = False
    record_domain: str = ""
    reason: str = ""


def evaluate(
    author: FromDomain,
    lookup: PolicyLookup | None,
    spf: SpfResult,
    dkim: DkimReport,
    sample: int,
) -> DmarcResult:
    """The DMARC result and disposition (RFC 7489 §6.6.2-§6.6.4).

    Without a pass, an aligned SPF or DKIM check that failed temporarily
    makes the result `temperror` (as DMARCbis specifies), not `fail`.

    `sample` is a number in 0..99 drawn for this message: the policy is
    applied when it is below `pct`, and the next milder one otherwise
    (§6.6.4). When DKIM was not verified (the size cut-off) although a
    signature claims the author's domain, a `reject` is softened to
    `quarantine`: large legitimate mail is kept, marked, not refused.
    """
    if author.domain is None:
        return DmarcResult("permerror", reason=author.problem)
    domain = author.domain
    if lookup is None or lookup.status == "none" or lookup.record is None:
        if lookup is not None and lookup.status == "temperror":
            return DmarcResult("temperror", domain, reason=lookup.detail)
        return DmarcResult("none", domain, reason=lookup.detail if lookup else "")
    record = lookup.record
    policy = record.p
    if lookup.record_domain != domain and record.sp is not None:
        policy = record.sp
    spf_ok = spf.result == "pass" and aligned(spf.domain, domain, record.aspf)
    dkim_ok = any(aligned(d, domain, record.adkim) for d in dkim.passing_domains)
    if spf_ok or dkim_ok:
        return DmarcResult("pass", domain, policy, "none", spf_ok, dkim_ok, lookup.record_domain)
    spf_later = spf.result == "temperror" and aligned(spf.domain, domain, record.aspf)
    dkim_later = any(
        r.result == "temperror" and aligned(r.domain, domain, record.adkim) for r in dkim.results
    )
    if spf_later or dkim_later:
        # An aligned check may yet pass: no policy is applied on a guess.
        return DmarcResult(
            "temperror",
            domain,
            policy,
            record_domain=lookup.record_domain,
            reason="an aligned SPF or DKIM check failed for now",
        )
    disposition = policy if sample < record.pct else _ONE_STEP_DOWN[policy]
    reason = "no aligned SPF or DKIM pass"
    if sample >= record.pct:
        reason += f"; pct={record.pct} spared this message"
    unverified = any(aligned(d, domain, record.adkim) for d in dkim.unverified_domains)
    if dkim.skipped and unverified and disposition == "reject":
        disposition = "quarantine"
        reason += f"; DKIM not verified ({dkim.skipped})"
    return DmarcResult(
        "fail", domain, policy, disposition, False, False, lookup.record_domain, reason
    )
