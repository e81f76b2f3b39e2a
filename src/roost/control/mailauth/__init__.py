"""Mail authentication: DKIM signing, and SPF, DKIM and DMARC checks of inbound mail.

- `keys`: DKIM key files under `data/dkim/<domain>/` (generate, show, activate).
- `signing`: `DkimSigner.sign(message, domain)` for outbound mail.
- `inbound`: `MailAuthenticator.check_message(...)` -> `AuthVerdict` with the
  Authentication-Results field; `strip_forged` for incoming fields with our id.
- `policy`: `decide(verdict, policy)` -> `Accept | Reject | Mark`.

All DNS goes through `roost.net.dns.Resolver`, so the configured nameservers
(and, in tests, a DNS server on 127.0.0.1) answer every look-up.
"""

from roost.control.mailauth.dkim_verify import DkimReport, DkimResult, verify_dkim
from roost.control.mailauth.dmarc import DmarcRecord, DmarcResult, PolicyLookup
from roost.control.mailauth.headers import (
    from_domain,
    split_message,
    strip_authentication_results,
)
from roost.control.mailauth.inbound import (
    DKIM_VERIFY_MAX_BYTES,
    AuthVerdict,
    MailAuthenticator,
    MailAuthSettings,
)
from roost.control.mailauth.keys import DkimKeyError, TxtRecord, generate
from roost.control.mailauth.policy import Accept, AuthPolicy, Decision, Mark, Reject, decide
from roost.control.mailauth.signing import DkimSigner, signer
from roost.control.mailauth.spf_check import SpfResult, check_spf

__all__ = [
    "DKIM_VERIFY_MAX_BYTES",
    "Accept",
    "AuthPolicy",
    "AuthVerdict",
    "Decision",
    "DkimKeyError",
    "DkimReport",
    "DkimResult",
    "DkimSigner",
    "DmarcRecord",
    "DmarcResult",
    "MailAuthSettings",
    "MailAuthenticator",
    "Mark",
    "PolicyLookup",
    "Reject",
    "SpfResult",
    "TxtRecord",
    "check_spf",
    "decide",
    "from_domain",
    "generate",
    "signer",
    "split_message",
    "strip_authentication_results",
    "verify_dkim",
]
