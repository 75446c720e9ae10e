"""Lists from Stripe are read whole, page after page: reconciliation must see every object."""

from __future__ import annotations

import requests

from tests.conftest import SECRET_KEY


def test_lists_follow_has_more_past_the_first_page(app):
    from saas import stripe_gateway as gateway

    base = app.config["STRIPE_API_BASE"]
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {SECRET_KEY}"
    customer = s.post(f"{base}/v1/customers", data={"email": "many@example.com"}).json()["id"]
    other = s.post(f"{base}/v1/customers", data={"email": "other@example.com"}).json()["id"]
    made = [s.post(f"{base}/v1/payment_intents",
                   data={"amount": 100 + n, "currency": "usd", "customer": customer}).json()["id"]
            for n in range(205)]
    s.post(f"{base}/v1/payment_intents", data={"amount": 999, "currency": "usd", "customer": other})
    with app.app_context():
        got = [pi["id"] for pi in gateway.list_payment_intents(customer)]
    assert len(got) == len(set(got)) == 205
    assert set(got) == set(made)
