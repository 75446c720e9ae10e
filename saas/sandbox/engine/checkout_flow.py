"""Completing a Checkout Session from the hosted page (card or test bank debit)."""
from __future__ import annotations

from ..shapes import catalog
from . import billing, cards, payments

# The order Stripe emits a subscription checkout's events in.
CHECKOUT_ORDER = [
    "customer.created", "customer.updated", "payment_method.attached", "customer.subscription.created",
    "invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
    "payment_intent.processing", "payment_intent.succeeded", "charge.succeeded", "checkout.session.completed",
]
BANK_SETTLE_SECONDS = 3 * 86400  # time travel past this settles a pending bank debit


def lines(store, cs: dict) -> list[tuple[dict, int]]:
    return [(store.find(pid), qty) for pid, qty in store.private[cs["id"]]["line_items"]]


def coupon_of(store, cs: dict):
    p = store.private[cs["id"]]
    return store.find(p.get("coupon")), p.get("promotion_code")


def recompute(store, cs: dict) -> None:
    subtotal = sum((price["unit_amount"] or 0) * qty for price, qty in lines(store, cs))
    coupon, promo = coupon_of(store, cs)
    off = billing._discount_amount(coupon, subtotal) if coupon else 0
    cs.update(amount_subtotal=subtotal, amount_total=subtotal - off)
    cs["total_details"]["amount_discount"] = off
    cs["discounts"] = [{"coupon": None if promo else coupon["id"], "promotion_code": promo}] if coupon else []


def apply_promo(store, cs: dict, code: str) -> str | None:
    """Returns an error message, or None when the code was applied."""
    code = (code or "").strip()
    promo = next((p for p in store.all("promotion_code") if p["code"].lower() == code.lower() and p["active"]), None)
    if not promo:
        return "This code is invalid."
    store.private[cs["id"]].update(coupon=promo["promotion"]["coupon"]["id"], promotion_code=promo["id"])
    recompute(store, cs)
    return None


def _trial_days(store, cs) -> int | None:
    return (store.private[cs["id"]].get("subscription_data") or {}).get("trial_period_days")


def _customer(store, cs: dict, ev, *, email, name) -> dict | None:
    if cs["customer"]:
        return store.find(cs["customer"])
    if cs["mode"] != "subscription":
        return None  # payment mode only creates customers when asked to
    cus = store.add(catalog.customer(created=store.now(), email=email or cs["customer_email"], name=name))
    ev.add("customer.created", cus)
    return cus


def _finish(store, cs: dict, cus, ev, *, payment_status, email, name) -> None:
    cs.update(status="complete", payment_status=payment_status, customer=cus["id"] if cus else None)
    cs["customer_details"] = {
        "address": None, "email": email or (cus or {}).get("email") or cs["customer_email"], "name": name,
        "phone": None, "tax_exempt": "none", "tax_ids": [], "business_name": None, "individual_name": None,
    }
    ev.add("checkout.session.completed", cs)


def _start_subscription(store, cs, cus, pm, ev, *, status="active"):
    coupon, promo = coupon_of(store, cs)
    data = store.private[cs["id"]].get("subscription_data") or {}
    sub = billing.create_subscription(
        store, customer=cus, items=lines(store, cs), trial_days=data.get("trial_period_days"),
        metadata=data.get("metadata"), pm_id=pm["id"], coupon=coupon, promo_id=promo, status=status,
        checkout_session=cs["id"], description=data.get("description"))
    ev.add("customer.subscription.created", sub)
    now = store.now(cus["id"])
    inv = billing.open_invoice(store, sub, ev, reason="subscription_create", period_start=now, period_end=now,
                               trial=sub["status"] == "trialing")
    billing.finalize(store, inv, ev)
    cs.update(subscription=sub["id"], invoice=inv["id"])
    return sub, inv


def pay_with_card(store, cs: dict, *, number, expiry, name, email=None) -> str | None:
    """Pay the session with a test card; returns the customer-facing error, or None on success."""
    number = cards.clean_number(number)
    if not cards.luhn_ok(number):
        return "Your card number is invalid."
    exp = cards.parse_expiry(expiry)
    if expiry and not exp:
        return "Your card's expiration date is incomplete."
    kind, decline = cards.behaviour(number)
    trial = bool(_trial_days(store, cs))
    # Declining cards fail at setup; the "fails charges" card only fails when money moves.
    if kind == cards.DECLINE or (kind == cards.FAIL_CHARGES and not trial and cs["amount_total"]):
        if cs["mode"] == "payment":
            _payment_mode(store, cs, number, exp, name, email)
        return decline[2]
    ev = store.batch()
    cus = _customer(store, cs, ev, email=email, name=name)
    pm = payments.card_pm(store, number, exp_month=exp[0] if exp else 12, exp_year=exp[1] if exp else 2034,
                          name=name, email=email or (cus or {}).get("email"))
    if cs["mode"] == "subscription":
        payments.attach(store, pm, cus["id"], ev)
        sub, inv = _start_subscription(store, cs, cus, pm, ev)
        # The customer is present on the page, so 3DS counts as completed here.
        outcome = billing.collect(store, inv, ev, pm, authenticated=True)
        paid = outcome == "paid"
        _finish(store, cs, cus, ev, payment_status=("no_payment_required" if inv["amount_due"] == 0 else
                                                     "paid" if paid else "unpaid"), email=email, name=name)
    else:
        if cus:
            payments.attach(store, pm, cus["id"], ev)
        pi = _payment_intent(store, cs)
        if payments.attempt(store, pi, pm, ev, authenticated=True) != "succeeded":
            ev.flush()
            return pi["last_payment_error"]["message"]
        cs["payment_intent"] = pi["id"]
        _finish(store, cs, cus, ev, payment_status="paid", email=email, name=name)
    ev.flush(order=CHECKOUT_ORDER)
    return None


def _payment_intent(store, cs):
    p = store.private[cs["id"]]
    pi = store.find(p.get("payment_intent"))
    if not pi:
        pi = payments.new_intent(store, amount=cs["amount_total"], currency=cs["currency"],
                                 customer=cs["customer"], metadata=(p.get("payment_intent_data") or {}).get("metadata"),
                                 description=(p.get("payment_intent_data") or {}).get("description"))
        p["payment_intent"] = pi["id"]
    return pi


def _payment_mode(store, cs, number, exp, name, email) -> None:
    """A declined payment-mode attempt: the PI records the failure (payment_intent.payment_failed)."""
    ev = store.batch()
    pm = payments.card_pm(store, number, exp_month=exp[0] if exp else 12, exp_year=exp[1] if exp else 2034,
                          name=name, email=email)
    payments.attempt(store, _payment_intent(store, cs), pm, ev, authenticated=True)
    ev.flush()


def pay_with_bank(store, cs: dict, *, outcome: str, name=None, email=None) -> None:
    """Test bank debit: completes now with payment_status=unpaid; settles later."""
    ev = store.batch()
    cus = _customer(store, cs, ev, email=email, name=name)
    pm = store.add(catalog.bank_payment_method(created=store.now(), name=name, email=email))
    now = store.now(cus["id"] if cus else None)
    if cs["mode"] == "subscription":
        payments.attach(store, pm, cus["id"], ev)
        sub, inv = _start_subscription(store, cs, cus, pm, ev, status="incomplete")
        billing.collect(store, inv, ev, pm)
        store.private[sub["id"]]["settle"] = {"cs": cs["id"], "outcome": outcome, "at": now + BANK_SETTLE_SECONDS}
    else:
        pi = _payment_intent(store, cs)
        payments.attempt(store, pi, pm, ev)
        cs["payment_intent"] = pi["id"]
    store.private[cs["id"]]["settle"] = {"outcome": outcome, "at": now + BANK_SETTLE_SECONDS}
    _finish(store, cs, cus, ev, payment_status="unpaid", email=email, name=name)
    ev.flush(order=CHECKOUT_ORDER)


BANK_DECLINE = ("payment_method_provider_decline", "insufficient_funds",
                "The customer's bank account has insufficient funds.")


def settle(store, cs: dict, outcome: str, ev) -> bool:
    """Finish a pending bank debit. Returns False when there was nothing to settle."""
    p = store.private[cs["id"]]
    if not p.get("settle") or cs["payment_status"] != "unpaid" or cs["status"] != "complete":
        return False
    p.pop("settle")
    sub = store.find(cs["subscription"])
    inv = store.find(cs["invoice"])
    if sub:
        store.private[sub["id"]].pop("settle", None)
    pi_id = store.private[inv["id"]].get("payment_intent") if inv else cs["payment_intent"]
    pi = store.find(pi_id)
    pm = store.find(pi["payment_method"])
    if outcome == "succeeded":
        payments.succeed(store, pi, pm, ev)
        if inv:
            billing.mark_paid(store, inv, ev)
        if sub:
            billing.set_status(sub, "active", ev)
        cs["payment_status"] = "paid"
        ev.add("checkout.session.async_payment_succeeded", cs)
    else:
        payments.fail(store, pi, pm, ev, BANK_DECLINE)
        if inv:
            inv["next_payment_attempt"] = None
            ev.add("invoice.payment_failed", inv)
        if sub:
            billing.set_status(sub, "incomplete_expired", ev)
            sub["ended_at"] = store.now(sub["customer"])
        ev.add("checkout.session.async_payment_failed", cs)
    return True
