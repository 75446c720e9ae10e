"""Customers, products, prices, coupons, promotion codes, discounts, payment methods, clocks."""
from __future__ import annotations

from ..util import new_id, rand_str


def _address():
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def customer(*, created, email=None, name=None, description=None, metadata=None, phone=None,
             test_clock=None):
    return {
        "id": new_id("cus_", 14), "object": "customer", "address": None, "balance": 0,
        "created": created, "currency": None, "default_source": None, "delinquent": False,
        "description": description, "discount": None, "email": email,
        "invoice_prefix": rand_str(8).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": metadata or {}, "name": name, "next_invoice_sequence": 1,
        "phone": phone, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
        "test_clock": test_clock, "customer_account": None,
    }


def product(*, created, name, description=None, metadata=None, active=True, obj_id=None, url=None,
            images=None, unit_label=None, statement_descriptor=None, tax_code=None):
    return {
        "id": obj_id or new_id("prod_", 14), "object": "product", "active": active, "created": created,
        "default_price": None, "description": description, "images": images or [], "livemode": False,
        "marketing_features": [], "metadata": metadata or {}, "name": name, "package_dimensions": None,
        "shippable": None, "statement_descriptor": statement_descriptor, "tax_code": tax_code,
        "unit_label": unit_label, "updated": created, "url": url, "type": "service",
    }


def price(*, created, product_id, currency, unit_amount, recurring=None, lookup_key=None,
          nickname=None, metadata=None, active=True, tax_behavior="unspecified"):
    rec = None
    if recurring:
        rec = {"interval": recurring["interval"], "interval_count": recurring.get("interval_count") or 1,
               "meter": None, "usage_type": recurring.get("usage_type") or "licensed",
               "trial_period_days": recurring.get("trial_period_days")}
    return {
        "id": new_id("price_"), "object": "price", "active": active, "billing_scheme": "per_unit",
        "created": created, "currency": currency, "custom_unit_amount": None, "livemode": False,
        "lookup_key": lookup_key, "metadata": metadata or {}, "nickname": nickname,
        "product": product_id, "recurring": rec, "tax_behavior": tax_behavior, "tiers_mode": None,
        "transform_quantity": None, "type": "recurring" if rec else "one_time",
        "unit_amount": unit_amount, "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }


def coupon(*, created, obj_id, name, percent_off=None, amount_off=None, currency=None,
           duration="forever", duration_in_months=None):
    return {
        "id": obj_id, "object": "coupon", "amount_off": amount_off, "created": created,
        "currency": currency, "duration": duration, "duration_in_months": duration_in_months,
        "livemode": False, "max_redemptions": None, "metadata": {}, "name": name,
        "percent_off": percent_off, "redeem_by": None, "times_redeemed": 0, "valid": True,
    }


def promotion_code(*, created, code, coupon_obj):
    return {
        "id": new_id("promo_"), "object": "promotion_code", "active": True, "code": code,
        "created": created, "customer": None, "expires_at": None, "livemode": False,
        "max_redemptions": None, "metadata": {},
        "restrictions": {"first_time_transaction": False, "minimum_amount": None,
                         "minimum_amount_currency": None},
        "times_redeemed": 0, "promotion": {"coupon": coupon_obj, "type": "coupon"},
        "customer_account": None,
    }


def discount(*, start, coupon_obj, customer=None, subscription=None, promotion_code=None,
             checkout_session=None, invoice=None):
    return {
        "id": new_id("di_"), "object": "discount", "checkout_session": checkout_session,
        "customer": customer, "end": None, "invoice": invoice, "invoice_item": None,
        "promotion_code": promotion_code, "start": start, "subscription": subscription,
        "subscription_item": None, "source": {"coupon": coupon_obj, "type": "coupon"},
        "customer_account": None,
    }


def card_payment_method(*, created, brand, last4, exp_month, exp_year, name=None, email=None,
                        customer=None, fingerprint=None):
    return {
        "id": new_id("pm_"), "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": _address(), "email": email, "name": name, "phone": None,
                            "tax_id": None},
        "card": {
            "brand": brand, "checks": {"address_line1_check": None, "address_postal_code_check": None,
                                       "cvc_check": "pass"},
            "country": "US", "display_brand": brand, "exp_month": exp_month, "exp_year": exp_year,
            "fingerprint": fingerprint or rand_str(16), "funding": "credit", "generated_from": None,
            "last4": last4, "networks": {"available": [brand], "preferred": None},
            "three_d_secure_usage": {"supported": True}, "wallet": None, "regulated_status": "unregulated",
        },
        "created": created, "customer": customer, "livemode": False, "metadata": {}, "type": "card",
        "customer_account": None,
    }


def bank_payment_method(*, created, name=None, email=None, customer=None):
    pm = card_payment_method(created=created, brand="visa", last4="6789", exp_month=1, exp_year=2030,
                             name=name, email=email, customer=customer)
    del pm["card"]
    pm["type"] = "us_bank_account"
    pm["us_bank_account"] = {
        "account_holder_type": "individual", "account_type": "checking", "bank_name": "STRIPE TEST BANK",
        "financial_connections_account": None, "fingerprint": rand_str(16), "last4": "6789",
        "networks": {"preferred": "ach", "supported": ["ach"]}, "routing_number": "110000000",
        "status_details": {},
    }
    return pm


def test_clock(*, created, frozen_time, name=None):
    return {
        "id": new_id("clock_"), "object": "test_helpers.test_clock", "created": created,
        "deletes_after": created + 30 * 86400, "frozen_time": frozen_time, "livemode": False,
        "name": name, "status": "ready", "status_details": {},
    }


def portal_session(*, created, customer, return_url, url_base, configuration=None, locale=None):
    sid = new_id("bps_")
    return {
        "id": sid, "object": "billing_portal.session",
        "configuration": configuration or "bpc_sandboxdefault", "created": created,
        "customer": customer, "flow": None, "livemode": False, "locale": locale,
        "on_behalf_of": None, "return_url": return_url, "url": f"{url_base}/p/session/{sid}",
        "customer_account": None,
    }
