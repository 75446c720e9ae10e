"""Subscriptions, subscription items, invoices (with lines) and Checkout Sessions."""
from __future__ import annotations

from ..util import new_id


def subscription_item(*, created, sub_id, price_obj, quantity, period_start, period_end):
    return {
        "id": new_id("si_", 14), "object": "subscription_item", "created": created, "discounts": [],
        "metadata": {}, "price": price_obj, "quantity": quantity, "subscription": sub_id,
        "tax_rates": [], "plan": plan_from_price(price_obj),
        "current_period_start": period_start, "current_period_end": period_end,
        "billing_thresholds": None,
    }


def plan_from_price(p: dict) -> dict:
    """The legacy `plan` mirror of a recurring price that Stripe still includes on items."""
    rec = p.get("recurring") or {}
    return {
        "id": p["id"], "object": "plan", "active": p["active"], "amount": p["unit_amount"],
        "amount_decimal": p["unit_amount_decimal"], "billing_scheme": "per_unit", "created": p["created"],
        "currency": p["currency"], "interval": rec.get("interval"), "interval_count": rec.get("interval_count"),
        "livemode": False, "metadata": p["metadata"], "meter": None, "nickname": p["nickname"],
        "product": p["product"], "tiers_mode": None, "transform_usage": None,
        "trial_period_days": None, "usage_type": "licensed",
    }


def subscription(*, sub_id, created, customer, currency, status, metadata, anchor,
                 trial_start=None, trial_end=None, default_payment_method=None, test_clock=None,
                 description=None):
    return {
        "id": sub_id, "object": "subscription", "application": None, "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
        "billing_cycle_anchor": anchor, "billing_cycle_anchor_config": None,
        "cancel_at": None, "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically", "created": created, "currency": currency,
        "customer": customer, "days_until_due": None, "default_payment_method": default_payment_method,
        "default_source": None, "default_tax_rates": [], "description": description, "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [], "has_more": False,
                  "url": f"/v1/subscription_items?subscription={sub_id}"},
        "latest_invoice": None, "livemode": False, "metadata": metadata or {},
        "next_pending_invoice_item_invoice": None, "on_behalf_of": None, "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
        "schedule": None, "start_date": created, "status": status, "test_clock": test_clock,
        "transfer_data": None, "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": trial_start, "cancel_at_period_end": False, "billing_thresholds": None,
        "billing_mode": {"type": "classic"}, "customer_account": None, "managed_payments": None,
        "billing_schedules": [],
    }


def invoice_line(*, inv_id, amount, currency, description, period_start, period_end, quantity,
                 price_obj, sub_id, si_id, discount_amounts):
    return {
        "id": new_id("il_"), "object": "line_item", "amount": amount, "currency": currency,
        "description": description, "discount_amounts": discount_amounts, "discountable": True,
        "discounts": [d["discount"] for d in discount_amounts], "invoice": inv_id, "livemode": False,
        "metadata": {}, "period": {"end": period_end, "start": period_start}, "quantity": quantity,
        "subscription": sub_id, "pretax_credit_amounts": [], "taxes": [],
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {"invoice_item": None, "proration": False,
                                          "proration_details": {"credited_items": None},
                                          "subscription": sub_id, "subscription_item": si_id},
            "type": "subscription_item_details",
        },
        "pricing": {"price_details": {"price": price_obj["id"], "product": price_obj["product"]},
                    "type": "price_details", "unit_amount_decimal": price_obj["unit_amount_decimal"]},
        "subtotal": amount, "quantity_decimal": str(quantity),
    }


def invoice(*, inv_id, created, customer: dict, currency, billing_reason, sub_id, sub_metadata,
            period_start, period_end, test_clock=None):
    return {
        "id": inv_id, "object": "invoice", "account_country": "US", "account_name": "Sandbox",
        "account_tax_ids": None, "amount_due": 0, "amount_paid": 0, "amount_remaining": 0,
        "amount_shipping": 0, "application": None, "attempt_count": 0, "attempted": False,
        "auto_advance": True,
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "disabled_reason": None,
                          "provider": None},
        "billing_reason": billing_reason, "collection_method": "charge_automatically",
        "created": created, "currency": currency, "custom_fields": None, "customer": customer["id"],
        "customer_address": None, "customer_email": customer.get("email"),
        "customer_name": customer.get("name"), "customer_phone": None, "customer_shipping": None,
        "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
        "default_source": None, "default_tax_rates": [], "description": None, "discounts": [],
        "due_date": None, "effective_at": None, "ending_balance": None, "footer": None,
        "from_invoice": None, "hosted_invoice_url": None, "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{inv_id}/lines"},
        "livemode": False, "metadata": {}, "next_payment_attempt": None, "number": None,
        "on_behalf_of": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "period_end": period_end, "period_start": period_start,
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "receipt_number": None, "rendering": None, "shipping_cost": None, "shipping_details": None,
        "starting_balance": 0, "statement_descriptor": None, "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None,
                               "paid_at": None, "voided_at": None},
        "subscription": None,  # kept for older readers; current API uses parent.subscription_details
        "subtotal": 0, "subtotal_excluding_tax": 0, "test_clock": test_clock, "total": 0,
        "total_discount_amounts": [], "total_excluding_tax": 0, "webhooks_delivered_at": None,
        "automatically_finalizes_at": None, "total_pretax_credit_amounts": [], "total_taxes": [],
        "amount_overpaid": 0,
        "parent": {"quote_details": None,
                   "subscription_details": {"metadata": sub_metadata, "subscription": sub_id},
                   "type": "subscription_details"} if sub_id else None,
        "customer_account": None,
    }


def checkout_session(*, cs_id, created, mode, url, customer, customer_email, client_reference_id,
                     metadata, success_url, cancel_url, allow_promotion_codes, payment_method_types,
                     expires_at, currency, amount_subtotal, amount_total, locale=None):
    return {
        "id": cs_id, "object": "checkout.session", "after_expiration": None,
        "allow_promotion_codes": allow_promotion_codes, "amount_subtotal": amount_subtotal,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "provider": None},
        "billing_address_collection": None, "cancel_url": cancel_url,
        "client_reference_id": client_reference_id, "client_secret": None, "consent": None,
        "consent_collection": None, "created": created, "currency": currency, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": customer, "customer_creation": None if mode == "subscription" else "if_required",
        "customer_details": None, "customer_email": customer_email, "expires_at": expires_at,
        "invoice": None, "invoice_creation": None, "livemode": False, "locale": locale,
        "metadata": metadata or {}, "mode": mode, "payment_intent": None, "payment_link": None,
        "payment_method_collection": "always", "payment_method_configuration_details": None,
        "payment_method_options": {}, "payment_method_types": payment_method_types or ["card"],
        "payment_status": "unpaid", "phone_number_collection": {"enabled": False},
        "recovered_from": None, "saved_payment_method_options": None, "setup_intent": None,
        "shipping_address_collection": None, "shipping_cost": None, "shipping_options": [],
        "status": "open", "submit_type": None, "subscription": None, "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted", "url": url, "adaptive_pricing": {"enabled": False}, "discounts": [],
        "collected_information": None, "permissions": None, "wallet_options": None,
        "origin_context": None, "currency_conversion": None, "customer_account": None,
        "integration_identifier": None, "managed_payments": None,
    }


def checkout_line_item(*, price_obj, quantity, description, discount=0):
    subtotal = (price_obj["unit_amount"] or 0) * quantity
    return {
        "id": new_id("li_"), "object": "item", "adjustable_quantity": None, "amount_discount": discount,
        "amount_subtotal": subtotal, "amount_tax": 0, "amount_total": subtotal - discount,
        "currency": price_obj["currency"], "description": description, "metadata": {},
        "price": price_obj, "quantity": quantity,
    }
