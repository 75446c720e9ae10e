"""The billing state in words, for the billing page.

Dates are calendar dates in UTC (the zone every stored time is in; ``timefmt`` says so rather
than guess the reader's zone); amounts use the currency's own format (``saas.money``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from saas.billing import clock
from saas.billing.entitlement import best_subscription, grace_ends_at, grants_pro
from saas.billing.models import Invoice, Plan, Subscription
from saas.extensions import db
from saas.money import format_money
from saas.timefmt import format_date

# Subscriptions that are over: an open invoice of one of these is not something the user can
# fix by updating their card, so it raises no dunning notice.
ENDED = ("canceled", "incomplete_expired")


@dataclass
class BillingState:
    plan: str            # "Pro", "Free" or "Unrecognised plan"
    headline: str        # one or two sentences
    tone: str            # "ok", "warn", "bad", "muted"
    needs_card: bool = False  # show the "update your card" portal button next to the headline
    notice: str | None = None  # dunning notice, from the open invoices


def _price(sub) -> tuple[str, str] | None:
    """("$12.00", "month") for a subscription to a price we sell."""
    plan = db.session.execute(select(Plan).where(Plan.stripe_price_id == sub.stripe_price_id)).scalar_one_or_none()
    if plan is None:
        return None
    return format_money(plan.unit_amount * (sub.quantity or 1), plan.currency), plan.interval


def describe(user) -> BillingState:
    now = clock.now_for(user.stripe_customer_id)
    sub = best_subscription(user, now)
    notice = dunning_notice(user)
    if sub is None:
        return BillingState("Free", "You are on the free plan.", "muted", notice=notice)
    pro = grants_pro(sub, now)
    plan = "Pro" if pro else "Free"

    def state(headline, tone, **kw):
        return BillingState(kw.pop("plan", plan), headline, tone, notice=notice, **kw)

    if sub.unknown_price:
        return state("Your subscription is for a price this site does not sell, so it does not include Pro. "
                     "We have flagged it for review; please contact support.", "bad", plan="Unrecognised plan")
    status = sub.status
    ends = sub.cancel_at or (sub.current_period_end if sub.cancel_at_period_end else None)
    if status == "trialing":
        if ends:
            return state(f"Your free trial ends on {format_date(sub.trial_end)}. It will not convert to a "
                         f"paid plan: Pro ends on {format_date(ends)}.", "warn")
        price = _price(sub)
        then = f" Then Pro costs {price[0]} per {price[1]}." if price else ""
        return state(f"Your free trial ends on {format_date(sub.trial_end)}.{then}", "ok")
    if status == "active":
        if sub.pause_collection:
            return state("Payments for your subscription are paused; you keep Pro meanwhile.", "muted")
        if ends:
            return state(f"Your Pro plan ends on {format_date(ends)}. It will not renew.", "warn")
        price = _price(sub)
        amount = f" for {price[0]}" if price else ""
        return state(f"Your Pro plan renews on {format_date(sub.current_period_end)}{amount}.", "ok")
    if status == "past_due":
        grace = grace_ends_at(sub)
        if pro and grace:
            text = (f"Your last payment failed. Update your card to keep Pro after {format_date(grace)}.")
        else:
            text = "Your last payment failed and Pro is suspended. Update your card to restore it."
        return state(text, "bad", needs_card=True)
    if status == "unpaid":
        return state("Your payments failed and Pro is suspended. Update your card to restore it.", "bad",
                     needs_card=True)
    if status == "incomplete":
        return state("Your first payment has not completed yet.", "warn", needs_card=True)
    if status == "incomplete_expired":
        return state("Your payment did not complete, so Pro was not started. Nothing was charged.", "muted")
    if status == "paused":
        return state("Your subscription is paused, and Pro with it.", "muted")
    if status == "canceled":
        return state(f"Your Pro plan was canceled and ended on {format_date(sub.ended_at or sub.canceled_at)}.",
                     "muted")
    return state(f"Subscription status: {status}.", "muted")


def dunning_notice(user) -> str | None:
    """What the user must do about an open invoice whose payment failed or needs confirming."""
    inv = db.session.execute(
        select(Invoice)
        .outerjoin(Subscription, Subscription.stripe_id == Invoice.stripe_subscription_id)
        .where(Invoice.user_id == user.id, Invoice.status == "open", Invoice.payment_problem.is_not(None),
               or_(Subscription.id.is_(None), Subscription.status.not_in(ENDED)))
        .order_by(Invoice.stripe_created.desc().nullslast(), Invoice.id.desc()).limit(1)
    ).scalar_one_or_none()
    if inv is None:
        return None
    amount = format_money(inv.amount_remaining, inv.currency)
    if inv.payment_problem == "action_required":
        return (f"Your bank needs you to confirm the payment of {amount} for your latest invoice. "
                "Open the invoice or the billing portal to approve it.")
    retry = f" We will try again on {format_date(inv.next_payment_attempt)}." if inv.next_payment_attempt else ""
    return (f"We could not charge your card {amount} for your latest invoice. "
            f"Please update your payment method.{retry}")
