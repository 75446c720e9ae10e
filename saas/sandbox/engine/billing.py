"""Subscriptions and their invoices: creation, collection, renewal, dunning, cancellation."""
from __future__ import annotations

from ..shapes import billing as shapes, catalog
from ..store import diff
from ..util import add_interval, clone, format_amount, interval_text, new_id
from . import payments

LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete")


def default_pm(store, sub: dict) -> dict | None:
    cus = store.find(sub["customer"]) or {}
    pm_id = sub.get("default_payment_method") or (cus.get("invoice_settings") or {}).get("default_payment_method")
    return store.find(pm_id)


def subscriptions_of(store, customer_id: str) -> list[dict]:
    return [s for s in store.all("subscription") if s["customer"] == customer_id]


def period(sub: dict) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def _set_period(sub: dict, start: int, end: int) -> None:
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def _period_end(store, sub: dict) -> int:
    p = store.private[sub["id"]]
    rec = sub["items"]["data"][0]["price"]["recurring"]
    return add_interval(p["anchor"], rec["interval"], rec["interval_count"] * (p["cycles"] + 1))


def create_subscription(store, *, customer: dict, items: list[tuple[dict, int]], trial_days=None,
                        metadata=None, pm_id=None, coupon=None, promo_id=None, status="active",
                        checkout_session=None, description=None) -> dict:
    now = store.now(customer["id"])
    sub_id = new_id("sub_")
    trial_end = add_interval(now, "day", trial_days) if trial_days else None
    sub = shapes.subscription(
        sub_id=sub_id, created=now, customer=customer["id"], currency=items[0][0]["currency"],
        status="trialing" if trial_end else status, metadata=metadata, anchor=trial_end or now,
        trial_start=now if trial_end else None, trial_end=trial_end, default_payment_method=pm_id,
        test_clock=customer.get("test_clock"), description=description)
    store.private[sub_id].update(anchor=trial_end or now, cycles=0)
    for price, qty in items:
        sub["items"]["data"].append(shapes.subscription_item(
            created=now, sub_id=sub_id, price_obj=clone(price), quantity=qty, period_start=now, period_end=now))
    _set_period(sub, now, trial_end or _period_end(store, sub))
    if coupon:
        di = store.add(catalog.discount(start=now, coupon_obj=coupon, customer=customer["id"],
                                        subscription=sub_id, promotion_code=promo_id,
                                        checkout_session=checkout_session))
        sub["discounts"] = [di["id"]]
        coupon["times_redeemed"] += 1
    return store.add(sub)


def _discount_for(store, sub: dict, first: bool):
    for di_id in sub.get("discounts") or []:
        di = store.find(di_id)
        if not di:
            continue
        coupon = di["source"]["coupon"]
        if coupon["duration"] == "once" and not first:
            continue
        return di, coupon
    return None, None


def _discount_amount(coupon: dict, subtotal: int) -> int:
    if coupon.get("percent_off"):
        return int(round(subtotal * coupon["percent_off"] / 100))
    return min(subtotal, coupon.get("amount_off") or 0)


def open_invoice(store, sub: dict, ev, *, reason: str, period_start: int, period_end: int,
                 trial: bool = False) -> dict:
    """A draft invoice for the subscription's current period (emits invoice.created)."""
    cus = store.find(sub["customer"])
    now = store.now(cus["id"])
    inv_id = new_id("in_")
    inv = shapes.invoice(inv_id=inv_id, created=now, customer=cus, currency=sub["currency"],
                         billing_reason=reason, sub_id=sub["id"], sub_metadata=dict(sub["metadata"]),
                         period_start=period_start, period_end=period_end, test_clock=cus.get("test_clock"))
    di, coupon = (None, None) if trial else _discount_for(store, sub, reason == "subscription_create")
    subtotal = discount_total = 0
    for item in sub["items"]["data"]:
        price = item["price"]
        product = store.find(price["product"]) or {"name": price["product"]}
        amount = 0 if trial else (price["unit_amount"] or 0) * item["quantity"]
        off = _discount_amount(coupon, amount) if coupon else 0
        if trial:
            desc = f"Trial period for {product['name']}"
        else:
            desc = (f"{item['quantity']} × {product['name']} (at {format_amount(price['unit_amount'], price['currency'])}"
                    f" / {price['recurring']['interval']})")
        inv["lines"]["data"].append(shapes.invoice_line(
            inv_id=inv_id, amount=amount, currency=price["currency"], description=desc,
            period_start=item["current_period_start"], period_end=item["current_period_end"],
            quantity=item["quantity"], price_obj=price, sub_id=sub["id"], si_id=item["id"],
            discount_amounts=[{"amount": off, "discount": di["id"]}] if di else []))
        subtotal += amount
        discount_total += off
    total = subtotal - discount_total
    inv.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=total, total_excluding_tax=total,
               amount_due=total, amount_remaining=total,
               default_payment_method=sub.get("default_payment_method"))
    if di:
        inv["discounts"] = [di["id"]]
        inv["total_discount_amounts"] = [{"amount": discount_total, "discount": di["id"]}]
    store.add(inv)
    sub["latest_invoice"] = inv_id
    ev.add("invoice.created", inv)
    return inv


def finalize(store, inv: dict, ev) -> None:
    cus = store.find(inv["customer"])
    now = store.now(cus["id"])
    inv["number"] = f"{cus['invoice_prefix']}-{cus['next_invoice_sequence']:04d}"
    cus["next_invoice_sequence"] += 1
    inv.update(status="open", effective_at=now,
               hosted_invoice_url=f"{store.public_url}/i/{inv['id']}",
               invoice_pdf=f"{store.public_url}/i/{inv['id']}/pdf")
    inv["status_transitions"]["finalized_at"] = now
    ev.add("invoice.finalized", inv)


def mark_paid(store, inv: dict, ev) -> None:
    inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0, next_payment_attempt=None,
               attempted=True)
    inv["status_transitions"]["paid_at"] = store.now(inv["customer"])
    ev.add("invoice.paid", inv)
    ev.add("invoice.payment_succeeded", inv)


def collect(store, inv: dict, ev, pm: dict | None, *, authenticated=False) -> str:
    """Try to pay an open invoice: 'paid', 'failed', 'requires_action' or 'processing'."""
    if inv["amount_due"] == 0:
        mark_paid(store, inv, ev)
        return "paid"
    now = store.now(inv["customer"])
    inv["attempted"] = True
    inv["attempt_count"] += 1
    pe = store.batch()
    status = "failed"
    if pm:
        pi = store.private[inv["id"]].get("payment_intent")
        pi = store.find(pi) if pi else None
        if pi is None or pi["status"] == "succeeded":
            reason = "Subscription creation" if inv["billing_reason"] == "subscription_create" else "Subscription update"
            pi = payments.new_intent(store, amount=inv["amount_due"], currency=inv["currency"],
                                     customer=inv["customer"], description=reason)
            store.private[inv["id"]]["payment_intent"] = pi["id"]
            store.private[pi["id"]]["invoice"] = inv["id"]
        status = payments.attempt(store, pi, pm, pe, authenticated=authenticated)
    if status == "succeeded":
        mark_paid(store, inv, ev)
        ev.extend(pe)
        return "paid"
    ev.extend(pe)
    if status == "processing":
        return "processing"
    if status == "requires_action":
        ev.add("invoice.payment_action_required", inv)
        return "requires_action"
    # Dunning: the n-th failure schedules the n-th retry; none left means "final".
    days = store.dunning_days
    n = inv["attempt_count"]
    inv["next_payment_attempt"] = now + days[n - 1] * 86400 if n <= len(days) else None
    ev.add("invoice.payment_failed", inv)
    return "failed"


def set_status(sub: dict, status: str, ev) -> None:
    if sub["status"] != status:
        before = clone(sub)
        sub["status"] = status
        ev.add("customer.subscription.updated", sub, diff(before, sub))


def after_collection(store, sub: dict, inv: dict, outcome: str, ev) -> None:
    """Move the subscription's status to follow its latest invoice's payment."""
    if outcome == "paid":
        if sub["status"] in ("past_due", "unpaid", "incomplete"):
            set_status(sub, "active", ev)
    elif outcome in ("failed", "requires_action"):
        if sub["status"] in ("active", "trialing"):
            set_status(sub, "past_due", ev)
        if outcome == "failed" and inv["next_payment_attempt"] is None:
            if store.past_due_final == "canceled":
                cancel_now(store, sub, ev, reason="payment_failed")
            else:
                set_status(sub, "unpaid", ev)


def renew(store, sub: dict, at: int, ev, *, end_trial=False) -> dict:
    """Start the next period at `at` (period end or trial end) and bill it."""
    before = clone(sub)
    p = store.private[sub["id"]]
    old_start, old_end = period(sub)
    if end_trial:
        # Stripe re-anchors the billing cycle on the trial's end.
        p.update(anchor=at, cycles=0)
        sub["billing_cycle_anchor"] = at
        if sub["trial_end"] and sub["trial_end"] > at:
            sub["trial_end"] = at
        start = at
    else:
        p["cycles"] += 1
        start = old_end
    _set_period(sub, start, _period_end(store, sub))
    if sub["status"] == "trialing":
        sub["status"] = "active"
    ev.add("customer.subscription.updated", sub, diff(before, sub))
    inv = open_invoice(store, sub, ev, reason="subscription_cycle", period_start=old_start, period_end=start)
    pause = sub.get("pause_collection")
    if pause:
        # Paused collection: the invoice is created but never charged.
        if pause["behavior"] == "void":
            finalize(store, inv, ev)
            inv["status"] = "void"
            inv["status_transitions"]["voided_at"] = at
            ev.add("invoice.voided", inv)
        elif pause["behavior"] == "mark_uncollectible":
            finalize(store, inv, ev)
            inv["status"] = "uncollectible"
            inv["status_transitions"]["marked_uncollectible_at"] = at
            ev.add("invoice.marked_uncollectible", inv)
        return inv
    finalize(store, inv, ev)
    outcome = collect(store, inv, ev, default_pm(store, sub))
    after_collection(store, sub, inv, outcome, ev)
    return inv


def retry(store, sub: dict, ev) -> None:
    inv = store.find(sub["latest_invoice"])
    if not inv or inv["status"] != "open":
        return
    outcome = collect(store, inv, ev, default_pm(store, sub))
    after_collection(store, sub, inv, outcome, ev)


def cancel_now(store, sub: dict, ev, *, reason="cancellation_requested", comment=None, feedback=None) -> None:
    now = store.now(sub["customer"])
    sub.update(status="canceled", ended_at=now, canceled_at=sub.get("canceled_at") or now)
    sub["cancellation_details"].update(reason=reason)
    if comment is not None:
        sub["cancellation_details"]["comment"] = comment
    if feedback is not None:
        sub["cancellation_details"]["feedback"] = feedback
    ev.add("customer.subscription.deleted", sub)


def describe(store, sub: dict) -> str:
    """One line for hosted pages: "Pro — $10.00 per month"."""
    item = sub["items"]["data"][0]
    price = item["price"]
    product = store.find(price["product"]) or {"name": price["product"]}
    return f"{product['name']} — {format_amount(price['unit_amount'], price['currency'])} {interval_text(price['recurring'])}"
