"""One policy decides who has Pro, for every state a Stripe subscription can be in.

Cashier's shape: small named predicates over one table. A user with several subscriptions
(resubscribed after cancelling, say) is judged by the best one, so the end of an old
subscription never takes Pro away from a new one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from flask import current_app

from saas.timefmt import utcnow


class Access(Enum):
    FULL = "full"     # Pro
    GRACE = "grace"   # Pro until the grace period after the failed renewal runs out
    NONE = "none"     # not Pro


POLICY: dict[str, Access] = {
    "trialing": Access.FULL,
    "active": Access.FULL,
    # Stripe is retrying the renewal payment; the customer keeps Pro for PAST_DUE_GRACE_DAYS.
    "past_due": Access.GRACE,
    # Retries ran out and Stripe left the subscription open but unpaid.
    "unpaid": Access.NONE,
    # The first payment never succeeded (e.g. 3DS not completed, async debit pending).
    "incomplete": Access.NONE,
    "incomplete_expired": Access.NONE,
    "canceled": Access.NONE,
    "paused": Access.NONE,
}

# An active subscription whose payment collection is paused is not being paid for.
PAUSED_COLLECTION = Access.NONE


def access_for(subscription) -> Access:
    """The access one subscription row grants, before grace-period arithmetic."""
    if subscription.unknown_price:
        return Access.NONE
    access = POLICY.get(subscription.status, Access.NONE)
    if access is Access.FULL and subscription.status == "active" and subscription.pause_collection:
        return PAUSED_COLLECTION
    return access


def grace_ends_at(subscription) -> datetime | None:
    """End of the past_due grace period. The failed renewal was attempted when the period
    started, so the grace runs from there: derived from Stripe's data alone, it comes out the
    same whatever order the webhooks arrived in."""
    if subscription.status != "past_due" or subscription.current_period_start is None:
        return None
    return subscription.current_period_start + timedelta(days=current_app.config["PAST_DUE_GRACE_DAYS"])


def grants_pro(subscription, now: datetime | None = None) -> bool:
    access = access_for(subscription)
    if access is Access.FULL:
        return True
    if access is Access.GRACE:
        ends = grace_ends_at(subscription)
        return ends is not None and (now or utcnow()) < ends
    return False


def best_subscription(user):
    """The subscription that decides the user's plan: a Pro-granting one if any (newest first),
    otherwise the newest one, for display."""
    subs = sorted(user.subscriptions, key=lambda s: (s.stripe_created or s.created_at, s.id), reverse=True)
    for sub in subs:
        if grants_pro(sub):
            return sub
    return subs[0] if subs else None


def is_pro(user) -> bool:
    return any(grants_pro(s) for s in user.subscriptions)
