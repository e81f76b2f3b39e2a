"""JSON shapes of directory values and events, shared by the API and the CLI."""

from __future__ import annotations

from datetime import datetime

from roost.store.settings import JsonValue
from roost.store.types import (
    Account,
    Admin,
    Alias,
    ApiToken,
    Domain,
    DomainAlias,
    Event,
    QueueEntry,
    RecipientState,
)


def when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def domain(d: Domain) -> dict[str, JsonValue]:
    return {"name": d.name, "catch_all": d.catch_all, "created_at": when(d.created_at)}


def domain_alias(a: DomainAlias) -> dict[str, JsonValue]:
    return {"name": a.name, "domain": a.domain, "created_at": when(a.created_at)}


def account(a: Account) -> dict[str, JsonValue]:
    return {
        "address": a.address,
        "display_name": a.display_name,
        "enabled": a.enabled,
        "quota_bytes": a.quota_bytes,
        "used_bytes": a.used_bytes,
        "used_messages": a.used_messages,
        "created_at": when(a.created_at),
    }


def alias(a: Alias) -> dict[str, JsonValue]:
    return {"address": a.address, "targets": list(a.targets), "created_at": when(a.created_at)}


def admin(a: Admin) -> dict[str, JsonValue]:
    return {
        "name": a.name,
        "must_change_password": a.must_change_password,
        "created_at": when(a.created_at),
    }


def token(t: ApiToken) -> dict[str, JsonValue]:
    return {
        "admin": t.admin,
        "name": t.name,
        "created_at": when(t.created_at),
        "last_used_at": when(t.last_used_at),
    }


def event(e: Event) -> dict[str, JsonValue]:
    return {
        "id": e.id,
        "at": when(e.at),
        "node": e.node,
        "object": e.object,
        "action": e.action,
        "old_state": e.old_state,
        "new_state": e.new_state,
        "actor": e.actor,
        "source_address": e.source_address,
        "reason": e.reason,
    }


def queue_entry(e: QueueEntry, now: datetime) -> dict[str, JsonValue]:
    delivered = sum(1 for r in e.recipients if r.state is RecipientState.DELIVERED)
    return {
        "id": e.id,
        "sender": e.sender,
        "state": e.state.value,
        "size": e.size,
        "source": e.source,
        "received_at": when(e.received_at),
        "seconds_in_spool": int((now - e.received_at).total_seconds()),
        "attempts": e.attempts,
        "next_attempt_at": when(e.next_attempt_at),
        "recipients_delivered": delivered,
        "recipients_total": len(e.recipients),
        "recipients": [
            {
                "address": r.address,
                "state": r.state.value,
                "attempts": r.attempts,
                "last_reply": r.last_reply,
                "last_attempt_at": when(r.last_attempt_at),
            }
            for r in e.recipients
        ],
    }
