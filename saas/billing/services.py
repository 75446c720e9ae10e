"""Billing operations: the Stripe customer, Pro checkout, and applying Stripe's subscription
and invoice state to our tables (the same code for webhooks, the success page and sync)."""

from __future__ import annotations

import logging

from flask import current_app, url_for
from sqlalchemy import bindparam, inspect, literal, select
from sqlalchemy.orm import lazyload

from saas import stripe_gateway as gateway
from saas.accounts.models import User
from saas.billing import clock
from saas.billing.models import Invoice, Plan, Subscription
from saas.extensions import db
from saas.timefmt import from_unix
from saas.webhooks.registry import Ignore

log = logging.getLogger(__name__)


class AlreadyPro(gateway.BillingError):
    user_message = "You already have Pro."


class NoBillingAccount(gateway.BillingError):
    user_message = ("You have no billing account yet: once you upgrade to Pro, you can manage your "
                    "billing, card and invoices here.")


def lock_user_row(user_id: int) -> None:
    """The same lock as ``lock_user`` for a user already loaded: only the row lock, without
    reloading the user and its subscriptions (two queries fewer on every webhook)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def lock_user(user_id: int) -> User:
    """Row-lock the user: serialises customer creation and the application of Stripe state for
    one customer, so two workers (or a worker and the success page) cannot interleave."""
    return db.session.execute(select(User).where(User.id == user_id).with_for_update()).scalar_one()


def ensure_customer(user_id: int) -> str:
    """The user's Stripe customer id, creating the customer once.

    Two concurrent clicks: the row lock makes the second wait and then see the first one's id;
    the idempotency key makes even a crash between Stripe's answer and our commit harmless
    (the retry gets the same customer back)."""
    user = lock_user(user_id)
    if user.stripe_customer_id:
        customer_id = user.stripe_customer_id
        db.session.commit()
        return customer_id
    try:
        customer = gateway.create_customer(email=user.email, user_id=user.id,
                                           idempotency_key=f"customer-for-user-{user.id}")
    except Exception:
        db.session.rollback()
        raise
    user.stripe_customer_id = customer["id"]
    db.session.commit()
    return customer["id"]


def pro_price_id() -> str:
    price_id = current_app.config.get("STRIPE_PRICE_ID_PRO")
    if not price_id:
        plan = db.session.execute(select(Plan).where(Plan.code == "pro", Plan.active.is_(True))).scalar_one_or_none()
        price_id = plan.stripe_price_id if plan else None
    if not price_id:
        log.error("Stripe is not configured: STRIPE_PRICE_ID_PRO is not set (run `flask billing seed-plan`)")
        raise gateway.StripeNotConfigured("STRIPE_PRICE_ID_PRO")
    return price_id


PRO_LOOKUP_KEY = "saas_pro"


def seed_pro_plan() -> tuple[Plan, bool]:
    """Make the Pro price a plan we sell. With STRIPE_PRICE_ID_PRO set, that price is
    recorded as it is in Stripe; without it (a fresh laptop on the sandbox), a price matching
    PRO_PLAN_* is found by lookup key or created. Returns (plan, created)."""
    cfg = current_app.config
    price_id = cfg.get("STRIPE_PRICE_ID_PRO")
    if price_id:
        price = gateway.retrieve_price(price_id)
    else:
        lookup_key = f"{PRO_LOOKUP_KEY}_{cfg['PRO_PLAN_INTERVAL']}_{cfg['PRO_PLAN_CURRENCY']}_{cfg['PRO_PLAN_AMOUNT']}"
        price = gateway.find_price_by_lookup_key(lookup_key)
        if price is None:
            price = gateway.create_recurring_price(
                product_name=cfg["PRO_PLAN_NAME"], unit_amount=cfg["PRO_PLAN_AMOUNT"],
                currency=cfg["PRO_PLAN_CURRENCY"], interval=cfg["PRO_PLAN_INTERVAL"], lookup_key=lookup_key)
    recurring = price.get("recurring") or {}
    if not recurring:
        raise gateway.StripeNotConfigured("STRIPE_PRICE_ID_PRO", "is a one-time price; Pro needs a recurring price")
    plan = db.session.execute(select(Plan).where(Plan.code == "pro")).scalar_one_or_none()
    created = plan is None or plan.stripe_price_id != price["id"]
    if plan is None:
        plan = Plan(code="pro")
        db.session.add(plan)
    elif plan.stripe_price_id != price["id"]:
        # Keep the old price as a plan we still honour: its subscribers stay Pro.
        plan.code = f"pro-{plan.stripe_price_id}"[:50]
        plan.active = False
        db.session.flush()
        plan = Plan(code="pro")
        db.session.add(plan)
    plan.name = cfg["PRO_PLAN_NAME"]
    plan.stripe_price_id = price["id"]
    plan.unit_amount = int(price["unit_amount"])
    plan.currency = price["currency"].lower()
    plan.interval = recurring.get("interval") or "month"
    plan.active = True
    db.session.commit()
    return plan, created


def start_pro_checkout(user: User) -> str:
    """The URL of a Checkout Session for Pro: this user's open one if there is one, else a new one.

    Paying twice for Pro must be impossible, so before anything is created: the user's
    subscriptions are re-read from Stripe (a payment may have completed while its webhook is
    still on its way), and a session left open in another tab is reused rather than joined by
    a second payable one. Sessions opened for another price or trial are expired."""
    from saas.billing.entitlement import is_pro

    price_id = pro_price_id()
    if not current_app.config.get("STRIPE_PUBLISHABLE_KEY"):
        log.error("Stripe is not configured: STRIPE_PUBLISHABLE_KEY is not set")
        raise gateway.StripeNotConfigured("STRIPE_PUBLISHABLE_KEY")
    if user.stripe_customer_id:
        # Our mirror may lag Stripe either way: a new subscription whose webhook is still on its
        # way, or an ended one whose customer.subscription.deleted is (either must decide).
        refresh_subscriptions(user.id)  # commits, so `user` reloads its subscriptions
    if is_pro(user):
        raise AlreadyPro("already pro")
    customer_id = ensure_customer(user.id)
    trial_days = current_app.config["PRO_TRIAL_DAYS"] if not user.has_had_trial else 0
    lock_user_row(user.id)  # one checkout decision at a time per user: list-then-create must not race
    try:
        for open_session in gateway.list_open_checkout_sessions(customer_id):
            meta = open_session.get("metadata") or {}
            if open_session.get("mode") != "subscription" or meta.get("user_id") != str(user.id):
                continue
            if meta.get("price_id") == price_id and meta.get("trial_days") == str(trial_days):
                return open_session["url"]
            gateway.expire_checkout_session(open_session["id"])
        base = current_app.config["BASE_URL"]
        # Only a retry of this very request (a network blip) may replay: the lock above already
        # serialises clicks, so the key names the user's checkout generation and the minute.
        import time

        generation = len(user.subscriptions)
        session = gateway.create_subscription_checkout(
            customer_id=customer_id,
            price_id=price_id,
            user_id=user.id,
            success_url=base + url_for("billing.success") + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=base + url_for("billing.cancelled"),
            trial_days=trial_days,
            allow_promotion_codes=current_app.config["PRO_ALLOW_PROMOTION_CODES"],
            idempotency_key=f"pro-checkout-{user.id}-{price_id}-{trial_days}-{generation}-{int(time.time() // 60)}",
        )
        return session["url"]
    finally:
        db.session.commit()  # releases the user lock


# Statements every webhook runs, built once: SQLAlchemy keys its compiled-SQL cache by walking
# a statement, and only a statement object it has seen before has that key memoised (a freshly
# built one cost more CPU to look up than to execute).

# Found and locked in one statement. lazyload: webhooks look subscriptions up by Stripe id;
# loading all of them is waste.
_USER_FOR_CUSTOMER = (select(User).where(User.stripe_customer_id == bindparam("customer_id"))
                      .options(lazyload(User.subscriptions)).with_for_update())

# Read after the user lock is taken (so the subscription row is current): the row, whether its
# price is one we sell, and the customer's clock, in one statement.
_customer = bindparam("customer_id")
_SUBSCRIPTION_PLAN_CLOCK = (
    select(Subscription, select(Plan.id).where(Plan.stripe_price_id == bindparam("price_id")).exists(),
           *clock.known_columns(_customer))
    .select_from(select(literal(1)).subquery())
    .outerjoin(Subscription, Subscription.stripe_id == bindparam("subscription_id"))
)


def _assign(obj, values: dict) -> None:
    """Set the attributes whose value differs. Re-setting one to the value it has still marks
    the object dirty, and the flush then walks every column of it to find nothing to write."""
    fresh = not inspect(obj).persistent
    for key, value in values.items():
        if fresh or getattr(obj, key) != value:
            setattr(obj, key, value)


def _find_user_for_customer(customer_id: str | None, metadata: dict | None) -> User | None:
    """The user the customer belongs to, row-locked (see ``lock_user``), or None."""
    if customer_id:
        user = db.session.execute(_USER_FOR_CUSTOMER, {"customer_id": customer_id}).scalar_one_or_none()
        if user:
            return user
    user_id = (metadata or {}).get("user_id")
    if user_id and str(user_id).isdigit():
        user = db.session.get(User, int(user_id))
        # Only adopt the customer if the user has none: metadata must not re-point an account.
        if user and (user.stripe_customer_id in (None, customer_id)):
            lock_user_row(user.id)
            if customer_id and user.stripe_customer_id is None:
                user.stripe_customer_id = customer_id
            return user
    return None


def _customer_id(value) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value


def apply_subscription(data: dict) -> Subscription:
    """Upsert our mirror of one Stripe subscription (a plain dict in the current API shape)."""
    customer_id = _customer_id(data.get("customer"))
    user = _find_user_for_customer(customer_id, data.get("metadata"))
    if user is None:
        raise Ignore(f"subscription {data.get('id')} belongs to customer {customer_id}, who is not one of our users")
    items = (data.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or {}
    price_id = price.get("id") if isinstance(price, dict) else price
    sub, known, *clock_known = db.session.execute(_SUBSCRIPTION_PLAN_CLOCK, {
        "customer_id": customer_id, "price_id": price_id, "subscription_id": data["id"]}).one()
    if sub is None:
        sub = Subscription(stripe_id=data["id"], user_id=user.id)
        db.session.add(sub)
    if not known:
        log.warning("subscription %s uses price %s, which is not a price we sell: flagged, no Pro granted",
                    data["id"], price_id)
    previous_status = sub.status
    pause = data.get("pause_collection")
    latest_invoice = data.get("latest_invoice")
    _assign(sub, {
        "user_id": user.id,
        "stripe_customer_id": customer_id,
        "stripe_price_id": price_id,
        "unknown_price": not known,
        "status": data["status"],
        "quantity": item.get("quantity") or 1,
        # Current API: the billing period lives on the subscription items.
        "current_period_start": from_unix(item.get("current_period_start")),
        "current_period_end": from_unix(item.get("current_period_end")),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
        "cancel_at": from_unix(data.get("cancel_at")),
        "canceled_at": from_unix(data.get("canceled_at")),
        "ended_at": from_unix(data.get("ended_at")),
        "trial_start": from_unix(data.get("trial_start")),
        "trial_end": from_unix(data.get("trial_end")),
        "pause_collection": pause.get("behavior") if isinstance(pause, dict) else None,
        "latest_invoice_id": latest_invoice.get("id") if isinstance(latest_invoice, dict) else latest_invoice,
        "stripe_created": from_unix(data.get("created")),
    })
    if (sub.trial_start or sub.trial_end) and not user.has_had_trial:
        user.has_had_trial = True
    # Moments that already happened on Stripe's clock for this customer (never scheduled ones
    # like current_period_end): see saas.billing.clock.
    clock.observe(customer_id, sub.stripe_created, sub.current_period_start, sub.trial_start,
                  sub.canceled_at, sub.ended_at, known=tuple(clock_known))
    if previous_status != sub.status:
        log.info("subscription %s for user %s: %s -> %s", sub.stripe_id, user.id, previous_status, sub.status)
    db.session.flush()
    return sub


def sync_subscription(subscription_id: str) -> Subscription:
    """Fetch the subscription's current state from Stripe and apply it."""
    return apply_subscription(gateway.retrieve_subscription(subscription_id))


def apply_invoice(data: dict, problem_hint: str | None = None) -> Invoice | None:
    """Upsert our mirror of one Stripe invoice (its current state, ``data``).

    ``problem_hint`` names the payment problem the event reported ("payment_failed" or
    "action_required"); it sticks only while the invoice is still open."""
    customer_id = _customer_id(data.get("customer"))
    user = _find_user_for_customer(customer_id, None)
    if user is None:
        raise Ignore(f"invoice {data.get('id')} belongs to customer {customer_id}, who is not one of our users")
    inv = db.session.execute(select(Invoice).where(Invoice.stripe_id == data["id"])).scalar_one_or_none()
    if inv is None:
        inv = Invoice(stripe_id=data["id"], user_id=user.id)
        db.session.add(inv)
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    subscription = details.get("subscription")
    inv.user_id = user.id
    inv.stripe_customer_id = customer_id
    inv.stripe_subscription_id = subscription.get("id") if isinstance(subscription, dict) else subscription
    inv.number = data.get("number")
    inv.status = data.get("status") or "draft"
    inv.billing_reason = data.get("billing_reason")
    inv.amount_due = int(data.get("amount_due") or 0)
    inv.amount_paid = int(data.get("amount_paid") or 0)
    inv.amount_remaining = int(data.get("amount_remaining") or 0)
    inv.currency = (data.get("currency") or "usd").lower()
    inv.attempt_count = int(data.get("attempt_count") or 0)
    inv.next_payment_attempt = from_unix(data.get("next_payment_attempt"))
    inv.hosted_invoice_url = data.get("hosted_invoice_url")
    inv.invoice_pdf = data.get("invoice_pdf")
    inv.period_start = from_unix(data.get("period_start"))
    inv.period_end = from_unix(data.get("period_end"))
    inv.stripe_created = from_unix(data.get("created"))
    transitions = data.get("status_transitions") or {}
    inv.paid_at = from_unix(transitions.get("paid_at"))
    clock.observe(customer_id, inv.stripe_created, *(from_unix(transitions.get(k)) for k in (
        "finalized_at", "paid_at", "voided_at", "marked_uncollectible_at")))
    # Dunning: a problem is shown only while the invoice is still open; paying, voiding or
    # writing it off clears it, whatever order the events came in.
    if inv.status == "open" and (problem_hint or inv.payment_problem):
        inv.payment_problem = problem_hint or inv.payment_problem
    elif inv.status != "open":
        inv.payment_problem = None
    db.session.flush()
    return inv


def observe_payment_attempt(charge: dict) -> None:
    """A charge is created when Stripe attempts a payment (a renewal, each dunning retry), at
    that moment on the customer's clock: evidence for ``saas.billing.clock``. Only our own
    customers' clocks are kept."""
    customer_id = _customer_id(charge.get("customer"))
    if customer_id and db.session.execute(select(User.id).where(User.stripe_customer_id == customer_id)).first():
        clock.observe(customer_id, from_unix(charge.get("created")))


def sync_invoice(invoice_id: str, problem_hint: str | None = None) -> Invoice | None:
    return apply_invoice(gateway.retrieve_invoice(invoice_id), problem_hint)


def refresh_subscriptions(user_id: int) -> None:
    """Re-read every subscription of the user's customer from Stripe and apply it (commits).

    Used before refusing an upgrade: our mirror may still show a subscription that Stripe
    already ended (its customer.subscription.deleted delayed or still retrying), and a user
    who is no longer Pro must be able to buy it again."""
    user = db.session.get(User, user_id)
    if user is None or not user.stripe_customer_id:
        return
    for data in gateway.list_subscriptions(user.stripe_customer_id):
        apply_subscription(data)
    db.session.commit()


def confirm_checkout_session(user: User, session_id: str) -> bool:
    """From the success page: ask Stripe about the session and, if it is this user's and
    complete, apply its subscription through the webhook's code. Never trusts the URL alone."""
    session = gateway.retrieve_checkout_session(session_id)
    owner_ok = session.get("client_reference_id") == str(user.id) and (
        _customer_id(session.get("customer")) == user.stripe_customer_id
    )
    if not owner_ok:
        log.warning("user %s asked to confirm checkout session %s that is not theirs", user.id, session_id)
        return False
    applied = apply_checkout_session(session)
    db.session.commit()
    return applied


def apply_checkout_session(session: dict) -> bool:
    if session.get("mode") != "subscription" or session.get("status") != "complete":
        return False
    subscription = session.get("subscription")
    sub_id = subscription.get("id") if isinstance(subscription, dict) else subscription
    if not sub_id:
        return False
    sync_subscription(sub_id)
    return True


def portal_url(user: User, *, return_url: str) -> str:
    """A Billing Portal session for the user's own Stripe customer; its URL."""
    if not user.stripe_customer_id:
        raise NoBillingAccount("user has no Stripe customer")
    session = gateway.create_portal_session(customer_id=user.stripe_customer_id, return_url=return_url)
    return session["url"]


def invoices_for(user_id: int, limit: int = 24) -> list[Invoice]:
    """The user's invoices, newest first. Drafts are left out: Stripe has not issued them yet
    (no number, no hosted page), and its own portal does not show them either."""
    return list(db.session.execute(
        select(Invoice).where(Invoice.user_id == user_id, Invoice.status != "draft")
        .order_by(Invoice.stripe_created.desc().nullslast(), Invoice.id.desc()).limit(limit)
    ).scalars())
