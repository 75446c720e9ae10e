"""/v1/payment_intents. Confirm and retrieve also accept a publishable key + client_secret,
as Stripe.js (and our stand-in for it) calls them from the browser."""
from __future__ import annotations

from flask import g

from ..errors import StripeError
from ..params import BOOL, INT, META, STR, merge_metadata
from ..util import clone
from ..engine import payments
from .base import created_filter, endpoint, paginate

PM_DATA = {"type": STR, "card": {"number": STR, "exp_month": INT, "exp_year": INT, "cvc": STR, "token": STR},
           "billing_details": {"name": STR, "email": STR, "phone": STR, "address": "any"}}
CONFIRM = {"payment_method": STR, "payment_method_data": PM_DATA, "return_url": STR, "off_session": BOOL,
           "receipt_email": STR, "setup_future_usage": STR, "payment_method_types": [STR],
           "use_stripe_sdk": BOOL, "mandate_data": "any", "error_on_requires_action": BOOL}
CREATE = {"!amount": INT, "!currency": STR, "customer": STR, "metadata": META, "description": STR,
          "automatic_payment_methods": {"enabled": BOOL, "allow_redirects": STR},
          "payment_method_types": [STR], "receipt_email": STR, "confirm": BOOL, "statement_descriptor": STR,
          "statement_descriptor_suffix": STR, "setup_future_usage": ("on_session", "off_session"),
          "capture_method": ("automatic", "automatic_async"), "shipping": "any", "transfer_group": STR,
          **{k: v for k, v in CONFIRM.items() if k not in ("receipt_email", "setup_future_usage",
                                                              "payment_method_types")}}


def _get(sb, pi_id, p):
    pi = sb.store.find(pi_id)
    if not pi or pi.get("object") != "payment_intent":
        raise StripeError(f"No such payment_intent: '{pi_id}'", status=404, code="resource_missing", param="intent")
    if g.get("key_kind") == "publishable" and p.get("client_secret") != pi["client_secret"]:
        # Stripe.js may only touch an intent whose client secret it holds.
        raise StripeError("The client_secret provided does not match the client_secret associated with the "
                          "PaymentIntent.", param="client_secret")
    return pi


def _confirm(sb, pi, p) -> dict:
    st = sb.store
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise StripeError(f"This PaymentIntent's payment_method could not be updated because it has a status of "
                          f"{pi['status']}. You may only update the payment_method of a PaymentIntent with one of "
                          "the following statuses: requires_payment_method, requires_confirmation, requires_action.",
                          code="payment_intent_unexpected_state", payment_intent=pi)
    if p.get("payment_method_data"):
        try:
            pm = payments.pm_from_data(st, p["payment_method_data"])
        except StripeError as err:
            err.body["payment_intent"] = clone(pi)
            raise
    elif p.get("payment_method"):
        pm = payments.resolve_pm(st, p["payment_method"])
    elif pi.get("payment_method"):
        pm = st.find(pi["payment_method"])
    else:
        raise StripeError("You cannot confirm this PaymentIntent because it's missing a payment method. You can "
                          "either update the PaymentIntent with a payment method and then confirm it again, or "
                          "confirm it again directly with a payment method.",
                          code="payment_intent_unexpected_state", payment_intent=pi)
    if p.get("receipt_email"):
        pi["receipt_email"] = p["receipt_email"]
    ev = st.batch()
    if pi["customer"] and p.get("setup_future_usage"):
        payments.attach(st, pm, pi["customer"], ev)
    status = payments.attempt(st, pi, pm, ev, return_url=p.get("return_url"))
    ev.flush()
    if status == "requires_payment_method":
        raise payments.card_error_for(pi)
    return pi


def routes(bp):
    @endpoint(bp, "/payment_intents", "POST", CREATE)
    def create_payment_intent(sb, p):
        st = sb.store
        if p.get("customer"):
            st.get(p["customer"], "customer", "customer")
        if p["amount"] < 1:
            raise StripeError("Amount must be at least 1", code="amount_too_small", param="amount")
        apm = p.get("automatic_payment_methods")
        pi = payments.new_intent(
            st, amount=p["amount"], currency=p["currency"].lower(), customer=p.get("customer"),
            description=p.get("description"), metadata=merge_metadata({}, p.get("metadata")),
            payment_method_types=p.get("payment_method_types"), receipt_email=p.get("receipt_email"),
            automatic_payment_methods={"allow_redirects": "always", "enabled": True} if (apm or {}).get("enabled") else None,
            setup_future_usage=p.get("setup_future_usage"))
        if p.get("payment_method"):
            pi["payment_method"] = payments.resolve_pm(st, p["payment_method"])["id"]
            pi["status"] = "requires_confirmation"
        st.emit("payment_intent.created", pi)
        if p.get("confirm"):
            return _confirm(sb, pi, p)
        return pi

    @endpoint(bp, "/payment_intents/<pi_id>", publishable=True)
    def retrieve_payment_intent(sb, p, pi_id):
        return _get(sb, pi_id, p)

    @endpoint(bp, "/payment_intents/<pi_id>", "POST", {"amount": INT, "metadata": META, "description": STR,
                                                        "receipt_email": STR, "customer": STR,
                                                        "payment_method": STR, "currency": STR})
    def update_payment_intent(sb, p, pi_id):
        st = sb.store
        pi = _get(sb, pi_id, p)
        if pi["status"] in ("succeeded", "canceled", "processing") and (p.get("amount") or p.get("currency")):
            raise StripeError(f"You cannot update the amount of a PaymentIntent with status {pi['status']}.",
                              code="payment_intent_unexpected_state", param="amount")
        for key in ("amount", "description", "receipt_email", "customer"):
            if p.get(key) is not None:
                pi[key] = p[key]
        if p.get("currency"):
            pi["currency"] = p["currency"].lower()
        if p.get("payment_method"):
            pi["payment_method"] = payments.resolve_pm(st, p["payment_method"])["id"]
            pi["status"] = "requires_confirmation"
        pi["metadata"] = merge_metadata(pi["metadata"], p.get("metadata"))
        # Stripe has no payment_intent.updated event, so an update emits nothing.
        return pi

    @endpoint(bp, "/payment_intents/<pi_id>/confirm", "POST", CONFIRM, publishable=True)
    def confirm_payment_intent(sb, p, pi_id):
        return _confirm(sb, _get(sb, pi_id, p), p)

    @endpoint(bp, "/payment_intents/<pi_id>/cancel", "POST", {
        "cancellation_reason": ("duplicate", "fraudulent", "requested_by_customer", "abandoned")})
    def cancel_payment_intent(sb, p, pi_id):
        st = sb.store
        pi = _get(sb, pi_id, p)
        if pi["status"] in ("succeeded", "canceled", "processing"):
            raise StripeError(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
                              "Only a PaymentIntent with one of the following statuses may be canceled: "
                              "requires_payment_method, requires_capture, requires_confirmation, requires_action.",
                              code="payment_intent_unexpected_state", payment_intent=clone(pi))
        pi.update(status="canceled", canceled_at=st.now(pi["customer"]), next_action=None,
                  cancellation_reason=p.get("cancellation_reason"))
        st.emit("payment_intent.canceled", pi)
        return pi

    @endpoint(bp, "/payment_intents", spec={"customer": STR, "created": "any"}, listing=True)
    def list_payment_intents(sb, p):
        items = sb.store.all("payment_intent")
        if p.get("customer"):
            items = [i for i in items if i["customer"] == p["customer"]]
        items = created_filter(items, p.get("created"))
        return paginate(items, p, "/v1/payment_intents")
