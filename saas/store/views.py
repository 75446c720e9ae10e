"""Store pages: catalog, product, cart, checkout (Payment Element), order status and history."""

from __future__ import annotations

import logging

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required

from saas import stripe_gateway as gateway
from saas.extensions import db
from saas.store import services
from saas.store.forms import (ACTION_FIELDS, ADD_FIELDS, CHECKOUT_FIELDS, QUANTITY_FIELDS, ActionForm,
                              AddToCartForm, CheckoutForm, QuantityForm)

log = logging.getLogger(__name__)

bp = Blueprint("store", __name__)


@bp.record_once
def _install(state) -> None:
    """Merge an anonymous cart into the account's at login (accounts' _login calls this hook)."""
    app = state.app
    previous = app.extensions.get("saas.after_login")

    def after_login(user):
        if previous:
            previous(user)
        token = session.pop("cart_token", None)
        try:
            moved = services.merge_anonymous_cart(user.id, token)
        except Exception:
            # Logging in must not fail because of the cart; the anonymous cart stays in the table.
            log.exception("could not merge cart for user %s", user.id)
            return
        if moved:
            flash("We kept the items you added before logging in.", "info")

    app.extensions["saas.after_login"] = after_login


def _owner() -> dict:
    if current_user.is_authenticated:
        return {"user_id": current_user.id, "token": None}
    return {"user_id": None, "token": session.get("cart_token")}


def _refuse_foreign_fields(allowed: frozenset):
    """Prices, amounts, currencies and checkout quantities come from our database, never from
    the request."""
    extra = sorted(set(request.form) - allowed)
    if extra:
        log.warning("store form refused: unexpected fields %s from %s", extra, request.remote_addr)
        return render_template("store/refused.html", fields=extra), 400
    return None


@bp.get("/store")
def catalog():
    return render_template("store/catalog.html", products=services.catalog(), form=AddToCartForm())


@bp.get("/store/<slug>")
def product(slug):
    item = services.product_by_slug(slug)
    if item is None:
        abort(404)
    return render_template("store/product.html", product=item, form=AddToCartForm(product_id=item.id))


@bp.post("/cart/add")
def cart_add():
    refused = _refuse_foreign_fields(ADD_FIELDS)
    if refused:
        return refused
    form = AddToCartForm()
    if not form.validate_on_submit():
        return _form_error_page(form)
    owner = _owner()
    if owner["user_id"] is None and not owner["token"]:
        session["cart_token"] = owner["token"] = services.new_cart_token()
    try:
        item = services.add_to_cart(product_id=form.product_id.data, quantity=form.quantity.parsed, **owner)
    except services.StoreError as exc:
        flash(exc.user_message, "error")
        return redirect(request.referrer if _same_site(request.referrer) else url_for("store.catalog"))
    flash(f"Added {form.quantity.parsed} × {item.product_name} to your cart.", "success")
    return redirect(url_for("store.cart"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


def _form_error_page(form):
    """Re-show the page the form came from with the reason, without changing anything."""
    errors = [e for field in form for e in field.errors]
    view = services.review_cart(**_owner())
    return render_template("store/cart.html", cart=view, errors=errors,
                           checkout_form=CheckoutForm(checkout_token=view.checkout_token), action_form=ActionForm()), 422


@bp.get("/cart")
def cart():
    view = services.review_cart(**_owner())
    for name in view.removed:
        flash(f"{name} is no longer available and was removed from your cart.", "warning")
    form = CheckoutForm(checkout_token=view.checkout_token)
    return render_template("store/cart.html", cart=view, errors=[], checkout_form=form, action_form=ActionForm())


@bp.post("/cart/items/<int:item_id>")
def cart_update(item_id):
    refused = _refuse_foreign_fields(QUANTITY_FIELDS)
    if refused:
        return refused
    form = QuantityForm()
    if not form.validate_on_submit():
        return _form_error_page(form)
    try:
        services.set_quantity(item_id=item_id, quantity=form.quantity.parsed, **_owner())
    except services.StoreError as exc:
        flash(exc.user_message, "error")
    else:
        flash("Quantity updated.", "success")
    return redirect(url_for("store.cart"))


@bp.post("/cart/items/<int:item_id>/remove")
def cart_remove(item_id):
    refused = _refuse_foreign_fields(ACTION_FIELDS)
    if refused:
        return refused
    if not ActionForm().validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for("store.cart"))
    try:
        name = services.remove_item(item_id=item_id, **_owner())
    except services.StoreError as exc:
        flash(exc.user_message, "error")
    else:
        flash(f"Removed {name} from your cart.", "success")
    return redirect(url_for("store.cart"))


@bp.post("/checkout")
@login_required
def checkout():
    refused = _refuse_foreign_fields(CHECKOUT_FIELDS)
    if refused:
        return refused
    form = CheckoutForm()
    if not form.validate_on_submit():
        flash("The form expired. Please review your cart and try again.", "error")
        return redirect(url_for("store.cart"))
    try:
        order = services.checkout(current_user.id, form.checkout_token.data)
    except services.StoreError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("store.cart"))
    except gateway.BillingError as exc:
        # The order is saved; its payment page retries creating the intent with the same key.
        flash(exc.user_message, "error")
        return redirect(url_for("store.orders"))
    return redirect(url_for("store.pay", order_id=order.id), code=303)


def _my_order(order_id: int):
    order = services.order_for_user(order_id, current_user.id)
    if order is None:
        abort(404)
    return order


@bp.get("/orders/<int:order_id>/pay")
@login_required
def pay(order_id):
    order = _my_order(order_id)
    if not order.can_pay:
        return redirect(url_for("store.order", order_id=order.id))
    try:
        intent = services.ensure_payment_intent(order.id)
    except gateway.BillingError as exc:
        db.session.rollback()
        return render_template("store/pay.html", order=order, intent=None, error=exc.user_message), 503
    if intent.get("status") == "succeeded":
        return redirect(url_for("store.order", order_id=order.id))
    cfg = current_app.config
    return render_template(
        "store/pay.html", order=order, intent=intent, error=None,
        publishable_key=cfg["STRIPE_PUBLISHABLE_KEY"], stripe_js_url=cfg["STRIPE_JS_URL"],
        return_url=cfg["BASE_URL"] + url_for("store.order", order_id=order.id),
    )


@bp.get("/orders")
@login_required
def orders():
    cursors = {}
    for key in ("before", "after"):
        raw = (request.args.get(key) or "").strip()
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                flash("That page link is broken; here are your latest orders.", "error")
                return redirect(url_for("store.orders"))
            cursors[key] = int(raw)
    page = services.orders_for(current_user.id, **cursors)
    return render_template("store/orders.html", orders=page.orders, page=page, paged=bool(cursors))


def _refresh_from_stripe(order) -> None:
    """Webhooks may be late or stopped: re-read a waiting order's intent (throttled; see
    services.refresh_order_if_waiting). A failure here only means the page shows our status."""
    try:
        services.refresh_order_if_waiting(order.id)
    except gateway.BillingError as exc:
        db.session.rollback()
        log.info("order %s not re-read from Stripe: %s", order.id, type(exc).__name__)
    except Exception:
        db.session.rollback()
        log.exception("re-reading order %s from Stripe failed; the webhook will apply it", order.id)


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id):
    item = _my_order(order_id)
    _refresh_from_stripe(item)
    # redirect_status comes from the browser, so it only chooses the wording while we wait for
    # Stripe's webhook; the status shown is always ours.
    returned = request.args.get("redirect_status") if request.args.get("redirect_status") in (
        "succeeded", "failed", "processing") else None
    return render_template("store/order.html", order=item, returned=returned)


@bp.get("/orders/<int:order_id>/status.json")
@login_required
def order_status(order_id):
    item = _my_order(order_id)
    _refresh_from_stripe(item)
    return {
        "status": item.status,
        "final": item.is_final,
        "failure_message": item.failure_message,
        "can_pay": item.can_pay,
        "amount_refunded": item.amount_refunded,
    }
