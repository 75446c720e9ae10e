"""The billing state in words, for the billing page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from saas.billing.entitlement import best_subscription, grace_ends_at, grants_pro
from saas.billing.models import Invoice
from saas.extensions import db
from saas.timefmt import format_date


@dataclass
class BillingState:
    plan: str            # "Pro" or "Free"
    headline: str        # one sentence
    tone: str            # "ok", "warn", "bad", "muted"
    needs_card: bool = False
    notice: str | None = None


def describe(user) -> BillingState:
    sub = best_subscription(user)
    notice = _dunning_notice(user)
    if sub is None:
        return BillingState("Free", "You are on the free plan.", "muted", notice=notice)
    pro = grants_pro(sub)
    plan = "Pro" if pro else "Free"
    if sub.unknown_price:
        return BillingState(plan, "Your subscription uses a price we do not recognise; support has been notified.",
                            "bad", notice=notice)
    status = sub.status
    if status == "trialing":
        text = f"Your free trial ends on {format_date(sub.trial_end)}."
        if sub.cancel_at_period_end or sub.cancel_at:
            text += " It will not convert to a paid plan."
        return BillingState(plan, text, "ok", notice=notice)
    if status == "active":
        if sub.pause_collection:
            return BillingState(plan, "Your subscription is paused; payments are not being collected.", "muted",
                                notice=notice)
        if sub.cancel_at_period_end or sub.cancel_at:
            ends = sub.cancel_at or sub.current_period_end
            return BillingState(plan, f"Your Pro plan ends on {format_date(ends)}. It will not renew.", "warn",
                                notice=notice)
        return BillingState(plan, f"Your Pro plan renews on {format_date(sub.current_period_end)}.", "ok",
                            notice=notice)
    if status == "past_due":
        grace = grace_ends_at(sub)
        text = "Your last payment failed. Update your card to keep Pro"
        text += f" after {format_date(grace)}." if pro and grace else "."
        return BillingState(plan, text, "bad", needs_card=True, notice=notice)
    if status == "unpaid":
        return BillingState(plan, "Your payments failed and Pro is suspended. Update your card to restore it.",
                            "bad", needs_card=True, notice=notice)
    if status in ("incomplete",):
        return BillingState(plan, "Your first payment has not completed yet.", "warn", needs_card=True,
                            notice=notice)
    if status == "incomplete_expired":
        return BillingState(plan, "Your payment did not complete, so Pro was not started. Nothing was charged.",
                            "muted", notice=notice)
    if status == "paused":
        return BillingState(plan, "Your subscription is paused.", "muted", notice=notice)
    if status == "canceled":
        return BillingState(plan, f"Your Pro plan was canceled and ended on {format_date(sub.ended_at or sub.canceled_at)}.",
                            "muted", notice=notice)
    return BillingState(plan, f"Subscription status: {status}.", "muted", notice=notice)


def _dunning_notice(user) -> str | None:
    problem = db.session.execute(
        select(Invoice.payment_problem).where(Invoice.user_id == user.id, Invoice.status == "open",
                                              Invoice.payment_problem.is_not(None))
        .order_by(Invoice.id.desc()).limit(1)
    ).scalar_one_or_none()
    if problem == "payment_failed":
        return "We could not charge your card for your latest invoice. Please update your payment method."
    if problem == "action_required":
        return "Your bank needs you to confirm your latest payment. Open the invoice or billing portal to approve it."
    return None
