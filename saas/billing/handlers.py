"""Webhook handlers for subscriptions, Pro checkout and invoices.

Payloads are hints: each handler re-reads the object from Stripe and applies its current
state, so duplicates and any arrival order end in the same rows (the convergence tests prove it).
"""

from __future__ import annotations

from saas import stripe_gateway as gateway
from saas.billing import services
from saas.webhooks.registry import handles


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
    except gateway.ObjectMissing:
        # Gone from Stripe (deleted long ago, or a test-mode reset): the payload is all we have.
        current = data
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
    data = _obj(payload)
    try:
        current = gateway.retrieve_invoice(data["id"])
    except gateway.ObjectMissing:
        current = data
    inv = services.apply_invoice(current, PROBLEMS.get(payload["type"]))
    if inv is not None:
        event.user_id = inv.user_id
        if PROBLEMS.get(payload["type"]) and inv.payment_problem:
            import logging

            logging.getLogger("saas.dunning").warning(
                "dunning: user %s invoice %s %s (%s %s remaining): ask them to update their card",
                inv.user_id, inv.stripe_id, inv.payment_problem, inv.amount_remaining, inv.currency)
