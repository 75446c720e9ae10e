"""The customer portal page of a billing_portal.session: cancel/renew, card update, invoices."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request

from ..engine import billing, cards, payments
from ..store import diff
from ..util import clone, format_amount, format_date

bp = Blueprint("sandbox_portal", __name__)


def _store():
    return current_app.extensions["sandbox"].store


def _session(store, bps_id):
    s = store.find(bps_id)
    if not s or s.get("object") != "billing_portal.session":
        abort(404)
    return s


def _view(store, session, *, notice=None, error=None, status=200):
    cus = store.find(session["customer"])
    subs = [s for s in billing.subscriptions_of(store, cus["id"]) if s["status"] != "incomplete_expired"]
    pm = store.find((cus["invoice_settings"] or {}).get("default_payment_method"))
    if not pm and subs:
        pm = billing.default_pm(store, subs[0])
    invoices = [i for i in store.all("invoice") if i["customer"] == cus["id"] and i["status"] != "draft"]
    return render_template(
        "sandbox/portal.html", session=session, customer=cus, pm=pm, notice=notice, error=error,
        subs=[{"obj": s, "label": billing.describe(store, s), "period_end": format_date(billing.period(s)[1]),
               "cancel_at": format_date(s["cancel_at"])} for s in subs],
        invoices=[{"obj": i, "total": format_amount(i["total"], i["currency"]), "date": format_date(i["created"])}
                  for i in invoices]), status


@bp.get("/p/session/<bps_id>")
def show(bps_id):
    store = _store()
    with store.lock:
        return _view(store, _session(store, bps_id))


def _owned_sub(store, session, sub_id):
    sub = store.find(sub_id)
    if not sub or sub.get("object") != "subscription" or sub["customer"] != session["customer"]:
        abort(404)
    return sub


@bp.post("/p/session/<bps_id>/subscriptions/<sub_id>/<action>")
def change(bps_id, sub_id, action):
    store = _store()
    with store.lock:
        session = _session(store, bps_id)
        sub = _owned_sub(store, session, sub_id)
        if action not in ("cancel", "resume") or sub["status"] == "canceled":
            abort(400)
        before = clone(sub)
        cancel = action == "cancel"
        sub["cancel_at_period_end"] = cancel
        sub["cancel_at"] = billing.period(sub)[1] if cancel else None
        sub["canceled_at"] = store.now(sub["customer"]) if cancel else None
        if cancel:
            sub["cancellation_details"]["reason"] = "cancellation_requested"
        changes = diff(before, sub)
        if changes:
            store.emit("customer.subscription.updated", sub, changes)
    return redirect(f"/p/session/{bps_id}", code=303)


@bp.post("/p/session/<bps_id>/payment-method")
def update_card(bps_id):
    store = _store()
    f = request.form
    with store.lock:
        session = _session(store, bps_id)
        number = cards.clean_number(f.get("cardNumber"))
        if not cards.luhn_ok(number):
            return _view(store, session, error="Your card number is invalid.", status=402)
        kind, decline = cards.behaviour(number)
        if kind == cards.DECLINE:
            return _view(store, session, error=decline[2], status=402)
        exp = cards.parse_expiry(f.get("cardExpiry")) or (12, 2034)
        set_default_card(store, session["customer"], number, exp=exp, name=f.get("billingName") or None,
                         pay_open=True)
        return _view(store, session, notice="Your payment method was updated.")


def set_default_card(store, customer_id: str, number: str, *, exp=(12, 2034), name=None, pay_open=False) -> dict:
    """Make a new card the customer's default (and every live subscription's); optionally pay
    open invoices of past_due/unpaid subscriptions with it, as the portal does."""
    cus = store.find(customer_id)
    ev = store.batch()
    pm = payments.card_pm(store, number, exp_month=exp[0], exp_year=exp[1], name=name, email=cus.get("email"))
    payments.attach(store, pm, customer_id, ev)
    before = clone(cus)
    cus["invoice_settings"]["default_payment_method"] = pm["id"]
    ev.add("customer.updated", cus, diff(before, cus))
    for sub in billing.subscriptions_of(store, customer_id):
        if sub["status"] in ("canceled", "incomplete_expired"):
            continue
        before = clone(sub)
        sub["default_payment_method"] = pm["id"]
        ev.add("customer.subscription.updated", sub, diff(before, sub))
        inv = store.find(sub["latest_invoice"])
        if pay_open and sub["status"] in ("past_due", "unpaid") and inv and inv["status"] == "open":
            # The customer is present, so a 3DS card counts as authenticated here.
            outcome = billing.collect(store, inv, ev, pm, authenticated=True)
            billing.after_collection(store, sub, inv, outcome, ev)
    ev.flush()
    return pm
