"""/v1/checkout/sessions."""
from __future__ import annotations

from ..errors import StripeError, invalid
from ..params import BOOL, INT, META, STR, merge_metadata
from ..shapes import billing as shapes
from ..util import new_id, rand_str
from ..engine import checkout_flow
from . import base
from .base import endpoint, paginate

CREATE = {
    "mode": ("payment", "subscription", "setup"), "customer": STR, "customer_email": STR,
    "line_items": [{"!price": STR, "quantity": INT, "adjustable_quantity": "any", "tax_rates": [STR]}],
    "client_reference_id": STR, "metadata": META, "success_url": STR, "cancel_url": STR, "return_url": STR,
    "subscription_data": {"trial_period_days": INT, "metadata": META, "description": STR,
                          "trial_settings": "any", "default_tax_rates": [STR], "proration_behavior": STR},
    "payment_intent_data": {"metadata": META, "description": STR, "receipt_email": STR,
                            "setup_future_usage": STR, "capture_method": STR},
    "allow_promotion_codes": BOOL, "discounts": [{"coupon": STR, "promotion_code": STR}],
    "payment_method_types": [STR], "expires_at": INT, "locale": STR, "ui_mode": STR,
    "billing_address_collection": STR, "customer_creation": STR, "customer_update": "any",
    "automatic_tax": {"enabled": BOOL}, "tax_id_collection": {"enabled": BOOL},
    "payment_method_collection": STR, "submit_type": STR, "consent_collection": "any",
    "invoice_creation": "any", "phone_number_collection": {"enabled": BOOL}, "currency": STR,
}


def _line_items_list(store, cs):
    """Virtual expansion: `expand[]=line_items` on a session."""
    coupon, _ = checkout_flow.coupon_of(store, cs)
    data = []
    for price, qty in checkout_flow.lines(store, cs):
        product = store.find(price["product"]) or {"name": ""}
        subtotal = (price["unit_amount"] or 0) * qty
        off = checkout_flow.billing._discount_amount(coupon, subtotal) if coupon else 0
        data.append(shapes.checkout_line_item(price_obj=price, quantity=qty, description=product["name"],
                                              discount=off))
    return {"object": "list", "data": data, "has_more": False, "url": f"/v1/checkout/sessions/{cs['id']}/line_items"}


base.VIRTUAL[("checkout.session", "line_items")] = _line_items_list


def routes(bp):
    @endpoint(bp, "/checkout/sessions", "POST", CREATE)
    def create_checkout_session(sb, p):
        st = sb.store
        mode = p.get("mode") or "payment"
        if mode == "setup":
            raise StripeError("The sandbox does not support mode=setup.", param="mode")
        if p.get("customer"):
            st.get(p["customer"], "customer", "customer")
            if p.get("customer_email"):
                raise StripeError("You may only specify one of these parameters: customer, customer_email.",
                                  param="customer_email")
        items = p.get("line_items") or []
        if not items:
            raise StripeError("Missing required param: line_items.", code="parameter_missing", param="line_items")
        lines = []
        for i, li in enumerate(items):
            price = st.get(li["price"], "price", f"line_items[{i}][price]")
            if not price["active"]:
                raise invalid(f"line_items[{i}][price]", f"The price `{price['id']}` is not active.")
            if mode == "subscription" and not price["recurring"]:
                pass  # one-time prices may ride along in Stripe; we bill them like recurring ones
            if mode == "payment" and price["recurring"]:
                raise invalid(f"line_items[{i}][price]",
                              "You must be in `subscription` mode to use recurring prices.")
            lines.append((price["id"], li.get("quantity") or 1))
        if mode == "subscription" and not any(st.find(pid)["recurring"] for pid, _ in lines):
            raise invalid("line_items", "You must provide at least one recurring price in `subscription` mode.")
        currencies = {st.find(pid)["currency"] for pid, _ in lines}
        if len(currencies) > 1:
            raise invalid("line_items", "All prices must be in the same currency.")
        if not p.get("success_url") and p.get("ui_mode") != "embedded":
            raise StripeError("Missing required param: success_url.", code="parameter_missing", param="success_url")
        now = st.now(p.get("customer"))
        cs_id = "cs_test_" + rand_str(58)
        cs = shapes.checkout_session(
            cs_id=cs_id, created=now, mode=mode, url=f"{st.public_url}/c/pay/{cs_id}",
            customer=p.get("customer"), customer_email=p.get("customer_email"),
            client_reference_id=p.get("client_reference_id"), metadata=merge_metadata({}, p.get("metadata")),
            success_url=p.get("success_url"), cancel_url=p.get("cancel_url"),
            allow_promotion_codes=p.get("allow_promotion_codes"),
            payment_method_types=p.get("payment_method_types"), expires_at=p.get("expires_at") or now + 86400,
            currency=currencies.pop(), amount_subtotal=0, amount_total=0, locale=p.get("locale"))
        st.add(cs)
        st.private[cs_id].update(line_items=lines, subscription_data=p.get("subscription_data") or {},
                                 payment_intent_data=p.get("payment_intent_data") or {})
        for i, d in enumerate(p.get("discounts") or []):
            if d.get("promotion_code"):
                promo = st.get(d["promotion_code"], "promotion_code", f"discounts[{i}][promotion_code]")
                st.private[cs_id].update(coupon=promo["promotion"]["coupon"]["id"], promotion_code=promo["id"])
            elif d.get("coupon"):
                st.get(d["coupon"], "coupon", f"discounts[{i}][coupon]")
                st.private[cs_id]["coupon"] = d["coupon"]
        checkout_flow.recompute(st, cs)
        return cs

    @endpoint(bp, "/checkout/sessions/<cs_id>")
    def retrieve_checkout_session(sb, p, cs_id):
        return _get(sb.store, cs_id)

    @endpoint(bp, "/checkout/sessions/<cs_id>/line_items", listing=True)
    def checkout_session_line_items(sb, p, cs_id):
        return _line_items_list(sb.store, _get(sb.store, cs_id))

    @endpoint(bp, "/checkout/sessions/<cs_id>/expire", "POST", {})
    def expire_checkout_session(sb, p, cs_id):
        st = sb.store
        cs = _get(st, cs_id)
        if cs["status"] != "open":
            raise StripeError(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This "
                              f"Checkout Session has a status of \"{cs['status']}\".", param="session")
        cs.update(status="expired", url=None)
        st.emit("checkout.session.expired", cs)
        return cs

    @endpoint(bp, "/checkout/sessions", spec={"customer": STR, "subscription": STR, "payment_intent": STR,
                                              "status": ("open", "complete", "expired"), "created": "any",
                                              "customer_details": {"email": STR}}, listing=True)
    def list_checkout_sessions(sb, p):
        items = sb.store.all("checkout.session")
        for key in ("customer", "subscription", "payment_intent", "status"):
            if p.get(key):
                items = [i for i in items if i[key] == p[key]]
        return paginate(items, p, "/v1/checkout/sessions")


def _get(store, cs_id):
    cs = store.find(cs_id)
    if not cs or cs.get("object") != "checkout.session":
        raise StripeError(f"No such checkout.session: '{cs_id}'", status=404, code="resource_missing", param="session")
    return cs
