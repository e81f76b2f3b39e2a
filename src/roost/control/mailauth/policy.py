"""What to do with a message after its authentication checks: a pure decision.

Two knobs an administrator sets (RFC 7208 §8.4 leaves SPF `fail` to local
policy; RFC 7489 §6.6.4 has receivers honour `p=reject` and `quarantine`):

- `spf_fail`: `accept`, `mark` (deliver, flagged) or `reject` on SPF `fail`.
- `dmarc_reject` and `dmarc_quarantine`: the same for a DMARC failure whose
  disposition is `reject` or `quarantine`.

A rejection wins over a mark, a mark over acceptance; DMARC is looked at
first because its verdict is about the author the reader sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from roost.control.mailauth.inbound import AuthVerdict

Action = Literal["accept", "mark", "reject"]
ACTIONS: tuple[Action, ...] = ("accept", "mark", "reject")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")
MAX_REPLY_CHARS = 400
"""Well inside the 512 octets of a reply line (RFC 5321 §4.5.3.1.5)."""


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    spf_fail: Action = "mark"
    dmarc_reject: Action = "reject"
    dmarc_quarantine: Action = "mark"


@dataclass(frozen=True, slots=True)
class Accept:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    reply: str
    """The SMTP reply, code and enhanced code first (`550 5.7.26 ...`)."""


@dataclass(frozen=True, slots=True)
class Mark:
    reason: str


Decision = Accept | Reject | Mark


def decide(verdict: AuthVerdict, policy: AuthPolicy) -> Decision:
    """Accept, reject (with the reply) or mark a checked message."""
    rejects: list[str] = []
    marks: list[str] = []
    dmarc = verdict.dmarc
    if dmarc.result == "fail" and dmarc.disposition != "none":
        action = policy.dmarc_reject if dmarc.disposition == "reject" else policy.dmarc_quarantine
        if action == "reject":
            # RFC 7372 §3.3: 5.7.26, more than one authentication check failed.
            rejects.append(
                f"550 5.7.26 Unauthenticated mail from {dmarc.from_domain} is refused "
                f"by its DMARC policy (p={dmarc.policy})"
            )
        elif action == "mark":
            marks.append(f"DMARC {dmarc.disposition} for {dmarc.from_domain}")
    spf = verdict.spf
    if spf.result == "fail":
        if policy.spf_fail == "reject":
            explanation = _UNPRINTABLE.sub(" ", spf.explanation).strip()
            # RFC 7372 §3.2: 5.7.23, SPF validation failed.
            rejects.append(
                f"550 5.7.23 SPF check failed for {spf.domain}"
                + (f": {explanation}" if explanation else "")
            )
        elif policy.spf_fail == "mark":
            marks.append(f"SPF fail for {spf.domain}")
    if rejects:
        return Reject(_UNPRINTABLE.sub(" ", rejects[0])[:MAX_REPLY_CHARS])
    if marks:
        return Mark("; ".join(marks))
    return Accept()
