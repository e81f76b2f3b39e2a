"""The values a delivery status notification is composed from.

A `Notice` is everything the Spool knows when it decides to tell a sender
about some of the recipients of one message: the envelope (RFC 3461 ENVID,
RET, the reverse path), the reporting host, the clock, and one
`ReportedRecipient` per recipient reported, holding the per-recipient
fields of RFC 3464 §2.3. The values are checked on construction, so the
composer never meets a naive datetime or a status that is not RFC 3463.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from roost.core.errors import RoostError


class DsnError(RoostError):
    """A notice cannot be composed from these values, or an encoded DSN
    parameter (xtext, ORCPT) is malformed."""


class NoticeKind(enum.StrEnum):
    """Why the notice is sent; each value is the RFC 3461 §4.1 NOTIFY
    keyword (upper-cased) that asks for it."""

    FAILURE = "failure"
    DELAY = "delay"
    SUCCESS = "success"


class Action(enum.StrEnum):
    """The Action field of RFC 3464 §2.3.3."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


class Ret(enum.StrEnum):
    """The RET parameter of MAIL FROM (RFC 3461 §4.3)."""

    FULL = "FULL"
    HDRS = "HDRS"


class Returned(enum.StrEnum):
    """What of the original message a notice carries as its third part
    (RFC 6522 §3): all of it, its header section, or nothing."""

    FULL = "full"
    HEADERS = "headers"
    NONE = "none"


# RFC 3464 §2.3.4 / RFC 3463 §2: class "." subject "." detail.
_STATUS = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
_BAD_LINE = re.compile(r"[\r\n\x00]")


def _aware(value: datetime | None, what: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise DsnError(f"{what} must be a timezone-aware datetime")


def _one_line(value: str | None, what: str) -> None:
    if value is not None and _BAD_LINE.search(value):
        raise DsnError(f"{what} must not contain CR, LF or NUL")


@dataclass(frozen=True, slots=True)
class ReportedRecipient:
    """One recipient's block of a DSN (RFC 3464 §2.3).

    `original_recipient` is (address type, address) from the ORCPT
    parameter, already decoded (see `parse_orcpt`); it is written back
    encoded as the notice's variant needs. `diagnostic` is the remote reply
    (for `diagnostic_type` "smtp", RFC 3464 §2.3.6), its lines joined by
    the composer. `will_retry_until` is written only for Action "delayed"
    (RFC 3464 §2.3.9). `action` and `status` also accept plain strings.
    """

    final_recipient: str
    action: Action
    status: str
    original_recipient: tuple[str, str] | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None
    diagnostic_type: str = "smtp"
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "action", Action(self.action))
        except ValueError as exc:
            raise DsnError(f"unknown DSN action {self.action!r}") from exc
        if not _STATUS.fullmatch(self.status):
            raise DsnError(f"status {self.status!r} is not an RFC 3463 code like 5.1.1")
        if not self.final_recipient:
            raise DsnError("final recipient must not be empty")
        _one_line(self.final_recipient, "final recipient")
        _one_line(self.remote_mta, "remote MTA")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", self.diagnostic_type):
            raise DsnError(f"bad diagnostic type {self.diagnostic_type!r}")
        if self.original_recipient is not None:
            addr_type, address = self.original_recipient
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", addr_type) or not address:
                raise DsnError(f"bad original recipient {self.original_recipient!r}")
        _aware(self.last_attempt, "last attempt")
        _aware(self.will_retry_until, "will retry until")


@dataclass(frozen=True, slots=True)
class Notice:
    """One DSN to compose (RFC 3464 §2.2 per-message fields and the RFC
    5322 header of the report).

    `envid` is the decoded ENVID (RFC 3461 §4.4). `smtputf8` selects the
    internationalised variant of RFC 6533; without it every header and field
    is 7-bit, so `original_sender` and `postmaster_from` must be ASCII.
    `original_8bit` says the original was sent with BODY=8BITMIME or
    BINARYMIME (RFC 6152, RFC 3030), so a returned copy is labelled 8bit.
    `received_from_mta` is the host the message came from (RFC 3464 §2.2.4).
    """

    kind: NoticeKind
    reporting_mta: str
    original_sender: str
    recipients: tuple[ReportedRecipient, ...]
    arrival_date: datetime
    now: datetime
    postmaster_from: str
    message_id_domain: str
    envid: str | None = None
    ret: Ret | None = None
    smtputf8: bool = False
    original_8bit: bool = False
    received_from_mta: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", NoticeKind(self.kind))
            if self.ret is not None:
                object.__setattr__(self, "ret", Ret(str(self.ret).upper()))
        except ValueError as exc:
            raise DsnError(f"bad notice kind or RET: {exc}") from exc
        if not self.original_sender:
            # RFC 5321 §4.5.5: never a notice about a notice.
            raise DsnError("no notice may be sent to the null reverse path")
        if not self.recipients:
            raise DsnError("a notice reports at least one recipient (RFC 3464 §2)")
        for what in ("reporting_mta", "postmaster_from", "message_id_domain"):
            if not getattr(self, what):
                raise DsnError(f"{what} must not be empty")
        for what in (
            "reporting_mta",
            "original_sender",
            "postmaster_from",
            "message_id_domain",
            "envid",
            "received_from_mta",
        ):
            _one_line(getattr(self, what), what)
        if not self.smtputf8:
            for what in ("original_sender", "postmaster_from", "message_id_domain"):
                if not getattr(self, what).isascii():
                    raise DsnError(f"{what} is not ASCII: the notice needs SMTPUTF8")
        _aware(self.arrival_date, "arrival date")
        _aware(self.now, "now")


@dataclass(frozen=True, slots=True)
class NoticeResult:
    """What `write_notice` wrote: its size, the returned content, and what
    the Spool must ask for when sending it (BODY=8BITMIME, RFC 6152;
    SMTPUTF8, RFC 6531)."""

    octets: int
    returned: Returned
    eight_bit: bool
    smtputf8: bool
    message_id: str
