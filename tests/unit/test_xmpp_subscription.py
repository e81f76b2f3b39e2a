"""Subscription state transitions (RFC 6121 Appendix A) as tables."""

from __future__ import annotations

import pytest

from roost.services.xmpp.subscription import (
    INBOUND,
    OUTBOUND,
    inbound,
    outbound,
    state_of,
)
from roost.store.xmpp import RosterItem, Subscription

N, T, F, B = Subscription.NONE, Subscription.TO, Subscription.FROM, Subscription.BOTH

ALL_STATES = [
    (N, False, False),
    (N, True, False),
    (N, False, True),
    (N, True, True),
    (T, False, False),
    (T, False, True),
    (F, False, False),
    (F, True, False),
    (B, False, False),
]


def item(state: tuple[Subscription, bool, bool]) -> RosterItem:
    subscription, ask, pending_in = state
    return RosterItem("bob@example.org", subscription=subscription, ask=ask, pending_in=pending_in)


# (presence type, before, after) for what the user sends (A.2, A.3 user side).
OUTBOUND_CASES = [
    ("subscribe", (N, False, False), (N, True, False)),
    ("subscribe", (N, False, True), (N, True, True)),
    ("subscribe", (F, False, False), (F, True, False)),
    ("subscribe", (T, False, False), (T, False, False)),
    ("subscribe", (B, False, False), (B, False, False)),
    ("subscribed", (N, False, True), (F, False, False)),
    ("subscribed", (N, True, True), (F, True, False)),
    ("subscribed", (T, False, True), (B, False, False)),
    ("unsubscribe", (B, False, False), (F, False, False)),
    ("unsubscribe", (T, False, True), (N, False, True)),
    ("unsubscribe", (N, True, False), (N, False, False)),
    ("unsubscribe", (F, False, False), (F, False, False)),
    ("unsubscribed", (B, False, False), (T, False, False)),
    ("unsubscribed", (N, False, True), (N, False, False)),
    ("unsubscribed", (F, True, False), (N, True, False)),
    ("unsubscribed", (T, False, False), (T, False, False)),
]

# (presence type, before, after) for what arrives from the contact.
INBOUND_CASES = [
    ("subscribe", (N, False, False), (N, False, True)),
    ("subscribe", (N, True, False), (N, True, True)),
    ("subscribe", (T, False, False), (T, False, True)),
    ("subscribe", (F, False, False), (F, False, False)),
    ("subscribed", (N, True, False), (T, False, False)),
    ("subscribed", (N, True, True), (T, False, True)),
    ("subscribed", (F, True, False), (B, False, False)),
    ("subscribed", (N, False, False), (N, False, False)),
    ("unsubscribe", (B, False, False), (T, False, False)),
    ("unsubscribe", (F, False, False), (N, False, False)),
    ("unsubscribe", (N, False, True), (N, False, False)),
    ("unsubscribed", (B, False, False), (F, False, False)),
    ("unsubscribed", (T, False, True), (N, False, True)),
    ("unsubscribed", (N, True, False), (N, False, False)),
    ("unsubscribed", (F, False, False), (F, False, False)),
]


@pytest.mark.parametrize(("kind", "before", "after"), OUTBOUND_CASES)
def test_outbound(kind: str, before: tuple, after: tuple) -> None:  # type: ignore[type-arg]
    got, changed = outbound(kind, item(before))
    assert state_of(got) == after
    assert changed == (before != after)


@pytest.mark.parametrize(("kind", "before", "after"), INBOUND_CASES)
def test_inbound(kind: str, before: tuple, after: tuple) -> None:  # type: ignore[type-arg]
    got, changed = inbound(kind, item(before))
    assert state_of(got) == after
    assert changed == (before != after)


@pytest.mark.parametrize("table", [OUTBOUND, INBOUND])
def test_tables_stay_within_the_nine_states(table: dict) -> None:  # type: ignore[type-arg]
    for transitions in table.values():
        for before, after in transitions.items():
            assert before in ALL_STATES and after in ALL_STATES


def test_a_request_and_its_approval_meet_in_the_middle() -> None:
    """Alice subscribes to Bob, Bob approves: Alice 'to', Bob 'from'."""
    alice, _ = outbound("subscribe", RosterItem("bob@example.org", listed=False))
    bob, _ = inbound("subscribe", RosterItem("alice@example.org", listed=False))
    assert alice.listed and alice.ask and not bob.listed and bob.pending_in
    bob, _ = outbound("subscribed", bob)
    alice, _ = inbound("subscribed", alice)
    assert bob.subscription is F and bob.listed and not bob.pending_in
    assert alice.subscription is T and not alice.ask


def test_pre_approval_is_used_by_the_next_request() -> None:
    bob, changed = outbound("subscribed", RosterItem("alice@example.org", listed=False))
    assert changed and bob.approved and bob.listed and bob.subscription is N
    bob, changed = inbound("subscribe", bob)
    assert changed and bob.subscription is F and not bob.approved and not bob.pending_in
    withdrawn, changed = outbound("unsubscribed", RosterItem("carol@example.org", approved=True))
    assert changed and not withdrawn.approved
