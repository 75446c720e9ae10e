"""Payment methods, PaymentIntent confirmation with test cards, charges and refunds.

Functions add their events to an EventBatch instead of emitting directly, so that a larger
flow (checkout, invoice payment) can emit everything in Stripe's order once consistent.
"""
from __future__ import annotations

from ..errors import StripeError, invalid
from ..shapes import catalog, payments as shapes
from . import cards


def card_pm(store, number: str, *, exp_month=12, exp_year=2034, name=None, email=None,
            param="card[number]") -> dict:
    number = cards.clean_number(number)
    cards.check_number(number, param)
    pm = catalog.card_payment_method(
        created=store.now(), brand=cards.brand_of(number), last4=number[-4:], exp_month=exp_month,
        exp_year=exp_year, name=name, email=email, fingerprint="fp" + number[-8:] + number[:6])
    store.add(pm)
    store.private[pm["id"]]["number"] = number
    return pm


def resolve_pm(store, value: str, param: str = "payment_method") -> dict:
    """An existing pm_ id, or one of Stripe's magic test tokens (pm_card_visa, ...)."""
    if value in cards.TOKENS:
        return card_pm(store, cards.TOKENS[value])
    pm = store.find(value)
    if not pm or pm.get("object") != "payment_method":
        raise StripeError(f"No such PaymentMethod: '{value}'", status=404, code="resource_missing", param=param)
    return pm


def pm_from_data(store, data: dict) -> dict:
    """payment_method_data[card][number]=... as sent by our Stripe.js stand-in."""
    card = (data or {}).get("card") or {}
    if not card.get("number"):
        raise invalid("payment_method_data[card][number]", "Missing card number.", "parameter_missing")
    bd = data.get("billing_details") or {}
    return card_pm(store, card["number"], exp_month=int(card.get("exp_month") or 12),
                   exp_year=int(card.get("exp_year") or 2034), name=bd.get("name"),
                   email=bd.get("email"), param="payment_method_data[card][number]")


def card_number(store, pm: dict) -> str:
    return store.private[pm["id"]].get("number", "")


def attach(store, pm: dict, customer_id: str, ev) -> None:
    if pm.get("customer") != customer_id:
        pm["customer"] = customer_id
        ev.add("payment_method.attached", pm)


def new_intent(store, *, amount, currency, customer=None, description=None, metadata=None, **kw) -> dict:
    return store.add(shapes.payment_intent(created=store.now(customer), amount=amount, currency=currency,
                                           customer=customer, description=description,
                                           metadata=metadata, **kw))


def attempt(store, pi: dict, pm: dict, ev, *, return_url=None, authenticated=False) -> str:
    """Confirm `pi` with `pm`; returns the resulting status. Declines set last_payment_error."""
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    if pm["type"] != "card":
        pi["status"], pi["processing"] = "processing", {"type": pm["type"]}
        ev.add("payment_intent.processing", pi)
        return "processing"
    kind, decline = cards.behaviour(card_number(store, pm))
    if kind == cards.THREE_DS and not authenticated:
        pi["status"] = "requires_action"
        store.private[pi["id"]]["return_url"] = return_url
        url = f"{store.public_url}/3ds/{pi['id']}?client_secret={pi['client_secret']}"
        pi["next_action"] = {"type": "redirect_to_url",
                             "redirect_to_url": {"return_url": return_url, "url": url}}
        ev.add("payment_intent.requires_action", pi)
        return "requires_action"
    if kind in (cards.DECLINE, cards.FAIL_CHARGES):
        fail(store, pi, pm, ev, decline)
        return "requires_payment_method"
    succeed(store, pi, pm, ev)
    return "succeeded"


def succeed(store, pi: dict, pm: dict, ev) -> dict:
    ch = store.add(shapes.charge(created=store.now(pi["customer"]), pi=pi, pm=pm, status="succeeded",
                                 url_base=store.public_url))
    pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=ch["id"],
              next_action=None, processing=None, last_payment_error=None)
    ev.add("payment_intent.succeeded", pi)
    ev.add("charge.succeeded", ch)
    return ch


def fail(store, pi: dict, pm: dict, ev, decline: tuple, *, code=None) -> dict:
    err_code, decline_code, message = decline
    ch = store.add(shapes.charge(created=store.now(pi["customer"]), pi=pi, pm=pm, status="failed",
                                 url_base=store.public_url, failure_code=err_code, failure_message=message,
                                 outcome_type="issuer_declined", decline_reason=decline_code,
                                 seller_message="The bank did not return any further details with this decline."))
    pi.update(status="requires_payment_method", latest_charge=ch["id"], next_action=None, processing=None)
    pi["last_payment_error"] = {
        "type": "card_error", "code": code or err_code, "decline_code": decline_code, "message": message,
        "charge": ch["id"], "doc_url": f"https://stripe.com/docs/error-codes/{code or err_code}",
        "payment_method": pm, "param": None, "advice_code": None, "network_decline_code": None,
    }
    ev.add("charge.failed", ch)
    ev.add("payment_intent.payment_failed", pi)
    return ch


def auth_failed(store, pi: dict, ev) -> None:
    """The customer pressed "Fail authentication" on the 3DS challenge page."""
    pm = store.find(pi["payment_method"])
    pi.update(status="requires_payment_method", next_action=None)
    pi["last_payment_error"] = {
        "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
        "decline_code": None, "charge": None, "param": None, "payment_method": pm,
        "message": "We are unable to authenticate your payment method. Please choose a different "
                   "payment method and try again.",
        "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
    }
    ev.add("payment_intent.payment_failed", pi)


def card_error_for(pi: dict) -> StripeError:
    """The 402 Stripe returns when a confirm ends in a decline (the PI rides along)."""
    err = dict(pi["last_payment_error"])
    message = err.pop("message")
    return StripeError(message, status=402, type=err.pop("type"), code=err.pop("code"),
                       decline_code=err.get("decline_code"), charge=err.get("charge"),
                       doc_url=err.get("doc_url"), payment_intent=pi,
                       payment_method=err.get("payment_method"))


def refund(store, ch: dict, ev, *, amount=None, reason=None, metadata=None) -> dict:
    remaining = ch["amount"] - ch["amount_refunded"]
    if ch["status"] != "succeeded":
        raise StripeError(f"Charge {ch['id']} has not succeeded; it cannot be refunded.", code="charge_not_refundable")
    if remaining <= 0:
        raise StripeError(f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded")
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise invalid("amount", "Refund amount must be positive.", "parameter_invalid_integer")
    if amount > remaining:
        raise StripeError(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                          code="amount_too_large", param="amount")
    re = store.add(shapes.refund(created=store.now(ch["customer"]), amount=amount, charge_obj=ch,
                                 reason=reason, metadata=metadata))
    previous = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
    ch["amount_refunded"] += amount
    ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
    ch["refunds"]["data"].insert(0, re)
    ev.add("charge.refunded", ch, {k: v for k, v in previous.items() if ch[k] != v})
    ev.add("refund.created", re)
    return re
