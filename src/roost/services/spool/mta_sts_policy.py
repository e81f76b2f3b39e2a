"""MTA-STS records and policies (RFC 8461), parsed without I/O.

Theory of operation. A domain announces a policy with a TXT record at
`_mta-sts.<domain>` (§3.1) whose `id` changes whenever the policy does, and
serves the policy itself over HTTPS (§3.2). `txt_policy_id` picks the one
valid record out of a TXT answer and returns its id; `parse_policy` turns the
policy file into a `Policy`; `Policy.allows` says whether an MX host name
matches one of the policy's `mx` patterns (§4.1). Fetching and caching live
in `mta_sts.py`; applying the policy to a delivery lives in `remote.py`.

Both parsers follow the ABNF of §3.1 and §3.2 and, as §3.2 asks, ignore
unknown fields and keep the first of a repeated field (all but `mx`). Three
leniencies, none of which can weaken a policy: blank lines in the policy
file are skipped, an `mx` pattern may end in a dot, and a `max_age` above
the RFC's maximum is capped at it rather than discarding the policy the
domain meant to publish.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_AGE_LIMIT_S = 31_557_600
"""RFC 8461 §3.2: the largest `max_age`, one year of 365.25 days."""

POLICY_ID_MAX_CHARS = 32
"""RFC 8461 §3.1: `sts-id = "id=" 1*32(ALPHA / DIGIT)`."""

_WSP = " \t"
_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}\Z")
# §3.1 sts-ext-value: printable US-ASCII except "=" and ";".
_TXT_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+\Z")
# §3.2 sts-policy-ext-value: visible characters (UTF-8 allowed), inner spaces.
_POLICY_EXT_VALUE = re.compile(r"[^\x00-\x20\x7f]([^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?\Z")
# RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str].
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")


class PolicyError(ValueError):
    """The policy file breaks RFC 8461 §3.2: the domain has no usable policy."""


class Mode(enum.Enum):
    """What a sender does when a delivery fails the policy (RFC 8461 §5)."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    max_age_s: int
    mx: tuple[str, ...]

    def allows(self, host: str) -> bool:
        """Whether the MX host `host` matches one of the `mx` patterns (§4.1)."""
        return any(mx_matches(pattern, host) for pattern in self.mx)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: exact match, or `*.` standing for exactly one left-most label.

    `*.example.com` matches `mail.example.com` but neither `example.com` nor
    `foo.bar.example.com`. Names compare without case and without a final dot.
    """
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if pattern.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and first != "*" and rest == pattern[2:]
    return host == pattern


def txt_policy_id(texts: Iterable[bytes]) -> str | None:
    """The policy id of a `_mta-sts` TXT answer, or None when it announces no policy.

    Each item is one record with its strings already joined (§3.1: "as if
    those strings are concatenated without adding spaces"). Records that do
    not begin with `v=STSv1;` are discarded; unless exactly one remains and
    it is valid, the domain has no available policy (§3.1).
    """
    candidates = [t for t in texts if _begins_with_version(t)]
    if len(candidates) != 1:
        return None
    try:
        record = candidates[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    return _record_id(record)


def _begins_with_version(text: bytes) -> bool:
    if not text.startswith(b"v=STSv1"):
        return False
    return text[len(b"v=STSv1") :].lstrip(b" \t").startswith(b";")


def _record_id(record: str) -> str | None:
    fields = [f.strip(_WSP) for f in record.split(";")]
    if fields[-1] == "":  # one trailing delimiter is allowed
        fields.pop()
    if len(fields) < 2 or fields[0] != "v=STSv1":
        return None
    policy_id: str | None = None
    for field in fields[1:]:
        name, equals, value = field.partition("=")
        if not equals:
            return None
        if name == "id":
            if not _ID.match(value):
                return None
            policy_id = policy_id or value  # a repeated field: the first counts
        elif not (_EXT_NAME.match(name) and _TXT_EXT_VALUE.match(value)):
            return None
    return policy_id


def parse_policy(body: bytes) -> Policy:
    """The policy of an `mta-sts.txt` body (§3.2); raises `PolicyError` when invalid."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError("the policy is not UTF-8") from exc
    if text.startswith("\ufeff"):
        raise PolicyError("the policy starts with a byte order mark")
    first: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r").rstrip(_WSP)
        if not line:
            continue
        name, colon, value = line.partition(":")
        value = value.lstrip(_WSP)
        if not colon or not _EXT_NAME.match(name) or not value:
            raise PolicyError(f"line {number} is not a `name: value` field")
        if name == "mx":
            mx.append(_mx_pattern(value, number))
        elif not _POLICY_EXT_VALUE.match(value):
            raise PolicyError(f"line {number}: the value of {name!r} has control characters")
        else:
            first.setdefault(name, value)
    if first.get("version") != "STSv1":
        raise PolicyError("`version: STSv1` is missing")
    try:
        mode = Mode(first.get("mode", ""))
    except ValueError:
        raise PolicyError("`mode` is missing or not enforce, testing or none") from None
    max_age = first.get("max_age", "")
    if not (max_age.isascii() and max_age.isdigit() and len(max_age) <= 10):
        raise PolicyError("`max_age` is missing or not 1 to 10 digits")
    if not mx and mode is not Mode.NONE:
        raise PolicyError(f"a policy in mode {mode.value} needs at least one `mx`")
    return Policy(mode, min(int(max_age), MAX_AGE_LIMIT_S), tuple(mx))


def _mx_pattern(value: str, number: int) -> str:
    """§3.2 `sts-policy-mx-value = ["*."] Domain`, kept in lower case."""
    pattern = value.lower().removesuffix(".")
    name = pattern[2:] if pattern.startswith("*.") else pattern
    if not _DOMAIN.match(name):
        raise PolicyError(f"line {number}: {value!r} is not an mx pattern")
    return pattern
