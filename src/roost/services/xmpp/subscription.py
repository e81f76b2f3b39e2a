"""Presence subscription states and their transitions (RFC 6121 §3, Appendix A).

A roster item's state is the subscription (none, to, from, both) plus two
flags: ``ask`` (pending out: the user asked the contact and has no answer)
and ``pending_in`` (the contact asked the user), and ``approved`` for a
pre-approval (§3.4). Four presence types change it, each seen from two
sides:

- *outbound*: the user sends it; the user's item for the contact changes
  (Appendix A.2 and A.3 "user's server");
- *inbound*: it arrives for the user from the contact; the user's item for
  the contact changes (A.2 and A.3 "contact's server", read from the
  other end).

Both sides live on this server (there is no federation), so the router
applies the outbound transition to the sender's item and the inbound one
to the recipient's. Each function returns the new item and whether the
state changed; the RFC asks the server to route and push only on a change
(§3.1.3, §3.2.3, §3.3.3), with the exceptions the router handles.

The tables below are Appendix A's, written as a dict per presence type:
(subscription, ask, pending_in) before → after. A state not in a table
does not change.
"""

from __future__ import annotations

from dataclasses import replace

from roost.store.xmpp import RosterItem, Subscription

NONE, TO, FROM, BOTH = Subscription.NONE, Subscription.TO, Subscription.FROM, Subscription.BOTH

State = tuple[Subscription, bool, bool]
"""(subscription, pending out, pending in)."""

OUTBOUND: dict[str, dict[State, State]] = {
    # A.2.1: the user asks to see the contact's presence.
    "subscribe": {
        (NONE, False, False): (NONE, True, False),
        (NONE, False, True): (NONE, True, True),
        (FROM, False, False): (FROM, True, False),
    },
    # A.3.1: the user cancels its subscription to the contact.
    "unsubscribe": {
        (NONE, True, False): (NONE, False, False),
        (NONE, True, True): (NONE, False, True),
        (TO, False, False): (NONE, False, False),
        (TO, False, True): (NONE, False, True),
        (FROM, True, False): (FROM, False, False),
        (BOTH, False, False): (FROM, False, False),
    },
    # A.2.2: the user approves the contact's request.
    "subscribed": {
        (NONE, False, True): (FROM, False, False),
        (NONE, True, True): (FROM, True, False),
        (TO, False, True): (BOTH, False, False),
    },
    # A.3.2: the user denies the request or cancels the contact's subscription.
    "unsubscribed": {
        (NONE, False, True): (NONE, False, False),
        (NONE, True, True): (NONE, True, False),
        (TO, False, True): (TO, False, False),
        (FROM, False, False): (NONE, False, False),
        (FROM, True, False): (NONE, True, False),
        (BOTH, False, False): (TO, False, False),
    },
}

INBOUND: dict[str, dict[State, State]] = {
    # A.2.1 at the contact's server: a request arrives.
    "subscribe": {
        (NONE, False, False): (NONE, False, True),
        (NONE, True, False): (NONE, True, True),
        (TO, False, False): (TO, False, True),
    },
    # A.3.1 at the contact's server: the contact stops seeing the user.
    "unsubscribe": {
        (NONE, False, True): (NONE, False, False),
        (NONE, True, True): (NONE, True, False),
        (TO, False, True): (TO, False, False),
        (FROM, False, False): (NONE, False, False),
        (FROM, True, False): (NONE, True, False),
        (BOTH, False, False): (TO, False, False),
    },
    # A.2.2 at the user's server: the contact approved the user's request.
    "subscribed": {
        (NONE, True, False): (TO, False, False),
        (NONE, True, True): (TO, False, True),
        (FROM, True, False): (BOTH, False, False),
    },
    # A.3.2 at the user's server: the contact denied or cancelled.
    "unsubscribed": {
        (NONE, True, False): (NONE, False, False),
        (NONE, True, True): (NONE, False, True),
        (TO, False, False): (NONE, False, False),
        (TO, False, True): (NONE, False, True),
        (FROM, True, False): (FROM, False, False),
        (BOTH, False, False): (FROM, False, False),
    },
}

SUBSCRIPTION_TYPES = frozenset(OUTBOUND)


def state_of(item: RosterItem) -> State:
    return (item.subscription, item.ask, item.pending_in)


def _apply(table: dict[State, State], item: RosterItem) -> tuple[RosterItem, bool]:
    after = table.get(state_of(item))
    if after is None:
        return item, False
    subscription, ask, pending_in = after
    return replace(item, subscription=subscription, ask=ask, pending_in=pending_in), True


def sees_presence(item: RosterItem | None) -> bool:
    """Does the item's owner receive the contact's presence?"""
    return item is not None and item.subscription in (TO, BOTH)


def shares_presence(item: RosterItem | None) -> bool:
    """Does the contact receive the item owner's presence?"""
    return item is not None and item.subscription in (FROM, BOTH)


def outbound(kind: str, item: RosterItem) -> tuple[RosterItem, bool]:
    """The user sent ``kind`` to the contact: the user's item after it.

    A ``subscribe`` puts the contact in the roster (§3.1.2); a
    ``subscribed`` with no request pending records a pre-approval
    (§3.4.2) unless the contact already has a subscription; an
    ``unsubscribed`` withdraws a pre-approval.
    """
    after, changed = _apply(OUTBOUND[kind], item)
    if kind == "subscribe" and not after.listed:
        after, changed = replace(after, listed=True), True
    if kind == "subscribed" and changed:
        after = replace(after, approved=False, listed=True)
    elif kind == "subscribed" and not shares_presence(item) and not item.approved:
        after, changed = replace(item, approved=True, listed=True), True
    if kind == "unsubscribed" and item.approved:
        after, changed = replace(after, approved=False), True
    return after, changed


def inbound(kind: str, item: RosterItem) -> tuple[RosterItem, bool]:
    """``kind`` arrived for the user from the contact: the user's item after it.

    A ``subscribe`` the user pre-approved is approved at once (§3.4.2:
    the subscription is established and the approval consumed), which the
    caller sees as the subscription gaining ``from``.
    """
    if kind == "subscribe" and item.approved and not shares_presence(item):
        subscription = BOTH if item.subscription is TO else FROM
        return replace(item, subscription=subscription, approved=False, pending_in=False), True
    return _apply(INBOUND[kind], item)
