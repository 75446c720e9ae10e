"""Webhook handlers for subscriptions, Pro checkout and invoices.

Payloads are hints: each handler re-reads the object from Stripe and applies its current
state, so duplicates and any arrival order end in the same rows (the convergence tests prove it).
"""

from __future__ import annotations

import logging

from saas import stripe_gateway as gateway
from saas.billing import services
from saas.webhooks.registry import Ignore, handles

# A logger of its own, so the email sender that comes later can subscribe to exactly this.
dunning_log = logging.getLogger("saas.dunning")


def _obj(payload: dict) -> dict:
    return payload["data"]["object"]


@handles("checkout.session.completed", "checkout.session.async_payment_succeeded",
         "checkout.session.async_payment_failed", "checkout.session.expired")
def on_checkout_session(payload: dict, event) -> None:
    session = _obj(payload)
    if session.get("mode") != "subscription":
        return
    fresh = gateway.retrieve_checkout_session(session["id"])
    sub = fresh.get("subscription")
    sub_id = sub.get("id") if isinstance(sub, dict) else sub
    if sub_id:
        applied = services.sync_subscription(sub_id)
        event.user_id = applied.user_id


@handles("customer.subscription.created", "customer.subscription.updated",
         "customer.subscription.deleted", "customer.subscription.paused",
         "customer.subscription.resumed", "customer.subscription.trial_will_end",
         "customer.subscription.pending_update_applied", "customer.subscription.pending_update_expired")
def on_subscription(payload: dict, event) -> None:
    data = _obj(payload)
    try:
        current = gateway.retrieve_subscription(data["id"])
    except gateway.ObjectMissing as exc:
        # Stripe keeps canceled subscriptions, so a 404 means this one is not in our account
        # (or test data was reset). A payload Stripe cannot confirm grants nothing.
        raise Ignore(f"Stripe does not know subscription {data.get('id')}; nothing applied") from exc
    applied = services.apply_subscription(current)
    event.user_id = applied.user_id


PROBLEMS = {
    "invoice.payment_failed": "payment_failed",
    "invoice.payment_action_required": "action_required",
}


@handles("invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
         "invoice.payment_failed", "invoice.payment_action_required", "invoice.voided",
         "invoice.marked_uncollectible", "invoice.updated")
def on_invoice(payload: dict, event) -> None:
    """Mirror the invoice; a failed or action-required payment leaves a dunning notice (and a
    log line for the email that will tell the user what to do), which invoice.paid clears."""
    data = _obj(payload)
    try:
        current = gateway.retrieve_invoice(data["id"])
    except gateway.ObjectMissing:
        # An invoice grants nothing by itself (access follows subscriptions, which must be
        # confirmed), so a signed payload Stripe no longer has is still worth showing.
        current = data
    problem = PROBLEMS.get(payload["type"])
    inv = services.apply_invoice(current, problem)
    if inv is None:
        return
    event.user_id = inv.user_id
    notice_key = f"{inv.payment_problem}:{inv.attempt_count}"
    if problem and inv.payment_problem and inv.dunning_notified != notice_key:
        inv.dunning_notified = notice_key  # commits with the event: one notice per failed attempt
        dunning_log.warning(
            "dunning: user %s invoice %s %s (%s %s remaining, next retry %s): ask them to %s",
            inv.user_id, inv.stripe_id, inv.payment_problem, inv.amount_remaining, inv.currency,
            inv.next_payment_attempt.isoformat() if inv.next_payment_attempt else "none",
            "update their card" if problem == "payment_failed" else "confirm the payment with their bank")


@handles("charge.succeeded", "charge.failed")
def on_payment_attempt(payload: dict, event) -> None:
    """Only moves our estimate of the customer's Stripe clock (a charge's `created` is the
    attempt's moment and never changes, so the payload is enough). The store's own charge
    handlers, if any, run beside this one."""
    services.observe_payment_attempt(_obj(payload))
