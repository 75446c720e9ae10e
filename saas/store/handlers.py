"""Webhook handlers for store orders.

Payloads are hints: each handler re-reads the Payment Intent (or charge) from Stripe and applies
its current state to the order under a row lock, so duplicates and any arrival order end in the
same row. Objects without our order id in their metadata (subscription invoices create payment
intents too) are not ours: ``Ignore``.
"""

from __future__ import annotations

from saas import stripe_gateway as gateway
from saas.store import services
from saas.webhooks.registry import Ignore, handles


def _obj(payload: dict) -> dict:
    return payload["data"]["object"]


def _our_order(obj: dict, pi_id: str | None):
    order_id = services.order_id_from_metadata(obj)
    if order_id is None:
        raise Ignore(f"{obj.get('id')} carries no store order id")
    order = services.lock_order(order_id)
    if order is None:
        raise Ignore(f"{obj.get('id')} names order {order_id}, which does not exist")
    if order.stripe_payment_intent_id and pi_id and order.stripe_payment_intent_id != pi_id:
        raise Ignore(f"order {order_id} is paid through {order.stripe_payment_intent_id}, not {pi_id}")
    return order


def _fresh_intent(pi_id: str) -> dict:
    # The payload is only a hint. An intent Stripe does not know was never paid, whatever a
    # (signed) payload says about it: applying the payload would fulfil orders for no money.
    try:
        return gateway.retrieve_payment_intent(pi_id)
    except gateway.ObjectMissing:
        raise Ignore(f"Stripe has no payment intent {pi_id}; the event's payload is not applied") from None


def _apply(order, pi: dict) -> None:
    try:
        services.apply_stripe_intent(order, pi)
    except services.IntentNotForOrder as exc:
        raise Ignore(str(exc)) from None


@handles("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.requires_action",
         "payment_intent.canceled", "payment_intent.processing")
def on_payment_intent(payload: dict, event) -> None:
    """Mirror the intent's current status onto its order (see services.apply_stripe_intent)."""
    data = _obj(payload)
    order = _our_order(data, data.get("id"))
    _apply(order, _fresh_intent(data["id"]))
    event.user_id = order.user_id


@handles("charge.refunded", "charge.succeeded")
def on_charge(payload: dict, event) -> None:
    """A charge moved: make sure the order reflects its intent (the refund may arrive before the
    success event), then record the refunded total."""
    data = _obj(payload)
    pi_id = data.get("payment_intent")
    if not isinstance(pi_id, str):
        raise Ignore(f"charge {data.get('id')} has no payment intent")
    order = _our_order(data, pi_id)
    try:
        charge = gateway.retrieve_charge(data["id"])
    except gateway.ObjectMissing:
        raise Ignore(f"Stripe has no charge {data.get('id')}; the event's payload is not applied") from None
    if charge.get("payment_intent") != pi_id:
        raise Ignore(f"Stripe says charge {charge.get('id')} belongs to {charge.get('payment_intent')}, not {pi_id}")
    _apply(order, _fresh_intent(pi_id))
    # Only the intent's latest (successful) charge carries the money; an earlier declined
    # charge has nothing refunded.
    if charge.get("status") == "succeeded":
        services.apply_refunded_amount(order, charge.get("amount_refunded") or 0)
    event.user_id = order.user_id
