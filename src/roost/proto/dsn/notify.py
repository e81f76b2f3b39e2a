"""Whether to send a notice, and how much of the original it returns.

`should_notify` applies the NOTIFY parameter (RFC 3461 §4.1) and the rule
that nothing is ever sent to the null reverse path (RFC 5321 §4.5.5).
`return_rule` applies RET (RFC 3461 §4.3) and Roost's size caps.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.dsn.model import NoticeKind, Ret, Returned

# RFC 3461 §4.1 leaves the default to the MTA: failures and delays, like
# Postfix and sendmail, and no success notices unless asked for.
DEFAULT_NOTIFY = frozenset({"FAILURE", "DELAY"})
# Without RET, a failure returns the whole original up to this size
# (RFC 3461 §4.3 leaves the choice to the MTA); a larger one, its header.
DEFAULT_MAX_FULL_OCTETS = 1_048_576


def should_notify(notify: frozenset[str] | None, kind: NoticeKind, *, sender: str) -> bool:
    """Whether a notice of `kind` goes to `sender` for a recipient whose
    RCPT carried `notify` (None when it had no NOTIFY parameter).

    RFC 3461 §4.1: NEVER asks for no notice at all (it wins even if a
    client wrongly lists it with others); otherwise a notice is sent only
    for the conditions listed; without NOTIFY, for failure and delay.
    RFC 5321 §4.5.5: no notice ever goes to the null reverse path.
    """
    if sender == "":
        return False
    wanted = DEFAULT_NOTIFY if notify is None else frozenset(k.upper() for k in notify)
    if "NEVER" in wanted:
        return False
    return NoticeKind(kind).value.upper() in wanted


@dataclass(frozen=True, slots=True)
class ReturnRule:
    """How much of the original a notice may return: whole (`full`) up to
    `max_octets` (None: any size), else its header section."""

    full: bool
    max_octets: int | None

    def choose(self, size: int) -> Returned:
        """The returned content for an original of `size` octets."""
        if self.full and (self.max_octets is None or size <= self.max_octets):
            return Returned.FULL
        return Returned.HEADERS


def return_rule(
    kind: NoticeKind,
    ret: Ret | None,
    *,
    max_full_octets: int = DEFAULT_MAX_FULL_OCTETS,
    max_requested_octets: int | None = None,
) -> ReturnRule:
    """RET applied to a notice of `kind` (RFC 3461 §4.3).

    RET=FULL asks for the whole message in a *failed* DSN: granted up to
    `max_requested_octets` (None: no cap). RET=HDRS asks for the header
    section only. Without RET, a failure returns the whole message up to
    `max_full_octets`. Delay and success notices return the header section
    in every case: the message is still on its way or already delivered.
    """
    kind = NoticeKind(kind)
    if kind is not NoticeKind.FAILURE or ret is Ret.HDRS:
        return ReturnRule(full=False, max_octets=0)
    if ret is Ret.FULL:
        return ReturnRule(full=True, max_octets=max_requested_octets)
    return ReturnRule(full=True, max_octets=max_full_octets)
