"""PaymentIntents, Charges and Refunds."""
from __future__ import annotations

from ..util import new_id, rand_str


def payment_intent(*, created, amount, currency, customer=None, description=None, metadata=None,
                   payment_method_types=None, automatic_payment_methods=None, receipt_email=None,
                   setup_future_usage=None):
    pid = new_id("pi_")
    return {
        "id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_details": {"tip": {}}, "amount_received": 0, "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": automatic_payment_methods, "canceled_at": None,
        "cancellation_reason": None, "capture_method": "automatic",
        "client_secret": f"{pid}_secret_{rand_str(25)}", "confirmation_method": "automatic",
        "created": created, "currency": currency, "customer": customer, "description": description,
        "last_payment_error": None, "latest_charge": None, "livemode": False,
        "metadata": metadata or {}, "next_action": None, "on_behalf_of": None, "payment_method": None,
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": payment_method_types or ["card"], "processing": None,
        "receipt_email": receipt_email, "review": None, "setup_future_usage": setup_future_usage,
        "shipping": None, "statement_descriptor": None, "statement_descriptor_suffix": None,
        "status": "requires_payment_method", "transfer_data": None, "transfer_group": None,
        "source": None, "excluded_payment_method_types": None, "customer_account": None,
        "managed_payments": None,
    }


def charge(*, created, pi: dict, pm: dict, status, url_base, failure_code=None, failure_message=None,
           outcome_type="authorized", seller_message="Payment complete.", decline_reason=None):
    cid = new_id("ch_")
    paid = status == "succeeded"
    card = pm.get("card")
    details = {"type": pm["type"]}
    if card:
        details["card"] = {
            "amount_authorized": pi["amount"] if paid else None, "brand": card["brand"],
            "checks": card["checks"], "country": "US", "exp_month": card["exp_month"],
            "exp_year": card["exp_year"], "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"], "funding": "credit",
            "incremental_authorization": {"status": "unavailable"}, "installments": None,
            "last4": card["last4"], "mandate": None, "multicapture": {"status": "unavailable"},
            "network": card["brand"], "network_token": {"used": False},
            "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
            "three_d_secure": None, "wallet": None, "authorization_code": None,
            "regulated_status": "unregulated", "network_transaction_id": rand_str(15),
            "transaction_link_id": None,
        }
    else:
        details[pm["type"]] = {"bank_name": "STRIPE TEST BANK", "last4": "6789", "routing_number": "110000000"}
    return {
        "id": cid, "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"] if paid else 0,
        "amount_refunded": 0, "application": None, "application_fee": None, "application_fee_amount": None,
        "balance_transaction": new_id("txn_") if paid else None,
        "billing_details": pm["billing_details"], "calculated_statement_descriptor": "SANDBOX",
        "captured": paid, "created": created, "currency": pi["currency"], "customer": pi["customer"],
        "description": pi["description"], "disputed": False, "failure_balance_transaction": None,
        "failure_code": failure_code, "failure_message": failure_message, "fraud_details": {},
        "livemode": False, "metadata": dict(pi["metadata"]), "on_behalf_of": None,
        "outcome": {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                    "network_status": "approved_by_network" if paid else "declined_by_network",
                    "reason": decline_reason, "risk_level": "normal", "risk_score": 20,
                    "seller_message": seller_message, "type": outcome_type},
        "paid": paid, "payment_intent": pi["id"], "payment_method": pm["id"],
        "payment_method_details": details, "receipt_email": pi.get("receipt_email"),
        "receipt_number": None, "receipt_url": f"{url_base}/receipts/{cid}", "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{cid}/refunds"},
        "review": None, "shipping": None, "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": status, "transfer_data": None,
        "transfer_group": None, "source": None,
    }


def refund(*, created, amount, charge_obj, reason=None, metadata=None):
    return {
        "id": new_id("re_"), "object": "refund", "amount": amount, "balance_transaction": new_id("txn_"),
        "charge": charge_obj["id"], "created": created, "currency": charge_obj["currency"],
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number",
                                         "type": "refund"}, "type": "card"},
        "metadata": metadata or {}, "payment_intent": charge_obj["payment_intent"], "reason": reason,
        "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
        "transfer_reversal": None, "customer": charge_obj["customer"], "customer_account": None,
        "payment_method": charge_obj["payment_method"],
    }
