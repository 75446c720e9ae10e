"""One policy decides who has Pro, for every state a Stripe subscription can be in.

Cashier's shape: small named predicates over one table. A user with several subscriptions
(resubscribed after cancelling, say) is judged by the best live one, so the end of an old
subscription never takes Pro away from a new one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from flask import current_app

from saas.billing import clock


class Access(Enum):
    FULL = "full"     # Pro
    GRACE = "grace"   # Pro until the grace period after the failed renewal runs out
    NONE = "none"     # not Pro


# Every status Stripe documents for a subscription. A status missing here (a new one Stripe adds
# later) grants nothing until someone decides; the policy test fails when this table and
# Stripe's list drift apart.
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
    # Stripe's "pause subscription" (a trial ended without a payment method, or paused on
    # purpose): Stripe's docs say this is the state for pausing the customer's *access*.
    "paused": Access.NONE,
}

# ``pause_collection`` on an active subscription, by its behavior. Stripe documents pausing
# *payment collection* as "temporarily offer a customer your services for free ... your customer
# retains access to the service during this time" (a merchant-granted grace; pausing access is
# the separate `paused` status above). So the merchant's pause keeps Pro, whatever Stripe does
# with the invoices meanwhile. Only statuses that already grant FULL are affected: pausing
# collection never turns a past_due or canceled subscription into Pro.
PAUSE_COLLECTION: dict[str, Access] = {
    "keep_as_draft": Access.FULL,
    "mark_uncollectible": Access.FULL,
    "void": Access.FULL,
}


def access_for(subscription) -> Access:
    """The access one subscription row grants, before grace-period arithmetic."""
    if subscription.unknown_price:
        # Not a price we sell: flagged for the admin, never guessed to be Pro (or free).
        return Access.NONE
    access = POLICY.get(subscription.status, Access.NONE)
    if access is Access.FULL and subscription.pause_collection:
        return PAUSE_COLLECTION.get(subscription.pause_collection, Access.NONE)
    return access


def grace_ends_at(subscription) -> datetime | None:
    """End of the past_due grace period, in Stripe's time. The failed renewal was attempted when
    the period started, so the grace runs from there: derived from Stripe's data alone, it comes
    out the same whatever order the webhooks arrived in."""
    if subscription.status != "past_due" or subscription.current_period_start is None:
        return None
    return subscription.current_period_start + timedelta(days=current_app.config["PAST_DUE_GRACE_DAYS"])


def grants_pro(subscription, now: datetime | None = None) -> bool:
    """``now`` is Stripe's time for the subscription's customer; by default it is derived from
    Stripe's data (``clock.now_for``), so a test clock or sandbox time travel that moves past the
    grace period ends it, exactly as it would for a customer whose time passed for real."""
    access = access_for(subscription)
    if access is Access.FULL:
        return True
    if access is Access.GRACE:
        ends = grace_ends_at(subscription)
        if ends is None:
            return False
        return (now or clock.now_for(subscription.stripe_customer_id)) < ends
    return False


def _newest_first(user) -> list:
    return sorted(user.subscriptions, key=lambda s: (s.stripe_created or s.created_at, s.id), reverse=True)


def best_subscription(user, now: datetime | None = None):
    """The subscription that decides the user's plan: a Pro-granting one if any (newest first),
    otherwise the newest one, for display."""
    subs = _newest_first(user)
    for sub in subs:
        if grants_pro(sub, now):
            return sub
    return subs[0] if subs else None


def is_pro(user, now: datetime | None = None) -> bool:
    return any(grants_pro(s, now) for s in user.subscriptions)
