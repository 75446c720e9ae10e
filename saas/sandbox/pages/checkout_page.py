"""The hosted Checkout page: GET shows the session, POST pays it (card, promo code, bank debit)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request

from ..engine import cards, checkout_flow
from ..util import format_amount, interval_text

bp = Blueprint("sandbox_checkout", __name__)


def _store():
    return current_app.extensions["sandbox"].store


def _session(store, cs_id):
    cs = store.find(cs_id)
    if not cs or cs.get("object") != "checkout.session":
        abort(404)
    return cs


def _view(store, cs, *, error=None, promo_error=None, form=None, status=200):
    items = []
    for price, qty in checkout_flow.lines(store, cs):
        product = store.find(price["product"]) or {"name": price["product"]}
        items.append({"name": product["name"], "description": product.get("description"), "quantity": qty,
                      "amount": format_amount((price["unit_amount"] or 0) * qty, price["currency"]),
                      "interval": interval_text(price["recurring"])})
    trial_days = (store.private[cs["id"]].get("subscription_data") or {}).get("trial_period_days")
    coupon, _ = checkout_flow.coupon_of(store, cs)
    now = store.now(cs["customer"])
    expired = cs["status"] == "expired" or (cs["status"] == "open" and cs["expires_at"] < now)
    customer = store.find(cs["customer"]) or {}
    return render_template(
        "sandbox/checkout.html", cs=cs, items=items, trial_days=trial_days, error=error,
        promo_error=promo_error, form=form or {}, coupon=coupon, expired=expired,
        email=cs["customer_email"] or customer.get("email") or "",
        subtotal=format_amount(cs["amount_subtotal"], cs["currency"]),
        discount=format_amount(cs["total_details"]["amount_discount"], cs["currency"]),
        total=format_amount(cs["amount_total"], cs["currency"]),
        due_today=format_amount(0 if trial_days else cs["amount_total"], cs["currency"]),
        per=items[0]["interval"] if cs["mode"] == "subscription" and items else ""), status


@bp.get("/c/pay/<cs_id>")
def show(cs_id):
    store = _store()
    with store.lock:
        return _view(store, _session(store, cs_id))


@bp.post("/c/pay/<cs_id>")
def pay(cs_id):
    store = _store()
    f = request.form
    with store.lock:
        cs = _session(store, cs_id)
        if cs["status"] != "open" or cs["expires_at"] < store.now(cs["customer"]):
            return _view(store, cs, status=409)
        if f.get("promotionCode", "").strip() and not checkout_flow.coupon_of(store, cs)[0]:
            if not cs["allow_promotion_codes"]:
                return _view(store, cs, promo_error="Promotion codes are not enabled.", form=f, status=400)
            msg = checkout_flow.apply_promo(store, cs, f["promotionCode"])
            if msg:
                return _view(store, cs, promo_error=msg, form=f, status=400)
        action = f.get("action", "pay")
        if action == "apply_promo":
            return _view(store, cs, form=f)
        name, email = f.get("billingName") or None, f.get("email") or None
        if action in ("bank_success", "bank_fail"):
            checkout_flow.pay_with_bank(store, cs, outcome="succeeded" if action == "bank_success" else "failed",
                                        name=name, email=email)
        else:
            # Cards that always ask for 3D Secure do so on the hosted page too, as Stripe Checkout
            # does, before anything is charged: the card fields ride along to the answer.
            kind, _ = cards.behaviour(cards.clean_number(f.get("cardNumber", "")))
            if kind == cards.THREE_DS and cards.luhn_ok(cards.clean_number(f.get("cardNumber", ""))):
                answer = f.get("threeDS")
                if answer not in ("approve", "fail"):
                    carried = {k: v for k, v in f.items() if k != "threeDS"}
                    return render_template("sandbox/checkout_3ds.html", action=f"/c/pay/{cs_id}", carried=carried,
                                           amount=format_amount(cs["amount_total"] or 0, cs["currency"]))
                if answer == "fail":
                    return _view(store, cs, form=f, status=402, error=(
                        "We are unable to authenticate your payment method. Please choose a different "
                        "payment method and try again."))
            error = checkout_flow.pay_with_card(store, cs, number=f.get("cardNumber", ""),
                                                expiry=f.get("cardExpiry", ""), name=name, email=email)
            if error:
                return _view(store, cs, error=error, form=f, status=402)
        target = (cs["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", cs["id"])
    return redirect(target or f"/c/pay/{cs_id}", code=303)
