"""Admin actions: replay a webhook event, re-sync a user from Stripe, refund an order.

Every action is recorded in ``admin_actions`` with who, when, what and how it ended, in a
transaction of its own after the action's, so a failed action is recorded too (its own
writes rolled back) and a recorded success is one that committed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from saas import queue
from saas import stripe_gateway as gateway
from saas.accounts.models import User
from saas.admin import store_bridge
from saas.admin.models import AdminAction
from saas.billing import services as billing
from saas.billing.models import Invoice, Subscription
from saas.extensions import db
from saas.webhooks.models import WebhookEvent
from saas.webhooks.registry import Ignore

log = logging.getLogger(__name__)

REPLAYABLE = ("failed", "ignored")


class ActionRefused(Exception):
    """The action cannot be done as asked; the message says why, in words for the admin."""


def record(admin: User, action: str, target_type: str, target_id, *, subject_user_id: int | None,
           outcome: str, detail: str | None, params: dict | None = None) -> AdminAction:
    entry = AdminAction(admin_id=admin.id, admin_email=admin.email, action=action, target_type=target_type,
                        target_id=str(target_id), subject_user_id=subject_user_id, params=params or {},
                        outcome=outcome, detail=(detail or "")[:2000] or None)
    db.session.add(entry)
    db.session.commit()
    return entry


def _run(admin: User, action: str, target_type: str, target_id, subject_user_id, params, fn):
    """Run ``fn()`` (which commits its own work and returns a summary), then record it."""
    try:
        summary = fn()
    except (ActionRefused, gateway.BillingError, ValueError) as exc:
        db.session.rollback()
        message = getattr(exc, "user_message", None) if isinstance(exc, gateway.BillingError) else None
        detail = str(exc) if not message or isinstance(exc, gateway.StripeNotConfigured) else f"{message} ({exc})"
        record(admin, action, target_type, target_id, subject_user_id=subject_user_id, outcome="error",
               detail=detail, params=params)
        return False, detail
    except Exception as exc:
        db.session.rollback()
        record(admin, action, target_type, target_id, subject_user_id=subject_user_id, outcome="error",
               detail=f"unexpected {type(exc).__name__}; see the logs", params=params)
        raise
    record(admin, action, target_type, target_id, subject_user_id=subject_user_id, outcome="ok",
           detail=summary, params=params)
    return True, summary


# --- replay -----------------------------------------------------------------------------------

def replay_event(event_id: int) -> str:
    """Put a failed or ignored event back through the pipeline: reset it to ``received`` and
    queue it. Processing is exactly-once by the event row lock, so a replay can never apply an
    event twice; and if Redis is down the event is still ``received``, so the sweep queues it."""
    event = db.session.execute(
        select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()).scalar_one_or_none()
    if event is None:
        raise ActionRefused(f"There is no webhook event #{event_id}.")
    if event.status not in REPLAYABLE:
        raise ActionRefused(f"Event {event.stripe_id} is {event.status}; only failed or ignored events "
                            "can be replayed.")
    previous = event.status
    event.status = "received"
    event.last_error = None
    event.processed_at = None
    event.job_id = None  # its own job from now on, not the batch it first came in
    db.session.commit()
    if queue.enqueue_event(event_id):
        return f"{event.stripe_id} ({event.type}) was {previous}; queued again"
    return (f"{event.stripe_id} ({event.type}) was {previous}; reset, but Redis is unreachable, "
            "so the sweep will queue it once Redis is back")


def replay_event_as(admin: User, event_id: int):
    event = db.session.get(WebhookEvent, event_id)
    subject = event.user_id if event else None
    db.session.rollback()
    return _run(admin, "replay_event", "webhook_event", event_id, subject, {}, lambda: replay_event(event_id))


# --- re-sync ------------------------------------------------------------------------------------

def resync_user(user_id: int) -> str:
    """Fetch the user's subscriptions and invoices from Stripe and apply them through the same
    code the webhooks use. Returns what changed."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ActionRefused(f"There is no user #{user_id}.")
    if not user.stripe_customer_id:
        raise ActionRefused(f"{user.email} has no Stripe customer yet, so there is nothing to sync.")
    customer_id = user.stripe_customer_id
    before_subs = dict(db.session.execute(
        select(Subscription.stripe_id, Subscription.status).where(Subscription.user_id == user_id)).all())
    before_invs = dict(db.session.execute(
        select(Invoice.stripe_id, Invoice.status).where(Invoice.user_id == user_id)).all())
    db.session.rollback()  # no transaction held open across the Stripe calls
    subscriptions = gateway.list_subscriptions(customer_id)
    invoices = gateway.list_invoices(customer_id)
    changes = []
    try:
        for data in subscriptions:
            sub = billing.apply_subscription(data)
            if before_subs.get(sub.stripe_id) != sub.status:
                changes.append(f"{sub.stripe_id}: {before_subs.get(sub.stripe_id) or 'new'} → {sub.status}")
        for data in invoices:
            inv = billing.apply_invoice(data)
            if inv is not None and before_invs.get(inv.stripe_id) != inv.status:
                changes.append(f"{inv.stripe_id}: {before_invs.get(inv.stripe_id) or 'new'} → {inv.status}")
    except Ignore as exc:
        raise ActionRefused(str(exc)) from exc
    db.session.commit()
    summary = f"{len(subscriptions)} subscription(s), {len(invoices)} invoice(s) fetched from Stripe"
    return summary + ("; " + "; ".join(changes) if changes else "; already in sync")


def resync_user_as(admin: User, user_id: int):
    return _run(admin, "resync_user", "user", user_id, user_id if db.session.get(User, user_id) else None, {},
                lambda: resync_user(user_id))


# --- refund (needs the store) -----------------------------------------------------------------

def refundable(order) -> int:
    return max(0, int(order.total_amount) - int(order.amount_refunded or 0))


def refund_refusal(order) -> str | None:
    """Why this order cannot be refunded at all (None when it can)."""
    if order.status == "refunded" or (order.status == "paid" and refundable(order) == 0):
        return f"Order #{order.id} is already refunded in full."
    if order.status != "paid" or not order.stripe_payment_intent_id:
        return f"Only paid orders can be refunded; order #{order.id} is {order.status.replace('_', ' ')}."
    return None


def parse_refund_amount(order, raw) -> int | None:
    """The admin's amount in minor units (None: everything not yet refunded). Raises
    ActionRefused with the reason for zero, negative, too precise or too large amounts."""
    from saas.money import exponent, format_money, to_minor_units

    text = (raw or "").strip().replace(",", "")
    for symbol in ("$", "€", "£", "¥"):
        text = text.replace(symbol, "")
    if not text:
        return None
    example = format_money(10 ** exponent(order.currency) * 12 + (50 if exponent(order.currency) == 2 else 0),
                           order.currency)
    if text.startswith("-"):
        raise ActionRefused("A refund cannot be negative.")
    try:
        amount = to_minor_units(text, order.currency)
    except ValueError as exc:
        raise ActionRefused(f"{exc} Enter an amount like {example}, or leave it empty to refund the rest.") from exc
    if amount == 0:
        raise ActionRefused(f"A refund must be more than {format_money(0, order.currency)}.")
    remaining = refundable(order)
    if amount > remaining:
        raise ActionRefused(f"{format_money(amount, order.currency)} is more than the "
                            f"{format_money(remaining, order.currency)} that can still be refunded on this order.")
    return amount


def refund_order_as(admin: User, order_id: int, amount: int | None, nonce: str):
    """Refund an order in full (amount None) or in part through the store's service. The
    idempotency key comes from the confirmation form, so a double submit refunds once."""
    if not store_bridge.AVAILABLE:
        raise ActionRefused("The store is not installed.")
    from saas.money import format_money
    from saas.store.services import StoreError

    order = db.session.get(store_bridge.Order, order_id)
    subject = order.user_id if order else None
    currency = order.currency if order else None
    db.session.rollback()

    def do():
        if order is None:
            raise ActionRefused(f"There is no order #{order_id}.")
        try:
            result = store_bridge.refund(order_id, amount, idempotency_key=f"admin-refund-{order_id}-{nonce}")
        except StoreError as exc:
            raise ActionRefused(exc.user_message) from exc
        what = "in full" if amount is None else f"of {format_money(amount, currency)}"
        refund_id = result.get("id") if isinstance(result, dict) else None
        refunded = result.get("amount") if isinstance(result, dict) else None
        if amount is None and isinstance(refunded, int):
            what += f" ({format_money(refunded, currency)})"
        return (f"refund {what} of order #{order_id} accepted by Stripe" + (f" ({refund_id})" if refund_id else "")
                + "; the order updates when Stripe's refund webhook arrives")

    return _run(admin, "refund_order", "order", order_id, subject, {"amount": amount}, do)
