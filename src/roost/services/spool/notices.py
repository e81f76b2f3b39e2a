"""Delivery status notifications the Spool sends (RFC 3461, 3464, 6522).

Failure notices for recipients that failed, one delay notice per message once
it has waited `delay_notice_after_s`, and success notices where NOTIFY asked
for them; never to the null sender, never when NOTIFY=NEVER. Notices come
from the null sender with `Auto-Submitted: auto-replied` (proto/dsn), and
enter the queue in the same unit of work that records the outcome, so a
crash neither loses a notice nor sends it twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from roost.core.errors import RoostError
from roost.proto.dsn import (
    Action,
    DsnError,
    Notice,
    NoticeKind,
    ReportedRecipient,
    Ret,
    build_notice,
    parse_orcpt,
    should_notify,
)
from roost.store.types import NewRecipient, QueueEntry, QueueRecipient

log = logging.getLogger(__name__)

_ACTIONS = {
    NoticeKind.FAILURE: Action.FAILED,
    NoticeKind.DELAY: Action.DELAYED,
    NoticeKind.SUCCESS: Action.DELIVERED,
}


@dataclass(frozen=True, slots=True)
class Report:
    """One recipient to report on: who, and the last answer."""

    recipient: QueueRecipient
    reply: str
    remote: bool = False


def notify_set(value: str | None) -> frozenset[str] | None:
    return None if not value else frozenset(v.strip().upper() for v in value.split(","))


def wants(kind: NoticeKind, entry: QueueEntry, recipient: QueueRecipient) -> bool:
    return should_notify(notify_set(recipient.notify), kind, sender=entry.sender)


def _status(reply: str, kind: NoticeKind) -> str:
    parts = reply.split(" ", 2)
    if len(parts) > 1 and parts[1][:1] in "245" and parts[1].count(".") == 2:
        return parts[1]
    return {NoticeKind.FAILURE: "5.0.0", NoticeKind.DELAY: "4.0.0", NoticeKind.SUCCESS: "2.0.0"}[
        kind
    ]


def _orcpt(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    try:
        return parse_orcpt(value)
    except (DsnError, ValueError):
        return None


class Notices:
    def __init__(self, hostname: str, max_full_octets: int) -> None:
        self._hostname = hostname
        self._max_full = max_full_octets

    def compose(
        self,
        kind: NoticeKind,
        entry: QueueEntry,
        reports: Sequence[Report],
        original: bytes,
        header_end: int,
        now: datetime,
        retry_until: datetime | None = None,
    ) -> bytes | None:
        """The notice as bytes, or None when it cannot be made (logged)."""
        details = json.loads(entry.details or "{}")
        recipients = tuple(
            ReportedRecipient(
                final_recipient=r.recipient.address,
                action=Action.RELAYED
                if kind is NoticeKind.SUCCESS and r.remote
                else _ACTIONS[kind],
                status=_status(r.reply, kind),
                original_recipient=_orcpt(r.recipient.orcpt),
                diagnostic=r.reply or None,
                last_attempt=r.recipient.last_attempt_at or now,
                will_retry_until=retry_until if kind is NoticeKind.DELAY else None,
            )
            for r in reports
        )
        try:
            notice = Notice(
                kind=kind,
                reporting_mta=self._hostname,
                original_sender=entry.sender,
                recipients=recipients,
                arrival_date=entry.received_at,
                now=now,
                postmaster_from=f"MAILER-DAEMON@{self._hostname}",
                message_id_domain=self._hostname,
                envid=entry.envid,
                ret=Ret(entry.ret) if entry.ret in ("FULL", "HDRS") else None,
                smtputf8=bool(details.get("smtputf8")),
                original_8bit=details.get("body") == "8BITMIME",
            )
            return build_notice(notice, original, header_end, max_full_octets=self._max_full)
        except (RoostError, ValueError) as exc:
            log.error("entry %d: cannot compose a %s notice: %s", entry.id, kind, exc)
            return None


def notice_envelope(entry: QueueEntry) -> tuple[str, tuple[NewRecipient, ...]]:
    """Notices go from the null sender to the original sender (RFC 3464 §2, RFC 5321 §4.5.5)."""
    return "", (NewRecipient(entry.sender),)
